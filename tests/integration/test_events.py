"""Applying Zendesk events and operator notices (EventHandler) to rosters, availability and counts: DynamoDB via
moto, Zendesk via the sandbox. Payloads are built with the sandbox's own shapes (sandbox/payloads.py)."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import time
import uuid
from typing import Any

import pytest

from round_robin import wiring
from round_robin.assignment.claims import RetryLaterError
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member
from round_robin.aws import clients
from round_robin.aws.queue import AssignmentRequest, EventMessage
from round_robin.errors import StorageError
from round_robin.events.handler import EventHandler
from round_robin_local.sandbox import payloads, people
from tests.support.zendesk import BASE


class Calls:
    """The follow-ups the handler asks for (waking, absences, reopenings), recorded."""

    def __init__(self) -> None:
        self.woken: list[tuple[str, list[str] | None, int]] = []
        self.absences: list[int] = []
        self.reopened: list[tuple[int, int]] = []

    def wake(self, subdomain, group_ids, now, round=0):
        self.woken.append((subdomain, None if group_ids is None else sorted(group_ids), round))
        return 0

    def absence(self, subdomain, agent_id, now):
        self.absences.append(agent_id)
        return 0

    def reopen(self, subdomain, ticket_id, assignee_id, now):
        self.reopened.append((ticket_id, assignee_id))
        return True


@pytest.fixture
def setup(account, aws_env):
    calls = Calls()
    settings = wiring.get_settings()
    handler = EventHandler(
        registry=wiring.registry(), rosters=wiring.rosters(), agents=wiring.agent_store(),
        policies=wiring.policies(), tokens=wiring.tokens(), zendesk=wiring.zendesk_factory(settings, max_retry_wait=0),
        wake=calls.wake, absence_started=calls.absence, reopened=calls.reopen,
        check_health=wiring.maintainer().check_health, alerts=wiring.alerts())
    return handler, calls, account


def envelope(kind: str, subject: str, detail: dict[str, Any], event: dict[str, Any], *,
             at: str = "2026-12-06T10:00:00Z") -> dict[str, Any]:
    return {"type": f"zen:event-type:{kind}", "account_id": 1, "id": str(uuid.uuid4()), "time": at,
            "zendesk_event_version": payloads.USER_EVENT_VERSION, "subject": subject, "detail": detail,
            "event": event}


def zendesk(payload: dict[str, Any], subdomain: str = "acme") -> EventMessage:
    return EventMessage(subdomain, "zendesk", time.time(), payload)


def user_event(account, name: str, kind: str, event: dict[str, Any] | None = None, **options) -> dict[str, Any]:
    user = account["zendesk"].user(name)
    return envelope(kind, f"zen:user:{user['id']}", payloads.user_detail(user), event or {}, **options)


def change_user(account, name: str, **changes) -> None:
    zendesk_ = account["zendesk"]
    people.update_user(zendesk_.account(), zendesk_.user(name), changes, zendesk_.app.events,
                       zendesk_.sandbox.clock.iso())


def members(group_id: str) -> list[int]:
    roster = wiring.rosters().get("acme", group_id)
    return [m.id for m in roster.members] if roster else []


def agent(agent_id: int):
    return wiring.agent_store().agents("acme", {agent_id: ""})[agent_id]


def follow(**switches) -> None:
    wiring.policies().set("acme", lambda p, s: (dataclasses.replace(p, **switches), s), time.time())


# -- user events: rosters ----------------------------------------------------------------------------------

def test_a_deactivated_agent_leaves_every_roster_and_wakes_nobody(setup):
    handler, calls, account = setup
    ben, support = account["users"]["Ben Agent"], str(account["groups"]["Support"])
    assert ben in members(support) and ben in members(ACCOUNT_WIDE)

    change_user(account, "Ben Agent", active=False)
    outcome = handler.handle(zendesk(user_event(account, "Ben Agent", "user.active_changed",
                                                {"current": False, "previous": True})))

    assert outcome == "applied"
    assert ben not in members(support) and ben not in members(ACCOUNT_WIDE)
    assert calls.woken == []


def test_a_new_membership_appends_the_agent_at_the_end_and_wakes_that_group(setup):
    handler, calls, account = setup
    ben, billing = account["users"]["Ben Agent"], account["groups"]["Billing"]
    before = members(str(billing))
    zendesk_ = account["zendesk"]
    people.add_membership(zendesk_.account(), ben, billing, zendesk_.app.events, zendesk_.sandbox.next_id(),
                          zendesk_.sandbox.clock.iso())

    payload = user_event(account, "Ben Agent", "user.group_membership_created", {"group": {"id": str(billing)}})
    assert handler.handle(zendesk(payload)) == "applied"

    assert members(str(billing)) == [*before, ben]
    assert calls.woken == [("acme", [str(billing)], 0)]
    # the same event again, or late after others, changes nothing: the user is read again each time
    assert handler.handle(zendesk(payload)) == "unchanged"
    assert members(str(billing)) == [*before, ben]


def test_a_membership_event_arriving_after_the_membership_was_removed_again_does_not_add_it(setup):
    handler, calls, account = setup
    ben, billing = account["users"]["Ben Agent"], account["groups"]["Billing"]
    before = members(str(billing))
    # Zendesk says "created" but by the time it arrives the membership is gone: Zendesk's truth wins.
    payload = user_event(account, "Ben Agent", "user.group_membership_created", {"group": {"id": str(billing)}})
    handler.handle(zendesk(payload))
    assert members(str(billing)) == before and ben not in before
    assert calls.woken == []


def test_end_user_events_are_ignored_without_a_zendesk_call_but_an_agent_made_an_end_user_leaves(setup):
    handler, calls, account = setup
    hana, cleo = account["zendesk"].user("Hana Customer"), account["users"]["Cleo Agent"]
    requests_before = len(account["zendesk"].calls("GET", f"/users/{hana['id']}"))

    for kind in ("user.deleted", "user.active_changed", "user.time_zone_changed"):
        assert handler.handle(zendesk(user_event(account, "Hana Customer", kind))) == "ignored"
    assert len(account["zendesk"].calls("GET", f"/users/{hana['id']}")) == requests_before

    change_user(account, "Cleo Agent", role="end-user")
    assert handler.handle(zendesk(user_event(account, "Cleo Agent", "user.role_changed"))) == "applied"
    assert all(cleo not in members(g) for g in (str(account["groups"]["Support"]), ACCOUNT_WIDE))


def test_an_agent_demoted_to_light_agent_leaves_the_rosters(setup):
    handler, calls, account = setup
    cleo = account["users"]["Cleo Agent"]
    change_user(account, "Cleo Agent", role_type=1)
    assert handler.handle(zendesk(user_event(account, "Cleo Agent", "user.custom_role_changed"))) == "applied"
    assert cleo not in members(str(account["groups"]["Support"])) and cleo not in members(ACCOUNT_WIDE)


def test_a_user_zendesk_no_longer_has_is_removed(setup):
    handler, calls, account = setup
    dev = account["users"]["Dev Agent"]
    account["zendesk"].override("GET", rf"/api/v2/users/{dev}(\.json)?$", status=404,
                                body={"error": "RecordNotFound", "description": "Not found"})
    assert handler.handle(zendesk(user_event(account, "Dev Agent", "user.deleted"))) == "applied"
    assert dev not in members(str(account["groups"]["Billing"])) and dev not in members(ACCOUNT_WIDE)


def test_an_excluded_agent_is_not_added_back_by_an_event(setup, aws_env):
    handler, calls, account = setup
    eve = account["users"]["Eve Agent"]
    wiring.registry().set_excluded("acme", [eve], time.time())
    assert handler.handle(zendesk(user_event(account, "Eve Agent", "user.role_changed"))) == "applied"
    assert eve not in members(str(account["groups"]["Billing"]))


def test_a_time_zone_change_stores_the_iana_zone_on_the_agent(setup):
    handler, calls, account = setup
    ivy = account["users"]["Ivy Agent"]
    change_user(account, "Ivy Agent", time_zone="London")
    assert handler.handle(zendesk(user_event(account, "Ivy Agent", "user.time_zone_changed"))) == "applied"
    assert agent(ivy).time_zone == "Europe/London"


def test_zendesk_throttling_is_retried_later_with_its_retry_after(setup):
    handler, calls, account = setup
    account["zendesk"].override("GET", r"/api/v2/users/\d+", status=429, headers={"Retry-After": "42"})
    with pytest.raises(RetryLaterError) as caught:
        handler.handle(zendesk(user_event(account, "Ben Agent", "user.role_changed")))
    assert caught.value.delay == 42


# -- the connecting admin ----------------------------------------------------------------------------------

def test_the_connecting_admin_demoted_runs_the_health_check_at_once_and_alerts_once(setup, aws_env):
    handler, calls, account = setup
    change_user(account, "Ada Admin", role="agent")
    payload = user_event(account, "Ada Admin", "user.role_changed", {"current": "agent", "previous": "admin"})

    handler.handle(zendesk(payload))
    handler.handle(zendesk(payload))  # a redelivery: no second admin alert

    assert wiring.registry().get("acme").status == "needs_reconnect"
    subjects = sorted(n["Subject"] for n in aws_env.notifications())
    assert subjects == ["Reconnect acme.zendesk.com", "The admin who connected acme.zendesk.com changed"]


def test_an_event_about_another_user_runs_no_health_check(setup, aws_env):
    handler, calls, account = setup
    change_user(account, "Ben Agent", suspended=True)
    handler.handle(zendesk(user_event(account, "Ben Agent", "user.suspended_changed")))
    assert wiring.registry().get("acme").status == "connected"
    assert aws_env.notifications() == []


# -- Zendesk's agent status --------------------------------------------------------------------------------

def status_event(agent_id: int, name: str, version: int) -> dict[str, Any]:
    detail = payloads.agent_detail(1, agent_id, version)
    event = payloads.unified_state_change({"id": 3, "name": name}, {"id": 4, "name": "Away"}, "UNKNOWN",
                                          "2026-12-06T10:00:00Z")
    return envelope("agent.unified_state_changed", f"zen:agent:{agent_id}", detail, event)


def test_a_status_is_stored_even_when_the_account_does_not_follow_it_and_wakes_nobody(setup):
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    assert handler.handle(zendesk(status_event(ben, "Online", 5))) == "applied"
    assert agent(ben).zendesk_status == "online"
    assert calls.woken == []


def test_an_older_status_version_loses_to_the_stored_one(setup):
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    handler.handle(zendesk(status_event(ben, "Away", 7)))
    assert handler.handle(zendesk(status_event(ben, "Online", 6))) == "stale"
    assert handler.handle(zendesk(status_event(ben, "Away", 7))) == "applied"  # a redelivery: the same again
    assert agent(ben).zendesk_status == "away"


def test_a_redelivered_event_runs_the_follow_up_its_first_delivery_could_not(setup):
    # given an account following Zendesk's status and the Out of Office app, whose first wake and absence fail
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    follow(zendesk_status=True, ooo_app=True)
    failing = {"wake": True, "absence": True}

    def wake(subdomain, group_ids, now, round=0):
        if failing.pop("wake", False):
            raise StorageError("queueing the wake failed: ServiceUnavailable")
        return calls.wake(subdomain, group_ids, now, round)

    def absence(subdomain, agent_id, now):
        if failing.pop("absence", False):
            raise RetryLaterError("rate_limited", 30)
        return calls.absence(subdomain, agent_id, now)

    handler._wake, handler._absence_started = wake, absence  # the follow-ups, failing once each
    online, out = status_event(ben, "Online", 9), ooo_event(account, "Ben Agent", True, "2026-12-06T11:00:00Z")

    # when each message fails after its change was stored, and the queue delivers it again
    for message in (online, out):
        with pytest.raises((StorageError, RetryLaterError)):
            handler.handle(zendesk(message))
        assert handler.handle(zendesk(message)) == "applied"

    # then the follow-ups ran on the redelivery
    assert [c[0] for c in calls.woken] == ["acme"] and calls.absences == [ben]


def test_going_online_wakes_the_agents_groups_when_the_account_follows_zendesk_status(setup):
    handler, calls, account = setup
    follow(zendesk_status=True)
    ben = account["users"]["Ben Agent"]
    handler.handle(zendesk(status_event(ben, "Away", 1)))
    handler.handle(zendesk(status_event(ben, "Online", 2)))
    assert calls.woken == [("acme", sorted([str(account["groups"]["Support"]), ACCOUNT_WIDE]), 0)]


def test_a_status_for_an_agent_in_no_roster_is_still_stored(setup):
    handler, calls, account = setup
    lena = account["users"]["Lena Light"]
    assert handler.handle(zendesk(status_event(lena, "Online", 1))) == "applied"
    assert agent(lena).zendesk_status == "online"


# -- the Out of Office app ---------------------------------------------------------------------------------

def ooo_event(account, name: str, out: bool, at: str) -> dict[str, Any]:
    field = next(f for f in account["model"].user_fields.values() if f["key"] == "agent_ooo")
    return user_event(account, name, "user.custom_field_changed",
                      payloads.custom_field_change(field, out, not out), at=at)


def test_agent_out_starts_the_absence_and_back_wakes_the_groups_when_the_account_follows_the_app(setup):
    handler, calls, account = setup
    follow(ooo_app=True)
    dev = account["users"]["Dev Agent"]
    assert handler.handle(zendesk(ooo_event(account, "Dev Agent", True, "2026-12-06T10:00:00Z"))) == "applied"
    assert agent(dev).ooo_app is True and calls.absences == [dev]
    assert handler.handle(zendesk(ooo_event(account, "Dev Agent", False, "2026-12-06T11:00:00Z"))) == "applied"
    assert agent(dev).ooo_app is False
    assert calls.woken == [("acme", sorted([str(account["groups"]["Billing"]), ACCOUNT_WIDE]), 0)]


def test_an_older_out_of_office_change_is_stale_and_the_field_is_read_once(setup):
    handler, calls, account = setup
    dev = account["users"]["Dev Agent"]
    handler.handle(zendesk(ooo_event(account, "Dev Agent", True, "2026-12-06T11:00:00Z")))
    assert handler.handle(zendesk(ooo_event(account, "Dev Agent", False, "2026-12-06T10:00:00Z"))) == "stale"
    assert agent(dev).ooo_app is True and calls.absences == []  # the account does not follow the app
    assert len(account["zendesk"].calls("GET", "/api/v2/user_fields/")) == 1


def test_another_custom_field_is_ignored(setup):
    handler, calls, account = setup
    field = {"id": 999, "title": "Shoe size", "type": "integer"}
    account["model"].user_fields[999] = {**field, "key": "shoe_size"}
    payload = user_event(account, "Dev Agent", "user.custom_field_changed", payloads.custom_field_change(field, 9, 8))
    assert handler.handle(zendesk(payload)) == "ignored"


# -- ticket events -----------------------------------------------------------------------------------------

def ticket_event(kind: str, ticket_id: int, assignee: int | None, status: str, updated_at: str,
                 previous: str | None = None) -> dict[str, Any]:
    ticket = {"id": ticket_id, "assignee_id": assignee, "status": status, "created_at": "2026-12-06T09:00:00Z",
              "updated_at": updated_at, "group_id": None}
    event = payloads.ticket_field_change("status", status, previous) if previous else \
        payloads.ticket_field_change("assignee_id", assignee, None)
    return {**envelope(kind, f"zen:ticket:{ticket_id}", payloads.ticket_detail(ticket, 1), event),
            "zendesk_event_version": payloads.TICKET_AND_AGENT_EVENT_VERSION}


def test_a_ticket_a_person_assigned_counts_and_solving_it_frees_capacity(setup):
    handler, calls, account = setup
    eve = account["users"]["Eve Agent"]
    assign = ticket_event("ticket.agent_assignment_changed", 900, eve, "open", "2026-12-06T10:00:00Z")
    assert handler.handle(zendesk(assign)) == "applied"
    assert agent(eve).open_count == 1 and agent(eve).daily_count == 1
    assert calls.woken == []

    solve = ticket_event("ticket.status_changed", 900, eve, "solved", "2026-12-06T10:05:00Z", previous="open")
    assert handler.handle(zendesk(solve)) == "applied"
    assert agent(eve).open_count == 0 and agent(eve).daily_count == 1
    assert calls.woken == [("acme", sorted([str(account["groups"]["Billing"]), ACCOUNT_WIDE]), 0)]
    assert handler.handle(zendesk(assign)) == "stale"  # late: the ticket was solved since
    assert agent(eve).open_count == 0


def test_the_events_of_the_services_own_assignment_cost_one_read_and_change_nothing(setup, aws_env):
    # given a ticket the worker assigned (its counts taken in the assignment's transaction)
    handler, calls, account = setup
    fake, model = account["zendesk"], account["model"]
    ticket = fake.app.create_ticket(model, {"subject": "hi", "group_id": account["groups"]["Billing"]},
                                    account["users"]["Hana Customer"], channel="web")
    outcome = wiring.assigner().assign(AssignmentRequest("acme", ticket["id"], "webhook", time.time()))
    assert outcome.status == "assigned"
    assignee, updated = model.tickets[ticket["id"]]["assignee_id"], model.tickets[ticket["id"]]["updated_at"]
    counts = (agent(assignee).open_count, agent(assignee).daily_count)

    # when Zendesk's events about that very update arrive
    events = [ticket_event("ticket.agent_assignment_changed", ticket["id"], assignee, "open", updated),
              ticket_event("ticket.status_changed", ticket["id"], assignee, "open", updated, previous="new")]
    handler.handle(notice("settings_changed", {}))  # the account is read once per warm process (cached 30 s)
    calls.woken.clear()
    dynamodb_calls: list[str] = []
    clients.client("dynamodb").meta.events.register("before-call.dynamodb",
                                                    lambda model, **_: dynamodb_calls.append(model.name))
    outcomes = [handler.handle(zendesk(e)) for e in events]

    # then they are recognised from the counts' own marker: nothing written, nobody woken
    assert outcomes == ["unchanged", "unchanged"]
    # for each, one read of the marker (its time is the assignment's) and the policy (whether it counts as open)
    # together; the account is read once per warm process (cached)
    assert dynamodb_calls == ["BatchGetItem"] * 2
    assert (agent(assignee).open_count, agent(assignee).daily_count) == counts == (1, 1)
    assert calls.woken == []


def test_a_persons_change_in_the_same_second_as_the_last_one_applied_is_still_counted(setup):
    # Zendesk's updated_at has whole seconds: two changes in one second carry the same time
    handler, calls, account = setup
    eve, ben = account["users"]["Eve Agent"], account["users"]["Ben Agent"]
    first = ticket_event("ticket.agent_assignment_changed", 901, eve, "open", "2026-12-06T10:00:00Z")
    second = ticket_event("ticket.agent_assignment_changed", 901, ben, "open", "2026-12-06T10:00:00Z")
    assert handler.handle(zendesk(first)) == "applied"

    assert handler.handle(zendesk(second)) == "applied"
    assert (agent(eve).open_count, agent(ben).open_count) == (0, 1)
    assert handler.handle(zendesk(second)) == "unchanged"  # a redelivery
    assert agent(ben).open_count == 1


def test_a_reopened_ticket_counts_again_and_is_handed_to_reopened(setup):
    handler, calls, account = setup
    eve = account["users"]["Eve Agent"]
    handler.handle(zendesk(ticket_event("ticket.status_changed", 901, eve, "pending", "2026-12-06T10:00:00Z",
                                        previous="open")))
    assert agent(eve).open_count == 0  # pending is not counted by default
    handler.handle(zendesk(ticket_event("ticket.status_changed", 901, eve, "open", "2026-12-06T10:01:00Z",
                                        previous="pending")))
    assert agent(eve).open_count == 1 and calls.reopened == [(901, eve)]


# -- storms: duplicates and reordering ---------------------------------------------------------------------

def test_a_shuffled_stream_with_duplicates_ends_as_the_in_order_stream(setup):
    handler, calls, account = setup
    follow(zendesk_status=True, ooo_app=True)
    ids = account["users"]
    ben, dev, eve = ids["Ben Agent"], ids["Dev Agent"], ids["Eve Agent"]
    stream = [status_event(ben, name, v) for v, name in enumerate(["Away", "Online", "Offline", "Online"], 1)]
    stream += [ooo_event(account, "Dev Agent", out, f"2026-12-06T1{h}:00:00Z")
               for h, out in enumerate([True, False, True])]
    stream += [ticket_event("ticket.agent_assignment_changed", 950, who, status, f"2026-12-06T10:0{m}:00Z")
               for m, (who, status) in enumerate([(eve, "open"), (dev, "open"), (dev, "solved"), (eve, "open")])]
    stream += [ticket_event("ticket.agent_assignment_changed", 951, eve, "open", "2026-12-06T10:00:00Z")]

    def state():
        return {i: (a.zendesk_status, a.ooo_app, a.open_count) for i, a in
                wiring.agent_store().agents("acme", {ben: "", dev: "", eve: ""}).items()}

    for payload in stream:
        handler.handle(zendesk(payload))
    in_order = state()
    assert in_order == {ben: ("online", False, 0), dev: (None, True, 0), eve: (None, False, 2)}

    for seed in range(3):  # each round from a fresh state: the agents and the tickets' markers forgotten
        storm = stream + random.Random(seed).sample(stream, len(stream) // 2)
        random.Random(seed + 100).shuffle(storm)
        reset_counts_and_agents()
        for payload in storm:
            handler.handle(zendesk(payload))
        assert state() == in_order, f"seed {seed}"


def reset_counts_and_agents() -> None:
    dynamodb, table = wiring.clients.client("dynamodb"), wiring.get_settings().table_name
    for item in dynamodb.scan(TableName=table)["Items"]:
        if item["sk"]["S"].startswith(("AGENT#", "TICKET#")):
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


# -- operator notices and refusals -------------------------------------------------------------------------

def notice(kind: str, payload: dict[str, Any]) -> EventMessage:
    return EventMessage("acme", kind, time.time(), payload)


def test_settings_changed_wakes_every_group_and_wake_passes_its_groups_and_round(setup):
    handler, calls, account = setup
    assert handler.handle(notice("settings_changed", {})) == "woken"
    assert handler.handle(notice("wake", {"group_ids": ["7"], "round": 2})) == "woken"
    assert calls.woken == [("acme", None, 0), ("acme", ["7"], 2)]


def test_an_absence_notice_starts_the_absence(setup):
    handler, calls, account = setup
    assert handler.handle(notice("absence", {"agent_id": 5})) == "absence"
    assert calls.absences == [5]


def test_agent_changed_wakes_the_groups_where_the_agent_is_now_eligible(setup):
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    assert handler.handle(notice("agent_changed", {"agent_id": ben})) == "woken"
    assert calls.woken == [("acme", sorted([str(account["groups"]["Support"]), ACCOUNT_WIDE]), 0)]


def test_agent_changed_to_out_of_office_now_starts_the_absence_and_wakes_nobody(setup):
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    wiring.agent_store().change("acme", ben, {"status": "ooo"}, time.time())
    assert handler.handle(notice("agent_changed", {"agent_id": ben})) == "absence"
    assert calls.absences == [ben] and calls.woken == []


def test_agent_changed_to_away_wakes_nobody(setup):
    handler, calls, account = setup
    ben = account["users"]["Ben Agent"]
    wiring.agent_store().change("acme", ben, {"status": "away"}, time.time())
    assert handler.handle(notice("agent_changed", {"agent_id": ben})) == "unchanged"
    assert calls.woken == [] and calls.absences == []


@pytest.mark.parametrize("kind, payload", [
    ("zendesk", {"type": "nope"}), ("wake", {"group_ids": "7"}), ("wake", {"round": -1}),
    ("absence", {"agent_id": "x"}), ("agent_changed", {}), ("party", {}),
])
def test_malformed_messages_are_dropped_without_writing(setup, aws_env, kind, payload):
    handler, calls, account = setup
    before = aws_env.items()
    assert handler.handle(notice(kind, payload)) == "malformed"
    assert aws_env.items() == before and calls.woken == []


def test_an_event_for_an_unknown_account_writes_nothing(setup, aws_env):
    handler, calls, account = setup
    before = aws_env.items()
    ben = account["users"]["Ben Agent"]
    assert handler.handle(zendesk(status_event(ben, "Online", 1), subdomain="globex")) == "unknown_account"
    assert handler.handle(EventMessage("globex", "settings_changed", time.time(), {})) == "unknown_account"
    assert aws_env.items() == before and calls.woken == []


def test_one_member_changes_keep_the_order_the_rotation_and_a_concurrent_change(setup, monkeypatch):
    handler, calls, account = setup
    store, support = wiring.rosters(), str(account["groups"]["Support"])
    ada, ben, cleo = (account["users"][n] for n in ("Ada Admin", "Ben Agent", "Cleo Agent"))
    assert members(support) == [ada, ben, cleo]
    original, raced = store._write, []

    def write_after_a_concurrent_change(subdomain, roster, old, now):
        if not raced:  # another event adds Dev between our read and our write
            raced.append(True)
            assert store.set_member("acme", support, Member(77, "Dev"), True, now) is True
        return original(subdomain, roster, old, now)

    monkeypatch.setattr(store, "_write", write_after_a_concurrent_change)
    assert store.set_member("acme", support, Member(ben, "Ben Agent"), False, time.time()) is True
    assert members(support) == [ada, cleo, 77]
    assert store.set_member("acme", support, Member(ben, "Ben Agent"), False, time.time()) is False
    assert store.set_member("acme", "404", Member(ben, "Ben Agent"), True, time.time()) is None


def test_an_account_that_needs_reconnecting_still_stores_statuses(setup):
    handler, calls, account = setup
    wiring.registry().mark_needs_reconnect("acme", "invalid_grant", time.time())
    ben = account["users"]["Ben Agent"]
    assert handler.handle(zendesk(status_event(ben, "Online", 3))) == "applied"
    assert agent(ben).zendesk_status == "online"


def test_a_user_event_for_a_connection_zendesk_refuses_ends_connection_broken_and_flags_it(setup, aws_env):
    handler, calls, account = setup
    account["zendesk"].override("GET", r"/api/v2/users/\d+", status=401, body={"error": "Couldn't authenticate you"})
    account["zendesk"].override("POST", r"/oauth/tokens", status=400, body={"error": "invalid_grant"})
    assert handler.handle(zendesk(user_event(account, "Ben Agent", "user.role_changed"))) == "connection_broken"
    assert wiring.registry().get("acme").status == "needs_reconnect"
    assert [n["Subject"] for n in aws_env.notifications()] == ["Reconnect acme.zendesk.com"]


# -- what the sandbox actually sends -------------------------------------------------------------------------

EVENTS_ENDPOINT = "http://127.0.0.1:9/events"


def test_the_events_the_sandbox_delivers_are_applied(setup):
    handler, calls, account = setup
    fake, model, ids, groups = account["zendesk"], account["model"], account["users"], account["groups"]
    received: list[dict[str, Any]] = []
    fake.mock.add_callback("POST", EVENTS_ENDPOINT,
                           callback=lambda request: (received.append(json.loads(request.body)) or (200, {}, b"")))
    model.api_tokens["events-test"] = ids["Ada Admin"]
    login = f"{fake.user('Ada Admin')['email']}/token:events-test"
    admin = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
    types = ["user.group_membership_deleted", "agent.unified_state_changed", "agent.state_changed",
             "user.custom_field_changed", "ticket.agent_assignment_changed", "ticket.status_changed"]
    created = fake.client.post("/acme/api/v2/webhooks", headers=admin, base_url=BASE, json={"webhook": {
        "name": "events", "status": "active", "endpoint": EVENTS_ENDPOINT, "http_method": "POST",
        "request_format": "json", "subscriptions": [f"zen:event-type:{t}" for t in types]}})
    assert created.status_code == 201, created.get_data(as_text=True)

    def control(method: str, path: str, body: Any = None) -> None:
        answer = fake.client.open(f"/_sandbox/accounts/acme/{path}", method=method, json=body, base_url=BASE)
        assert answer.status_code < 300, answer.get_data(as_text=True)

    control("POST", f"agents/{ids['Ben Agent']}/status", {"status": "away"})
    cleo_support = next(m for m in model.memberships.values()
                        if m["user_id"] == ids["Cleo Agent"] and m["group_id"] == groups["Support"])
    control("DELETE", f"memberships/{cleo_support['id']}")
    control("POST", f"users/{ids['Dev Agent']}", {"user_fields": {"agent_ooo": True}})
    ticket = fake.app.create_ticket(model, {"subject": "hi", "group_id": groups["Billing"]}, ids["Hana Customer"],
                                    channel="web")
    put = fake.client.put(f"/acme/api/v2/tickets/{ticket['id']}.json", headers=admin, base_url=BASE,
                          json={"ticket": {"assignee_id": ids["Eve Agent"], "status": "open"}})
    assert put.status_code == 200, put.get_data(as_text=True)

    expected = {f"zen:event-type:{t}" for t in types}
    deadline = time.monotonic() + 10
    while {p["type"] for p in received} != expected and time.monotonic() < deadline:
        time.sleep(0.05)  # the sandbox delivers on its own threads: poll until every type came, or the deadline
    assert {p["type"] for p in received} == expected

    outcomes = {p["type"].rsplit(":", 1)[1]: handler.handle(zendesk(p)) for p in list(received)}

    assert outcomes["agent.state_changed"] == "ignored"
    assert agent(ids["Ben Agent"]).zendesk_status == "away"
    assert ids["Cleo Agent"] not in members(str(groups["Support"]))
    assert agent(ids["Dev Agent"]).ooo_app is True
    assert agent(ids["Eve Agent"]).open_count == 1
