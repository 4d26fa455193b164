"""The webhook receiver and the assignment worker in-process: AWS via moto, Zendesk via the sandbox."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from round_robin import wiring
from round_robin.assignment.claims import ASSIGNED, DUPLICATE, POSTPONED, SKIPPED, WAITING, RetryLaterError
from round_robin.assignment.webhook import signature_of
from round_robin.aws.queue import AssignmentRequest
from tests.integration.helpers import (
    assigned_meanwhile,
    assignee,
    assigner_at,
    atomic_dynamodb,
    count_dynamodb_calls,
    counts,
    credentials,
    new_ticket,
    position,
    record,
    request_for,
)
from tests.support.lambda_env import LambdaContext, http_event, load_handler
from tests.support.logs import captured_logs

ROUTE = "/webhooks/zendesk/{subdomain}"


# -- the webhook receiver ------------------------------------------------------------------------------------

def deliver(body: bytes | str, secret: str | None, *, subdomain: str = "acme", timestamp: str | None = None,
            base64_body: bool = False, headers: dict | None = None) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    stamp = timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = {"content-type": "application/json", "x-zendesk-webhook-invocation-id": "inv-1",
            "x-zendesk-webhook-signature-timestamp": stamp}
    if secret is not None:
        sent["x-zendesk-webhook-signature"] = signature_of(secret, stamp, raw)
    sent.update(headers or {})
    event = http_event("POST", f"/webhooks/zendesk/{subdomain}", body=raw, headers=sent,
                       path_parameters={"subdomain": subdomain}, base64_body=base64_body, route=ROUTE)
    return load_handler("assign_ticket", "webhook").lambda_handler(event, LambdaContext())


def trigger_body(ticket_id) -> str:
    return json.dumps({"source": "round-robin-trigger", "ticket_id": str(ticket_id), "group_id": "",
                       "assignee_id": "", "status": "New", "updated_at": ""})


def test_a_signed_delivery_is_acknowledged_and_queued(aws_env, account):
    answer = deliver(trigger_body(17), account["secret"])
    assert answer["statusCode"] == 202
    (queued,) = aws_env.queued()
    assert (queued["subdomain"], queued["ticket_id"], queued["invocation_id"]) == ("acme", 17, "inv-1")


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(aws_env, account):
    assert deliver(trigger_body(18), account["secret"], base64_body=True)["statusCode"] == 202


def test_an_event_subscription_delivery_is_queued(aws_env, account):
    body = json.dumps({"type": "zen:event-type:ticket.created", "detail": {"id": "19", "group_id": None},
                       "subject": "zen:ticket:19", "account_id": 1, "id": "e1", "time": "2026-11-21T10:00:00Z",
                       "zendesk_event_version": "2022-11-06"})
    assert deliver(body, account["secret"])["statusCode"] == 202
    assert aws_env.queued()[0]["ticket_id"] == 19


def _now_minus(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("case", ["wrong_secret", "no_signature", "no_timestamp", "tampered", "old", "ahead",
                                  "unknown_account", "bad_subdomain"])
def test_unauthentic_deliveries_are_401_and_change_nothing(aws_env, account, case):
    items_before = aws_env.items()
    body, secret, kwargs = trigger_body(20), account["secret"], {}
    if case == "wrong_secret":
        secret = "not-the-secret"
    elif case == "no_signature":
        secret = None
    elif case == "no_timestamp":
        kwargs["headers"] = {"x-zendesk-webhook-signature-timestamp": ""}
    elif case == "tampered":
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        kwargs["timestamp"] = stamp
        kwargs["headers"] = {"x-zendesk-webhook-signature": signature_of(secret, stamp, trigger_body(21).encode())}
    elif case == "old":
        kwargs["timestamp"] = _now_minus(10)
    elif case == "ahead":
        kwargs["timestamp"] = _now_minus(-10)
    elif case == "unknown_account":
        kwargs["subdomain"] = "globex"
    elif case == "bad_subdomain":
        kwargs["subdomain"] = "acme.evil.com"

    answer = deliver(body, secret, **kwargs)

    assert answer["statusCode"] == 401
    assert aws_env.queued() == []
    assert aws_env.items() == items_before  # rotation and records unchanged


@pytest.mark.parametrize("body", ['{"ticket_id": "1"', '{"group_id": "5"}', '{"ticket_id": "abc"}'])
def test_signed_but_unusable_bodies_are_400(aws_env, account, body):
    assert deliver(body, account["secret"])["statusCode"] == 400
    assert aws_env.queued() == []


def test_a_body_over_256_kb_is_413(aws_env, account):
    body = json.dumps({"ticket_id": "5", "padding": "x" * (300 * 1024)})
    assert deliver(body, account["secret"])["statusCode"] == 413
    assert aws_env.queued() == []


def test_unsubscribed_event_types_are_acknowledged_and_ignored(aws_env, account):
    body = json.dumps({"type": "zen:event-type:ticket.priority_changed", "detail": {"id": "1"}})
    assert deliver(body, account["secret"])["statusCode"] == 200
    assert aws_env.queued() == [] and aws_env.queued_events() == []


# -- the worker ----------------------------------------------------------------------------------------------

def test_a_new_ticket_goes_to_the_next_agent_with_one_read_one_write_and_four_dynamodb_calls(aws_env, account):
    # Was 3 calls (claim, ADD to the roster's counter, finish). The rotation now takes the next *eligible* agent and
    # checks their caps atomically: claim, one read (rotation + availability stamp), one transaction (rotation +
    # agent's counts + claim), finish. A cold worker also reads the agents once (5); a warm one reuses them. The
    # account's shared Update Ticket budget (pace.py) costs no call while it is plentiful (test_pacing.py).
    zendesk = account["zendesk"]
    assigner = wiring.assigner()
    dynamodb_calls = count_dynamodb_calls()
    first = assigner.assign(request_for(new_ticket(account)["id"]))
    assert first.status == ASSIGNED and first.choice.agent.name == "Ada Admin"
    assert sum(dynamodb_calls.values()) == 5  # cold: the group's agents read once, then cached
    ticket = new_ticket(account)
    calls_before = len(zendesk.mock.calls)
    dynamodb_calls.clear()

    outcome = assigner.assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Ben Agent"
    assert assignee(account, ticket["id"]) == account["users"]["Ben Agent"]
    zendesk_calls = [(c.request.method, c.request.url.split("?")[0]) for c in zendesk.mock.calls[calls_before:]]
    assert [m for m, _ in zendesk_calls] == ["GET", "PUT"]
    assert dynamodb_calls == {"UpdateItem": 2, "BatchGetItem": 1, "TransactWriteItems": 1}
    saved = record(ticket["id"])
    assert saved["status"] == "assigned" and saved["agent_id"] == account["users"]["Ben Agent"]
    assert saved["group_id"] == str(account["groups"]["Support"]) and saved["position"] == 2
    assert saved["attempts"] == 1 and saved["finished_at"] > 0
    assert 89 * 86400 < saved["ttl"] - saved["finished_at"] <= 90 * 86400


def test_strict_rotation_across_the_group(aws_env, account):
    names = []
    for _ in range(7):
        ticket = new_ticket(account, "Billing")
        names.append(wiring.assigner().assign(request_for(ticket["id"])).choice.agent.name)
    assert names == ["Dev Agent", "Eve Agent", "Ivy Agent"] * 2 + ["Dev Agent"]


def test_a_ticket_without_a_group_uses_the_account_wide_rotation(aws_env, account):
    ticket = new_ticket(account, group=None)
    outcome = wiring.assigner().assign(request_for(ticket["id"]))
    assert outcome.status == ASSIGNED and outcome.choice.group_id == "*"


def test_a_duplicate_delivery_never_advances_the_rotation(aws_env, account):
    ticket = new_ticket(account)
    assigner = wiring.assigner()
    assert assigner.assign(request_for(ticket["id"])).status == ASSIGNED

    again = assigner.assign(AssignmentRequest("acme", ticket["id"], "webhook", 0.0, invocation_id="other"))

    assert again.status == DUPLICATE
    assert position(aws_env, account["groups"]["Support"]) == 1


@pytest.mark.parametrize("change, reason", [({"assignee_id": "Ben Agent"}, "already_assigned"),
                                            ({"status": "solved"}, "ticket_solved")])
def test_a_ticket_that_no_longer_needs_assigning_is_left_alone(aws_env, account, change, reason):
    ticket = new_ticket(account)
    stored = account["model"].tickets[ticket["id"]]
    stored.update({k: account["users"].get(v, v) for k, v in change.items()})

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert (outcome.status, outcome.reason) == (SKIPPED, reason)
    assert position(aws_env, account["groups"]["Support"]) == 0
    assert record(ticket["id"])["status"] == "skipped"


def test_a_person_assigning_meanwhile_wins_on_409(aws_env, account):
    ticket = new_ticket(account)
    ben = account["users"]["Ben Agent"]
    assigned_meanwhile(account, ticket["id"], "Ben Agent", status=409, body={"error": "UpdateConflict"})

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert (outcome.status, outcome.reason) == (SKIPPED, "already_assigned")
    assert assignee(account, ticket["id"]) == ben
    assert counts(account, "Ada Admin") == (0, 0)  # what choosing Ada counted is given back
    assert "counted_agent_id" not in record(ticket["id"])


def test_a_409_without_a_new_assignee_is_retried_with_the_same_agent(aws_env, account):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=409, times=1,
                                body={"error": "UpdateConflict"})
    outcome = wiring.assigner().assign(request_for(ticket["id"]))
    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Ada Admin"
    assert position(aws_env, account["groups"]["Support"]) == 1


def test_an_agent_who_left_the_group_is_dropped_and_the_next_one_chosen_on_422(aws_env, account):
    model, support = account["model"], account["groups"]["Support"]
    ada = account["users"]["Ada Admin"]
    for membership_id, membership in list(model.memberships.items()):
        if membership["user_id"] == ada and membership["group_id"] == support:
            del model.memberships[membership_id]  # Ada left Support in Zendesk; our roster still has her
    ticket = new_ticket(account)

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and outcome.choice.agent.name != "Ada Admin"
    roster = wiring.rosters().list("acme")
    assert "Ada Admin" not in [m.name for r in roster if r.group_id == str(support) for m in r.members]


def test_a_group_created_after_the_import_gets_its_roster_on_first_use(aws_env, account):
    zendesk = account["zendesk"]
    night = zendesk.sandbox.add_group(account["model"], "Night shift")
    zendesk.sandbox.add_membership(account["model"], account["users"]["Eve Agent"], night["id"])
    ticket = zendesk.app.create_ticket(account["model"], {"subject": "Late", "group_id": night["id"]},
                                       account["users"]["Hana Customer"], channel="web")
    outcome = wiring.assigner().assign(request_for(ticket["id"]))
    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Eve Agent"


def test_a_rate_limit_postpones_the_ticket_past_retry_after_and_its_return_keeps_the_agent(aws_env, account):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=1,
                                headers={"Retry-After": "37"}, body={"error": "APIRateLimitExceeded"})
    before = time.time()

    postponed = wiring.assigner().assign(request_for(ticket["id"]))

    # never an error: queued again (a new message) for after Retry-After, plus up to a window of jitter
    assert postponed.status == POSTPONED and postponed.reason == "rate_limited"
    assert before + 37 <= postponed.wake_at <= time.time() + 37 + wiring.pace().window
    attributes = aws_env.sqs.get_queue_attributes(QueueUrl=aws_env.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    pending = record(ticket["id"])
    assert pending["status"] == "pending" and pending["agent_id"] == account["users"]["Ada Admin"]

    came_back = replace(request_for(ticket["id"]), not_before=postponed.wake_at)
    outcome = assigner_at(postponed.wake_at - time.time()).assign(came_back)

    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Ada Admin" and outcome.attempts == 2
    assert position(aws_env, account["groups"]["Support"]) == 1  # nobody was skipped


@pytest.mark.parametrize("fault", [{"status": 503}, {"error": requests.ReadTimeout("read timed out")}])
def test_zendesk_outages_are_retried_later_and_the_ticket_still_assigned(aws_env, account, fault):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", times=3, **fault)
    assigner = wiring.assigner()
    with pytest.raises(RetryLaterError) as caught:
        assigner.assign(request_for(ticket["id"]))
    assert caught.value.reason == "zendesk_unavailable" and caught.value.delay is None

    outcome = assigner.assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and assignee(account, ticket["id"]) == account["users"]["Ada Admin"]


@pytest.mark.parametrize("method, status", [("GET", 403), ("PUT", 404), ("PUT", 400), ("PUT", 418)])
def test_an_unexpected_zendesk_answer_is_logged_releases_the_claim_and_the_retry_assigns(aws_env, account,
                                                                                        method, status):
    ticket = new_ticket(account)
    path = f"/api/v2/tickets/{ticket['id']}.json"
    account["zendesk"].override(method, rf"{path}$", status=status, times=1, body={"error": "Forbidden"})
    assigner = wiring.assigner()

    with captured_logs() as logs, pytest.raises(RetryLaterError) as caught:
        assigner.assign(request_for(ticket["id"]))

    assert caught.value.delay is None  # the worker's backoff
    line = logs.find("unexpected Zendesk answer")
    assert line["level"] == "ERROR" and line["ticket_id"] == ticket["id"] and line["subdomain"] == "acme"
    assert (line["status"], line["method"], line["path"]) == (status, method, path)
    released = record(ticket["id"])
    assert released["status"] == "pending" and "lease_until" not in released

    outcome = assigner.assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and outcome.attempts == 2
    assert position(aws_env, account["groups"]["Support"]) == 1  # the retry reused the position, if one was taken


def test_a_ticket_whose_group_has_no_eligible_agent_waits_with_its_reason(aws_env, account):
    zendesk = account["zendesk"]
    night = zendesk.sandbox.add_group(account["model"], "Night shift")  # nobody in it
    ticket = zendesk.app.create_ticket(account["model"], {"subject": "Late", "group_id": night["id"]},
                                       account["users"]["Hana Customer"], channel="web")

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert (outcome.status, outcome.reason) == (WAITING, "no_eligible_agent")
    saved = record(ticket["id"])
    assert (saved["status"], saved["reason"], saved["group_id"]) == ("waiting", "no_eligible_agent", str(night["id"]))
    assert [r["ticket_id"] for r in wiring.assignment_store().indexed("acme", WAITING)] == [ticket["id"]]


def test_a_401_refreshes_the_token_once_and_retries(aws_env, account):
    zendesk = account["zendesk"]
    ticket = new_ticket(account)
    before = credentials(aws_env).tokens
    del account["model"].tokens[before.access_token]  # Zendesk no longer takes it; the refresh token still works
    refreshes_before = len(zendesk.calls("POST", "/oauth/tokens"))

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED
    assert len(zendesk.calls("POST", "/oauth/tokens")) - refreshes_before == 1
    after = credentials(aws_env).tokens
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token


def test_concurrent_and_duplicate_deliveries_assign_each_ticket_once_with_spread_at_most_one(aws_env, account,
                                                                                            monkeypatch):
    tickets = [new_ticket(account, "Support")["id"] for _ in range(20)]
    deliveries = [request_for(t) for t in tickets for _ in range(2)]  # every ticket delivered twice
    atomic_dynamodb(monkeypatch)
    assigner = wiring.assigner()

    def run(request):
        try:
            return assigner.assign(request)
        except RetryLaterError:  # lost the rotation to the others ATTEMPTS times: the queue delivers it again
            return request

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(run, deliveries))
    for _ in range(3):  # the redeliveries, as SQS makes them (each retry also races no one now)
        outcomes = [run(o) if isinstance(o, AssignmentRequest) else o for o in outcomes]

    assert sum(o.status == ASSIGNED for o in outcomes) == 20
    assert all(o.status in (ASSIGNED, DUPLICATE) for o in outcomes)
    per_agent = Counter(assignee(account, t) for t in tickets)
    assert None not in per_agent
    assert max(per_agent.values()) - min(per_agent.values()) <= 1 and len(per_agent) == 3
    put_calls = [c for c in account["zendesk"].mock.calls if c.request.method == "PUT" and "/tickets/" in c.request.url]
    assert len(put_calls) == 20  # no ticket written twice


# -- the worker handler over SQS events ----------------------------------------------------------------------

def sqs_event(aws_env, request: AssignmentRequest, receive_count: int) -> dict:
    aws_env.sqs.send_message(QueueUrl=aws_env.queue_url, MessageBody=request.to_json())
    message = aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url, AttributeNames=["All"])["Messages"][0]
    attributes = {**message["Attributes"], "ApproximateReceiveCount": str(receive_count)}
    return {"Records": [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                         "body": message["Body"], "attributes": attributes, "messageAttributes": {},
                         "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rr-test-assignments",
                         "awsRegion": "us-east-1"}]}


@pytest.mark.parametrize("receive_count", [1, 5])  # 5: what would be the last attempt before the dead letters
def test_a_429_postpones_the_ticket_as_a_new_message_never_a_failure(aws_env, account, capsys, monkeypatch,
                                                                      receive_count):
    monkeypatch.setenv("PACE_WINDOW_SECONDS", "1")  # the jitter's spread: a short wait for the new message
    wiring.reset()
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=1,
                                headers={"Retry-After": "1"})
    event = sqs_event(aws_env, request_for(ticket["id"]), receive_count=receive_count)

    with captured_logs() as logs:
        result = load_handler("assign_ticket").lambda_handler(event, LambdaContext())

    assert result["batchItemFailures"] == []  # this message is deleted as handled: it never reaches the DLQ
    out = capsys.readouterr().out
    postponed = [json.loads(line) for line in out.splitlines() if '"AssignmentPostponed"' in line]
    assert [(m["AssignmentPostponed"], m["reason"]) for m in postponed] == [([1.0], "rate_limited")]
    assert '"AssignmentFailed"' not in out and '"AssignmentRetried"' not in out
    said = logs.find("ticket postponed by the account's Zendesk rate limit")
    assert said["reason"] == "rate_limited" and said["wait_seconds"] >= 0 and said["level"] == "INFO"
    assert record(ticket["id"])["status"] == "pending"
    # the ticket again, as a new message: its receive count starts over
    message = receive_within(aws_env, seconds=10)
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert AssignmentRequest.from_json(message["Body"]).not_before is not None


def receive_within(aws_env, seconds: float) -> dict:
    """The next message of the assignment queue, polled for up to `seconds` (SQS long polling)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        answer = aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url, AttributeNames=["All"], WaitTimeSeconds=1)
        if answer.get("Messages"):
            return answer["Messages"][0]
    raise AssertionError(f"no message within {seconds} s")


def test_a_ticket_is_not_started_when_the_invocation_is_about_to_time_out(aws_env, account):
    # given a batch received with less than the worker's time reserve left
    ticket = new_ticket(account)
    event = sqs_event(aws_env, request_for(ticket["id"]), receive_count=1)

    result = load_handler("assign_ticket").lambda_handler(event, LambdaContext(remaining_ms=10_000))

    # then the ticket is handed back untouched: no claim, no rotation step, no Zendesk call
    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert record(ticket["id"]) is None
    assert position(aws_env, account["groups"]["Support"]) == 0
    assert assignee(account, ticket["id"]) is None


def test_the_last_attempt_logs_the_ticket_and_counts_a_failure(aws_env, account, capsys):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=503, times=3)
    event = sqs_event(aws_env, request_for(ticket["id"]), receive_count=5)
    handler = load_handler("assign_ticket")

    with captured_logs() as logs:
        result = handler.lambda_handler(event, LambdaContext())

    assert len(result["batchItemFailures"]) == 1
    assert '"AssignmentFailed"' in capsys.readouterr().out
    failure = logs.find("after every retry")
    assert failure["level"] == "ERROR" and failure["ticket_id"] == ticket["id"] and failure["subdomain"] == "acme"


def test_a_persistent_403_is_retried_with_backoff_then_dead_lettered_with_a_failure(aws_env, account, capsys):
    ticket = new_ticket(account)
    account["zendesk"].override("GET", rf"/tickets/{ticket['id']}\.json$", status=403,
                                body={"error": {"title": "Forbidden", "message": "You do not have access"}})
    handler = load_handler("assign_ticket")

    first = sqs_event(aws_env, request_for(ticket["id"]), receive_count=1)
    assert len(handler.lambda_handler(first, LambdaContext())["batchItemFailures"]) == 1
    assert aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url).get("Messages", []) == []  # delayed
    assert '"AssignmentFailed"' not in capsys.readouterr().out
    assert record(ticket["id"])["status"] == "pending"

    last = sqs_event(aws_env, request_for(ticket["id"]), receive_count=5)
    with captured_logs() as logs:
        result = handler.lambda_handler(last, LambdaContext())

    assert len(result["batchItemFailures"]) == 1  # SQS moves it to the dead-letter queue
    assert '"AssignmentFailed"' in capsys.readouterr().out
    failure = logs.find("after every retry")
    assert failure["level"] == "ERROR" and failure["ticket_id"] == ticket["id"]
    assert record(ticket["id"])["status"] == "pending"  # released: the sweep can still pick it up


def test_an_unhandled_error_for_one_record_is_logged_with_its_ticket_and_fails_only_that_record(aws_env, account,
                                                                                             monkeypatch):
    ticket = new_ticket(account)
    broken_json = {"ticket": {"id": ticket["id"], "status": "new"}}  # no updated_at: the worker trips on it
    account["zendesk"].override("GET", rf"/tickets/{ticket['id']}\.json$", status=200, body=broken_json)
    event = sqs_event(aws_env, request_for(ticket["id"]), receive_count=1)

    with captured_logs() as logs:
        result = load_handler("assign_ticket").lambda_handler(event, LambdaContext())

    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    line = logs.find("failed unexpectedly")
    assert line["level"] == "ERROR" and line["ticket_id"] == ticket["id"] and "KeyError" in line["exception"]


def test_the_worker_assigns_and_counts_it(aws_env, account, capsys):
    ticket = new_ticket(account)
    result = load_handler("assign_ticket").lambda_handler(sqs_event(aws_env, request_for(ticket["id"]), 1),
                                                          LambdaContext())
    assert result == {"batchItemFailures": []}
    assert '"TicketsAssigned"' in capsys.readouterr().out
    assert assignee(account, ticket["id"]) == account["users"]["Ada Admin"]


def test_a_token_endpoint_outage_mid_attempt_releases_the_claim_and_the_retry_assigns(aws_env, account):
    # given a 401 on the ticket's read, and Zendesk's token endpoint down for the refresh that follows
    ticket = new_ticket(account)
    zendesk = account["zendesk"]
    zendesk.override("GET", rf"/tickets/{ticket['id']}\.json$", status=401, times=1,
                     body={"error": "invalid_token"})
    zendesk.override("POST", r"/oauth/tokens$", status=503, times=3)

    with pytest.raises(RetryLaterError):
        wiring.assigner().assign(request_for(ticket["id"]))

    # then the ticket is released for the retry (not left claimed, which would make the retry a duplicate)
    assert record(ticket["id"])["status"] == "pending"
    assert wiring.assigner().assign(request_for(ticket["id"])).status == ASSIGNED


def test_a_storage_failure_mid_attempt_releases_the_claim(aws_env, account, monkeypatch):
    from round_robin.errors import StorageError

    ticket = new_ticket(account)
    assigner = wiring.assigner()
    store = wiring.assignment_store()
    failing = {"left": 1}
    original = type(store).finish

    def finish_once_throttled(self, *args, **kwargs):
        if failing["left"]:
            failing["left"] -= 1
            raise StorageError("recording the assignment failed: ThrottlingException")
        return original(self, *args, **kwargs)

    # the Zendesk side is done, then DynamoDB throttles the record
    monkeypatch.setattr(type(store), "finish", finish_once_throttled)

    with pytest.raises(RetryLaterError):
        assigner.assign(request_for(ticket["id"]))

    assert record(ticket["id"])["status"] == "pending"
    assert assigner.assign(request_for(ticket["id"])).status == ASSIGNED  # the PUT had landed: recorded once
