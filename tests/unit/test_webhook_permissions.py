"""Least privilege in template.yaml: the internet-facing webhook receiver holds only what it uses (issue 7, item 7)."""

from __future__ import annotations

from typing import Any

import pytest

from round_robin_local.template import load_template

SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/"
TOKENS, WEBHOOKS = SECRET_ARN + "accounts/*", SECRET_ARN + "webhooks/*"


def grants(function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a function's inline policy statements, resources as written in the template."""
    template = load_template()
    pairs = set()
    for policy in template["Resources"][function]["Properties"].get("Policies", []):
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _list(statement["Action"]):
                for resource in _list(statement["Resource"]):
                    pairs.add((action, _name(resource)))
    return pairs


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _name(resource: Any) -> str:
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        return resource["Fn::Sub"]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return ".".join(resource["Fn::GetAtt"]) if isinstance(resource["Fn::GetAtt"], list) else resource["Fn::GetAtt"]
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"]
    return str(resource)


def test_the_webhook_receiver_reads_signing_secrets_and_queues_tickets_and_events_nothing_else():
    assert grants("WebhookFunction") == {
        ("secretsmanager:GetSecretValue", WEBHOOKS),
        ("sqs:SendMessage", "AssignmentQueue.Arn"),
        ("sqs:SendMessage", "EventsQueue.Arn"),
    }


def test_the_events_function_holds_what_it_uses_nothing_else():
    # the table and its index (waking lists the waiting tickets), the tokens as the assignment worker uses them
    # (read, and write back a refreshed pair), both queues, its own queue's visibility (Retry-After), the alerts topic
    actions = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem")
    assert grants("ZendeskEventsFunction") == {
        *(("dynamodb:" + a, resource) for a in actions for resource in ("Table.Arn", "${Table.Arn}/index/gsi1")),
        ("secretsmanager:GetSecretValue", TOKENS),
        ("secretsmanager:PutSecretValue", TOKENS),
        ("secretsmanager:GetSecretValue", "ZendeskClientSecretArn"),
        ("sqs:SendMessage", "AssignmentQueue.Arn"),
        ("sqs:SendMessage", "EventsQueue.Arn"),
        ("sqs:ChangeMessageVisibility", "EventsQueue.Arn"),
        ("sns:Publish", "AlertsTopic"),
    }


def test_the_events_function_refreshes_tokens_exactly_as_the_assignment_worker_does():
    def secrets(function: str) -> set[tuple[str, str]]:
        return {grant for grant in grants(function) if grant[0].startswith("secretsmanager:")}
    assert secrets("ZendeskEventsFunction") == secrets("AssignTicketFunction")


@pytest.mark.parametrize("function, wanted", [
    ("OAuthCallbackFunction", {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                               "secretsmanager:CreateSecret", "secretsmanager:TagResource"}),
    ("MaintainAccountFunction", {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                                 "secretsmanager:CreateSecret", "secretsmanager:TagResource"}),
    ("RefreshTokensFunction", set()),
    ("AssignTicketFunction", set()),
    ("ZendeskEventsFunction", set()),
    ("OAuthStartFunction", set()),
])
def test_only_the_connect_flow_and_the_maintenance_touch_the_signing_secrets(function, wanted):
    assert {action for action, resource in grants(function) if resource == WEBHOOKS} == wanted


def test_every_function_reads_the_signing_secrets_from_the_prefix_it_is_granted():
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert SECRET_ARN + variables["WEBHOOK_SECRET_PREFIX"]["Fn::Sub"].removeprefix("${AWS::StackName}/") + "*" \
        == WEBHOOKS
    assert SECRET_ARN + variables["SECRET_PREFIX"]["Fn::Sub"].removeprefix("${AWS::StackName}/") + "*" == TOKENS


@pytest.mark.parametrize("function", ["AssignTicketFunction", "ZendeskEventsFunction", "MaintainAccountFunction"])
def test_every_function_that_wakes_waiting_tickets_may_send_to_the_events_queue_and_batch_read(function):
    # the worker asks for a wake at a waiting ticket's wake_at; events and maintenance schedule the next round;
    # all three read agents with BatchGetItem (the selection, the eligibility of a wake)
    assert {("sqs:SendMessage", "EventsQueue.Arn"), ("dynamodb:BatchGetItem", "Table.Arn")} <= grants(function)


def test_the_maintenance_dispatcher_lists_the_accounts_queues_their_jobs_and_clears_done_dead_letters():
    # the registry's list is a query on the index; SendMessageBatch is authorized as sqs:SendMessage; the dead
    # letters of tickets assigned since: their records read, their messages deleted, the others handed back
    assert grants("RefreshTokensFunction") == {
        ("dynamodb:Query", "${Table.Arn}/index/gsi1"),
        ("sqs:SendMessage", "MaintenanceQueue.Arn"),
        ("dynamodb:GetItem", "Table.Arn"),
        ("sqs:ReceiveMessage", "AssignmentDeadLetterQueue.Arn"),
        ("sqs:DeleteMessage", "AssignmentDeadLetterQueue.Arn"),
        ("sqs:ChangeMessageVisibility", "AssignmentDeadLetterQueue.Arn"),
        ("sqs:ReceiveMessage", "BatchDeadLetterQueue.Arn"),  # batch mode's dead letters, cleared the same way
        ("sqs:DeleteMessage", "BatchDeadLetterQueue.Arn"),
        ("sqs:ChangeMessageVisibility", "BatchDeadLetterQueue.Arn"),
    }


def test_the_per_account_maintenance_holds_what_one_account_run_uses_nothing_else():
    # the table and its index (waiting tickets, the sweep's records), the tokens (refreshed), the signing secrets
    # (the events webhook added to an account connected before it existed), the assignment and events queues
    # (swept, woken, reassigned tickets; the next wake round), its own job's retry delay and an agent import's next
    # step on its own queue, the alerts topic; the log (gsi2) read, to index older records by agent
    actions = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem")
    assert grants("MaintainAccountFunction") == {
        *(("dynamodb:" + a, resource) for a in actions for resource in ("Table.Arn", "${Table.Arn}/index/gsi1")),
        ("dynamodb:Query", "${Table.Arn}/index/gsi2"),
        ("secretsmanager:GetSecretValue", TOKENS),
        ("secretsmanager:PutSecretValue", TOKENS),
        *(("secretsmanager:" + a, WEBHOOKS) for a in ("GetSecretValue", "PutSecretValue", "CreateSecret",
                                                      "TagResource")),
        ("secretsmanager:GetSecretValue", "ZendeskClientSecretArn"),
        ("sqs:SendMessage", "AssignmentQueue.Arn"),
        ("sqs:SendMessage", "EventsQueue.Arn"),
        ("sqs:ChangeMessageVisibility", "MaintenanceQueue.Arn"),
        ("sqs:SendMessage", "MaintenanceQueue.Arn"),
        ("sns:Publish", "AlertsTopic"),
    }


def test_the_assignment_worker_may_queue_a_postponed_ticket_again_and_hand_one_to_batch_mode():
    # Assigner._postpone sends the ticket to its own queue as a new delayed message; a spent budget sends it to
    # the batch queue: without these, a rate limit would fall back to counting toward the dead-letter limit.
    assert {("sqs:SendMessage", "AssignmentQueue.Arn"), ("sqs:SendMessage", "BatchQueue.Arn")} \
        <= grants("AssignTicketFunction")


def test_the_batch_worker_may_queue_a_rate_limited_or_running_batch_again_and_give_tickets_back():
    assert {("sqs:SendMessage", "BatchQueue.Arn"), ("sqs:SendMessage", "AssignmentQueue.Arn")} \
        <= grants("AssignBatchFunction")


def test_the_console_may_query_both_log_indexes_and_the_agents_log_holds_every_column_read():
    # gsi3 projects some attributes only: one the log reads but the index lacks would silently be missing
    from round_robin.table import LOG_AGENT_INDEX, LOG_COLUMNS, LOG_INDEX

    assert {("dynamodb:Query", f"${{Table.Arn}}/index/{i}") for i in (LOG_INDEX, LOG_AGENT_INDEX)} <= grants(
        "AdminConsoleFunction")
    indexes = load_template()["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]
    (agent_log,) = [i for i in indexes if i["IndexName"] == LOG_AGENT_INDEX]
    assert agent_log["Projection"]["ProjectionType"] == "ALL" or set(LOG_COLUMNS) <= set(
        agent_log["Projection"]["NonKeyAttributes"])
