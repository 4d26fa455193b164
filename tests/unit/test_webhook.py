import base64
import json

import pytest

from round_robin.assignment.webhook import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    TICKET_CREATED,
    TicketEvent,
    WebhookRejectedError,
    ZendeskEvent,
    check_size,
    parse_delivery,
    parse_timestamp,
    raw_body,
    signature_of,
    verify,
)
from round_robin.zendesk.event_types import SUBSCRIBED

TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
ISO_NOW = "2026-11-21T10:00:00Z"
NOW = parse_timestamp(ISO_NOW)


def rejected(call, *args, **kwargs) -> WebhookRejectedError:
    with pytest.raises(WebhookRejectedError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_signature_matches_zendesks_documented_vector():
    body = b'{"event_type": "foo.bar","data": {"key": "value"}}'
    assert signature_of(TEST_SECRET, "1531420618", body) == "qtmu3iClLKujnujOBkwe7yjI34o5CzsLD04Uy4LbE2A="


def test_the_key_is_the_secret_strings_bytes_not_its_base64_decoding():
    body = b"{}"
    decoded_key = base64.b64decode(TEST_SECRET).decode()
    assert signature_of(TEST_SECRET, ISO_NOW, body) != signature_of(decoded_key, ISO_NOW, body)


def test_the_legacy_body_then_timestamp_order_is_refused():
    # The old docs' example signs body + timestamp; the current formula is timestamp + body.
    error = rejected(verify, "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=",
                     "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=", "2021-07-25T10:00:00Z", b'{"say": "hello"}',
                     now=parse_timestamp("2021-07-25T10:00:00Z"))
    assert error.reason == "bad_signature"


def test_a_fresh_correct_signature_passes():
    body = b'{"ticket_id":"5"}'
    verify(TEST_SECRET, signature_of(TEST_SECRET, ISO_NOW, body), ISO_NOW, body, now=NOW + 10)


@pytest.mark.parametrize("signature, timestamp, body, reason", [
    (None, ISO_NOW, b"{}", "missing_signature"),
    ("x", None, b"{}", "missing_signature"),
    ("", ISO_NOW, b"{}", "missing_signature"),
    (signature_of("another-secret", ISO_NOW, b"{}"), ISO_NOW, b"{}", "bad_signature"),
    (signature_of(TEST_SECRET, ISO_NOW, b"{}"), ISO_NOW, b"{ }", "bad_signature"),
    (signature_of(TEST_SECRET, "2026-11-21T09:50:00Z", b"{}"), "2026-11-21T09:50:00Z", b"{}", "stale_timestamp"),
    (signature_of(TEST_SECRET, "2026-11-21T10:10:00Z", b"{}"), "2026-11-21T10:10:00Z", b"{}", "stale_timestamp"),
    (signature_of(TEST_SECRET, "yesterday", b"{}"), "yesterday", b"{}", "bad_timestamp"),
    (signature_of(TEST_SECRET, "2026-11-21T10:00:00", b"{}"), "2026-11-21T10:00:00", b"{}", "bad_timestamp"),
])
def test_bad_deliveries_are_401(signature, timestamp, body, reason):
    error = rejected(verify, TEST_SECRET, signature, timestamp, body, now=NOW)
    assert (error.status, error.reason) == (401, reason)


def test_base64_bodies_from_api_gateway_are_decoded_before_checking():
    body = b'{"ticket_id":"5"}'
    assert raw_body(base64.b64encode(body).decode(), True) == body
    assert raw_body(body.decode(), False) == body
    assert rejected(raw_body, "***", True).status == 400


def test_bodies_over_256_kb_are_413():
    check_size(b"x" * MAX_BODY_BYTES)
    assert rejected(check_size, b"x" * (MAX_BODY_BYTES + 1)).status == 413


def test_the_projects_trigger_body_gives_the_ticket():
    body = json.dumps({"source": "round-robin-trigger", "ticket_id": "42", "group_id": "", "assignee_id": "",
                       "status": "New"}).encode()
    assert parse_delivery(body) == TicketEvent(42)


def test_the_ticket_created_event_subscription_payload_gives_the_ticket():
    body = json.dumps({
        "account_id": 22129848, "detail": {"id": "5158", "group_id": "8447320466430", "assignee_id": None,
                                           "status": "NEW"},
        "id": "cbe4028c-7239-495d-b020-f22348516046", "subject": "zen:ticket:5158",
        "time": "2025-01-08T10:12:07.672717030Z", "type": "zen:event-type:ticket.created",
        "zendesk_event_version": "2022-11-06"}).encode()
    assert parse_delivery(body) == TicketEvent(5158)


def test_a_subscribed_event_type_is_an_event_with_its_whole_payload():
    payload = {"type": "zen:event-type:user.active_changed", "account_id": 1, "detail": {"id": "1"},
               "event": {"current": False, "previous": True}}
    assert parse_delivery(json.dumps(payload).encode()) == ZendeskEvent("zen:event-type:user.active_changed", payload)


@pytest.mark.parametrize("event_type", SUBSCRIBED)
def test_every_subscribed_type_but_ticket_created_goes_to_the_events_queue(event_type):
    parsed = parse_delivery(json.dumps({"type": event_type, "detail": {"id": "1"}}).encode())
    assert isinstance(parsed, ZendeskEvent) and parsed.type == event_type


@pytest.mark.parametrize("event_type", ["zen:event-type:ticket.priority_changed", "zen:event-type:user.created",
                                        "zen:event-type:nonsense", ""])
def test_unsubscribed_event_types_are_ignored(event_type):
    assert parse_delivery(json.dumps({"type": event_type, "detail": {"id": "1"}}).encode()) is None


@pytest.mark.parametrize("body", [
    {"type": 5, "detail": {}},
    {"type": None, "detail": {}},
    {"type": ["zen:event-type:user.deleted"], "detail": {}},
    {"type": "zen:event-type:user.deleted"},
    {"type": "zen:event-type:user.deleted", "detail": "x"},
    {"type": "zen:event-type:user.deleted", "detail": [1]},
    {"type": "zen:event-type:ticket.created", "detail": None},
])
def test_an_event_without_a_string_type_and_an_object_detail_is_400(body):
    error = rejected(parse_delivery, json.dumps(body).encode())
    assert (error.status, error.reason) == (400, "bad_event")


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "malformed_json"),
    (b"[1, 2]", "malformed_json"),
    (b"\xff\xfe", "malformed_json"),
    (b'{"group_id": "1"}', "no_ticket_id"),
    (b'{"ticket_id": ""}', "no_ticket_id"),
    (b'{"ticket_id": "12a"}', "bad_ticket_id"),
    (b'{"ticket_id": "-3"}', "bad_ticket_id"),
    (b'{"ticket_id": true}', "bad_ticket_id"),
    (b'{"ticket_id": "99999999999999999999999"}', "bad_ticket_id"),
])
def test_unusable_bodies_are_400(body, reason):
    error = rejected(parse_delivery, body)
    assert (error.status, error.reason) == (400, reason)


# -- hostile input: ASCII digits only, bounded nesting (issue 7, item 5) ----------------------------------

NON_ASCII_DIGITS = ["²³", "²", "٧٠٠", "７００", "𝟕𝟎𝟎", "७००", "1²", "⁷⁰⁰"]


@pytest.mark.parametrize("stamp", NON_ASCII_DIGITS)
def test_a_timestamp_of_non_ascii_digits_is_401_not_a_crash(stamp):
    error = rejected(verify, TEST_SECRET, "c2lnbmF0dXJl", stamp, b"{}", now=NOW)
    assert (error.status, error.reason) == (401, "bad_timestamp")


@pytest.mark.parametrize("ticket_id", [*NON_ASCII_DIGITS, "0", "9223372036854775808", 1.5, 7e2, [700], {"id": 7}])
def test_a_ticket_id_that_is_not_ascii_digits_is_400(ticket_id):
    error = rejected(parse_delivery, json.dumps({"ticket_id": ticket_id}).encode())
    assert (error.status, error.reason) == (400, "bad_ticket_id")


@pytest.mark.parametrize("group_id", ["٥", "５", "²"])
def test_a_group_id_that_is_not_ascii_digits_does_not_stop_the_ticket(group_id):
    body = json.dumps({"type": TICKET_CREATED, "detail": {"id": "700", "group_id": group_id}}).encode()
    assert parse_delivery(body) == TicketEvent(700)


@pytest.mark.parametrize("body", [
    b"[" * 200_000,
    b"{" * 200_000,
    b'{"a":' * 40_000,
    b'{"ticket_id": "5", "x": ' + b"[" * 32 + b"]" * 32 + b"}",
    b'{"ticket_id": "5", "x": ' + b"[{" * 16 + b"}]" * 16 + b"}",
])
def test_json_nested_deeper_than_the_limit_is_400_before_parsing(body):
    error = rejected(parse_delivery, body)
    assert (error.status, error.reason) == (400, "too_deep")


def test_json_nested_exactly_to_the_limit_is_accepted():
    inner = MAX_DEPTH - 1  # the object itself is one level
    body = b'{"ticket_id": "5", "x": ' + b"[" * inner + b"]" * inner + b"}"
    assert parse_delivery(body) == TicketEvent(5)


def test_brackets_inside_strings_are_not_nesting():
    body = json.dumps({"ticket_id": "6", "note": "[" * 5000 + '\\"{' * 100, "tags": [["a"], {"b": "]]"}]})
    assert parse_delivery(body.encode()) == TicketEvent(6)


@pytest.mark.parametrize("body", [b'{"ticket_id": "5"]', b'[{"ticket_id": "5"}}', b'{"a": [}'])
def test_mismatched_brackets_are_malformed_json(body):
    assert rejected(parse_delivery, body).reason == "malformed_json"
