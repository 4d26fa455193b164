"""Creates the resources of `template.yaml` in the AWS emulator (moto in server mode), read from the template
itself so that the local stack and a deployment cannot drift apart."""

from __future__ import annotations

import secrets
from typing import Any

import boto3

from round_robin_local.template import PSEUDO, Resolver, resources_of

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")


def table_definition(properties: dict[str, Any]) -> dict[str, Any]:
    """CreateTable arguments from an AWS::DynamoDB::Table's properties (the part DynamoDB's API takes)."""
    return {k: properties[k] for k in _TABLE_KEYS if k in properties}


def provision(template: dict[str, Any], resolver: Resolver, endpoint_url: str) -> None:
    """Create every supported resource and record its Ref and attributes in `resolver`."""
    session = boto3.session.Session(region_name=PSEUDO["AWS::Region"])

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    stack = resolver.stack_name
    dynamodb = client("dynamodb")
    for name, resource in resources_of(template, "AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        table_name = f"{stack}-{name}"
        answer = dynamodb.create_table(TableName=table_name, **table_definition(properties))
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        resolver.refs[name] = table_name
        resolver.attributes[(name, "Arn")] = answer["TableDescription"]["TableArn"]

    secretsmanager = client("secretsmanager")
    for name, resource in resources_of(template, "AWS::SecretsManager::Secret").items():
        properties = resource["Properties"]
        generate = properties.get("GenerateSecretString", {})
        value = secrets.token_urlsafe(generate.get("PasswordLength", 32))
        answer = secretsmanager.create_secret(Name=f"{stack}/{name}", SecretString=value)
        resolver.refs[name] = answer["ARN"]

    resolver.refs["HttpApi"] = "local"


def create_secret(endpoint_url: str, name: str, value: str) -> str:
    """A secret the deployer creates by hand in AWS (e.g. the OAuth client secret); returns its ARN."""
    client = boto3.client("secretsmanager", region_name=PSEUDO["AWS::Region"], endpoint_url=endpoint_url)
    return client.create_secret(Name=name, SecretString=value)["ARN"]
