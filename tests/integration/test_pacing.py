"""The per-account pace of ticket updates (assignment/pace.py) through the worker: moto's SQS and DynamoDB, Zendesk's
sandbox with its Update Ticket window shrunk through its limits control, and the pace's window shrunk to match.
Counts, never times."""

from __future__ import annotations

import json
import time
from collections import Counter

import requests
from botocore.exceptions import ClientError

from round_robin import wiring
from round_robin.assignment.claims import ASSIGNED, POSTPONED
from round_robin.aws.queue import AssignmentRequest
from tests.integration.helpers import assignee, assigner_at, count_dynamodb_calls, new_ticket, record, request_for
from tests.support.lambda_env import LambdaContext, load_handler
from tests.support.zendesk import BASE

WINDOW = 5  # seconds: Zendesk's minute, shrunk (long enough for a loaded machine to reach the limit)
LIMIT = 10  # ticket updates per window: Zendesk's 100 a minute, scaled


def shrink_windows(monkeypatch) -> None:
    answer = requests.post(f"{BASE}/_sandbox/accounts/acme/limits",
                           json={"ticket_updates": LIMIT, "window": WINDOW}, timeout=5)
    assert answer.json()["ticket_updates"] == LIMIT
    monkeypatch.setenv("PACE_TICKET_UPDATES", str(LIMIT))
    monkeypatch.setenv("PACE_WINDOW_SECONDS", str(WINDOW))
    wiring.reset()


def worker_round(aws_env, handler) -> tuple[list[str], int]:
    """Receive a batch as Lambda's event source does, run the worker, delete what it handled: the receive counts
    of the batch's messages, and how many it reported failed."""
    answer = aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         AttributeNames=["All"])
    messages = answer.get("Messages", [])
    if not messages:
        return [], 0
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                          "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rr-test-assignments"}
                         for m in messages]}
    failed = {f["itemIdentifier"] for f in handler.lambda_handler(event, LambdaContext())["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            aws_env.sqs.delete_message(QueueUrl=aws_env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Attributes"]["ApproximateReceiveCount"] for m in messages], len(failed)


def metric_total(output: str, name: str) -> int:
    return int(sum(sum(json.loads(line).get(name, [])) for line in output.splitlines()
                   if line.startswith("{") and f'"{name}"' in line))


def test_a_burst_over_the_update_limit_is_all_assigned_with_no_failure_no_dead_letter_and_few_429s(
        aws_env, account, capsys, monkeypatch):
    # given 30 tickets at once against Zendesk's limit of 10 updates a window
    shrink_windows(monkeypatch)
    tickets = [new_ticket(account)["id"] for _ in range(30)]
    for ticket_id in tickets:
        wiring.queue().send(AssignmentRequest("acme", ticket_id, "webhook", 0.0))
    handler = load_handler("assign_ticket")
    receive_counts: list[str] = []
    failures = rounds = 0

    while any(assignee(account, t) is None for t in tickets):
        rounds += 1
        assert rounds < 300, "the burst was not assigned"  # a deadline in worker rounds
        counts, failed = worker_round(aws_env, handler)
        receive_counts += counts
        failures += failed

    out = capsys.readouterr().out
    assert failures == 0 and metric_total(out, "AssignmentFailed") == metric_total(out, "AssignmentRetried") == 0
    assert set(receive_counts) == {"1"}  # no message came back: none ever nears the dead-letter limit
    postponed = metric_total(out, "AssignmentPostponed")
    assert metric_total(out, "TicketsAssigned") == 30 and postponed > 0  # the limit held some back
    assert len(receive_counts) == 30 + postponed  # each postponement one new message, received once
    updates = [e for e in account["model"].request_log
               if e["method"] == "PUT" and e["path"].startswith("/api/v2/tickets/")]
    assert Counter(e["path"] for e in updates if e["status"] == 200) == {f"/api/v2/tickets/{t}.json": 1
                                                                         for t in tickets}
    assert [e["status"] for e in updates].count(429) <= 4  # one tells the workers; the budget keeps them under it
    per_agent = Counter(assignee(account, t) for t in tickets)
    assert max(per_agent.values()) - min(per_agent.values()) <= 1 and len(per_agent) == 3
    assert aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url, WaitTimeSeconds=0).get("Messages", []) == []


def test_a_plentiful_budget_costs_no_call_and_a_pressed_one_one_slot_per_update(aws_env, account):
    assigner = wiring.assigner()
    assigner.assign(request_for(new_ticket(account)["id"]))  # warm: the group's agents are cached
    calls = count_dynamodb_calls()

    assert assigner.assign(request_for(new_ticket(account)["id"])).status == ASSIGNED
    assert sum(calls.values()) == 4  # claim, BatchGet, rotation transaction, record: the pace is not consulted

    # when a 429 told this worker the account's budget is short, and its Retry-After has passed
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=1,
                                headers={"Retry-After": "1"})
    assert assigner.assign(request_for(ticket["id"])).status == POSTPONED
    calls.clear()

    assert assigner_at(5).assign(request_for(new_ticket(account)["id"])).status == ASSIGNED
    assert calls == {"UpdateItem": 3, "BatchGetItem": 1, "TransactWriteItems": 1}  # the slot: one UpdateItem more


def test_a_ticket_without_a_slot_is_postponed_unclaimed_without_a_zendesk_call(aws_env, account, monkeypatch):
    shrink_windows(monkeypatch)
    monkeypatch.setenv("PACE_WINDOW_SECONDS", "60")  # the whole test within one window
    wiring.reset()
    pace = wiring.pace()
    for _ in range(LIMIT):  # other workers spent the window's budget
        assert pace.take("acme", time.time()) <= time.time()
    ticket = new_ticket(account)
    zendesk_calls = len(account["zendesk"].mock.calls)
    dynamodb_calls = count_dynamodb_calls()

    postponed = wiring.assigner().assign(AssignmentRequest("acme", ticket["id"], "webhook", 0.0,
                                                           not_before=time.time()))

    assert postponed.status == POSTPONED and postponed.reason == "paced"
    assert postponed.wake_at >= pace.window_start(time.time()) + 60  # the next window
    assert dynamodb_calls == {"UpdateItem": 1} and len(account["zendesk"].mock.calls) == zendesk_calls
    assert record(ticket["id"]) is None  # never claimed


def test_a_wait_longer_than_one_queue_delay_is_chained_without_a_call(aws_env, account):
    ticket = new_ticket(account)
    later = time.time() + 2000  # SQS delays a message 900 s at most
    dynamodb_calls = count_dynamodb_calls()

    postponed = wiring.assigner().assign(AssignmentRequest("acme", ticket["id"], "webhook", 0.0, not_before=later))

    assert postponed.status == POSTPONED and postponed.wake_at == later
    assert sum(dynamodb_calls.values()) == 0 and record(ticket["id"]) is None
    attributes = aws_env.sqs.get_queue_attributes(QueueUrl=aws_env.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


class ThrottledDynamoDB:
    def update_item(self, **_request):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
                          "UpdateItem")


def test_a_429_while_the_budget_cannot_be_written_still_postpones_by_retry_after(aws_env, account, monkeypatch):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=1,
                                headers={"Retry-After": "20"})
    assigner = wiring.assigner()
    monkeypatch.setattr(wiring.pace(), "_dynamodb", ThrottledDynamoDB())  # the pace's writes fail, nothing else
    before = time.time()

    postponed = assigner.assign(request_for(ticket["id"]))

    assert postponed.status == POSTPONED and postponed.reason == "rate_limited" and postponed.wake_at >= before + 20
    assert record(ticket["id"])["status"] == "pending"
