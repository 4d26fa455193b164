"""Creates the resources of `template.yaml` in the AWS emulator (moto in server mode), read from the template
itself so that the local stack and a deployment cannot drift apart."""

from __future__ import annotations

import json
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

    sqs = client("sqs")
    queues = resources_of(template, "AWS::SQS::Queue")
    # Dead-letter queues first: the others' RedrivePolicy names them.
    for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
        properties = resolver.resolve(queues[name].get("Properties", {}))
        attributes = {k: str(v) for k, v in properties.items()
                      if k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")}
        if "RedrivePolicy" in properties:
            policy = properties["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": policy["deadLetterTargetArn"],
                                                      "maxReceiveCount": str(policy["maxReceiveCount"])})
        queue_name = f"{stack}-{name}"
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolver.refs[name] = url
        resolver.attributes[(name, "Arn")] = arn
        resolver.attributes[(name, "QueueName")] = queue_name

    sns = client("sns")
    for name in resources_of(template, "AWS::SNS::Topic"):
        resolver.refs[name] = sns.create_topic(Name=f"{stack}-{name}")["TopicArn"]

    resolver.refs["HttpApi"] = "local"


def create_secret(endpoint_url: str, name: str, value: str) -> str:
    """A secret the deployer creates by hand in AWS (e.g. the OAuth client secret); returns its ARN."""
    client = boto3.client("secretsmanager", region_name=PSEUDO["AWS::Region"], endpoint_url=endpoint_url)
    return client.create_secret(Name=name, SecretString=value)["ARN"]
