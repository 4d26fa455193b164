"""The events queue's message and its SQS adapter (a small fake of the two SQS calls it makes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round_robin.aws.queue import EventMessage, EventQueue
from round_robin.errors import StorageError


class FakeSqs:
    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("send_message", kwargs)

    def change_message_visibility(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("change_message_visibility", kwargs)

    def _call(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise ClientError({"Error": {"Code": self.fail, "Message": "no"}}, name)
        self.calls.append((name, kwargs))
        return {}


MESSAGE = EventMessage(subdomain="acme", kind="zendesk", received_at=1795255200.5,
                       payload={"type": "zen:event-type:user.deleted", "detail": {"id": "9"}})


@pytest.mark.parametrize("message", [
    MESSAGE,
    EventMessage("acme", "agent_changed", 1.0, {"agent_id": 42}),
    EventMessage("acme", "settings_changed", 1.0, {}),
    EventMessage("acme", "wake", 1.0, {"group_ids": None, "round": 2}),
    EventMessage("acme", "absence", 1.0, {"agent_id": 42}),
])
def test_a_message_survives_its_json(message):
    assert EventMessage.from_json(message.to_json()) == message


@pytest.mark.parametrize("text, error", [
    ('{"subdomain": "acme", "kind": "nonsense", "received_at": 1, "payload": {}}', ValueError),
    ('{"subdomain": "acme", "kind": "zendesk", "received_at": 1, "payload": [1]}', TypeError),
    ('{"subdomain": "acme", "kind": "zendesk", "received_at": 1}', KeyError),
    ('{"subdomain": "acme", "kind": "zendesk", "received_at": "soon", "payload": {}}', ValueError),
    ("not json", ValueError),
])
def test_a_body_that_is_not_an_event_message_is_refused(text, error):
    with pytest.raises(error):
        EventMessage.from_json(text)


@pytest.mark.parametrize("delay, sent", [(0, 0), (0.2, 1), (30, 30), (899.5, 900), (5000, 900), (-3, 0)])
def test_send_delays_by_sqs_delay_seconds_clamped_to_0_to_900(delay, sent):
    sqs = FakeSqs()
    EventQueue(sqs, "http://queue/events").send(MESSAGE, delay=delay)
    ((name, call),) = sqs.calls
    assert name == "send_message" and call["QueueUrl"] == "http://queue/events"
    assert call["DelaySeconds"] == sent
    assert EventMessage.from_json(call["MessageBody"]) == MESSAGE


def test_delay_changes_the_received_messages_visibility():
    sqs = FakeSqs()
    EventQueue(sqs, "http://queue/events").delay("receipt-1", 12.2)
    assert sqs.calls == [("change_message_visibility", {"QueueUrl": "http://queue/events",
                                                        "ReceiptHandle": "receipt-1", "VisibilityTimeout": 13})]


def test_an_sqs_failure_is_a_storage_error_naming_what_failed():
    with pytest.raises(StorageError, match="queueing the event"):
        EventQueue(FakeSqs(fail="ThrottlingException"), "http://queue/events").send(MESSAGE)


def test_the_body_is_plain_json_that_other_parts_can_read():
    assert json.loads(MESSAGE.to_json()) == {"subdomain": "acme", "kind": "zendesk", "received_at": 1795255200.5,
                                             "payload": MESSAGE.payload}
