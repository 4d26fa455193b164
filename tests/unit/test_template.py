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


def test_the_queue_event_sources_have_a_bounded_concurrency_that_the_local_stack_applies():
    for function in ("AssignTicketFunction", "ZendeskEventsFunction"):
        (event,) = [e for e in FUNCTIONS[function]["Properties"]["Events"].values() if e["Type"] == "SQS"]
        assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "AssignmentMaxConcurrency"}
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["BatchSize"] == 10

    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}
    resolver = Resolver("test", {**defaults, "AssignmentMaxConcurrency": "3", "MaintenanceMaxConcurrency": "2"})
    sources = _local_sources(resolver)

    assert {name: s.pollers for name, s in sources.items()} == {"AssignTicketFunction": 3, "ZendeskEventsFunction": 3,
                                                                 "MaintainAccountFunction": 2,
                                                                 "AssignBatchFunction": 2}
    assert sources["ZendeskEventsFunction"].queue_url == "http://queue.test/events"


def _local_sources(resolver: Resolver) -> dict:
    for queue, url in (("AssignmentQueue", "assignments"), ("EventsQueue", "events"), ("MaintenanceQueue", "jobs"),
                       ("BatchQueue", "batch")):
        resolver.refs[queue] = f"http://queue.test/{url}"
        resolver.attributes[(queue, "Arn")] = f"arn:aws:sqs:us-east-1:123456789012:{url}"
    functions = load_functions(TEMPLATE, concurrency={"AssignTicketFunction": 8, "ZendeskEventsFunction": 8,
                                                      "MaintainAccountFunction": 8, "AssignBatchFunction": 8})
    return {s.function.logical_id: s for s in sqs_event_sources(functions, resolver, "http://127.0.0.1:1")}


def test_the_batch_queue_feeds_a_hundred_tickets_gathered_for_seconds_to_two_workers_the_local_stack_too():
    (event,) = [e for e in FUNCTIONS["AssignBatchFunction"]["Properties"]["Events"].values() if e["Type"] == "SQS"]
    properties = event["Properties"]
    assert properties["Queue"] == {"Fn::GetAtt": ["BatchQueue", "Arn"]}
    assert (properties["BatchSize"], properties["ScalingConfig"]["MaximumConcurrency"]) == (100, 2)
    assert 1 <= properties["MaximumBatchingWindowInSeconds"] <= 10  # Lambda needs a window for a batch over 10
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # the queue hides a message longer than the worker can run, and dead-letters it (with an alarm) as the
    # assignment queue does
    queue = TEMPLATE["Resources"]["BatchQueue"]["Properties"]
    timeout = FUNCTIONS["AssignBatchFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["BatchDeadLetterQueue", "Arn"]}
    alarm = TEMPLATE["Resources"]["BatchDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["BatchDeadLetterQueue", "QueueName"]}
    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}
    source = _local_sources(Resolver("test", defaults))["AssignBatchFunction"]
    assert (source.batch_size, source.batching_window, source.pollers) == (100, 3.0, 2)


def test_the_maintenance_queue_feeds_one_account_at_a_time_to_a_bounded_number_of_workers():
    (event,) = [e for e in FUNCTIONS["MaintainAccountFunction"]["Properties"]["Events"].values()
                if e["Type"] == "SQS"]
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["MaintenanceQueue", "Arn"]}
    assert event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaintenanceMaxConcurrency"}
    assert TEMPLATE["Parameters"]["MaintenanceMaxConcurrency"]["MinValue"] == 2  # Lambda's least
    # a job that failed comes back within the interval only through the consumer's own short delay
    queue = TEMPLATE["Resources"]["MaintenanceQueue"]["Properties"]
    timeout = FUNCTIONS["MaintainAccountFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] == 6 * timeout


def test_the_maintenance_queue_dead_letters_after_the_consumers_attempts_and_alarms_the_operators():
    from round_robin.aws.queue import JOB_ATTEMPTS

    resources = TEMPLATE["Resources"]
    redrive = resources["MaintenanceQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": ["MaintenanceDeadLetterQueue", "Arn"]},
                       "maxReceiveCount": JOB_ATTEMPTS}
    alarm = resources["MaintenanceDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName",
                                    "Value": {"Fn::GetAtt": ["MaintenanceDeadLetterQueue", "QueueName"]}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_each_queue_dead_letters_after_the_attempts_parameter_and_alarms_the_operators():
    resources = TEMPLATE["Resources"]
    for queue, dead_letter, alarm in (("AssignmentQueue", "AssignmentDeadLetterQueue", "DeadLetterAlarm"),
                                      ("EventsQueue", "EventsDeadLetterQueue", "EventsDeadLetterAlarm")):
        redrive = resources[queue]["Properties"]["RedrivePolicy"]
        assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [dead_letter, "Arn"]},
                           "maxReceiveCount": {"Ref": "AssignmentMaxAttempts"}}
        alarm_properties = resources[alarm]["Properties"]
        assert alarm_properties["Dimensions"] == [{"Name": "QueueName",
                                                   "Value": {"Fn::GetAtt": [dead_letter, "QueueName"]}}]
        assert alarm_properties["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert TEMPLATE["Parameters"]["AssignmentMaxAttempts"]["Default"] == 5


def test_every_function_is_told_where_the_events_queue_is():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EVENTS_QUEUE_URL"] == {"Ref": "EventsQueue"}
