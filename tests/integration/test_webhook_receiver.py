"""The internet-facing webhook receiver under hostile input: the real handler, in-process, AWS via moto.

Issue 7, items 5-7: malformed input gets a 4xx and touches nothing; an unknown account is answered exactly as a
bad signature, and junk for it costs one Secrets Manager read; the receiver reads signing secrets, never tokens.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from round_robin import wiring
from round_robin.accounts.credentials import Credentials
from round_robin.assignment.webhook import MAX_BODY_BYTES, signature_of
from round_robin.aws import clients
from tests.integration.conftest import PREFIX, WEBHOOK_PREFIX
from tests.support.lambda_env import LambdaContext, http_event, load_handler

ROUTE = "/webhooks/zendesk/{subdomain}"
NON_ASCII_DIGITS = ["²³", "²", "٧٠٠", "７００", "𝟕𝟎𝟎", "७००", "1²", "⁷⁰⁰", "১২", "߇߀߀"]


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Delivery:
    """One POST to the receiver. `secret` signs it (None: unsigned); `headers` override what is sent."""

    body: bytes = b'{"ticket_id": "700"}'
    secret: str | None = None
    subdomain: str = "acme"
    timestamp: str | None = None
    base64_body: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    webhook_id: str | None = None
    raw_base64: str | None = None  # sent as is, flagged base64 (API Gateway's encoding of binary bodies)
    events_webhook: bool = False  # sent by the account's event-subscribed webhook (its id, its secret)

    def event(self, account_secret: str, webhook_id: str) -> dict[str, Any]:
        stamp = self.timestamp if self.timestamp is not None else now_stamp()
        sent: dict[str, Any] = {"content-type": "application/json", "x-zendesk-webhook-signature-timestamp": stamp,
                                "x-zendesk-webhook-id": self.webhook_id or webhook_id}
        secret = account_secret if self.secret == "ACCOUNT" else self.secret
        if secret is not None:
            sent["x-zendesk-webhook-signature"] = signature_of(secret, stamp, self.body)
        sent.update(self.headers)
        sent = {k: v for k, v in sent.items() if v is not None}
        event = http_event("POST", f"/webhooks/zendesk/{self.subdomain}", headers=sent, route=ROUTE,
                           path_parameters={"subdomain": self.subdomain})
        if self.raw_base64 is not None:
            event["body"], event["isBase64Encoded"] = self.raw_base64, True
        elif self.base64_body:
            event["body"], event["isBase64Encoded"] = base64.b64encode(self.body).decode(), True
        else:
            event["body"] = self.body.decode("utf-8", "surrogateescape")
        return event


def post(delivery: Delivery, account: dict) -> tuple[int, str]:
    """The handler's status and body; an exception escaping the handler is Lambda's 502/500 for API Gateway."""
    if delivery.events_webhook:
        event = delivery.event(account["events_secret"], account["events_webhook_id"])
    else:
        event = delivery.event(account["secret"], account["webhook_id"])
    try:
        answer = load_handler("assign_ticket", "webhook").lambda_handler(event, LambdaContext())
    except Exception as exc:  # noqa: BLE001 - an escaped exception is exactly what this test looks for
        return 500, f"{type(exc).__name__}: {exc}"
    return answer["statusCode"], answer.get("body") or ""


def signed(body: bytes | str, **kwargs: Any) -> Delivery:
    return Delivery(body=body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body,
                    secret="ACCOUNT", **kwargs)


def trigger(ticket_id: Any) -> bytes:
    return json.dumps({"source": "round-robin-trigger", "ticket_id": ticket_id, "group_id": ""}).encode()


def event_subscription(ticket_id: Any) -> bytes:
    return json.dumps({"type": "zen:event-type:ticket.created", "detail": {"id": ticket_id}}).encode()


def zendesk_event(event_type: Any, detail: Any = None, **extra: Any) -> bytes:
    body = {"type": event_type, "account_id": 1, "id": "8b1c", "time": "2026-11-21T10:00:00Z",
            "zendesk_event_version": "2022-11-06", "subject": "zen:agent:5", "event": {}, **extra}
    if detail is not None:
        body["detail"] = detail
    return json.dumps(body).encode()


def hostile_cases() -> dict[str, Delivery]:
    cases: dict[str, Delivery] = {}
    stamps = [*NON_ASCII_DIGITS, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "2026-13-45T99:99:99Z",
              "nan", "inf", "-1", "1e10", "9" * 400, " ", "\x00", "2026-11-21T10:00:00+25:00",
              "２０２６-11-21T10:00:00Z", "2026-11-21T10:00:00", "0"]
    for n, stamp in enumerate(stamps):
        cases[f"unsigned timestamp {n} {stamp[:12]!r}"] = Delivery(timestamp=stamp, secret="c2ln")
        cases[f"signed timestamp {n} {stamp[:12]!r}"] = signed(trigger("700"), timestamp=stamp)
    cases["timestamp lone surrogate"] = Delivery(headers={"x-zendesk-webhook-signature-timestamp": "\udcff"},
                                                 secret="c2ln")
    ids = [*NON_ASCII_DIGITS, "0", "-1", "1.0", "1e3", "0x10", " ", "9223372036854775808",
           "99999999999999999999999", "NaN", True, 0, -5, 1.5, 1e300, [700], {"id": 700}, 10**30]
    for n, ticket_id in enumerate(ids):
        cases[f"trigger ticket_id {n} {ticket_id!r:.12}"] = signed(trigger(ticket_id))
        cases[f"event detail.id {n} {ticket_id!r:.12}"] = signed(event_subscription(ticket_id))
    bodies: dict[str, bytes | str] = {
        "200k [": b"[" * 200_000, "200k {": b"{" * 200_000, "40k {a:": b'{"a":' * 40_000,
        "depth 33 closed": b"[" * 33 + b"]" * 33,
        "deep inside object": b'{"ticket_id":"1","x":' + b"[" * 500 + b"]" * 500 + b"}",
        "empty": b"", "space": b" ", "null": b"null", "true": b"true", "number": b"1", "string": b'"s"',
        "array": b"[]", "open brace": b"{", "unterminated": b'{"ticket_id": "1"',
        "NaN id": b'{"ticket_id": NaN}', "5000-digit id": b'{"ticket_id": ' + b"1" * 5000 + b"}",
        "detail string": b'{"type": "zen:event-type:ticket.created", "detail": "x"}',
        "detail null": b'{"type": "zen:event-type:ticket.created", "detail": null}',
        "mismatched": b'{"ticket_id": "1"]', "unterminated escapes": b'{"a": "' + b'\\"' * 50_000,
        "latin-1": b'{"ticket_id": "\xe9"}', "no ticket id": b'{"group_id": "5"}',
    }
    for name, body in bodies.items():
        cases[f"signed body {name}"] = signed(body)
    event_bodies: dict[str, bytes] = {
        "no detail": zendesk_event("zen:event-type:user.deleted"),
        "detail string": zendesk_event("zen:event-type:user.deleted", "x"),
        "detail array": zendesk_event("zen:event-type:agent.unified_state_changed", [{"id": "5"}]),
        "detail number": zendesk_event("zen:event-type:user.role_changed", 5),
        "type number": zendesk_event(5, {"id": "5"}),
        "type null": b'{"type": null, "detail": {"id": "5"}}',
        "type array": zendesk_event(["zen:event-type:user.deleted"], {"id": "5"}),
        "type object": zendesk_event({"name": "zen:event-type:user.deleted"}, {"id": "5"}),
        "deep detail": b'{"type": "zen:event-type:user.deleted", "detail": ' + b"[" * 40 + b"]" * 40 + b"}",
        # 120 KB as sent (UTF-8), 360 KB once JSON-escaped for the queue
        "queued form over SQS's limit": json.dumps({"type": "zen:event-type:user.custom_field_changed",
                                                    "detail": {"id": "5"}, "note": "é" * 60_000},
                                                   ensure_ascii=False).encode(),
    }
    for name, body in event_bodies.items():
        cases[f"event {name}"] = signed(body, events_webhook=True)
    cases["event signed with the trigger webhook's secret"] = Delivery(
        body=zendesk_event("zen:event-type:user.deleted", {"id": "5"}), secret="ACCOUNT", events_webhook=True,
        headers={"x-zendesk-webhook-signature": signature_of("wrong", now_stamp(), b"{}")})
    cases["signed body not utf-8, base64"] = signed(b'{"ticket_id": "\xff\xfe"}', base64_body=True)
    cases["invalid base64"] = Delivery(raw_base64="***", secret="ACCOUNT")
    cases["over 256 KB signed"] = signed(b"[" * (MAX_BODY_BYTES + 1))
    cases["over 256 KB unsigned"] = Delivery(body=b"x" * (MAX_BODY_BYTES + 1))
    subdomains = ["globex", "acme.evil.com", "a" * 200, "ａｃｍｅ", "acme%00", "-acme", "acme-", "ac_me", "xn--", "0"]
    for name in subdomains:
        cases[f"subdomain {name[:12]!r} signed"] = signed(trigger("700"), subdomain=name)
    headers: dict[str, dict[str, Any]] = {
        "no signature": {"x-zendesk-webhook-signature": None},
        "no timestamp": {"x-zendesk-webhook-signature-timestamp": None},
        "non-ascii signature": {"x-zendesk-webhook-signature": "é" * 44},
        "surrogate signature": {"x-zendesk-webhook-signature": "\udcff" * 44},
        "10 KB signature": {"x-zendesk-webhook-signature": "A" * 10_000},
        "unknown webhook id": {"x-zendesk-webhook-id": "01JUNKWEBHOOK"},
        "huge webhook id": {"x-zendesk-webhook-id": "W" * 10_000},
        "non-ascii webhook id": {"x-zendesk-webhook-id": "ｗｅｂｈｏｏｋ"},
    }
    for name, sent in headers.items():
        cases[f"header {name}"] = signed(trigger("700"), headers=sent)
    return cases


def test_the_hostile_input_table_gets_no_5xx_and_stores_nothing(aws_env, account):
    # given a connected account, its table and its secrets
    items_before, secrets_before = aws_env.items(), secret_names(aws_env)
    cases = hostile_cases()
    assert len(cases) >= 100

    # when each hostile delivery goes through the real handler
    answers = {name: post(delivery, account) for name, delivery in cases.items()}

    # then every one is a 4xx, and nothing was queued or stored
    not_4xx = {name: answer for name, answer in answers.items() if not 400 <= answer[0] < 500}
    assert not_4xx == {}, f"{len(not_4xx)} of {len(cases)} not answered 4xx"
    assert aws_env.queued() == [] and aws_env.queued_events() == []
    assert aws_env.items() == items_before
    assert secret_names(aws_env) == secrets_before


def secret_names(aws_env) -> list[str]:
    return sorted(s["Name"] for s in aws_env.secretsmanager.list_secrets()["SecretList"])


def test_an_unknown_account_gets_the_same_answer_as_a_bad_signature(aws_env, account):
    bad_signature = post(Delivery(trigger("700"), secret="not-the-secret"), account)
    unknown_account = post(Delivery(trigger("700"), secret="not-the-secret", subdomain="globex"), account)
    unknown_but_signed = post(signed(trigger("700"), subdomain="globex"), account)
    invalid_subdomain = post(signed(trigger("700"), subdomain="acme.evil.com"), account)
    stale = post(signed(trigger("700"), timestamp="2020-01-01T00:00:00Z"), account)

    assert {bad_signature, unknown_account, unknown_but_signed, invalid_subdomain, stale} == {bad_signature}
    assert bad_signature[0] == 401


def count_secret_reads() -> Counter:
    reads: Counter = Counter()
    clients.client("secretsmanager").meta.events.register(
        "before-parameter-build.secretsmanager.GetSecretValue",
        lambda params, **_: reads.update([params["SecretId"]]))
    return reads


def test_junk_for_an_unknown_account_costs_one_secrets_manager_read(aws_env, account):
    reads = count_secret_reads()
    for _ in range(20):
        assert post(Delivery(trigger("700"), secret="junk", subdomain="globex"), account)[0] == 401
    assert sum(reads.values()) == 1


def test_the_receiver_reads_only_the_signing_secrets_never_the_tokens(aws_env, account):
    reads = count_secret_reads()
    assert post(signed(trigger("700")), account)[0] == 202
    assert post(Delivery(trigger("701"), secret="junk", subdomain="globex"), account)[0] == 401
    assert reads and all(name.startswith(WEBHOOK_PREFIX) for name in reads), dict(reads)


def test_an_account_connected_before_the_split_is_moved_by_the_next_maintenance_run(aws_env, account):
    # given an account as an older version stored it: the signing secret with the tokens, no store of its own
    sm = aws_env.secretsmanager
    tokens = Credentials.from_json(sm.get_secret_value(SecretId=f"{PREFIX}acme")["SecretString"])
    legacy = Credentials(**{**tokens.__dict__, "webhook_secret": account["secret"]})
    sm.put_secret_value(SecretId=f"{PREFIX}acme", SecretString=legacy.to_json())
    sm.delete_secret(SecretId=f"{WEBHOOK_PREFIX}acme", ForceDeleteWithoutRecovery=True)
    wiring.reset()
    assert post(signed(trigger("700")), account)[0] == 401  # the receiver cannot read the tokens secret

    # when the scheduled maintenance runs
    (report,) = wiring.maintainer().run()
    assert report["errors"] == []

    # then the signing secret has its own secret, and deliveries are accepted (once the short negative cache ends)
    stored = json.loads(sm.get_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    assert stored == {account["webhook_id"]: account["secret"]}
    wiring.reset()  # a receiver that has not seen the account as unknown
    assert post(signed(trigger("700")), account)[0] == 202


# -- the event-subscribed webhook --------------------------------------------------------------------------------

def test_a_subscribed_event_is_queued_for_the_events_function_whole(aws_env, account):
    body = zendesk_event("zen:event-type:agent.unified_state_changed", {"id": "5", "version": "3"},
                         event={"new_unified_state": {"id": 4, "name": "Away"}})

    status, answer = post(signed(body, events_webhook=True), account)

    assert status == 202
    assert json.loads(answer) == {"status": "queued", "event": "zen:event-type:agent.unified_state_changed"}
    (queued,) = aws_env.queued_events()
    assert (queued["subdomain"], queued["kind"], queued["payload"]) == ("acme", "zendesk", json.loads(body))
    assert aws_env.queued() == []


def test_a_ticket_created_event_from_the_events_webhook_goes_to_the_assignment_queue(aws_env, account):
    status, answer = post(signed(event_subscription("702"), events_webhook=True), account)

    assert status == 202 and json.loads(answer) == {"status": "queued", "ticket_id": 702}
    assert [q["ticket_id"] for q in aws_env.queued()] == [702] and aws_env.queued_events() == []


def test_an_unsubscribed_event_type_is_answered_200_and_queued_nowhere(aws_env, account):
    status, answer = post(signed(zendesk_event("zen:event-type:ticket.priority_changed", {"id": "9"}),
                                 events_webhook=True), account)

    assert status == 200 and json.loads(answer)["status"] == "ignored"
    assert aws_env.queued() == [] and aws_env.queued_events() == []


def test_an_event_without_type_and_detail_is_a_400_that_says_so(aws_env, account):
    status, answer = post(signed(zendesk_event("zen:event-type:user.deleted", "x"), events_webhook=True), account)

    assert status == 400 and "`type`" in json.loads(answer)["message"] and "`detail`" in json.loads(answer)["message"]


def test_the_events_webhooks_secret_does_not_pass_for_the_trigger_webhook(aws_env, account):
    delivery = Delivery(body=zendesk_event("zen:event-type:user.deleted", {"id": "5"}), secret=account["events_secret"],
                        webhook_id=account["webhook_id"])

    assert post(delivery, account)[0] == 401
    assert aws_env.queued_events() == []
