"""The Agents, Assignments and Health pages, pure: escaping, filters, pagination, CSV, SVG, rotation order."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from round_robin.accounts.registry import Account
from round_robin.assignment.agent_overview import operator_notices, rosters_in_turn
from round_robin.assignment.rotation import Member, Roster, Rotation
from round_robin.availability.errors import InvalidInputError
from round_robin.availability.model import AccountPolicy, AgentState
from round_robin.console.agents_page import PAGE_SIZE, AgentsPage, parse_query
from round_robin.console.assignments_page import AssignmentsPage, LogFilter, chart_svg, csv_cell, parse_filter
from round_robin.console.health_page import HealthPage

HOSTILE = "<script>alert(1)</script>"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp()


class FakeStores:
    """Registry, rosters, agents and policies of one account in memory."""

    def __init__(self, rosters, states=None, rotations=None, excluded=()):
        self._rosters = rosters
        self.states = dict(states or {})
        self._rotations = rotations or {}
        self.account = Account("acme", "connected", "oauth", 1, "Ada", 0, 0, excluded_agent_ids=tuple(excluded))
        self.changes = []
        self.told = []

    def get(self, subdomain):
        if subdomain == "acme":
            return self.account if isinstance(self.account, Account) else None
        return None

    def list(self, subdomain):
        return self._rosters if subdomain == "acme" else []

    current = list

    def group_names(self, subdomain):
        return {r.group_id: r.group_name for r in self.list(subdomain)}

    def rotations(self, subdomain):
        return self._rotations if subdomain == "acme" else {}

    def listed(self, subdomain, fields=None):
        return self.states if subdomain == "acme" else {}

    def agents(self, subdomain, names):
        return {i: self.states.get(i) or AgentState(i, n) for i, n in names.items()}

    def change(self, subdomain, agent_id, changes, now):
        self.changes.append((subdomain, agent_id, dict(changes)))

    def policy(self, subdomain):
        return AccountPolicy(), ()

    def announce(self, subdomain, notices):
        self.told.append((subdomain, list(notices)))
        return True


def page_of(stores: FakeStores) -> AgentsPage:
    class Policies:
        def get(self, subdomain):
            return AccountPolicy(), ()

    return AgentsPage(registry=stores, rosters=stores, agents=stores, policies=Policies(), announce=stores.announce)


def roster(group_id, name, *members):
    return Roster(group_id, name, tuple(Member(i, n) for i, n in members))


def test_a_roster_is_listed_from_the_agent_after_the_last_one_with_the_first_eligible_next():
    support = roster("11", "Support", (1, "Ann"), (2, "Bob"), (3, "Cy"), (4, "Dee"))
    away = {3: AgentState(3, "Cy", status="away")}

    (listed,) = rosters_in_turn([support], {"11": Rotation(last_agent_id=2, sequence=5)}, away, now=NOW)

    assert [t.agent_id for t in listed.turns] == [3, 4, 1, 2]
    assert listed.next_agent_id == 4 and listed.last_agent_id == 2
    assert listed.turns[0].why_not == "away"


def test_nobody_is_next_when_nobody_may_take_a_ticket():
    support = roster("11", "Support", (1, "Ann"))

    (listed,) = rosters_in_turn([support], {}, {1: AgentState(1, "Ann", in_rotation=False)}, now=NOW)

    assert listed.next_agent_id is None and listed.last_agent_id is None


def test_out_of_office_starting_now_is_announced_as_an_absence_and_a_later_one_is_not():
    ooo = AgentState(1, "Ann", status="ooo")
    assert operator_notices(1, ooo, NOW) == [("agent_changed", {"agent_id": 1}), ("absence", {"agent_id": 1})]
    later = AgentState(1, "Ann", status="ooo", ooo_from=NOW + 60)
    assert operator_notices(1, later, NOW) == [("agent_changed", {"agent_id": 1})]


def test_a_hostile_agent_and_group_name_render_as_text():
    stores = FakeStores([roster("11", HOSTILE, (1, HOSTILE), (2, "Bob"))],
                        {1: AgentState(1, HOSTILE, status="ooo", ooo_until="2026-12-20", backup_id=2)})

    body = page_of(stores).render("acme", {"agent": "1", "group": "11", "q": HOSTILE[:5]}, csrf_token="t<", now=NOW)

    assert "<script" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'value="t&lt;"' in body  # the CSRF token too
    assert "back 2026-12-20; backup Bob" in body


def test_the_agents_page_filters_by_name_and_pages_at_1000_agents():
    members = [(i, f"Agent {i:04d}") for i in range(1, 1001)]
    stores = FakeStores([roster("11", "Support", *members[:500]), roster("12", "Billing", *members[500:])])
    page = page_of(stores)

    first = page.render("acme", {}, csrf_token="t", now=NOW)
    last = page.render("acme", {"page": "20"}, csrf_token="t", now=NOW)
    beyond = page.render("acme", {"page": "99"}, csrf_token="t", now=NOW)
    billing = page.render("acme", {"group": "12", "q": "agent 09"}, csrf_token="t", now=NOW)

    assert first.count("<tr>") == PAGE_SIZE + 1 + 2 + 1  # the agents and their header, the groups and theirs
    assert "Page 1 of 20" in first and "Agent 0050" in first and "Agent 0051" not in first
    assert "Agent 1000" in last and "Page 20 of 20" in last
    assert "Page 20 of 20" in beyond  # past the last page: the last page
    assert "100 agents whose name contains" in billing and "Billing: rotation order" in billing
    assert "Agent 0899" not in billing


@pytest.mark.parametrize("query, error", [
    ({"page": "0"}, "page must be a whole number"),
    ({"page": "2x"}, "page must be a whole number"),
    ({"group": "<b>"}, "group must be a Zendesk group id"),
    ({"agent": "1e9"}, "agent must be a whole number"),
    ({"q": "x" * 101}, "longer than 100 characters"),
])
def test_bad_agents_filters_are_refused(query, error):
    with pytest.raises(InvalidInputError, match=error):
        parse_query(query)


def test_an_unknown_group_is_explained_and_the_whole_list_shown():
    stores = FakeStores([roster("11", "Support", (1, "Ann"))])

    body = page_of(stores).render("acme", {"group": "99"}, csrf_token="t", now=NOW)

    assert "acme has no group 99" in body and "All agents" in body


def test_a_status_other_than_out_of_office_ignores_the_return_date_and_backup_the_form_sends():
    stores = FakeStores([roster("11", "Support", (1, "Ann"), (2, "Bob"))])

    text = page_of(stores).edit("acme", {"action": "availability", "agent_id": "1", "status": "available",
                                         "until": "2001-01-01", "backup": "2"}, NOW)

    assert text == "Ann is now available"
    assert stores.changes == [("acme", 1, {"status": "available", "ooo_from": None, "ooo_until": None,
                                           "backup_id": None})]


def test_a_change_that_could_not_be_announced_says_when_it_applies():
    stores = FakeStores([roster("11", "Support", (1, "Ann"))])
    stores.announce = lambda subdomain, notices: False  # type: ignore[method-assign]

    text = page_of(stores).edit("acme", {"action": "rotation", "agent_id": "1", "in_rotation": "off"}, NOW)

    assert text.startswith("Ann is out of rotation (stored; the service applies it at its next maintenance run")


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain", 42, None)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "plain", "42", ""]


class FakeLog:
    def __init__(self, records):
        self.records = sorted(records, key=lambda r: (-r["logged_at"], -r["ticket_id"]))
        self.reads = []

    def log_page(self, subdomain, *, since, until, after=None, outcome=None, group_id=None, agent_id=None,
                 limit=50, read_size=2000, columns=()):
        self.reads.append({"since": since, "until": until, "after": after, "outcome": outcome})
        rows = [r for r in self.records if since <= r["logged_at"] <= until and outcome in (None, r["logged"])
                and (after is None or (r["logged_at"], r["ticket_id"]) < after)]
        page = rows[:limit]
        more = len(rows) > limit
        return page, (page[-1]["logged_at"], page[-1]["ticket_id"]) if more else None

    def get(self, subdomain, ticket_id):
        return next((r for r in self.records if r["ticket_id"] == ticket_id), None)


def record(ticket_id, at, outcome="assigned", agent=HOSTILE):
    return {"ticket_id": ticket_id, "logged_at": at, "logged": outcome, "agent_id": 7, "agent_name": agent,
            "group_id": "11", "reason": "=cmd|' /C calc'!A0", "attempts": 1}


def test_the_log_page_escapes_links_tickets_and_offers_the_next_page():
    log = FakeLog([record(t, NOW - t) for t in range(1, 61)])
    page = AssignmentsPage(log=log, rosters=FakeStores([roster("11", HOSTILE, (7, "x"))]))

    status, body = page.render("acme", {"outcome": "assigned"}, NOW)

    assert status == 200 and "<script" not in body
    assert body.count('href="https://acme.zendesk.com/agent/tickets/') == 50
    older = re.search(r'<a rel="next" href="([^"]+)"', body).group(1)
    assert older.startswith("/admin/assignments?outcome=assigned&amp;after=")
    assert '<a href="/admin/assignments.csv?outcome=assigned">' in body


def test_the_csv_export_has_every_row_of_the_view_and_no_formula():
    log = FakeLog([record(t, NOW - t) for t in range(1, 121)])

    text = AssignmentsPage(log=log, rosters=FakeStores([])).csv("acme", {"after": "99.5_3"}, NOW)

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["time", "ticket_id", "ticket_url"] and len(rows) == 121  # the cursor is ignored
    assert rows[1][7] == "'=cmd|' /C calc'!A0"


def test_the_date_range_is_whole_utc_days_within_the_retention():
    since, until = parse_filter({"from": "2026-12-01", "to": "2026-12-02"}).window(NOW)
    assert (since, until) == (datetime(2026, 12, 1, tzinfo=UTC).timestamp(),
                              datetime(2026, 12, 3, tzinfo=UTC).timestamp())
    since, _ = parse_filter({"from": "2020-01-01"}).window(NOW)
    assert since == NOW - 90 * 86400


def test_the_filter_survives_a_round_trip_through_its_link():
    asked = parse_filter({"outcome": "waiting", "group": "11", "agent": "7", "from": "2026-12-01",
                          "to": "2026-12-02", "ticket": "#4711", "after": "1765000000.125_42"})

    assert asked == LogFilter("waiting", "11", 7, "2026-12-01", "2026-12-02", 4711, (1765000000.125, 42))
    assert parse_filter({k: str(v) for k, v in asked.query().items() if v is not None}) == asked


def test_the_chart_draws_a_row_per_agent_escapes_names_and_uses_no_script():
    counts = {HOSTILE: [0] * 13 + [3], "Bob": [1] * 14}

    svg = chart_svg(counts, NOW)

    assert svg.startswith("<svg") and "<script" not in svg and "&lt;script&gt;" in svg
    assert svg.count('fill="#2f6f9f"') == 15  # a bar per day with assignments
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert "2026-11-24 to 2026-12-07" in svg


def test_the_chart_counts_assignments_per_agent_per_day_of_the_last_14_days():
    log = FakeLog([record(1, NOW - 60, agent="Ann"), record(2, NOW - 120, agent="Ann"),
                   record(3, NOW - 86400, agent="Bob"), record(4, NOW - 20 * 86400, agent="Bob"),
                   record(5, NOW - 30, outcome="waiting", agent="")])

    counts = AssignmentsPage(log=log, rosters=FakeStores([])).per_agent_day("acme", LogFilter(), NOW)

    assert counts == {"Ann": [0] * 13 + [2], "Bob": [0] * 12 + [1, 0]}


class CountingStores(FakeStores):
    """FakeStores that count their reads of the group names."""

    reads = 0

    def group_names(self, subdomain):
        type(self).reads += 1
        return super().group_names(subdomain)


def test_the_chart_reads_no_group_names_again_it_shows_none():
    class CountedRosters(CountingStores):
        reads = 0

    log = FakeLog([record(1, NOW - 60, agent="Ann")])

    status, body = AssignmentsPage(log=log, rosters=CountedRosters([])).render("acme", {"chart": "1"}, NOW)

    assert status == 200 and "<svg" in body and CountedRosters.reads == 1  # the filters' list, not the chart


class FakeWaiting:
    def waiting_groups(self, subdomain):
        return ["11"]

    def waiting(self, subdomain, group_id, *, limit=None, received_before=None):
        return [{"ticket_id": 9, "received_at": NOW - 3 * 3600, "reason": "all_away"}]

    def waiting_count(self, subdomain, group_id=None):
        return 4


def test_the_health_page_shows_alerts_waiting_tickets_and_the_last_runs_errors():
    stores = FakeStores([roster("11", HOSTILE, (1, "Ann"))])
    stores.account = Account("acme", "needs_reconnect", "oauth", 1, HOSTILE, 0, 0, broken_reason="invalid_grant",
                             broken_at=int(NOW), health="invalid_grant", health_checked_at=int(NOW),
                             last_maintenance={"swept": 2, "errors": 1},
                             last_maintenance_errors=(f"ZendeskError: {HOSTILE}",))

    body = HealthPage(registry=stores, waiting=FakeWaiting(), rosters=stores, dead_letters=lambda: None).render(
        "acme", NOW)

    assert "<script" not in body
    assert "is broken since 2026-12-07 12:00 UTC (invalid_grant)" in body
    assert "4 tickets waiting" in body and "3 h 0 min" in body and "#9" in body
    assert "ZendeskError: &lt;script&gt;" in body and "swept 2" in body
    assert "Last token refresh: not yet." in body  # never refreshed (connected minutes ago): not a bare "-"
    assert "not known (the dead-letter queue is not configured)" in body
    assert 'href="/oauth/start?subdomain=acme"' in body


def test_the_group_names_are_read_once_a_view_not_once_a_page():
    CountingStores.reads = 0

    log = FakeLog([record(t, NOW - t) for t in range(1, 2501)])
    page = AssignmentsPage(log=log, rosters=CountingStores([roster("11", "Support", (7, "x"))]))

    page.render("acme", {}, NOW)
    assert CountingStores.reads == 1
    page.csv("acme", {}, NOW)  # three reads of the log (1,000 rows each): still one of the names
    assert CountingStores.reads == 2 and len(log.reads) == 1 + 3
