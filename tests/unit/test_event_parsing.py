"""Parsing a Zendesk event's envelope (samples from Zendesk's docs and a captured delivery, in tests/events/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from round_robin.aws.queue import EventMessage
from round_robin.events import statuses, tickets
from round_robin.events.parsing import MalformedEventError, id_of, parse_event, parse_time

SAMPLES = Path(__file__).parent.parent / "events"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def test_a_documented_user_event_parses_to_its_type_subject_and_epoch_time():
    event = parse_event(sample("zendesk_event_user_active_changed.json"))
    assert (event.type, event.subject_kind, event.subject_id) == ("user.active_changed", "user", 6596848315901)
    assert event.id == "2b24ef10-19d4-4740-93cf-8f98ec4776c0"
    assert event.time == 4086826398.0  # 2099-07-04T05:33:18Z
    assert event.event == {"current": False, "previous": True}


def test_a_captured_ticket_event_keeps_nanoseconds_down_to_microseconds():
    event = parse_event(sample("zendesk_event_ticket_created.json"))
    assert event.time == pytest.approx(1736331127.672717, abs=1e-6)
    assert event.subject_id == 5158


def test_a_membership_event_carries_its_group():
    event = parse_event(sample("zendesk_event_group_membership_created.json"))
    assert event.event == {"group": {"id": "1"}}


def good() -> dict:
    return sample("zendesk_event_user_active_changed.json")


@pytest.mark.parametrize("change, reason", [
    (lambda p: p.pop("type"), "type"),
    (lambda p: p.update(type="user.active_changed"), "type"),
    (lambda p: p.update(id=""), "id"),
    (lambda p: p.update(id=7), "id"),
    (lambda p: p.update(subject="zen:user:"), "subject"),
    (lambda p: p.update(subject="zen:org:1"), "subject"),
    (lambda p: p.update(subject="zen:user:12 "), "subject"),
    (lambda p: p.update(time="yesterday"), "time"),
    (lambda p: p.update(time="2099-13-04T05:33:18Z"), "time"),
    (lambda p: p.update(time=None), "time"),
    (lambda p: p.update(detail=[]), "detail"),
    (lambda p: p.update(event="x"), "event"),
])
def test_a_malformed_envelope_is_refused_naming_what_is_wrong(change, reason):
    payload = good()
    change(payload)
    with pytest.raises(MalformedEventError) as caught:
        parse_event(payload)
    assert caught.value.reason == reason


def test_a_payload_that_is_not_an_object_is_refused():
    with pytest.raises(MalformedEventError):
        parse_event(["zen:event-type:user.active_changed"])


def test_times_with_offsets_are_the_same_instant():
    assert parse_time("2026-01-01T01:00:00+01:00", "t") == parse_time("2026-01-01T00:00:00Z", "t")


@pytest.mark.parametrize("value, expected", [("0", None), ("", None), (None, None), ("42", 42), (42, 42)])
def test_ids_are_strings_of_digits_and_zero_is_none(value, expected):
    assert id_of(value, "x") == expected


@pytest.mark.parametrize("value", ["-1", "4 2", "abc", True, 1.5, "٣"])
def test_other_ids_are_refused(value):
    with pytest.raises(MalformedEventError):
        id_of(value, "x")


def unified(version="7", name="Online") -> dict:
    return {"type": "zen:event-type:agent.unified_state_changed", "account_id": 1, "id": "01GX", "time":
            "2026-12-06T10:00:00.000000001Z", "zendesk_event_version": "2022-11-06", "subject": "zen:agent:5",
            "detail": {"account_id": "1", "agent_id": "5", "version": version},
            "event": {"new_unified_state": {"id": "3", "name": name, "reason": "UNKNOWN"}}}


def test_a_unified_status_is_its_agent_lower_case_name_and_integer_version():
    assert statuses.unified_status(parse_event(unified("12", "Transfers Only"))) == (5, "transfers only", 12)


@pytest.mark.parametrize("payload", [unified(version="v1"), unified(version=""), unified(name="")])
def test_a_unified_status_without_a_version_or_name_is_malformed(payload):
    with pytest.raises(MalformedEventError):
        statuses.unified_status(parse_event(payload))


def test_a_ticket_snapshot_reads_assignee_status_and_update_time():
    payload = sample("zendesk_event_ticket_created.json")
    payload.update(type="zen:event-type:ticket.status_changed", event={"current": "OPEN", "previous": "SOLVED"})
    ticket = tickets.snapshot(parse_event(payload))
    assert (ticket.ticket_id, ticket.assignee_id, ticket.status, ticket.previous_status) == \
        (5158, 8447388090494, "open", "solved")
    assert ticket.updated_at == parse_time("2025-01-08T10:12:07Z", "t")
    assert tickets.reopened(ticket)


def test_an_unassigned_snapshot_is_never_a_reopening():
    payload = sample("zendesk_event_ticket_created.json")
    payload["detail"]["assignee_id"] = None
    payload.update(type="zen:event-type:ticket.status_changed", event={"current": "OPEN", "previous": "PENDING"})
    ticket = tickets.snapshot(parse_event(payload))
    assert ticket.assignee_id is None and not tickets.reopened(ticket)


def test_an_event_message_round_trips_through_json():
    message = EventMessage("acme", "wake", 12.5, {"group_ids": ["1"], "round": 2})
    assert EventMessage.from_json(message.to_json()) == message
