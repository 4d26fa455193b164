"""The maintenance run's count reconciliation (assignment/reconcile.py) against the sandbox's tickets: what lost
ticket events left wrong is repaired, the steady state writes nothing, long-open tickets keep their markers, and
the work per run is bounded. Zendesk changes are made in the sandbox's model directly: the events that would have
told the service are the ones lost."""

from __future__ import annotations

import time

import pytest

from round_robin import wiring
from round_robin.assignment.agents import AgentStore
from round_robin.assignment.claims import ASSIGNED, RECORD_TTL
from round_robin.assignment.reconcile import RENEW_BELOW, CountReconciler
from round_robin.aws import clients
from round_robin.table import account_pk, agent_sk
from round_robin.zendesk import tickets
from tests.integration.conftest import TABLE
from tests.integration.helpers import counts, new_ticket, record, request_for

WRITES = {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
DAY = 86400.0


class CountingDynamoDB:
    """The DynamoDB client, counting the calls that write."""

    def __init__(self, client) -> None:
        self._client = client
        self.writes: list[str] = []

    def __getattr__(self, name):
        if name in WRITES:
            self.writes.append(name)
        return getattr(self._client, name)


@pytest.fixture
def parts(account):
    """A reconciler due at every run (interval 0), on a DynamoDB client that counts writes, with a Zendesk client."""
    account["model"].search_lag = 0.0  # the sandbox indexes at once unless a test says otherwise
    dynamodb = CountingDynamoDB(clients.client("dynamodb"))
    settings = wiring.get_settings()
    zendesk = wiring.zendesk_factory(settings, max_retry_wait=0)("acme", lambda: wiring.tokens().authorization("acme"))

    def reconciler(**options) -> CountReconciler:
        options.setdefault("interval", 0.0)
        return CountReconciler(agents=AgentStore(TABLE, dynamodb), table_name=TABLE, dynamodb=dynamodb, **options)

    return {"reconciler": reconciler, "dynamodb": dynamodb, "zendesk": zendesk}


def change_in_zendesk(account, ticket_id: int, **fields) -> None:
    """Change a ticket as a person would: its `updated_at` moves on (a second at least, as Zendesk's times have
    whole seconds), so the change is newer than anything the service applied before."""
    sandbox = account["zendesk"].sandbox
    with sandbox.lock:
        ticket = account["model"].tickets[ticket_id]
        later = max(sandbox.clock.now(), (tickets.updated_at(ticket) or 0.0) + 1)
        ticket.update({**fields, "updated_at": sandbox.clock.iso(later)})


def applied_event(account, ticket_id: int, agent_id: int | None, *, is_open: bool, after: float) -> float:
    """A ticket event applied by the events function: its snapshot is `after` seconds newer than the ticket as
    Zendesk's search still shows it; the snapshot's time."""
    snapshot = tickets.updated_at(account["model"].tickets[ticket_id]) + after
    AgentStore(TABLE, clients.client("dynamodb")).count("acme", ticket_id, agent_id, is_open=is_open,
                                                        now=time.time(), as_of=snapshot)
    return snapshot


class RaceAfterShowMany:
    """The Zendesk client, with `race` run once right after show_many answers (an event applied meanwhile)."""

    def __init__(self, client, race) -> None:
        self._client = client
        self._race = race

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get(self, path, *args, **kwargs):
        answer = self._client.get(path, *args, **kwargs)
        if "show_many" in path and self._race is not None:
            race, self._race = self._race, None
            race()
        return answer


def assigned_by_us(account) -> int:
    ticket = new_ticket(account)
    assert wiring.assigner().assign(request_for(ticket["id"])).status == ASSIGNED
    return ticket["id"]


def searches(account) -> int:
    return len(account["zendesk"].calls("GET", "/search"))


def test_tickets_a_person_assigned_while_events_were_lost_are_counted(aws_env, account, parts):
    ben = account["users"]["Ben Agent"]
    for _ in range(3):
        change_in_zendesk(account, new_ticket(account)["id"], assignee_id=ben, status="open")
    assert counts(account, "Ben Agent") == (0, 0)

    corrected = parts["reconciler"]().reconcile("acme", parts["zendesk"])

    assert corrected == 3 and counts(account, "Ben Agent") == (3, 3)


def test_a_ticket_solved_or_moved_while_events_were_lost_leaves_the_open_count(aws_env, account, parts):
    # given two tickets we assigned (the rotation gives them to two agents), one solved and one moved from its
    # agent to the other while the events were lost
    solved, moved = assigned_by_us(account), assigned_by_us(account)
    first, second = record(solved)["agent_name"], record(moved)["agent_name"]
    assert first != second and counts(account, first) == (1, 1) and counts(account, second) == (1, 1)
    change_in_zendesk(account, solved, status="solved")
    change_in_zendesk(account, moved, assignee_id=account["users"][first])

    corrected = parts["reconciler"]().reconcile("acme", parts["zendesk"])

    assert corrected == 2
    assert counts(account, first) == (1, 2)  # the moved one is open and taken today; the solved one's day stays
    assert counts(account, second) == (0, 0)  # the moved one left both of the second agent's counts
    assert record(solved)["counted_open"] is False
    assert record(moved)["counted_agent_id"] == account["users"][first]


def test_a_deleted_ticket_leaves_the_open_count(aws_env, account, parts):
    ticket_id = assigned_by_us(account)
    holder = record(ticket_id)["agent_name"]
    with account["zendesk"].sandbox.lock:
        del account["model"].tickets[ticket_id]

    assert parts["reconciler"]().reconcile("acme", parts["zendesk"]) == 1
    assert counts(account, holder) == (0, 1)


def test_a_reassignment_the_search_does_not_show_yet_stays_with_the_new_assignee(aws_env, account, parts):
    # given a ticket Cleo holds in Zendesk's search, then reassigned to Ben by a person: the event was applied (its
    # snapshot a minute newer), the search still shows Cleo (it lags minutes behind)
    cleo, ben = account["users"]["Cleo Agent"], account["users"]["Ben Agent"]
    ticket_id = new_ticket(account)["id"]
    change_in_zendesk(account, ticket_id, assignee_id=cleo, status="open")
    snapshot = applied_event(account, ticket_id, ben, is_open=True, after=60)

    parts["reconciler"]().reconcile("acme", parts["zendesk"])

    assert counts(account, "Ben Agent") == (1, 1) and counts(account, "Cleo Agent") == (0, 0)
    assert record(ticket_id)["counted_agent_id"] == ben and record(ticket_id)["counted_at"] == snapshot


def test_a_search_hit_as_new_as_the_marker_that_agrees_writes_nothing(aws_env, account, parts):
    ben = account["users"]["Ben Agent"]
    ticket_id = new_ticket(account)["id"]
    change_in_zendesk(account, ticket_id, assignee_id=ben, status="open")
    applied_event(account, ticket_id, ben, is_open=True, after=0)  # the event of that very change
    parts["dynamodb"].writes.clear()

    assert parts["reconciler"]().reconcile("acme", parts["zendesk"]) == 0
    assert parts["dynamodb"].writes == ["update_item"]  # reconciled_at only
    assert counts(account, "Ben Agent") == (1, 1)


def test_a_looked_up_ticket_older_than_an_event_applied_meanwhile_changes_nothing(aws_env, account, parts):
    # given a ticket we assigned, then solved in Zendesk, the search not showing it yet: the reconciliation looks
    # it up (solved), and right after that answer the event of its reopening (a newer snapshot) is applied
    ticket_id = assigned_by_us(account)
    holder = record(ticket_id)["agent_name"]
    change_in_zendesk(account, ticket_id, status="solved")
    account["model"].search_lag = 3600.0
    holder_id = account["users"][holder]
    zendesk = RaceAfterShowMany(parts["zendesk"], lambda: applied_event(account, ticket_id, holder_id, is_open=True,
                                                                        after=60))

    assert parts["reconciler"]().reconcile("acme", zendesk) == 0

    assert counts(account, holder) == (1, 1)  # still open and theirs, as the newer snapshot says
    assert record(ticket_id)["counted_open"] is True


def test_the_steady_state_writes_nothing_but_the_runs_stamp(aws_env, account, parts):
    assigned_by_us(account)
    change_in_zendesk(account, new_ticket(account)["id"], assignee_id=account["users"]["Ben Agent"], status="open")
    reconciler = parts["reconciler"]()
    assert reconciler.reconcile("acme", parts["zendesk"]) == 1
    parts["dynamodb"].writes.clear()

    assert reconciler.reconcile("acme", parts["zendesk"]) == 0
    assert parts["dynamodb"].writes == ["update_item"]  # reconciled_at, on the AVAILABILITY item


def test_a_run_within_the_hour_does_nothing(aws_env, account, parts):
    reconciler = parts["reconciler"](interval=3600.0)
    reconciler.reconcile("acme", parts["zendesk"])
    before, parts["dynamodb"].writes[:] = searches(account), []
    change_in_zendesk(account, new_ticket(account)["id"], assignee_id=account["users"]["Ben Agent"], status="open")

    assert reconciler.reconcile("acme", parts["zendesk"]) == 0
    assert searches(account) == before and parts["dynamodb"].writes == []
    assert counts(account, "Ben Agent") == (0, 0)


def test_a_ticket_open_for_95_days_keeps_its_marker_and_a_solved_ones_expires(aws_env, account, parts):
    open_ticket, solved = assigned_by_us(account), assigned_by_us(account)
    change_in_zendesk(account, solved, status="solved")
    claimed_ttl, solved_ttl = record(open_ticket)["ttl"], record(solved)["ttl"]
    later = time.time() + 70 * DAY  # under RENEW_BELOW left of the claim's 90 days
    assert claimed_ttl - later < RENEW_BELOW

    parts["reconciler"](clock=lambda: later).reconcile("acme", parts["zendesk"])

    kept = record(open_ticket)
    assert kept["ttl"] == int(later + RECORD_TTL) and kept["ttl"] > claimed_ttl + 25 * DAY
    assert kept["counted_open"] is True  # still Ada's or Ben's marker, alive past 95 days
    assert record(solved)["ttl"] == solved_ttl  # a solved ticket's record expires as before


def test_a_ticket_the_search_does_not_show_yet_keeps_its_count(aws_env, account, parts):
    ticket_id = assigned_by_us(account)
    holder = record(ticket_id)["agent_name"]
    account["model"].search_lag = 3600.0  # not indexed yet: the search shows nothing

    assert parts["reconciler"]().reconcile("acme", parts["zendesk"]) == 0
    assert counts(account, holder) == (1, 1)
    assert len(account["zendesk"].calls("GET", "/tickets/show_many")) == 1  # asked Zendesk, which says it is open


def test_an_open_count_no_ticket_explains_is_set_to_the_markers(aws_env, account, parts, caplog):
    ticket_id = assigned_by_us(account)
    holder = record(ticket_id)["agent_name"]
    agent_id = account["users"][holder]
    key = {"pk": {"S": account_pk("acme")}, "sk": {"S": agent_sk(agent_id)}}
    aws_env.dynamodb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET open_count = :five",
                                 ExpressionAttributeValues={":five": {"N": "5"}})

    assert parts["reconciler"]().reconcile("acme", parts["zendesk"]) == 1
    assert counts(account, holder) == (1, 1)
    assert "no ticket explained the difference" in caplog.text


def test_the_work_of_one_run_is_bounded_and_the_next_runs_go_on(aws_env, account, parts):
    ben = account["users"]["Ben Agent"]
    for _ in range(130):
        change_in_zendesk(account, new_ticket(account)["id"], assignee_id=ben, status="open")
    reconciler = parts["reconciler"](pages=1, writes=40)

    before = searches(account)
    assert reconciler.reconcile("acme", parts["zendesk"]) == 40
    assert searches(account) - before == 1 and len(parts["dynamodb"].writes) == 1 + 40
    assert counts(account, "Ben Agent") == (40, 40)

    for _ in range(3):
        reconciler.reconcile("acme", parts["zendesk"])
    assert counts(account, "Ben Agent") == (100, 100)  # one page a run: the oldest 100 of the 130


def test_the_maintenance_report_says_how_many_counts_were_corrected(aws_env, account):
    account["model"].search_lag = 0.0
    change_in_zendesk(account, new_ticket(account)["id"], assignee_id=account["users"]["Ben Agent"], status="open")

    (report,) = wiring.maintainer().run()

    assert report["counts_corrected"] == 1 and counts(account, "Ben Agent") == (1, 1)
    (again,) = wiring.maintainer().run()
    assert again["counts_corrected"] == 0  # not due again within the hour
