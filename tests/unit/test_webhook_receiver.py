"""The webhook receiver and the signing-secret store, with in-memory fakes of Secrets Manager and the queue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round_robin.accounts.vault import NEGATIVE_CACHE_SECONDS, NEGATIVE_CACHE_SIZE, SigningSecretStore
from round_robin.assignment.webhook import WebhookReceiver, WebhookRejectedError, signature_of
from round_robin.errors import AccountNotFoundError

PREFIX = "rr/webhooks/"
ISO_NOW = "2026-11-21T10:00:00Z"
NOW = 1795255200.0  # ISO_NOW
TRIGGER_SECRET, EVENTS_SECRET = "trigger-webhook-signing-secret", "events-webhook-signing-secret"


class FakeSecretsManager:
    """The three Secrets Manager calls the store makes, on a dict; counts reads per secret."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.reads: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's argument names
        self.reads.append(SecretId)
        if SecretId not in self.values:
            raise _not_found("GetSecretValue")
        return {"SecretString": self.values[SecretId]}

    def put_secret_value(self, SecretId: str, SecretString: str) -> dict[str, Any]:  # noqa: N803
        if SecretId not in self.values:
            raise _not_found("PutSecretValue")
        self.values[SecretId] = SecretString
        return {"VersionId": "v"}

    def create_secret(self, Name: str, SecretString: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.values[Name] = SecretString
        return {"Name": Name}


def _not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, request: Any) -> None:
        self.sent.append(request)


@pytest.fixture
def sm() -> FakeSecretsManager:
    fake = FakeSecretsManager()
    fake.values[f"{PREFIX}acme"] = json.dumps({"wh-trigger": TRIGGER_SECRET, "wh-events": EVENTS_SECRET})
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


def receiver_for(sm: FakeSecretsManager, clock: Clock, queue: FakeQueue | None = None,
                 events: FakeQueue | None = None) -> WebhookReceiver:
    return WebhookReceiver(secrets=SigningSecretStore(PREFIX, sm, clock=clock), queue=queue or FakeQueue(),
                           events=events or FakeQueue(), clock=clock)


def headers(secret: str, body: bytes, webhook_id: str | None = None) -> dict[str, str]:
    sent = {"x-zendesk-webhook-signature-timestamp": ISO_NOW,
            "x-zendesk-webhook-signature": signature_of(secret, ISO_NOW, body)}
    if webhook_id is not None:
        sent["x-zendesk-webhook-id"] = webhook_id
    return sent


BODY = b'{"ticket_id": "700"}'


def refused(receiver: WebhookReceiver, subdomain: str, sent: dict[str, str],
            body: bytes = BODY) -> WebhookRejectedError:
    with pytest.raises(WebhookRejectedError) as caught:
        receiver.accept(subdomain, sent, body.decode(), False)
    return caught.value


# -- one answer for every unauthenticated delivery (issue 7, item 6) -----------------------------------------

def test_an_unknown_account_and_a_bad_signature_get_one_and_the_same_answer(sm, clock):
    receiver = receiver_for(sm, clock)
    unknown = refused(receiver, "globex", headers(TRIGGER_SECRET, BODY, "wh-trigger"))
    bad_signature = refused(receiver, "acme", headers("not-the-secret", BODY, "wh-trigger"))
    invalid_subdomain = refused(receiver, "acme.evil.com", headers(TRIGGER_SECRET, BODY, "wh-trigger"))
    unknown_webhook = refused(receiver, "acme", headers(TRIGGER_SECRET, BODY, "wh-other"))

    answers = {(e.status, str(e)) for e in (unknown, bad_signature, invalid_subdomain, unknown_webhook)}
    assert len(answers) == 1 and next(iter(answers))[0] == 401
    assert {e.reason for e in (unknown, bad_signature, unknown_webhook)} == {
        "unknown_account", "bad_signature", "unknown_webhook"}  # told apart in logs and metrics only


def test_junk_for_an_unknown_account_reads_secrets_manager_once_per_ttl(sm, clock):
    store = SigningSecretStore(PREFIX, sm, clock=clock)
    for _ in range(50):
        with pytest.raises(AccountNotFoundError):
            store.load("globex")
    assert sm.reads.count(f"{PREFIX}globex") == 1

    clock.now += NEGATIVE_CACHE_SECONDS + 1
    with pytest.raises(AccountNotFoundError):
        store.load("globex")
    assert sm.reads.count(f"{PREFIX}globex") == 2


def test_the_negative_cache_is_bounded_and_forgets_the_oldest(sm, clock):
    store = SigningSecretStore(PREFIX, sm, clock=clock)
    for n in range(NEGATIVE_CACHE_SIZE + 1):  # junk with ever new subdomains
        with pytest.raises(AccountNotFoundError):
            store.load(f"junk{n}")
    reads = len(sm.reads)

    with pytest.raises(AccountNotFoundError):
        store.load(f"junk{NEGATIVE_CACHE_SIZE}")  # the newest is remembered
    assert len(sm.reads) == reads
    with pytest.raises(AccountNotFoundError):
        store.load("junk0")  # the oldest was forgotten to make room
    assert len(sm.reads) == reads + 1


def test_only_a_not_found_answer_is_remembered(sm, clock):
    class Throttled(FakeSecretsManager):
        def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # noqa: N803
            self.reads.append(SecretId)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetSecretValue")

    throttled = Throttled()
    store = SigningSecretStore(PREFIX, throttled, clock=clock)
    for _ in range(2):
        with pytest.raises(Exception) as caught:
            store.load("acme")
        assert not isinstance(caught.value, AccountNotFoundError)
    assert len(throttled.reads) == 2


def test_an_account_connected_by_another_process_is_accepted_once_the_short_ttl_passes(sm, clock):
    # given a receiver that has seen junk for `globex` before globex was connected
    receiver = receiver_for(sm, clock)
    body = BODY
    refused(receiver, "globex", headers("whatever", body, "wh-1"))
    # when the connect flow (another process) stores globex's signing secret
    SigningSecretStore(PREFIX, sm, clock=clock).save("globex", "wh-1", "globex-secret")
    # then the receiver refuses it for at most the negative cache's TTL, and accepts it after
    assert refused(receiver, "globex", headers("globex-secret", body, "wh-1")).reason == "unknown_account"
    clock.now += NEGATIVE_CACHE_SECONDS + 1  # still inside the signature's replay window
    assert receiver.accept("globex", headers("globex-secret", body, "wh-1"), body.decode(), False).ticket_id == 700


def test_saving_in_this_process_forgets_that_the_account_was_unknown(sm, clock):
    store = SigningSecretStore(PREFIX, sm, clock=clock)
    with pytest.raises(AccountNotFoundError):
        store.load("globex")
    store.save("globex", "wh-1", "globex-secret")
    assert store.load("globex") == {"wh-1": "globex-secret"}


def test_saving_a_second_webhook_keeps_the_first(sm, clock):
    store = SigningSecretStore(PREFIX, sm, clock=clock)
    store.save("acme", "wh-new", "new-secret")
    assert SigningSecretStore(PREFIX, sm, clock=clock).load("acme") == {
        "wh-trigger": TRIGGER_SECRET, "wh-events": EVENTS_SECRET, "wh-new": "new-secret"}


# -- a delivery is verified against the secret of the webhook it names ---------------------------------------

def test_a_delivery_is_verified_against_the_secret_of_the_webhook_it_names(sm, clock):
    queue = FakeQueue()
    receiver = receiver_for(sm, clock, queue)
    receiver.accept("acme", headers(TRIGGER_SECRET, BODY, "wh-trigger"), BODY.decode(), False)
    receiver.accept("acme", headers(EVENTS_SECRET, BODY, "wh-events"), BODY.decode(), False)
    assert [r.ticket_id for r in queue.sent] == [700, 700]

    # the events webhook's secret does not pass for a delivery naming the trigger's webhook
    assert refused(receiver, "acme", headers(EVENTS_SECRET, BODY, "wh-trigger")).reason == "bad_signature"


def test_without_the_webhook_id_header_each_of_the_accounts_secrets_is_tried(sm, clock):
    queue = FakeQueue()
    receiver = receiver_for(sm, clock, queue)
    receiver.accept("acme", headers(EVENTS_SECRET, BODY), BODY.decode(), False)
    assert len(queue.sent) == 1
    assert refused(receiver, "acme", headers("not-the-secret", BODY)).reason == "bad_signature"


def test_a_webhook_added_meanwhile_is_found_by_a_reread_at_most_every_few_seconds(sm, clock):
    store = SigningSecretStore(PREFIX, sm, clock=clock)
    receiver = WebhookReceiver(secrets=store, queue=FakeQueue(), events=FakeQueue(), clock=clock)
    receiver.accept("acme", headers(TRIGGER_SECRET, BODY, "wh-trigger"), BODY.decode(), False)  # cached now
    SigningSecretStore(PREFIX, sm, clock=clock).save("acme", "wh-added", "added-secret")  # another process
    clock.now += 30
    receiver.accept("acme", headers("added-secret", BODY, "wh-added"), BODY.decode(), False)

    reads = len(sm.reads)
    for _ in range(20):  # junk naming random webhooks of a known account
        refused(receiver, "acme", headers("x", BODY, "wh-junk"))
    assert len(sm.reads) - reads <= 1


def test_nothing_is_queued_for_a_refused_delivery(sm, clock):
    queue = FakeQueue()
    receiver = receiver_for(sm, clock, queue)
    for subdomain, sent, body in [("globex", headers(TRIGGER_SECRET, BODY, "wh-trigger"), BODY),
                                  ("acme", headers("nope", BODY, "wh-trigger"), BODY),
                                  ("acme", headers(TRIGGER_SECRET, b"[" * 5000, "wh-trigger"), b"[" * 5000)]:
        refused(receiver, subdomain, sent, body)
    assert queue.sent == []


def test_a_reset_signing_secret_is_accepted_once_the_short_reread_interval_has_passed(sm, clock):
    # given a warm receiver that has the account's secrets cached
    receiver = receiver_for(sm, clock)
    body = b'{"ticket_id": "7"}'
    assert receiver.accept("acme", headers(TRIGGER_SECRET, body, "wh-trigger"), body.decode(), False)
    # when the trigger webhook's secret is reset in Zendesk and the connect stores the new one
    sm.values[f"{PREFIX}acme"] = json.dumps({"wh-trigger": "the-new-secret", "wh-events": EVENTS_SECRET})
    clock.now += 11  # past the re-read interval, well within the 300 s cache

    # then a delivery signed with the new secret is accepted (one extra read), not refused for minutes
    reads = len(sm.reads)
    assert receiver.accept("acme", headers("the-new-secret", body, "wh-trigger"), body.decode(), False)
    assert len(sm.reads) == reads + 1


def test_bad_signatures_do_not_make_the_receiver_read_secrets_more_than_once_per_interval(sm, clock):
    receiver = receiver_for(sm, clock)
    body = b'{"ticket_id": "7"}'
    receiver.accept("acme", headers(TRIGGER_SECRET, body, "wh-trigger"), body.decode(), False)
    reads = len(sm.reads)
    clock.now += 11

    for _ in range(20):
        with pytest.raises(WebhookRejectedError) as refused:
            receiver.accept("acme", headers("forged", body, "wh-trigger"), body.decode(), False)
        assert refused.value.status == 401

    assert len(sm.reads) == reads + 1


# -- routing: tickets to the assignment queue, other subscribed events to the events queue ----------------------

def event_body(event_type: str, **extra: Any) -> bytes:
    return json.dumps({"type": event_type, "account_id": 1, "id": "e-1", "subject": "zen:user:9",
                       "detail": {"id": "9"}, "event": {}, **extra}).encode()


def test_a_subscribed_event_goes_to_the_events_queue_whole_and_nothing_to_the_assignment_queue(sm, clock):
    queue, events = FakeQueue(), FakeQueue()
    receiver = receiver_for(sm, clock, queue, events)
    body = event_body("zen:event-type:agent.unified_state_changed")

    message = receiver.accept("acme", headers(EVENTS_SECRET, body, "wh-events"), body.decode(), False)

    assert events.sent == [message] and queue.sent == []
    assert (message.subdomain, message.kind, message.received_at) == ("acme", "zendesk", NOW)
    assert message.payload == json.loads(body)


def test_a_ticket_created_event_goes_to_the_assignment_queue(sm, clock):
    queue, events = FakeQueue(), FakeQueue()
    receiver = receiver_for(sm, clock, queue, events)
    body = json.dumps({"type": "zen:event-type:ticket.created", "detail": {"id": "701"}}).encode()

    receiver.accept("acme", headers(EVENTS_SECRET, body, "wh-events"), body.decode(), False)

    assert [r.ticket_id for r in queue.sent] == [701] and events.sent == []


def test_an_unsubscribed_event_type_is_ignored_and_queued_nowhere(sm, clock):
    queue, events = FakeQueue(), FakeQueue()
    receiver = receiver_for(sm, clock, queue, events)
    body = event_body("zen:event-type:ticket.priority_changed")

    assert receiver.accept("acme", headers(EVENTS_SECRET, body, "wh-events"), body.decode(), False) is None
    assert queue.sent == [] and events.sent == []


def test_an_event_signed_with_another_webhooks_secret_is_refused_before_it_is_read(sm, clock):
    events = FakeQueue()
    receiver = receiver_for(sm, clock, events=events)
    body = event_body("zen:event-type:user.deleted")

    assert refused(receiver, "acme", headers(TRIGGER_SECRET, body, "wh-events"), body).reason == "bad_signature"
    assert events.sent == []


def test_an_event_whose_queued_form_would_exceed_sqs_is_413_and_queued_nowhere(sm, clock):
    events = FakeQueue()
    receiver = receiver_for(sm, clock, events=events)
    # 60,000 non-ASCII characters: 120 KB as UTF-8, 360 KB once JSON-escaped for the queue
    body = event_body("zen:event-type:user.custom_field_changed", note="é" * 60_000)

    error = refused(receiver, "acme", headers(EVENTS_SECRET, body, "wh-events"), body)

    assert (error.status, error.reason) == (413, "too_large") and events.sent == []
