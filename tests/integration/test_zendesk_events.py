"""The events function (functions/zendesk_events/app.py) over SQS batches: partial batch failures, delays from the
handler's `delay` or a backoff, and logs that name the message's kind and event type but never its payload. The
handler itself (round_robin/events/handler.py) is replaced by a small fake: what it does is tested with it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from round_robin import wiring
from round_robin.assignment.claims import RetryLaterError
from round_robin.aws.queue import EventMessage
from round_robin.errors import StorageError
from tests.support.lambda_env import LambdaContext, load_handler, sqs_event
from tests.support.logs import captured_logs

EVENTS_ARN = "arn:aws:sqs:us-east-1:123456789012:rr-test-events"
PRIVATE = "ada.private@acme.test"  # payload content that must never reach a log line


class FakeHandler:
    """Answers each message by its payload's `then`: an outcome word, or an exception to raise."""

    def __init__(self) -> None:
        self.handled: list[EventMessage] = []

    def handle(self, message: EventMessage) -> str:
        self.handled.append(message)
        then = message.payload.get("then", "applied")
        if isinstance(then, str):
            return then
        raise {"retry": RetryLaterError("Zendesk rate limit", delay=40.0),
               "storage": StorageError("DynamoDB throttled"),
               "bug": KeyError("detail")}[then[0]]


class FakeEventQueue:
    def __init__(self) -> None:
        self.delays: list[tuple[str, float]] = []

    def delay(self, receipt_handle: str, seconds: float) -> None:
        self.delays.append((receipt_handle, seconds))


@pytest.fixture
def events(aws_env, monkeypatch) -> tuple[FakeHandler, FakeEventQueue]:
    handler, queue = FakeHandler(), FakeEventQueue()
    # cached factories, as wiring's own (wiring.reset clears them at the end of aws_env)
    monkeypatch.setattr(wiring, "event_handler", lru_cache(maxsize=1)(lambda: handler))
    monkeypatch.setattr(wiring, "event_queue", lru_cache(maxsize=1)(lambda: queue))
    return handler, queue


def zendesk_message(then: Any = "applied", event_type: str = "zen:event-type:user.role_changed") -> str:
    return EventMessage("acme", "zendesk", 1.0, {"type": event_type, "id": "ev-1", "then": then,
                                                 "detail": {"id": "9", "email": PRIVATE}}).to_json()


def run(*messages: dict[str, Any]) -> dict[str, Any]:
    return load_handler("zendesk_events").lambda_handler(sqs_event(*messages, queue_arn=EVENTS_ARN), LambdaContext())


def test_each_message_is_handled_and_only_the_failed_ones_are_reported(events):
    handler, queue = events
    batch = [
        {"messageId": "ok", "body": zendesk_message()},
        {"messageId": "retry", "receiptHandle": "rh-retry", "body": zendesk_message(["retry"])},
        {"messageId": "storage", "receiptHandle": "rh-storage", "body": zendesk_message(["storage"])},
        {"messageId": "operator", "body": EventMessage("acme", "agent_changed", 1.0, {"agent_id": 2}).to_json()},
    ]

    result = run(*batch)

    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["retry", "storage"]
    assert [m.kind for m in handler.handled] == ["zendesk", "zendesk", "zendesk", "agent_changed"]
    delays = dict(queue.delays)
    assert delays["rh-retry"] == 40.0  # the handler's own delay (Zendesk's Retry-After)
    assert 4.0 <= delays["rh-storage"] <= 6.0  # a first backoff of about 5 s


def test_an_unreadable_message_is_dropped_not_retried(events):
    handler, _ = events
    result = run({"body": "not json"}, {"body": '{"subdomain": "acme", "kind": "nonsense", "received_at": 1, '
                                                 '"payload": {}}'})
    assert result["batchItemFailures"] == [] and handler.handled == []


def test_the_last_attempt_is_not_delayed_and_goes_to_the_dead_letter_queue(events):
    _, queue = events
    with captured_logs() as logs:
        result = run({"messageId": "m", "body": zendesk_message(["retry"]), "receive_count": 5})

    assert result["batchItemFailures"] == [{"itemIdentifier": "m"}] and queue.delays == []
    line = logs.find("event not applied after every retry")
    assert (line["kind"], line["event_type"], line["attempts"]) == ("zendesk", "zen:event-type:user.role_changed", 5)


def test_a_bug_in_the_handler_is_the_records_failure_logged_with_kind_and_type(events):
    with captured_logs() as logs:
        result = run({"messageId": "m", "body": zendesk_message(["bug"])})

    assert result["batchItemFailures"] == [{"itemIdentifier": "m"}]
    line = logs.find("event failed unexpectedly")
    assert (line["subdomain"], line["kind"], line["event_type"]) == \
        ("acme", "zendesk", "zen:event-type:user.role_changed")


def test_logs_name_the_outcome_kind_and_type_never_the_payload(events):
    with captured_logs() as logs:
        run({"body": zendesk_message("reassigned")}, {"body": zendesk_message(["retry"])})

    line = logs.find("event applied")
    assert (line["outcome"], line["kind"], line["event_type"], line["event_id"]) == \
        ("reassigned", "zendesk", "zen:event-type:user.role_changed", "ev-1")
    assert PRIVATE not in logs.text
