"""The console pages' data with moto: the assignment log (gsi2), the Agents page's reads and changes, the Health
page's waiting tickets and maintenance errors, tenant isolation."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from round_robin import wiring
from round_robin.assignment.agents import OVERVIEW_FIELDS
from round_robin.assignment.claims import ASSIGNED, FAILED, PARKED, SKIPPED, WAITING, AssignmentStore, Outcome
from round_robin.assignment.rotation import Choice, Member
from round_robin.availability.errors import InvalidInputError
from round_robin.aws import clients
from round_robin.aws.dynamo import serialize
from round_robin.aws.queue import AssignmentRequest, EventMessage
from round_robin.console.agents_page import AgentsPage
from round_robin.console.assignments_page import AssignmentsPage, LogFilter, parse_filter
from round_robin.console.health_page import HealthPage
from round_robin.table import LOG_AGENT_INDEX, LOG_COLUMNS
from tests.integration.conftest import TABLE
from tests.integration.helpers import new_ticket, request_for


def store() -> AssignmentStore:
    return AssignmentStore(TABLE, clients.client("dynamodb"))


def logged(subdomain: str, ticket_id: int, status: str, at: float, *, group: str = "11", agent: int = 7,
           name: str = "Ann") -> None:
    """Claim a ticket and end it with `status` at `at` (FAILED: released), as the worker does."""
    claims = store()
    claim = claims.claim(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="webhook",
                                           received_at=at - 5), at - 1)
    assert claim is not None
    choice = Choice(Member(agent, name), 1, group) if status in (ASSIGNED, FAILED) else None
    if status == FAILED:
        claims.release(subdomain, ticket_id, claim, choice, at, "zendesk_unavailable")
    else:
        claims.finish(subdomain, ticket_id, claim, Outcome(status, f"why {status}", choice, claim.attempts,
                                                           group_id=group), at)


class NoRosters:
    def group_names(self, subdomain):
        return {}


def test_every_outcome_is_in_the_log_newest_first(aws_env):
    now = time.time()
    for ticket_id, status in enumerate((ASSIGNED, WAITING, SKIPPED, PARKED, FAILED), start=1):
        logged("acme", ticket_id, status, now - 100 + ticket_id)

    records, following = store().log_page("acme", since=now - 3600, until=now + 1)

    assert [(r["ticket_id"], r["logged"]) for r in records] == [
        (5, FAILED), (4, PARKED), (3, SKIPPED), (2, WAITING), (1, ASSIGNED)]
    assert following is None
    assert records[0]["reason"] == "zendesk_unavailable" and store().get("acme", 5)["status"] == "pending"


def test_a_ticket_claimed_again_keeps_its_last_outcome_in_the_log(aws_env):
    now = time.time()
    logged("acme", 1, WAITING, now - 10)
    assert store().claim(request_for(1), now) is not None  # woken, being assigned

    records, _ = store().log_page("acme", since=now - 3600, until=now + 1)

    assert [(r["ticket_id"], r["logged"]) for r in records] == [(1, WAITING)]
    assert store().get("acme", 1)["status"] == "in_progress"


def test_log_pages_follow_each_other_without_gaps_or_repeats_under_a_filter(aws_env):
    now = time.time()
    for ticket_id in range(1, 131):
        logged("acme", ticket_id, ASSIGNED if ticket_id % 3 else SKIPPED, now - 1000 + ticket_id)
    page = AssignmentsPage(log=store(), rosters=NoRosters())
    view: LogFilter | None = LogFilter(outcome=ASSIGNED)
    seen = []
    while view is not None:
        rows, view = page.page("acme", view, now)
        assert len(rows) <= 50
        seen += [r.ticket_id for r in rows]

    assert seen == [t for t in range(130, 0, -1) if t % 3]


def test_the_log_filters_by_group_agent_dates_and_ticket(aws_env):
    now = datetime(2026, 12, 6, 12, tzinfo=UTC).timestamp()
    logged("acme", 1, ASSIGNED, now - 3 * 86400, group="11", agent=7)
    logged("acme", 2, ASSIGNED, now - 86400, group="12", agent=8, name="Bob")
    logged("acme", 3, WAITING, now, group="12")
    page = AssignmentsPage(log=store(), rosters=NoRosters())

    def tickets(**query):
        rows, _ = page.page("acme", parse_filter(query), now)
        return [r.ticket_id for r in rows]

    assert tickets(group="12") == [3, 2]
    assert tickets(agent="8") == [2]
    assert tickets(**{"from": "2026-12-03", "to": "2026-12-03"}) == [1]
    assert tickets(**{"from": "2026-12-04"}) == [3, 2]
    assert tickets(ticket="2") == [2]
    assert tickets(ticket="2", outcome="waiting") == []
    assert tickets(ticket="99") == []


def test_another_accounts_records_never_appear(aws_env):
    now = time.time()
    logged("acme", 1, ASSIGNED, now - 10)
    logged("other", 2, ASSIGNED, now - 5)
    page = AssignmentsPage(log=store(), rosters=NoRosters())

    rows, _ = page.page("acme", LogFilter(), now)
    assert [r.ticket_id for r in rows] == [1]
    assert page.page("acme", parse_filter({"ticket": "2"}), now)[0] == []
    # a cursor names a position in the signed-in account's own partition only
    assert page.page("acme", LogFilter(after=(now - 4, 2)), now)[0][0].ticket_id == 1
    exported = page.csv("acme", {}, now)
    assert "/agent/tickets/1" in exported and "/agent/tickets/2" not in exported


def test_the_csv_has_every_matching_row(aws_env):
    now = time.time()
    for ticket_id in range(1, 121):
        logged("acme", ticket_id, ASSIGNED, now - 1000 + ticket_id, name="=HYPERLINK(\"x\")")

    text = AssignmentsPage(log=store(), rosters=NoRosters()).csv("acme", {"outcome": "assigned"}, now)

    lines = text.strip().split("\r\n")
    assert len(lines) == 121
    assert lines[1].split(",")[1] == "120"
    assert "'=HYPERLINK" in lines[1]


def test_a_real_assignment_is_logged_with_its_agent_and_marks_when_they_were_last_assigned(aws_env, account):
    ticket = new_ticket(account)

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    records, _ = store().log_page("acme", since=time.time() - 60, until=time.time() + 1)
    assert [(r["ticket_id"], r["logged"], r["agent_id"]) for r in records] == [
        (ticket["id"], ASSIGNED, outcome.choice.agent.id)]
    theirs, _ = store().log_page("acme", since=time.time() - 60, until=time.time() + 1,
                                 agent_id=outcome.choice.agent.id)
    assert [r["ticket_id"] for r in theirs] == [ticket["id"]]  # and in that agent's own log
    agent = wiring.agent_store().listed("acme")[outcome.choice.agent.id]
    assert agent.last_assigned_at is not None and agent.last_assigned_at > time.time() - 60


def agents_page(aws_env) -> AgentsPage:
    queue = wiring.event_queue()

    def announce(subdomain, notices):
        for kind, payload in notices:
            queue.send(EventMessage(subdomain=subdomain, kind=kind, received_at=time.time(), payload=payload))
        return True

    return AgentsPage(registry=wiring.registry(), rosters=wiring.rosters(), agents=wiring.agent_store(),
                      policies=wiring.policies(), announce=announce)


def test_the_agents_page_shows_rosters_in_turn_with_who_is_next(aws_env, account):
    page = agents_page(aws_env)
    wiring.assigner().assign(request_for(new_ticket(account)["id"]))

    data = page.load("acme", time.time())

    support = next(r for r in data.rosters if r.group_name == "Support")
    assert support.last_agent_id is not None
    assert support.turns[-1].agent_id == support.last_agent_id  # the last assigned has the last turn
    assert support.next_agent_id == support.turns[0].agent_id
    body = page.render("acme", {"group": support.group_id}, csrf_token="t", now=time.time())
    assert "rotation order" in body and "<strong>next</strong>" in body


def test_taking_an_agent_out_of_office_is_stored_and_announced(aws_env, account):
    page = agents_page(aws_env)
    agent_id, backup = account["users"]["Ben Agent"], account["users"]["Cleo Agent"]
    back = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()

    text = page.edit("acme", {"action": "availability", "agent_id": str(agent_id), "status": "ooo", "until": back,
                              "backup": str(backup)}, time.time())

    stored = wiring.agent_store().listed("acme")[agent_id]
    assert (stored.status, stored.ooo_until, stored.backup_id) == ("ooo", back, backup)
    assert f"until {back}" in text
    kinds = [(m["kind"], m["payload"]) for m in aws_env.queued_events()]
    assert ("agent_changed", {"agent_id": agent_id}) in kinds and ("absence", {"agent_id": agent_id}) in kinds


@pytest.mark.parametrize("form, error", [
    ({"action": "availability", "agent_id": "999", "status": "away"}, "unknown agent: 999"),
    ({"action": "availability", "agent_id": "AGENT", "status": "gone"}, "status must be one of"),
    ({"action": "availability", "agent_id": "AGENT", "status": "ooo", "until": "2001-01-01"}, "is not after today"),
    ({"action": "availability", "agent_id": "AGENT", "status": "ooo", "until": "31/12/2099"}, "YYYY-MM-DD"),
    ({"action": "availability", "agent_id": "AGENT", "status": "ooo", "backup": "AGENT"}, "their own backup"),
    ({"action": "availability", "agent_id": "AGENT", "status": "ooo", "backup": "12345"}, "unknown agent"),
    ({"action": "caps", "agent_id": "AGENT", "open_cap": "-1", "daily_cap": ""}, "a cap must be a whole number"),
    ({"action": "caps", "agent_id": "AGENT", "open_cap": "3", "daily_cap": "lots"}, "a cap must be a whole number"),
    ({"action": "rotation", "agent_id": "AGENT", "in_rotation": "maybe"}, "in rotation must be on or off"),
    ({"action": "delete", "agent_id": "AGENT"}, "unknown change"),
    ({"action": "caps", "open_cap": "3"}, "unknown agent"),
])
def test_every_bad_change_gets_a_clear_message_and_stores_nothing(aws_env, account, form, error):
    page = agents_page(aws_env)
    agent_id = account["users"]["Ben Agent"]
    form = {k: v.replace("AGENT", str(agent_id)) for k, v in form.items()}
    before = aws_env.items()

    with pytest.raises(InvalidInputError, match=error):
        page.edit("acme", form, time.time())

    assert aws_env.items() == before
    assert aws_env.queued_events() == []


def test_caps_and_rotation_changes_are_stored(aws_env, account):
    page = agents_page(aws_env)
    agent_id = account["users"]["Ben Agent"]

    page.edit("acme", {"action": "caps", "agent_id": str(agent_id), "open_cap": "4", "daily_cap": "none"},
              time.time())
    page.edit("acme", {"action": "rotation", "agent_id": str(agent_id), "in_rotation": "off"}, time.time())

    stored = wiring.agent_store().listed("acme")[agent_id]
    assert (stored.open_cap, stored.daily_cap, stored.in_rotation) == (4, None, False)
    agent = next(a for a in page.load("acme", time.time()).agents if a.id == agent_id)
    assert (agent.eligible, agent.why_not) == (False, "not in rotation")


def test_an_agent_of_another_account_cannot_be_changed(aws_env, account):
    page = agents_page(aws_env)
    agent_id = account["users"]["Ben Agent"]

    with pytest.raises(InvalidInputError, match="unknown agent"):
        page.edit("other", {"action": "rotation", "agent_id": str(agent_id), "in_rotation": "off"}, time.time())
    assert wiring.agent_store().listed("acme").get(agent_id) is None


def test_the_health_page_counts_waiting_tickets_and_shows_the_last_runs_errors(aws_env, account):
    now = time.time()
    logged("acme", 1, WAITING, now - 600, group="11")
    logged("acme", 2, WAITING, now - 300, group="11")
    logged("acme", 3, WAITING, now - 100, group="12")
    logged("other", 4, WAITING, now - 100, group="12")
    wiring.registry().record_maintenance("acme", now, refreshed=False, health="ok",
                                         outcome={"swept": 1, "errors": 1},
                                         errors=["ZendeskUnavailableError: <b>down</b>"])
    assert store().waiting_count("acme") == 3
    assert store().waiting_count("acme", "11") == 2

    body = HealthPage(registry=wiring.registry(), waiting=store(), rosters=wiring.rosters(),
                      dead_letters=lambda: 2).render("acme", now)

    assert "3 tickets waiting" in body and "#1" in body and "10 min" in body
    assert "ZendeskUnavailableError: &lt;b&gt;down&lt;/b&gt;" in body
    assert "2 messages in the dead-letter queue" in body
    assert wiring.registry().get("acme").last_maintenance_errors == ("ZendeskUnavailableError: <b>down</b>",)


def test_a_broken_connections_alert_links_the_health_page(aws_env, account):
    wiring.alerts().broken("acme", "invalid_grant")

    (note,) = aws_env.notifications()
    assert "https://rr.example.com/admin/health?subdomain=acme" in note["Message"]
    body = HealthPage(registry=wiring.registry(), waiting=store(), rosters=wiring.rosters(),
                      dead_letters=lambda: None).render("acme", time.time())
    assert "invalid_grant" in body and "is broken since" in body
    assert json.dumps(note)  # a plain SNS notification


def test_a_cursor_outside_the_dates_asked_is_no_error(aws_env):
    # DynamoDB refuses a start key outside the key condition (a ValidationException, once a 503 here)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC).timestamp()
    logged("acme", 1, ASSIGNED, now - 86400)
    logged("acme", 2, ASSIGNED, now)
    page = AssignmentsPage(log=store(), rosters=NoRosters())
    day = {"from": "2026-12-05", "to": "2026-12-05"}

    newer = page.page("acme", parse_filter({**day, "after": f"{now}_2"}), now)
    older = page.page("acme", parse_filter({**day, "after": "100.0_1"}), now)

    assert [r.ticket_id for r in newer[0]] == [1] and older == ([], None)


def test_a_rare_filter_ends_its_page_after_a_bounded_read_and_the_next_page_goes_on(aws_env, monkeypatch):
    now = time.time()
    for ticket_id in range(1, 41):
        logged("acme", ticket_id, SKIPPED if ticket_id > 1 else ASSIGNED, now - 1000 + ticket_id)
    monkeypatch.setattr("round_robin.assignment.claims.LOG_READS_PER_PAGE", 2)
    reads = 0
    original = store()

    def counted(**request):
        nonlocal reads
        reads += 1
        return clients.client("dynamodb").query(**request)

    monkeypatch.setattr(original, "_dynamodb", type("Counted", (), {"query": staticmethod(counted)})())

    rows, following = original.log_page("acme", since=now - 3600, until=now + 1, outcome=ASSIGNED, read_size=10)

    assert (rows, reads) == ([], 2) and following is not None  # 20 of 40 index entries read: the page ends
    rows, following = original.log_page("acme", since=now - 3600, until=now + 1, outcome=ASSIGNED, read_size=10,
                                        after=following)
    assert [r["ticket_id"] for r in rows] == [1] and following is None


def test_the_csv_export_is_bounded(aws_env, monkeypatch):
    now = time.time()
    for ticket_id in range(1, 8):
        logged("acme", ticket_id, ASSIGNED, now - 100 + ticket_id)
    monkeypatch.setattr("round_robin.console.assignments_page.EXPORT_MAX_ROWS", 5)

    text = AssignmentsPage(log=store(), rosters=NoRosters()).csv("acme", {}, now)

    assert len(text.strip().split("\r\n")) == 1 + 5  # the header and the newest 5


class CountedQueries:
    """The store's client, keeping every Query's request (which index, what it asked for)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._client = clients.client("dynamodb")

    def query(self, **request):
        self.requests.append(request)
        return self._client.query(**request)


def counted_store(monkeypatch) -> tuple[AssignmentStore, CountedQueries]:
    counted = CountedQueries()
    counting = store()
    monkeypatch.setattr(counting, "_dynamodb", counted)
    return counting, counted


def test_the_log_reads_only_the_columns_it_shows(aws_env, monkeypatch):
    # the emulator's and botocore's cost is per attribute returned: the page asks for its columns alone
    now = time.time()
    logged("acme", 1, ASSIGNED, now - 10)
    logged("acme", 2, FAILED, now - 5)
    counting, counted = counted_store(monkeypatch)

    for agent in (None, 7):
        records, _ = counting.log_page("acme", since=now - 3600, until=now + 1, outcome=None, agent_id=agent)
        assert records and all(set(r) <= set(LOG_COLUMNS) for r in records)
        assert {"ticket_id", "logged", "logged_at"} <= set(records[0])
    assert all("ProjectionExpression" in r for r in counted.requests)


def test_the_agent_filter_reads_that_agents_own_index_page_after_page(aws_env, monkeypatch):
    now = time.time()
    for ticket_id in range(1, 131):
        logged("acme", ticket_id, ASSIGNED if ticket_id % 4 else FAILED, now - 1000 + ticket_id,
               agent=7 if ticket_id % 3 else 8)
    logged("acme", 200, WAITING, now - 1)  # no agent: in no agent's log
    logged("other", 201, ASSIGNED, now - 1, agent=7)  # another account's agent 7
    counting, counted = counted_store(monkeypatch)
    page = AssignmentsPage(log=counting, rosters=NoRosters())
    view: LogFilter | None = LogFilter(agent=7)
    seen = []
    while view is not None:
        rows, view = page.page("acme", view, now)
        seen += [r.ticket_id for r in rows]

    assert seen == [t for t in range(130, 0, -1) if t % 3]
    assert {r["IndexName"] for r in counted.requests} == {LOG_AGENT_INDEX}
    assert all("agent_id" not in r.get("FilterExpression", "") for r in counted.requests)
    rows, _ = page.page("acme", LogFilter(agent=8, outcome=FAILED), now)
    assert [r.ticket_id for r in rows] == [t for t in range(130, 0, -1) if t % 3 == 0 and t % 4 == 0]


def test_an_agents_log_follows_the_record_when_a_reassignment_takes_the_ticket(aws_env):
    now = time.time()
    logged("acme", 1, ASSIGNED, now - 100, agent=7)
    page = AssignmentsPage(log=store(), rosters=NoRosters())
    request = AssignmentRequest(subdomain="acme", ticket_id=1, source="absence", received_at=now - 50,
                                reassign_from=7)
    claim = store().claim_reassignment(request, now - 50)
    assert claim is not None

    def agent_log(agent: int) -> list[int]:
        return [r.ticket_id for r in page.page("acme", LogFilter(agent=agent), now)[0]]

    assert agent_log(7) == []  # the claim forgot the earlier assignment's agent (the record names nobody)
    store().finish("acme", 1, claim, Outcome(ASSIGNED, "", Choice(Member(8, "Bob"), 0, "11"), claim.attempts),
                   now - 40)
    assert (agent_log(7), agent_log(8)) == ([], [1])


def test_the_chart_of_one_agent_reads_their_index_and_the_columns_it_draws(aws_env, monkeypatch):
    now = time.time()
    for ticket_id in range(1, 21):
        logged("acme", ticket_id, ASSIGNED, now - 3600 * ticket_id, agent=7 if ticket_id % 2 else 8,
               name="Ann" if ticket_id % 2 else "Bob")
    counting, counted = counted_store(monkeypatch)

    counts = AssignmentsPage(log=counting, rosters=NoRosters()).per_agent_day("acme", LogFilter(agent=7), now)

    assert list(counts) == ["Ann"] and sum(counts["Ann"]) == 10
    assert {r["IndexName"] for r in counted.requests} == {LOG_AGENT_INDEX}
    projected = {n for r in counted.requests for n in r["ExpressionAttributeNames"].values()
                 if f"#{n}" in r["ProjectionExpression"]}
    assert projected <= {"agent_id", "agent_name", "logged_at", "ticket_id", "logged"}


class RecordedClient:
    """A DynamoDB client that keeps (operation, request) of every call, for what a page asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._client = clients.client("dynamodb")

    def __getattr__(self, operation):
        def call(**request):
            self.calls.append((operation, request))
            return getattr(self._client, operation)(**request)
        return call


def test_the_agents_page_reads_the_agent_fields_it_shows_only_and_shows_the_same(aws_env, account):
    agent_id, backup = account["users"]["Ben Agent"], account["users"]["Cleo Agent"]
    back = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    page = agents_page(aws_env)
    page.edit("acme", {"action": "availability", "agent_id": str(agent_id), "status": "ooo", "until": back,
                       "backup": str(backup)}, time.time())
    page.edit("acme", {"action": "caps", "agent_id": str(backup), "open_cap": "4", "daily_cap": "9"}, time.time())
    wiring.assigner().assign(request_for(new_ticket(account)["id"]))
    recorded = RecordedClient()
    counting = wiring.agent_store()
    full = {i: dataclasses.replace(s, version=0) for i, s in counting.listed("acme").items()}
    monkeypatch_client(counting, recorded)

    shown = counting.listed("acme", fields=OVERVIEW_FIELDS)

    assert shown == full  # the version alone is not read (changes read the agent again, whole)
    (query,) = [r for op, r in recorded.calls if op == "query"]
    assert "ProjectionExpression" in query and "version" not in query["ExpressionAttributeNames"].values()
    now = time.time()
    assert page.render("acme", {}, csrf_token="t", now=now) == AgentsPage(
        registry=wiring.registry(), rosters=wiring.rosters(), agents=FullAgents(), policies=wiring.policies(),
        announce=lambda s, n: True).render("acme", {}, csrf_token="t", now=now)


class FullAgents:
    """The agent store as it was: every attribute of every agent read."""

    def listed(self, subdomain, fields=None):
        return wiring.agent_store().listed(subdomain)

    def agents(self, subdomain, names):
        return wiring.agent_store().agents(subdomain, names)


def monkeypatch_client(holder, client) -> None:
    holder._dynamodb = client  # restored by the next test's fresh wiring (aws_env resets it)


def test_a_warm_console_reads_a_roster_again_only_once_its_version_moved(aws_env, account):
    rosters = wiring.rosters()
    recorded = RecordedClient()
    first = rosters.current("acme")
    assert first == rosters.list("acme")
    monkeypatch_client(rosters, recorded)

    assert rosters.current("acme") == first
    assert [op for op, _ in recorded.calls] == ["query"]  # the versions only
    assert "members" not in recorded.calls[0][1]["ProjectionExpression"]
    support = next(r for r in first if r.group_name == "Support")
    newcomer = Member(4242, "Newcomer")
    assert rosters.set_member("acme", support.group_id, newcomer, True, time.time())
    recorded.calls.clear()

    again = rosters.current("acme")

    assert again == rosters.list("acme")
    assert newcomer in next(r for r in again if r.group_id == support.group_id).members
    assert [op for op, _ in recorded.calls if op != "query"] == ["batch_get_item"]  # that roster alone read
    (read,) = [r for op, r in recorded.calls if op == "batch_get_item"]
    assert [k["sk"]["S"] for k in read["RequestItems"][TABLE]["Keys"]] == [f"ROSTER#{support.group_id}"]


def test_a_removed_or_unversioned_roster_is_never_served_from_the_cache(aws_env, account):
    rosters = wiring.rosters()
    first = rosters.current("acme")
    support = next(r for r in first if r.group_name == "Support")
    rosters.sync("acme", [r for r in first if r.group_id != support.group_id], time.time())  # support is gone
    assert [r.group_id for r in rosters.current("acme")] == [r.group_id for r in first if r is not support]
    client = clients.client("dynamodb")  # a roster stored before rosters had versions: read every time
    client.put_item(TableName=TABLE, Item=serialize({"pk": "ACCOUNT#acme", "sk": "ROSTER#99", "group_id": "99",
                                                     "group_name": "Old", "members": [{"id": 1, "name": "A"}]}))
    assert rosters.current("acme") == rosters.list("acme")
    client.put_item(TableName=TABLE, Item=serialize({"pk": "ACCOUNT#acme", "sk": "ROSTER#99", "group_id": "99",
                                                     "group_name": "Old", "members": [{"id": 2, "name": "B"}]}))
    assert next(r for r in rosters.current("acme") if r.group_id == "99").members == (Member(2, "B"),)
