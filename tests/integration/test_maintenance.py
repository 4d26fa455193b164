"""Keeping connections healthy: the scheduled maintenance, single-flight refresh, broken connections,
re-sync, the missed-ticket sweep, and migration from API tokens. AWS via moto, Zendesk via the sandbox."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from round_robin import maintenance, wiring
from round_robin.accounts.registry import AccountRegistry
from round_robin.accounts.tokens import TokenManager
from round_robin.accounts.vault import TokenVault
from round_robin.assignment import claims
from round_robin.assignment.assigner import Assigner
from round_robin.assignment.claims import ASSIGNED, CLAIM_LEASE, PARKED, SKIPPED, WAITING
from round_robin.assignment.waiting import DRAIN_INTERVAL, Waker
from round_robin.aws import clients
from round_robin.aws.leases import LeaseStore
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import StorageError, ZendeskError
from round_robin.maintenance import Maintainer
from round_robin.sweep import Sweeper
from round_robin.zendesk.event_types import SUBSCRIBED
from round_robin.zendesk.oauth import OAuthClient
from tests.integration.conftest import PREFIX, PUBLIC_BASE_URL, TABLE, WEBHOOK_PREFIX
from tests.integration.flows import connect, seed_connected_account
from tests.integration.helpers import (
    add_hooks,
    assignee,
    atomic_dynamodb,
    credentials,
    new_ticket,
    record,
    request_for,
)
from tests.support.lambda_env import LambdaContext, load_handler
from tests.support.logs import captured_logs


def token_calls(zendesk) -> int:
    return len(zendesk.calls("POST", "/oauth/tokens"))


def status_of(subdomain="acme"):
    return wiring.registry().get(subdomain)


class SimulatedServices:
    """The service's parts on the sandbox's clock, so that an hour can pass in a second."""

    def __init__(self, zendesk, schedule=None, absences=None) -> None:
        settings = wiring.get_settings()
        clock = zendesk.sandbox.clock.now
        dynamodb = clients.client("dynamodb")
        self.vault = TokenVault(settings.secret_prefix, clients.client("secretsmanager"), clock=clock)
        oauth = OAuthClient(base_url_for=settings.zendesk_base_url, client_id=settings.client_id,
                            client_secret=lambda: wiring.client_secret(settings), session=wiring.http_session(),
                            clock=clock, access_lifetime=settings.access_token_lifetime,
                            refresh_lifetime=settings.refresh_token_lifetime)
        self.tokens = TokenManager(vault=self.vault, oauth=oauth, leases=LeaseStore(TABLE, dynamodb), clock=clock)
        zendesk_factory = wiring.zendesk_factory(settings, max_retry_wait=0)
        self.assigner = Assigner(store=wiring.assignment_store(), rosters=wiring.rosters(),
                                 selector=wiring.selector(), tokens=self.tokens, zendesk=zendesk_factory, clock=clock)
        self.wakes: list[tuple[str, list[str] | None, int, float]] = []  # the "wake" messages asked for
        self.waker = Waker(assignments=wiring.assignment_store(), selector=wiring.selector(), queue=wiring.queue(),
                           schedule=schedule or (lambda *wake: self.wakes.append(wake)), alerts=wiring.alerts())
        self.maintainer = Maintainer(registry=wiring.registry(), tokens=self.tokens, rosters=wiring.rosters(),
                                     assignments=wiring.assignment_store(), queue=wiring.queue(),
                                     alerts=wiring.alerts(), zendesk=zendesk_factory, interval=600,
                                     sweep_min_age=180, waker=self.waker, selector=wiring.selector(),
                                     signing_secrets=wiring.signing_secrets(), lease=wiring.connect_lease(),
                                     absences=absences, clock=clock)


# -- single-flight refresh -----------------------------------------------------------------------------------

def test_many_concurrent_callers_with_an_expired_token_cause_exactly_one_refresh(aws_env, account, monkeypatch):
    atomic_dynamodb(monkeypatch)
    zendesk = account["zendesk"]
    before = credentials(aws_env).tokens
    zendesk.sandbox.clock.offset += 1800  # the access token has expired, on both sides
    parts = SimulatedServices(zendesk)
    calls_before = token_calls(zendesk)

    with ThreadPoolExecutor(max_workers=12) as pool:
        seen = list(pool.map(lambda _: parts.tokens.authorization("acme"), range(24)))

    assert token_calls(zendesk) - calls_before == 1
    after = credentials(aws_env).tokens
    assert after.access_token != before.access_token
    assert set(seen) == {f"Bearer {after.access_token}"}


def test_five_minute_tokens_stay_valid_through_an_hour_of_simulated_time(aws_env, zendesk, monkeypatch):
    monkeypatch.setenv("ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS", "300")
    wiring.reset()
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)
    assert page["statusCode"] == 200
    wiring.reset()
    parts = SimulatedServices(zendesk)
    model = zendesk.account()
    support = next(g["id"] for g in model.groups.values() if g["name"] == "Support")
    hana = next(u["id"] for u in model.users.values() if u["name"] == "Hana Customer")

    outcomes = []
    for minute in range(0, 61, 2):
        zendesk.sandbox.clock.offset = minute * 60
        if minute % 10 == 0:
            parts.maintainer.run()  # the schedule, every 10 minutes
        with zendesk.sandbox.lock:
            ticket = zendesk.app.create_ticket(model, {"subject": f"at {minute}", "group_id": support}, hana,
                                               channel="web")
        outcomes.append(parts.assigner.assign(request_for(ticket["id"])).status)

    assert outcomes == [ASSIGNED] * 31
    assert status_of().status == "connected"
    assert {round(t.expires_at - t.created_at) for t in model.tokens.values()} == {300}
    assert credentials(aws_env).tokens.access_expires_at > zendesk.sandbox.clock.now()


def refresh_grants(zendesk) -> int:
    return len([r for r in zendesk.account().token_log if r["grant_type"] == "refresh_token" and r["status"] == 200])


def test_a_refreshed_tokens_recorded_expiry_is_the_one_zendesk_enforces(aws_env, account):
    zendesk = account["zendesk"]
    zendesk.sandbox.clock.offset += 1500
    parts = SimulatedServices(zendesk)

    (report,) = parts.maintainer.run()

    assert report["refreshed"] is True
    stored = credentials(aws_env).tokens
    enforced = zendesk.account().tokens[stored.access_token].expires_at
    assert stored.access_expires_at is not None and stored.access_expires_at <= enforced


def test_a_warm_worker_recovers_when_zendesk_refuses_the_token_the_schedule_just_stored(aws_env, account):
    # given a warm worker holding the first token, and the schedule that has since rotated it
    zendesk = account["zendesk"]
    worker = wiring.assigner()
    assert worker.assign(request_for(new_ticket(account)["id"])).status == ASSIGNED
    zendesk.sandbox.clock.offset += 1500
    (report,) = SimulatedServices(zendesk).maintainer.run()
    assert report["refreshed"] is True
    # when Zendesk refuses the new token before the expiry the service recorded
    zendesk.sandbox.expire_access_tokens(zendesk.account())

    outcome = worker.assign(request_for(new_ticket(account)["id"]))

    # then the worker refreshes once more instead of parking the ticket
    assert outcome.status == ASSIGNED
    assert status_of().status == "connected" and aws_env.notifications() == []
    assert refresh_grants(zendesk) == 2


def test_a_second_401_in_one_attempt_refreshes_again_instead_of_parking(aws_env, account):
    zendesk = account["zendesk"]
    ticket = new_ticket(account)

    def refuse_every_access_token():
        zendesk.sandbox.expire_access_tokens(zendesk.account())

    # Zendesk refuses the token at the read, and again (after the refresh) at the write
    zendesk.override("GET", rf"/tickets/{ticket['id']}", status=401, times=1, action=refuse_every_access_token,
                     body={"error": "invalid_token"})
    zendesk.override("PUT", rf"/tickets/{ticket['id']}", status=401, times=1, action=refuse_every_access_token,
                     body={"error": "invalid_token"})

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and assignee(account, ticket["id"]) is not None
    assert status_of().status == "connected" and refresh_grants(zendesk) == 2


def test_after_a_reconnect_a_warm_workers_revoked_token_and_the_schedules_refresh_keep_the_connection(
        aws_env, account):
    zendesk = account["zendesk"]
    worker = wiring.assigner()
    assert worker.assign(request_for(new_ticket(account)["id"])).status == ASSIGNED
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)
    assert page["statusCode"] == 200  # the worker's cached token is revoked now
    assert worker.assign(request_for(new_ticket(account)["id"])).status == ASSIGNED

    zendesk.sandbox.clock.offset += 1500
    (report,) = SimulatedServices(zendesk).maintainer.run()
    zendesk.sandbox.clock.offset = 0

    assert report["refreshed"] is True and report["status"] == "connected"
    assert worker.assign(request_for(new_ticket(account)["id"])).status == ASSIGNED
    assert status_of().status == "connected" and aws_env.notifications() == []
    assert refresh_grants(zendesk) == 1
    assert not [r for r in zendesk.account().token_log if r["error"] == "invalid_grant"]


# -- refresh faults ------------------------------------------------------------------------------------------

def test_a_zendesk_outage_during_refresh_is_retried_and_the_account_stays_connected(aws_env, account):
    zendesk = account["zendesk"]
    zendesk.sandbox.clock.offset += 1500  # the token expires before the next run: refresh due
    parts = SimulatedServices(zendesk)
    zendesk.override("POST", r"/oauth/tokens$", status=503, times=2)  # the client's own retries absorb two

    (report,) = parts.maintainer.run()

    assert report["refreshed"] is True and report["status"] == "connected" and report["errors"] == []


def test_a_longer_outage_fails_the_run_for_that_account_only_and_the_next_run_refreshes(aws_env, account):
    zendesk = account["zendesk"]
    zendesk.sandbox.clock.offset += 1500
    parts = SimulatedServices(zendesk)
    before = credentials(aws_env).tokens.access_token
    zendesk.override("POST", r"/oauth/tokens$", status=503, times=3)

    (failed,) = parts.maintainer.run()
    assert failed["refreshed"] is False and failed["errors"] and status_of().status == "connected"
    assert credentials(aws_env).tokens.access_token == before  # nothing was lost

    (retried,) = parts.maintainer.run()
    assert retried["refreshed"] is True and credentials(aws_env).tokens.access_token != before


class ThrottledOnce:
    """Secrets Manager answering ThrottlingException to the first PutSecretValue (botocore's own retries used)."""

    def __init__(self, client):
        self._client = client
        self.throttled = 0

    def put_secret_value(self, **kwargs):
        if self.throttled < 1:
            self.throttled += 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              "PutSecretValue")
        return self._client.put_secret_value(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_secrets_manager_throttling_while_storing_a_refresh_is_retried(aws_env, account):
    zendesk = account["zendesk"]
    zendesk.sandbox.clock.offset += 1500
    parts = SimulatedServices(zendesk)
    throttled = ThrottledOnce(clients.client("secretsmanager"))
    parts.vault._sm = throttled
    before = credentials(aws_env).tokens.access_token

    (report,) = parts.maintainer.run()

    assert throttled.throttled == 1
    assert report["refreshed"] is True and status_of().status == "connected"
    stored = credentials(aws_env).tokens.access_token
    assert stored != before and f"Bearer {stored}" == f"Bearer {next(iter(zendesk.account().tokens))}"


def test_an_idle_accounts_refresh_token_is_renewed_at_two_thirds_of_its_life(aws_env, account):
    zendesk = account["zendesk"]
    parts = SimulatedServices(zendesk)
    first = credentials(aws_env).tokens
    zendesk.sandbox.clock.offset += 19 * 86400  # 19 of 30 days: not yet two thirds
    credentials_now = parts.vault.load("acme", fresh=True)
    assert credentials_now.tokens.refresh_token_age(zendesk.sandbox.clock.now()) < 2 / 3
    zendesk.sandbox.clock.offset += 2 * 86400  # 21 days

    (report,) = parts.maintainer.run()

    assert report["refreshed"] is True
    assert credentials(aws_env).tokens.refresh_token != first.refresh_token


# -- broken connections --------------------------------------------------------------------------------------

def test_a_revoked_connection_is_detected_in_one_run_then_restored_by_reconnecting(aws_env, account):
    zendesk, model = account["zendesk"], account["model"]
    model.tokens.clear()
    model.refresh_tokens.clear()  # an admin revoked the service's access in Zendesk

    (report,) = wiring.maintainer().run()

    assert report["status"] == "needs_reconnect" and report["health"] == "invalid_grant"
    account_record = status_of()
    assert account_record.status == "needs_reconnect" and account_record.broken_reason == "invalid_grant"
    (notification,) = aws_env.notifications()
    assert "Reconnect acme.zendesk.com" in notification["Subject"]
    assert f"{PUBLIC_BASE_URL}/oauth/start?subdomain=acme" in notification["Message"]

    # a new ticket meanwhile is acknowledged and parked
    ticket = new_ticket(account)
    assert wiring.assigner().assign(request_for(ticket["id"])).status == PARKED
    assert assignee(account, ticket["id"]) is None

    # reconnecting restores the account and queues the parked ticket, which then gets assigned
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)
    assert page["statusCode"] == 200 and "parked" in page["body"]
    assert status_of().status == "connected" and status_of().broken_reason is None
    (queued,) = aws_env.queued()
    assert queued["ticket_id"] == ticket["id"] and queued["source"] == "reconnect"
    wiring.reset()
    assert wiring.assigner().assign(AssignmentRequest.from_json(json.dumps(queued))).status == ASSIGNED
    assert assignee(account, ticket["id"]) is not None


def test_the_connecting_user_losing_admin_marks_the_account_once(aws_env, account):
    model = account["model"]
    model.users[account["users"]["Ada Admin"]]["role"] = "agent"

    first, = wiring.maintainer().run()
    second, = wiring.maintainer().run()

    assert first["status"] == "needs_reconnect" and first["health"] == "not_admin"
    assert second["status"] == "needs_reconnect"
    assert len(aws_env.notifications()) == 1  # one page, not one per run


def test_a_parked_ticket_flags_the_account_from_the_worker(aws_env, account):
    model = account["model"]
    model.tokens.clear()
    model.refresh_tokens.clear()
    ticket = new_ticket(account)
    event_record = {"messageId": "m1", "receiptHandle": "r1", "body": request_for(ticket["id"]).to_json(),
                    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                    "awsRegion": "us-east-1"}

    result = load_handler("assign_ticket").lambda_handler({"Records": [event_record]}, LambdaContext())

    assert result == {"batchItemFailures": []}  # parked, not retried
    assert status_of().status == "needs_reconnect"
    assert len(aws_env.notifications()) == 1


# -- agents re-sync ------------------------------------------------------------------------------------------

def test_resync_drops_leavers_and_demoted_agents_adds_newcomers_at_the_end_and_keeps_whos_next(aws_env, account):
    zendesk, model, users = account["zendesk"], account["model"], account["users"]
    support = account["groups"]["Support"]
    first = [wiring.assigner().assign(request_for(new_ticket(account)["id"])).choice.agent.name for _ in range(2)]
    assert first == ["Ada Admin", "Ben Agent"]  # Cleo is next
    model.users[users["Ben Agent"]]["suspended"] = True
    zed = zendesk.sandbox.add_user(model, "Zed Newcomer", "agent")
    zendesk.sandbox.add_membership(model, zed["id"], support)
    model.users[users["Eve Agent"]]["role"] = "end-user"  # demoted

    (report,) = wiring.maintainer().run()

    assert report["roster_changes"]["joined"] >= 1 and report["roster_changes"]["left"] >= 2
    rosters = {r.group_name: [m.name for m in r.members] for r in wiring.rosters().list("acme")}
    assert rosters["Support"] == ["Ada Admin", "Cleo Agent", "Zed Newcomer"]
    assert "Eve Agent" not in rosters["Billing"]
    wiring.reset()
    after = [wiring.assigner().assign(request_for(new_ticket(account)["id"])).choice.agent.name for _ in range(3)]
    assert after == ["Cleo Agent", "Zed Newcomer", "Ada Admin"]


# -- the missed-ticket sweep ---------------------------------------------------------------------------------

def test_the_sweep_queues_a_ticket_whose_webhook_never_came_and_only_once(aws_env, account):
    zendesk = account["zendesk"]
    handled = new_ticket(account)
    wiring.assigner().assign(request_for(handled["id"]))
    missed = new_ticket(account)  # its webhook was lost
    zendesk.sandbox.clock.offset += 600  # both are 10 minutes old now
    parts = SimulatedServices(zendesk)

    (report,) = parts.maintainer.run()

    assert report["swept"] == 1
    (queued,) = aws_env.queued()
    assert (queued["ticket_id"], queued["source"]) == (missed["id"], "sweep")
    assert parts.assigner.assign(AssignmentRequest.from_json(json.dumps(queued))).status == ASSIGNED
    aws_env.sqs.purge_queue(QueueUrl=aws_env.queue_url)
    (again,) = parts.maintainer.run()
    assert again["swept"] == 0


def test_the_sweep_leaves_young_tickets_to_their_webhooks(aws_env, account):
    new_ticket(account)
    (report,) = wiring.maintainer().run()
    assert report["swept"] == 0 and aws_env.queued() == []


def test_the_sweep_requeues_a_claim_whose_worker_died_once_its_lease_has_expired(aws_env, account):
    zendesk = account["zendesk"]
    parts = SimulatedServices(zendesk)
    ticket = new_ticket(account)
    zendesk.sandbox.clock.offset += 600
    # a worker claimed it, then Lambda timed it out; its message was dead-lettered
    assert wiring.assignment_store().claim(request_for(ticket["id"]), zendesk.sandbox.clock.now()) is not None

    (held,) = parts.maintainer.run()
    assert held["swept"] == 0 and aws_env.queued() == []  # the lease is live: the worker may still finish

    zendesk.sandbox.clock.offset += CLAIM_LEASE + 1
    (report,) = parts.maintainer.run()

    assert report["swept"] == 1
    (queued,) = aws_env.queued()
    assert (queued["ticket_id"], queued["source"]) == (ticket["id"], "sweep")
    outcome = parts.assigner.assign(AssignmentRequest.from_json(json.dumps(queued)))
    assert outcome.status == ASSIGNED and outcome.attempts == 2


def test_the_sweep_pages_past_zendesks_1000_search_results(aws_env, account):
    zendesk, model = account["zendesk"], account["model"]
    support, hana = account["groups"]["Support"], account["users"]["Hana Customer"]
    tickets = []
    with zendesk.sandbox.lock:
        for _ in range(1050):
            zendesk.sandbox.clock.offset += 1  # one a second: search sorts and narrows by creation time
            tickets.append(zendesk.app.create_ticket(model, {"subject": "x", "group_id": support}, hana,
                                                     channel="web")["id"])
    zendesk.sandbox.clock.offset += 600
    # the oldest 1,000 were handled (and a person later unassigned them); the newest 50 were never seen
    handled = [{"PutRequest": {"Item": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": f"TICKET#{t}"},
                                        "ticket_id": {"N": str(t)}, "status": {"S": "assigned"}}}}
               for t in tickets[:1000]]
    for start in range(0, len(handled), 25):
        aws_env.dynamodb.batch_write_item(RequestItems={TABLE: handled[start:start + 25]})
    parts = SimulatedServices(zendesk)

    (report,) = parts.maintainer.run()

    assert report["swept"] == 50 and report["errors"] == []
    searches = [c.request.url for c in zendesk.calls("GET", "/search")]
    assert 11 <= len(searches) <= 13
    queued = aws_env.sqs.get_queue_attributes(QueueUrl=aws_env.queue_url,
                                              AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert int(queued["ApproximateNumberOfMessages"]) == 50
    received = {m["ticket_id"] for _ in range(10) for m in aws_env.queued()}
    assert received <= set(tickets[1000:]) and received


# -- waiting tickets ----------------------------------------------------------------------------------------

def test_waiting_tickets_are_queued_oldest_first_one_per_eligible_agent_a_round_once_an_agent_joins(aws_env,
                                                                                                      account):
    zendesk, model = account["zendesk"], account["model"]
    parts = SimulatedServices(zendesk)
    night = zendesk.sandbox.add_group(model, "Night shift")  # nobody in it yet
    tickets = []
    for _ in range(3):
        zendesk.sandbox.clock.offset += 1
        with zendesk.sandbox.lock:
            ticket = zendesk.app.create_ticket(model, {"subject": "Late", "group_id": night["id"]},
                                               account["users"]["Hana Customer"], channel="web")
        request = AssignmentRequest("acme", ticket["id"], "webhook", zendesk.sandbox.clock.now())
        assert parts.assigner.assign(request).status == WAITING
        tickets.append(ticket["id"])
    zendesk.sandbox.clock.offset += 600

    for _ in range(2):  # nobody to take them: nothing queued, no round scheduled, run after run
        (nobody_yet,) = parts.maintainer.run()
        assert nobody_yet["requeued"] == 0 and nobody_yet["swept"] == 0 and aws_env.queued() == []
        assert parts.wakes == []

    with zendesk.sandbox.lock:
        model.tickets[tickets[1]]["status"] = "solved"  # solved meanwhile, without an assignee
    zed = zendesk.sandbox.add_user(model, "Zed Night", "agent")
    zendesk.sandbox.add_membership(model, zed["id"], night["id"])

    (report,) = parts.maintainer.run()

    # one agent back: one ticket a round, the oldest, not the whole backlog; the sweep does not queue the others
    assert report["requeued"] == 1 and report["swept"] == 0
    outcomes = []
    for expected in tickets:
        (queued,) = aws_env.take_queued()
        assert (queued["ticket_id"], queued["source"]) == (expected, "waiting")
        outcomes.append(parts.assigner.assign(AssignmentRequest.from_json(json.dumps(queued))))
        if expected != tickets[-1]:  # the next round was asked for: run it as the events queue would
            ((subdomain, groups, round_, _delay),) = parts.wakes
            parts.wakes.clear()
            zendesk.sandbox.clock.offset += DRAIN_INTERVAL
            assert parts.waker.wake(subdomain, groups, zendesk.sandbox.clock.now(), round_) == 1
    assert [o.status for o in outcomes] == [ASSIGNED, SKIPPED, ASSIGNED]
    assert assignee(account, tickets[0]) == assignee(account, tickets[2]) == zed["id"]
    assert wiring.assignment_store().indexed("acme", WAITING) == [] and parts.wakes == []


def test_the_sweep_queues_a_waiting_ticket_only_once_it_was_moved_to_a_group_with_someone_eligible(aws_env,
                                                                                                     account):
    zendesk, model = account["zendesk"], account["model"]
    parts = SimulatedServices(zendesk)
    night = zendesk.sandbox.add_group(model, "Night shift")  # nobody in it
    waiting = []
    for _ in range(2):
        with zendesk.sandbox.lock:
            ticket = zendesk.app.create_ticket(model, {"subject": "Late", "group_id": night["id"]},
                                               account["users"]["Hana Customer"], channel="web")
        request = AssignmentRequest("acme", ticket["id"], "webhook", zendesk.sandbox.clock.now())
        assert parts.assigner.assign(request).status == WAITING
        waiting.append(ticket["id"])
    for name in ("Dev Agent", "Eve Agent", "Ivy Agent"):  # Billing's agents are all out of rotation
        wiring.agent_store().change("acme", account["users"][name], {"in_rotation": False}, 0.0)
    with zendesk.sandbox.lock:  # someone moves one ticket to Support, where agents are available, one to Billing
        model.tickets[waiting[0]]["group_id"] = account["groups"]["Support"]
        model.tickets[waiting[1]]["group_id"] = account["groups"]["Billing"]
    zendesk.sandbox.clock.offset += 600

    (report,) = parts.maintainer.run()

    assert report["requeued"] == 0 and report["swept"] == 1
    assert [(q["ticket_id"], q["source"]) for q in aws_env.take_queued()] == [(waiting[0], "sweep")]


def unavailable(*_args) -> None:
    raise StorageError("queueing the wake failed: ServiceUnavailable")


def test_a_wake_that_cannot_schedule_its_next_round_does_not_stop_the_sweep(aws_env, account):
    # given two tickets waiting for a group that now has an agent (so a next round is due), and a missed ticket
    zendesk, model = account["zendesk"], account["model"]
    parts = SimulatedServices(zendesk, schedule=unavailable)
    night = zendesk.sandbox.add_group(model, "Night shift")
    for _ in range(2):
        with zendesk.sandbox.lock:
            ticket = zendesk.app.create_ticket(model, {"subject": "Late", "group_id": night["id"]},
                                               account["users"]["Hana Customer"], channel="web")
        assert parts.assigner.assign(AssignmentRequest("acme", ticket["id"], "webhook",
                                                       zendesk.sandbox.clock.now())).status == WAITING
    zed = zendesk.sandbox.add_user(model, "Zed Night", "agent")
    zendesk.sandbox.add_membership(model, zed["id"], night["id"])
    missed = new_ticket(account)  # its webhook was lost
    zendesk.sandbox.clock.offset += 600

    # when the events queue refuses the next round's wake
    with captured_logs() as logs:
        (report,) = parts.maintainer.run()

    # then the failure is reported, and the sweep still queued the missed ticket
    assert report["errors"] == ["StorageError: queueing the wake failed: ServiceUnavailable"]
    assert report["swept"] == 1 and missed["id"] in [q["ticket_id"] for q in aws_env.queued()]
    assert logs.find("waiting tickets not woken; the next run tries again")["level"] == "WARNING"
    assert wiring.registry().get("acme").status == "connected"


class BrokenAbsences:
    def due(self, subdomain: str, now: float) -> int:
        raise StorageError("reading the absences failed: ServiceUnavailable")


def test_absences_that_cannot_be_read_do_not_stop_the_sweep(aws_env, account):
    zendesk = account["zendesk"]
    missed = new_ticket(account)
    zendesk.sandbox.clock.offset += 600

    (report,) = SimulatedServices(zendesk, absences=BrokenAbsences()).maintainer.run()

    assert report["errors"] == ["StorageError: reading the absences failed: ServiceUnavailable"]
    assert report["swept"] == 1 and [q["ticket_id"] for q in aws_env.queued()] == [missed["id"]]


def test_tickets_waiting_longer_than_the_account_allows_are_reported_once_by_maintenance(aws_env, account):
    zendesk, model = account["zendesk"], account["model"]
    parts = SimulatedServices(zendesk)
    night = zendesk.sandbox.add_group(model, "Night shift")  # nobody in it
    with zendesk.sandbox.lock:
        ticket = zendesk.app.create_ticket(model, {"subject": "Late", "group_id": night["id"]},
                                           account["users"]["Hana Customer"], channel="web")
    assert parts.assigner.assign(AssignmentRequest("acme", ticket["id"], "webhook",
                                                   zendesk.sandbox.clock.now())).status == WAITING
    zendesk.sandbox.clock.offset += 31 * 60  # past the default waiting_alert_minutes (30)

    (report,) = parts.maintainer.run()
    (again,) = parts.maintainer.run()

    assert report["waiting_alerted"] == 1 and again["waiting_alerted"] == 0
    (note,) = aws_env.notifications()
    assert f"#{ticket['id']}: no_eligible_agent" in note["Message"] and "acme" in note["Subject"]


def test_an_account_that_allows_a_longer_wait_is_not_alerted_before_it(aws_env, account):
    zendesk, model = account["zendesk"], account["model"]
    parts = SimulatedServices(zendesk)
    wiring.policies().set("acme", lambda policy, schedules: (replace(policy, waiting_alert_minutes=60), schedules),
                          zendesk.sandbox.clock.now())
    night = zendesk.sandbox.add_group(model, "Night shift")  # nobody in it
    with zendesk.sandbox.lock:
        ticket = zendesk.app.create_ticket(model, {"subject": "Late", "group_id": night["id"]},
                                           account["users"]["Hana Customer"], channel="web")
    assert parts.assigner.assign(AssignmentRequest("acme", ticket["id"], "webhook",
                                                   zendesk.sandbox.clock.now())).status == WAITING

    zendesk.sandbox.clock.offset += 31 * 60
    (early,) = parts.maintainer.run()
    zendesk.sandbox.clock.offset += 30 * 60
    (late,) = parts.maintainer.run()

    assert (early["waiting_alerted"], late["waiting_alerted"]) == (0, 1)


# -- API tokens and migration --------------------------------------------------------------------------------

@pytest.fixture
def api_token_account(aws_env, zendesk):
    model = zendesk.account()
    ada = next(u for u in model.users.values() if u["name"] == "Ada Admin")
    model.api_tokens["legacy-api-token"] = ada["id"]
    report = wiring.api_token_registration().register("acme", email=ada["email"], api_token="legacy-api-token",
                                                      webhook_base_url=PUBLIC_BASE_URL)
    assert report.auth_method == "api_token"
    wiring.reset()
    return {"zendesk": zendesk, "model": model, "ada": ada}


def secret_versions(aws_env) -> list[dict]:
    return aws_env.secretsmanager.list_secret_version_ids(SecretId=f"{PREFIX}acme")["Versions"]


def test_an_api_token_account_assigns_tickets_with_basic_auth(aws_env, api_token_account):
    zendesk, model = api_token_account["zendesk"], api_token_account["model"]
    support = next(g["id"] for g in model.groups.values() if g["name"] == "Support")
    with zendesk.sandbox.lock:
        ticket = zendesk.app.create_ticket(model, {"subject": "x", "group_id": support}, api_token_account["ada"]["id"],
                                           channel="web")
    assert wiring.assigner().assign(request_for(ticket["id"])).status == ASSIGNED
    put = zendesk.calls("PUT", f"/tickets/{ticket['id']}")[-1]
    assert put.request.headers["Authorization"].startswith("Basic ")
    assert base64.b64decode(put.request.headers["Authorization"][6:]).decode().endswith("/token:legacy-api-token")


def test_migration_by_command_switches_to_oauth_deletes_the_api_token_and_is_idempotent(aws_env, api_token_account):
    zendesk = api_token_account["zendesk"]

    first = wiring.migrator().migrate("acme")
    second = wiring.migrator().migrate("acme")

    assert first.changed is True and first.token_id
    assert second.changed is False and "already" in second.detail
    stored = credentials(aws_env)
    assert stored.auth_method == "oauth" and stored.api_token is None and stored.tokens.access_token
    assert wiring.registry().get("acme").auth_method == "oauth"
    assert all("AWSPREVIOUS" not in v.get("VersionStages", []) for v in secret_versions(aws_env))
    assert len(zendesk.account().clients) == 1  # the service's client was found, not created again
    assert len([t for t in zendesk.account().tokens.values() if t.expires_at is None]) == 1
    assert all("legacy-api-token" not in json.dumps(i) for i in aws_env.items())
    ticket = new_ticket({**api_token_account, "groups": {"Support": next(
        g["id"] for g in zendesk.account().groups.values() if g["name"] == "Support")},
        "users": {"Hana Customer": api_token_account["ada"]["id"]}})
    wiring.reset()
    assert wiring.assigner().assign(request_for(ticket["id"])).status == ASSIGNED


def test_a_migrated_token_that_expires_is_announced_once_before_its_deadline_and_listed(aws_env, api_token_account):
    from round_robin_cli.commands import account_rows

    # given a Zendesk whose Create Token API issues tokens that expire in 20 days, without refresh token
    zendesk = api_token_account["zendesk"]
    zendesk.account().created_token_lifetime = 20 * 86400
    report = wiring.migrator().migrate("acme")
    stored = credentials(aws_env).tokens
    deadline = zendesk.account().tokens[stored.access_token].expires_at
    assert stored.refresh_token is None and stored.access_expires_at == pytest.approx(deadline, abs=1)
    assert report.token_expires_at is not None
    row = next(r for r in account_rows() if r["subdomain"] == "acme")
    assert row["reconnect_by"] == datetime.fromtimestamp(deadline, UTC).strftime("%Y-%m-%d %H:%M UTC")

    # when the schedule runs 20 days, then 7 days, then 6 days before the deadline
    parts = SimulatedServices(zendesk)
    runs = []
    for days_left in (20, 7, 6):
        zendesk.sandbox.clock.offset = deadline - days_left * 86400 - time.time()
        runs.append(parts.maintainer.run()[0])

    # then the operators hear of it once, in time, and the account works meanwhile
    (notice,) = aws_env.notifications()
    assert "expires" in notice["Message"] and "/oauth/start?subdomain=acme" in notice["Message"]
    assert [r["status"] for r in runs] == ["connected"] * 3
    assert status_of().status == "connected"


def test_a_migration_during_a_connect_is_refused_and_changes_nothing(aws_env, api_token_account, monkeypatch):
    # given a connect of acme in progress (its lease held), and no wait for the test
    from round_robin.connect import lease

    zendesk = api_token_account["zendesk"]
    monkeypatch.setattr(lease, "CONNECT_WAIT_SECONDS", 0)
    LeaseStore(TABLE, clients.client("dynamodb")).acquire("ACCOUNT#acme", "connect", "a-callback", time.time(), 60)

    # when
    with pytest.raises(lease.ConnectInProgressError):
        wiring.migrator().migrate("acme")

    # then the account still uses its API token, and Zendesk was not asked for a token
    assert credentials(aws_env).auth_method == "api_token"
    assert wiring.registry().get("acme").auth_method == "api_token"
    assert zendesk.calls("POST", "/oauth/tokens.json") == [] and zendesk.calls("GET", "/oauth/clients") == []


def test_migration_by_link_switches_to_oauth_and_a_second_run_changes_nothing_more(aws_env, api_token_account):
    zendesk = api_token_account["zendesk"]
    handlers = load_handler("oauth_start"), load_handler("oauth_callback")

    page, _ = connect(*handlers, zendesk)
    assert page["statusCode"] == 200 and "API token was deleted" in page["body"]
    stored = credentials(aws_env)
    assert stored.auth_method == "oauth" and stored.api_token is None
    assert all("AWSPREVIOUS" not in v.get("VersionStages", []) for v in secret_versions(aws_env))

    again, _ = connect(*handlers, zendesk)
    assert again["statusCode"] == 200 and "API token" not in again["body"]
    assert len(zendesk.account().webhooks) == 2 and len(zendesk.account().triggers) == 1
    assert wiring.registry().get("acme").auth_method == "oauth"


def test_registering_an_api_token_for_an_oauth_account_is_refused(aws_env, account):
    from round_robin.connect.api_token import AlreadyOnOAuthError

    with pytest.raises(AlreadyOnOAuthError):
        wiring.api_token_registration().register("acme", email="x@y", api_token="t", webhook_base_url="https://x")


def test_registry_lists_accounts(aws_env, account):
    assert [a.subdomain for a in AccountRegistry(TABLE, clients.client("dynamodb")).list()] == ["acme"]


# -- the project's webhook and trigger -----------------------------------------------------------------------

def test_maintenance_deletes_the_webhook_and_trigger_copies_an_earlier_race_left(aws_env, account):
    # given a connected account, and a second webhook and trigger of ours in Zendesk (a race before the lease)
    model = account["model"]
    stored = credentials(aws_env)
    known_trigger = status_of().trigger_id
    events_webhook_id = account["events_webhook_id"]
    copy = add_hooks(account["zendesk"], stored.tokens.access_token)
    assert len(model.webhooks) == 3 and len(model.triggers) == 2

    # when
    (report,) = wiring.maintainer().run()

    # then the stored ones are kept and the copies gone, and a second run changes nothing
    assert report["status"] == "connected" and report["hooks_removed"] == 2
    assert sorted(model.webhooks) == sorted([stored.webhook_id, events_webhook_id]) and copy not in model.webhooks
    assert [str(t) for t in model.triggers] == [known_trigger]
    assert model.triggers[int(known_trigger)]["actions"][0]["value"][0] == stored.webhook_id
    assert wiring.maintainer().run()[0]["hooks_removed"] == 0


def test_a_ticket_parked_after_a_reconnect_requeued_the_others_is_queued_by_the_next_run(aws_env, account):
    # given a connected account, and a ticket a worker parked on the replaced credentials after the reconnect
    from round_robin.assignment.claims import Outcome

    ticket = new_ticket(account)
    store = wiring.assignment_store()
    claim = store.claim(request_for(ticket["id"]), time.time())
    assert claim is not None
    store.finish("acme", ticket["id"], claim, Outcome(PARKED, "invalid_grant", None, 1), time.time())

    (report,) = wiring.maintainer().run()

    (queued,) = aws_env.queued()
    assert (queued["ticket_id"], queued["source"]) == (ticket["id"], "parked")
    assert report["requeued"] == 1 and store.get("acme", ticket["id"])["status"] == "pending"
    wiring.reset()
    assert wiring.assigner().assign(AssignmentRequest.from_json(json.dumps(queued))).status == ASSIGNED


def test_the_sweep_leaves_tickets_from_before_the_first_connect_to_people(aws_env, account):
    # given an unassigned ticket created a day before the service was connected, and one missed since
    zendesk, model = account["zendesk"], account["model"]
    backlog = new_ticket(account)
    day_before = datetime.fromtimestamp(time.time() - 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    model.tickets[backlog["id"]].update(created_at=day_before, _created_epoch=time.time() - 86400)
    missed = new_ticket(account)
    zendesk.sandbox.clock.offset += 600
    parts = SimulatedServices(zendesk)

    (report,) = parts.maintainer.run()

    assert report["swept"] == 1
    assert [q["ticket_id"] for q in aws_env.queued()] == [missed["id"]]


# -- the events webhook of an account connected before it existed ---------------------------------------------

def forget_events_webhook(aws_env, account) -> None:
    """Make `account` what a connect made before the events webhook existed: no events webhook in Zendesk, no
    id on the account, only the trigger webhook's signing secret."""
    model = account["model"]
    del model.webhooks[account["events_webhook_id"]]
    aws_env.dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "ACCOUNT"}},
                                 UpdateExpression="REMOVE events_webhook_id")
    aws_env.secretsmanager.put_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme",
                                            SecretString=json.dumps({account["webhook_id"]: account["secret"]}))
    wiring.reset()


def signing_secrets(aws_env) -> dict[str, str]:
    return json.loads(aws_env.secretsmanager.get_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])


def test_maintenance_adds_the_events_webhook_an_older_account_lacks_once(aws_env, account):
    # given an account connected before the events webhook existed
    forget_events_webhook(aws_env, account)
    model = account["model"]

    # when the maintenance runs, twice
    (report,) = wiring.maintainer().run()
    wiring.maintainer().run()

    # then Zendesk has one events webhook at the trigger webhook's endpoint, its secret is stored next to the
    # trigger webhook's, and the account records it
    assert report["status"] == "connected" and report["errors"] == []
    (events,) = [w for w in model.webhooks.values() if w["subscriptions"] != ["conditional_ticket_events"]]
    assert events["endpoint"] == model.webhooks[account["webhook_id"]]["endpoint"]
    assert sorted(events["subscriptions"]) == sorted(SUBSCRIBED)
    assert signing_secrets(aws_env) == {account["webhook_id"]: account["secret"],
                                        events["id"]: model.webhook_secrets[events["id"]]}
    assert wiring.registry().get("acme").events_webhook_id == events["id"]
    assert model.webhook_secrets[events["id"]] not in json.dumps(aws_env.items())


def test_an_events_webhook_made_by_an_interrupted_run_is_adopted_not_duplicated(aws_env, account, monkeypatch):
    # given an older account, and a run that made the events webhook in Zendesk but died before storing it
    forget_events_webhook(aws_env, account)
    model = account["model"]
    real_save = wiring.signing_secrets().save

    def dies(*args, **kwargs):
        raise StorageError("Secrets Manager is unavailable")

    monkeypatch.setattr(wiring.signing_secrets(), "save", dies)
    (first,) = wiring.maintainer().run()
    assert first["errors"] == ["StorageError: Secrets Manager is unavailable"]
    assert wiring.registry().get("acme").events_webhook_id is None
    monkeypatch.setattr(wiring.signing_secrets(), "save", real_save)

    # when the next run comes
    (second,) = wiring.maintainer().run()

    # then the one made is adopted: still one events webhook, now stored
    assert second["errors"] == []
    (events,) = [w for w in model.webhooks.values() if w["subscriptions"] != ["conditional_ticket_events"]]
    assert wiring.registry().get("acme").events_webhook_id == events["id"]
    assert events["id"] in signing_secrets(aws_env)


def test_maintenance_leaves_the_events_webhook_to_a_connect_in_progress(aws_env, account, monkeypatch):
    # given an older account whose connect lease another connect holds
    from round_robin.connect import lease

    forget_events_webhook(aws_env, account)
    monkeypatch.setattr(lease, "CONNECT_WAIT_SECONDS", 0)
    LeaseStore(TABLE, clients.client("dynamodb")).acquire("ACCOUNT#acme", "connect", "a-callback", time.time(), 60)

    # when
    (report,) = wiring.maintainer().run()

    # then nothing was made, and the rest of the run went on
    assert report["status"] == "connected" and report["errors"] == []
    assert len(account["model"].webhooks) == 1
    assert wiring.registry().get("acme").events_webhook_id is None
    assert signing_secrets(aws_env) == {account["webhook_id"]: account["secret"]}


def test_maintenance_keeps_the_events_webhook_a_connect_recorded_meanwhile(aws_env, account, monkeypatch):
    # given an older account that a connect reconnects while this run is between its read and the lease
    forget_events_webhook(aws_env, account)
    stale = wiring.registry().get("acme")
    connected_meanwhile = seed_connected_account_again(account)
    monkeypatch.setattr(wiring.registry(), "list", lambda: [stale])

    # when
    wiring.maintainer().run()

    # then the connect's events webhook is the one kept, and no other was made
    model = account["model"]
    events = [w for w in model.webhooks.values() if w["subscriptions"] != ["conditional_ticket_events"]]
    assert [w["id"] for w in events] == [connected_meanwhile]
    assert wiring.registry().get("acme").events_webhook_id == connected_meanwhile


def seed_connected_account_again(account) -> str:
    seed_connected_account(account["zendesk"])
    events_webhook_id = wiring.registry().get("acme").events_webhook_id
    assert events_webhook_id
    return events_webhook_id


def test_zendesk_refusing_the_events_webhook_does_not_stop_the_sweep(aws_env, account):
    # given an older account, a ticket the webhook missed, and Zendesk refusing to create a webhook
    forget_events_webhook(aws_env, account)
    zendesk = account["zendesk"]
    missed = new_ticket(account)
    zendesk.sandbox.clock.offset += 600
    zendesk.override("POST", r"/api/v2/webhooks$", status=422, body={"error": "RecordInvalid"})

    (report,) = SimulatedServices(zendesk).maintainer.run()

    # then the refusal is reported, and the rest of the run still queued the missed ticket
    assert report["errors"] and report["errors"][0].startswith("ZendeskUnprocessableError")
    assert report["swept"] == 1 and [q["ticket_id"] for q in aws_env.queued()] == [missed["id"]]
    assert wiring.registry().get("acme").events_webhook_id is None


# -- the log's agent index, filled in for records logged before it existed -----------------------------------

def forget_agent_index() -> int:
    """Take the agent index's keys off every record, as an earlier version logged them; how many had them."""
    dynamodb = clients.client("dynamodb")
    items = dynamodb.scan(TableName=TABLE, FilterExpression="attribute_exists(gsi3pk)")["Items"]
    for item in items:
        dynamodb.update_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]},
                             UpdateExpression="REMOVE gsi3pk, gsi3sk")
    return len(items)


def agent_logs(agent_ids) -> list[int]:
    """The tickets the console's filter by agent shows, over those agents (their own index, gsi3)."""
    store = wiring.assignment_store()
    return sorted(r["ticket_id"] for agent_id in agent_ids
                  for r in store.log_page("acme", since=0, until=4e9, agent_id=agent_id, limit=100)[0])


def log_reads() -> list[str]:
    """The index of every Query made from now on through the wired client."""
    indexes: list[str] = []
    clients.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: indexes.append(params.get("IndexName", "")))
    return indexes


def logged_the_old_way(account, parts, n: int) -> tuple[list[int], set[int]]:
    """`n` tickets assigned, then stripped of their agent index entry: (their ids, their agents)."""
    tickets = [new_ticket(account)["id"] for _ in range(n)]
    assert [parts.assigner.assign(request_for(t)).status for t in tickets] == [ASSIGNED] * n
    agents = {record(t)["agent_id"] for t in tickets}
    assert forget_agent_index() == n and agent_logs(agents) == []  # the gap: not in the filter by agent
    return tickets, agents


def test_maintenance_indexes_older_records_by_agent_a_few_pages_a_run_then_never_reads_the_log_again(
        aws_env, account, monkeypatch):
    # given three tickets logged before the agent index existed, and a run's budget of one read of two entries
    monkeypatch.setattr(maintenance, "LOG_INDEX_PAGES", 1)
    monkeypatch.setattr(claims, "LOG_INDEX_PAGE", 2)
    parts = SimulatedServices(account["zendesk"])
    tickets, agents = logged_the_old_way(account, parts, 3)

    # when the maintenance runs: the first run indexes two and keeps its place, the second the last one
    (first,) = parts.maintainer.run()
    halfway = status_of()
    (second,) = parts.maintainer.run()

    assert (first["log_indexed"], second["log_indexed"]) == (2, 1) and first["errors"] == second["errors"] == []
    assert halfway.log_index_cursor is not None and halfway.log_index_filled_at is None
    assert halfway.last_maintenance is not None and halfway.last_maintenance["log_indexed"] == 2
    done = status_of()
    assert done.log_index_cursor is None and done.log_index_filled_at is not None
    assert agent_logs(agents) == sorted(tickets)  # the filter by agent shows them now
    assert all(record(t)["gsi3sk"] == record(t)["gsi2sk"] for t in tickets)

    # and a later run, even after a reconnect, reads the log no more
    seed_connected_account(account["zendesk"])
    wiring.reset()
    assert status_of().log_index_filled_at == done.log_index_filled_at
    reads = log_reads()
    (later,) = SimulatedServices(account["zendesk"]).maintainer.run()
    assert later["log_indexed"] == 0 and later["errors"] == [] and reads and "gsi2" not in reads


def test_a_new_accounts_empty_log_is_done_at_its_first_run(aws_env, account):
    (report,) = SimulatedServices(account["zendesk"]).maintainer.run()

    assert report["log_indexed"] == 0 and status_of().log_index_filled_at is not None


def test_a_storage_failure_while_indexing_the_log_is_reported_and_the_next_run_goes_on(aws_env, account, monkeypatch):
    parts = SimulatedServices(account["zendesk"])
    tickets, agents = logged_the_old_way(account, parts, 2)
    real = claims.AssignmentStore.index_agent_log

    def throttled(*_args, **_kwargs):
        raise StorageError("indexing the log by agent failed: ProvisionedThroughputExceededException")
    monkeypatch.setattr(claims.AssignmentStore, "index_agent_log", throttled)

    with captured_logs() as logs:
        (report,) = parts.maintainer.run()

    assert report["errors"] == ["StorageError: indexing the log by agent failed: "
                                "ProvisionedThroughputExceededException"]
    assert report["status"] == "connected" and report["health"] == "ok"
    assert logs.find("log not indexed by agent; the next run goes on")["level"] == "WARNING"
    stored = status_of()
    assert stored.log_index_filled_at is None and stored.last_maintenance_errors == tuple(report["errors"])
    monkeypatch.setattr(claims.AssignmentStore, "index_agent_log", real)
    (again,) = parts.maintainer.run()
    assert again["log_indexed"] == 2 and again["errors"] == [] and agent_logs(agents) == sorted(tickets)


def test_the_log_is_indexed_even_when_the_sweep_fails_run_after_run(aws_env, account, monkeypatch):
    # given older records, and a sweep whose Zendesk search fails every run (the run ends there, reported)
    parts = SimulatedServices(account["zendesk"])
    tickets, agents = logged_the_old_way(account, parts, 2)

    def search_down(*_args, **_kwargs):
        raise ZendeskError("search failed: 503")
    monkeypatch.setattr(Sweeper, "sweep", search_down)

    (report,) = parts.maintainer.run()

    assert report["errors"] == ["ZendeskError: search failed: 503"]
    assert report["log_indexed"] == 2 and agent_logs(agents) == sorted(tickets)
