"""`sam deploy` transforms template.yaml with the SAM translator; a template it would reject fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {"ZendeskClientId": "round-robin",
              "ZendeskClientSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:zendesk-client"}


class NoManagedPolicies:
    """The template names no AWS managed policy, so the translator needs no IAM look-up."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture
def transformed(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse((ROOT / "template.yaml").read_text())
    # What `sam package` does before the transform: local code folders become S3 objects.
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://bucket/{properties[key].strip('/')}.zip"
    return transform(template, PARAMETERS, NoManagedPolicies())


def test_the_sam_transform_of_the_template_succeeds(transformed):
    kinds = {r["Type"] for r in transformed["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::ApiGatewayV2::Api", "AWS::Lambda::EventSourceMapping",
            "AWS::Scheduler::Schedule", "AWS::Lambda::LayerVersion"} <= kinds


def test_every_function_logs_to_its_own_log_group_after_the_transform(transformed):
    functions = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 8
    assert all("LogGroup" in f["Properties"]["LoggingConfig"] for f in functions)
    assert len({str(f["Properties"]["LoggingConfig"]["LogGroup"]) for f in functions}) == 8


def test_the_three_queues_feed_their_function_reporting_partial_batch_failures(transformed):
    mappings = [r["Properties"] for r in transformed["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert sorted(str(m["EventSourceArn"]) for m in mappings) == sorted(
        str({"Fn::GetAtt": [queue, "Arn"]}) for queue in ("AssignmentQueue", "EventsQueue", "MaintenanceQueue"))
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)


def test_the_generated_schedule_has_no_fixed_name(transformed):
    (schedule,) = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert "Name" not in schedule["Properties"]


def test_the_console_has_the_front_door_its_pages_and_the_catch_all_route(transformed):
    api = next(r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    paths = api["Properties"]["Body"]["paths"]
    assert "get" in paths["/"] and "get" in paths["/admin"]
    assert "x-amazon-apigateway-any-method" in paths["/admin/{proxy+}"]
    # `$default`: every request no other route matches, whatever its method, gets the console's 404 page
    assert "x-amazon-apigateway-any-method" in paths["$default"]
