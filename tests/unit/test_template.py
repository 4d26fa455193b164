"""What template.yaml promises operators, read the way CloudFormation reads it (cfn-lint checks the rest)."""

from __future__ import annotations

from round_robin_local.event_sources import sqs_event_sources
from round_robin_local.functions import load_functions
from round_robin_local.template import Resolver, load_template, resources_of

TEMPLATE = load_template()
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")


def test_every_function_logs_to_a_log_group_with_the_retention_parameter():
    for name, function in FUNCTIONS.items():
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        properties = TEMPLATE["Resources"][log_group]["Properties"]
        assert TEMPLATE["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup", name
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_http_api_writes_access_logs_without_query_strings():
    settings = TEMPLATE["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    log_group = settings["DestinationArn"]["Fn::GetAtt"][0]
    assert TEMPLATE["Resources"][log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # The OAuth callback's query string holds the authorization code and the state.
    assert "$context.path" in settings["Format"]
    assert "query" not in settings["Format"].lower() and "requestOverride" not in settings["Format"]


def test_the_schedule_has_no_fixed_name_so_two_stacks_can_share_a_region():
    (schedule,) = [e for f in FUNCTIONS.values() for e in f["Properties"].get("Events", {}).values()
                   if e["Type"] == "ScheduleV2"]
    assert schedule["Properties"]["OmitName"] is True
    assert "Name" not in schedule["Properties"]


def test_the_queue_event_source_has_a_bounded_concurrency_that_the_local_stack_applies():
    (event,) = [e for e in FUNCTIONS["AssignTicketFunction"]["Properties"]["Events"].values() if e["Type"] == "SQS"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "AssignmentMaxConcurrency"}

    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}
    resolver = Resolver("test", {**defaults, "AssignmentMaxConcurrency": "3"})
    resolver.refs["AssignmentQueue"] = "http://queue.test/assignments"
    resolver.attributes[("AssignmentQueue", "Arn")] = "arn:aws:sqs:us-east-1:123456789012:assignments"
    functions = load_functions(TEMPLATE, concurrency={"AssignTicketFunction": 8})

    (source,) = sqs_event_sources(functions, resolver, "http://127.0.0.1:1")

    assert source.pollers == 3
