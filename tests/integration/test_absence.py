"""Out of office with a return date and a backup (assignment/absence.py): starting an absence queues the agent's
tickets as the account's policy says, and the worker gives each to the backup, else the rotation, never back to the
absent agent, never over a person's change, once; their counts move along. Zendesk is the sandbox, AWS is moto."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from round_robin import wiring
from round_robin.assignment.absence import Absences
from round_robin.assignment.assigner import Assigner
from round_robin.assignment.claims import ASSIGNED, DUPLICATE, PARKED, SKIPPED, WAITING, Outcome, RetryLaterError
from round_robin.availability.localtime import start_of_day
from round_robin.aws.queue import AssignmentRequest, EventMessage
from round_robin.sweep import requeue_parked
from round_robin.zendesk import tickets
from tests.integration.helpers import assigned_meanwhile, assignee, counts, new_ticket, record, request_for

SUB = "acme"


def return_date(days: int) -> str:
    return datetime.fromtimestamp(time.time() + days * 86400, UTC).strftime("%Y-%m-%d")


def policy(reassign: str) -> None:
    wiring.policies().set(SUB, lambda p, s: (replace(p, reassign=reassign), s), time.time())


def away(account, name: str, *, backup: str | None = "Cleo Agent", days: int = 3, start: float | None = None) -> int:
    """`name` is out of office from `start` (None: now) until `days` from now, with `backup`."""
    agent_id = account["users"][name]
    wiring.agent_store().change(SUB, agent_id, {
        "status": "ooo", "ooo_from": start, "ooo_until": return_date(days),
        "backup_id": account["users"][backup] if backup else None}, time.time())
    return agent_id


def tickets_of(account, name: str, status: str = "new", count: int = 1) -> list[int]:
    """Tickets assigned to `name` in `status`, counted for them (as the ticket events count them)."""
    ids = []
    for _ in range(count):
        ticket = new_ticket(account, "Support", assignee_id=account["users"][name], status=status)
        wiring.agent_store().count(SUB, ticket["id"], account["users"][name], is_open=True, now=time.time())
        ids.append(ticket["id"])
    return ids


def assigner_at(moment: float) -> Assigner:
    """The worker, with its clock at `moment`."""
    return Assigner(store=wiring.assignment_store(), rosters=wiring.rosters(), selector=wiring.selector(),
                    tokens=wiring.tokens(), zendesk=wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=0),
                    clock=lambda: moment)


def drain(aws_env, assigner: Assigner | None = None) -> dict[int, list[str]]:
    """Work the assignment queue until it is empty, as the worker does; each ticket's outcomes in order."""
    assigner = assigner or wiring.assigner()
    outcomes: dict[int, list[str]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages = aws_env.sqs.receive_message(QueueUrl=aws_env.queue_url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return outcomes
        for message in messages:
            request = AssignmentRequest.from_json(message["Body"])
            outcomes.setdefault(request.ticket_id, []).append(assigner.assign(request).status)
            aws_env.sqs.delete_message(QueueUrl=aws_env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the queue did not drain")


def test_policy_new_gives_the_agents_new_tickets_to_the_backup_and_leaves_the_open_ones(aws_env, account):
    # given Ben out of office until a date, Cleo his backup, the account reassigning new tickets
    policy("new")
    new, opened = tickets_of(account, "Ben Agent", "new") + tickets_of(account, "Ben Agent", "open")
    ben = away(account, "Ben Agent")
    cleo = account["users"]["Cleo Agent"]

    queued = wiring.absences().started(SUB, ben, time.time())

    assert queued == 1 and drain(aws_env) == {new: [ASSIGNED]}
    assert assignee(account, new) == cleo and assignee(account, opened) == ben
    saved = record(new)
    assert (saved["status"], saved["agent_id"], saved["reassigned_from"], saved["position"]) == ("assigned", cleo,
                                                                                                ben, 0)
    assert counts(account, "Ben Agent") == (1, 1) and counts(account, "Cleo Agent") == (1, 1)


def test_policy_open_gives_the_backup_the_new_and_the_open_tickets(aws_env, account):
    policy("open")
    mine = tickets_of(account, "Ben Agent", "new") + tickets_of(account, "Ben Agent", "open", count=2)
    ben = away(account, "Ben Agent")

    assert wiring.absences().started(SUB, ben, time.time()) == 3
    assert drain(aws_env) == {t: [ASSIGNED] for t in mine}
    assert {assignee(account, t) for t in mine} == {account["users"]["Cleo Agent"]}
    assert counts(account, "Ben Agent") == (0, 0) and counts(account, "Cleo Agent") == (3, 3)


def test_policy_off_reassigns_nothing(aws_env, account):
    tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")

    assert wiring.absences().started(SUB, ben, time.time()) == 0
    assert aws_env.queued() == [] and account["zendesk"].calls("GET", "/search") == []


def test_without_a_backup_the_rotation_takes_the_tickets_and_never_the_absent_agent(aws_env, account):
    policy("new")
    mine = tickets_of(account, "Ben Agent", count=3)
    ben = away(account, "Ben Agent", backup=None)

    wiring.absences().started(SUB, ben, time.time())

    assert drain(aws_env) == {t: [ASSIGNED] for t in mine}
    names = {v: k for k, v in account["users"].items()}
    assert sorted(names[assignee(account, t)] for t in mine) == ["Ada Admin", "Ada Admin", "Cleo Agent"]
    assert counts(account, "Ben Agent") == (0, 0)


@pytest.mark.parametrize("backup_state", [{"status": "away"}, {"open_cap": 0}, {"in_rotation": False}])
def test_a_backup_who_may_not_take_tickets_leaves_them_to_the_rotation(aws_env, account, backup_state):
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")
    wiring.agent_store().change(SUB, account["users"]["Cleo Agent"], backup_state, time.time())

    wiring.absences().started(SUB, ben, time.time())

    assert drain(aws_env) == {ticket: [ASSIGNED]} and assignee(account, ticket) == account["users"]["Ada Admin"]
    assert record(ticket)["position"] == 1  # the rotation's pick
    assert counts(account, "Ben Agent") == (0, 0) and counts(account, "Ada Admin") == (1, 1)


def test_a_backup_outside_the_tickets_group_leaves_it_to_the_rotation(aws_env, account):
    # Zendesk answers 422 for an assignee who is not a member of the ticket's group
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent", backup="Dev Agent")

    wiring.absences().started(SUB, ben, time.time())

    assert drain(aws_env) == {ticket: [ASSIGNED]} and assignee(account, ticket) == account["users"]["Ada Admin"]
    assert account["zendesk"].calls("PUT", f"/tickets/{ticket}.json").__len__() == 1


def test_a_person_who_changed_the_ticket_meanwhile_is_not_overwritten(aws_env, account):
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")
    assigned_meanwhile(account, ticket, "Ada Admin", status=409, body={"error": "UpdateConflict"})

    wiring.absences().started(SUB, ben, time.time())

    assert drain(aws_env) == {ticket: [SKIPPED]}
    assert assignee(account, ticket) == account["users"]["Ada Admin"]
    saved = record(ticket)
    assert (saved["status"], saved["reason"]) == ("skipped", "no_longer_theirs") and "reassigned_from" not in saved
    # the backup's count went where Zendesk says the ticket is
    assert counts(account, "Cleo Agent") == (0, 0) and counts(account, "Ada Admin") == (1, 1)
    assert counts(account, "Ben Agent") == (0, 0)


def test_a_reopened_ticket_of_an_absent_assignee_is_reassigned(aws_env, account):
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent", "open")
    ben = away(account, "Ben Agent")

    assert wiring.absences().reopened(SUB, ticket, ben, time.time()) is True

    assert drain(aws_env) == {ticket: [ASSIGNED]} and assignee(account, ticket) == account["users"]["Cleo Agent"]
    assert record(ticket)["source"] == "reopened"


def test_a_reopened_ticket_stays_when_its_assignee_is_in_or_the_policy_is_off(aws_env, account):
    (ticket,) = tickets_of(account, "Ben Agent", "open")
    ben = account["users"]["Ben Agent"]
    policy("open")
    assert wiring.absences().reopened(SUB, ticket, ben, time.time()) is False  # Ben is in
    away(account, "Ben Agent")
    policy("off")
    assert wiring.absences().reopened(SUB, ticket, ben, time.time()) is False
    assert aws_env.queued() == []


def test_a_reassignment_stops_when_the_agent_is_back_or_the_ticket_moved_on(aws_env, account):
    policy("new")
    back, solved = tickets_of(account, "Ben Agent", count=2)
    ben = away(account, "Ben Agent")
    wiring.absences().started(SUB, ben, time.time())
    account["model"].tickets[solved]["status"] = "solved"
    assigner = wiring.assigner()
    assert assigner.assign(AssignmentRequest(SUB, solved, "absence", time.time(), reassign_from=ben)).reason == \
        "ticket_solved"
    wiring.agent_store().change(SUB, ben, {"status": "available"}, time.time())

    outcome = assigner.assign(AssignmentRequest(SUB, back, "absence", time.time(), reassign_from=ben))

    assert (outcome.status, outcome.reason) == (SKIPPED, "agent_back") and assignee(account, back) == ben


def test_after_the_return_date_the_agent_gets_tickets_again(aws_env, account):
    # given Ben the only one in rotation in Support, out of office until a date
    for name in ("Ada Admin", "Cleo Agent"):
        wiring.agent_store().change(SUB, account["users"][name], {"in_rotation": False}, time.time())
    ben = away(account, "Ben Agent", days=2)
    ticket = new_ticket(account)["id"]
    assert wiring.assigner().assign(request_for(ticket)).status == WAITING

    back = start_of_day(return_date(2), "UTC") + 60  # the out of office ended by itself

    assert assigner_at(back).assign(request_for(ticket)).status == ASSIGNED and assignee(account, ticket) == ben


def test_duplicate_requests_assign_once_and_a_second_start_queues_nothing(aws_env, account):
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")
    absences = wiring.absences()
    assert absences.started(SUB, ben, time.time()) == 1
    assert absences.started(SUB, ben, time.time()) == 0  # this absence was handled
    wiring.queue().send(AssignmentRequest(SUB, ticket, "absence", time.time(), reassign_from=ben))  # a redelivery

    assert drain(aws_env) == {ticket: [ASSIGNED, DUPLICATE]}
    assert len(account["zendesk"].calls("PUT", f"/tickets/{ticket}.json")) == 1
    assert counts(account, "Cleo Agent") == (1, 1) and counts(account, "Ben Agent") == (0, 0)


def test_a_scheduled_absence_is_reassigned_by_maintenance_once_it_starts_and_forgotten_when_it_ends(aws_env,
                                                                                                      account):
    policy("new")
    (first,) = tickets_of(account, "Ben Agent")
    now = time.time()
    ben = away(account, "Ben Agent", start=now + 3600)
    absences = wiring.absences()

    assert absences.due(SUB, now) == 0  # not started yet
    assert absences.due(SUB, now + 3700) == 1 and absences.due(SUB, now + 3800) == 0
    assert drain(aws_env, assigner_at(now + 3700)) == {first: [ASSIGNED]}

    wiring.agent_store().change(SUB, ben, {"status": "available", "ooo_from": None}, now)
    assert absences.due(SUB, now) == 0 and wiring.agent_store().reassigned_for(SUB, ben) is None
    (second,) = tickets_of(account, "Ben Agent")
    away(account, "Ben Agent")  # the next absence, from now
    (report,) = wiring.maintainer().run([SUB])

    assert report["reassigned"] == 1 and drain(aws_env) == {second: [ASSIGNED]}


def test_the_search_for_an_agents_tickets_pages_100_at_a_time_and_narrows_past_1000(aws_env, account):
    ben = account["users"]["Ben Agent"]
    zendesk = account["zendesk"]
    with zendesk.sandbox.lock:
        for n in range(1005):  # one a second, in the past: the query past 1,000 narrows by creation time
            zendesk.sandbox.clock.offset = n - 2000.0
            zendesk.app.create_ticket(account["model"], {"subject": "x", "assignee_id": ben, "status": "new"},
                                      account["users"]["Hana Customer"], channel="web")
        zendesk.sandbox.clock.offset = 0.0
    client = wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=0)(SUB, lambda: wiring.tokens()
                                                                            .authorization(SUB))

    found, complete = tickets.assigned_to(client, ben, ("new",))

    assert len(found) == 1005 and len({t["id"] for t in found}) == 1005 and complete
    searches = zendesk.calls("GET", "/search")
    assert len(searches) == 11  # 10 pages of 100 (page 11 would be Zendesk's 422), then one narrowed query
    assert "created%3E" in searches[-1].request.url or "created>" in searches[-1].request.url


def test_an_absence_started_by_an_event_reads_a_few_pages_and_maintenance_queues_the_rest(aws_env, account):
    # given Ben with 105 new tickets, out of office from now; the events path reads one page (100 tickets) here
    policy("new")
    ben = account["users"]["Ben Agent"]
    with account["zendesk"].sandbox.lock:
        for _ in range(105):
            account["zendesk"].app.create_ticket(account["model"], {"subject": "x", "assignee_id": ben,
                                                                    "status": "new"},
                                                 account["users"]["Hana Customer"], channel="web")
    away(account, "Ben Agent")
    absences = Absences(agents=wiring.agent_store(), policies=wiring.policies(), queue=wiring.queue(),
                        tokens=wiring.tokens(), zendesk=wiring.zendesk_factory(wiring.get_settings(),
                                                                               max_retry_wait=0), event_pages=1)

    assert absences.started(SUB, ben, time.time()) == 100
    assert len(account["zendesk"].calls("GET", "/search")) == 1
    assert wiring.agent_store().reassigned_for(SUB, ben) is None  # not handled yet: the search was cut short

    # maintenance reads on (the search still shows every ticket: nothing was reassigned yet; the claims make the
    # 100 queued twice harmless), and then the absence is handled
    assert absences.due(SUB, time.time()) == 105
    assert wiring.agent_store().reassigned_for(SUB, ben) is not None
    assert absences.due(SUB, time.time()) == 0


def test_the_events_function_reads_at_most_five_search_pages_of_an_absent_agents_tickets(aws_env, account):
    policy("new")
    ben = account["users"]["Ben Agent"]
    with account["zendesk"].sandbox.lock:
        for _ in range(505):
            account["zendesk"].app.create_ticket(account["model"], {"subject": "x", "assignee_id": ben,
                                                                    "status": "new"},
                                                 account["users"]["Hana Customer"], channel="web")
    away(account, "Ben Agent")

    assert wiring.event_handler().handle(EventMessage(SUB, "absence", time.time(), {"agent_id": ben})) == "absence"

    assert len(account["zendesk"].calls("GET", "/search")) == 5  # 500 tickets queued; maintenance does the rest
    assert wiring.agent_store().reassigned_for(SUB, ben) is None


def test_a_reassignment_parked_while_the_connection_was_broken_is_requeued_as_a_reassignment(aws_env, account):
    store, now = wiring.assignment_store(), time.time()
    claim = store.claim_reassignment(AssignmentRequest(SUB, 5, "absence", now, reassign_from=9), now)
    store.finish(SUB, 5, claim, Outcome(PARKED, "invalid_grant"), now)

    assert requeue_parked(store, wiring.queue(), SUB, now, "reconnect") == 1

    (queued,) = aws_env.queued()
    request = AssignmentRequest.from_json(json.dumps(queued))
    assert request.reassign_from == 9 and store.claim_reassignment(request, now) is not None


def test_counts_follow_zendesk_when_a_person_takes_the_ticket_while_the_backup_is_refused(aws_env, account):
    # given the PUT to Cleo refused (422) while a person assigns the ticket to Ada
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")
    assigned_meanwhile(account, ticket, "Ada Admin", status=422, body={"error": "RecordInvalid"})

    outcome = wiring.assigner().assign(AssignmentRequest(SUB, ticket, "absence", time.time(), reassign_from=ben))

    assert (outcome.status, outcome.reason) == (SKIPPED, "no_longer_theirs")
    assert counts(account, "Ada Admin") == (1, 1) and counts(account, "Cleo Agent") == (0, 0)


def test_a_retried_reassignment_reuses_the_backup_it_counted(aws_env, account):
    policy("new")
    (ticket,) = tickets_of(account, "Ben Agent")
    ben = away(account, "Ben Agent")
    account["zendesk"].override("PUT", rf"/tickets/{ticket}\.json$", status=503, times=3)
    request = AssignmentRequest(SUB, ticket, "absence", time.time(), reassign_from=ben)
    assigner = wiring.assigner()
    with pytest.raises(RetryLaterError):
        assigner.assign(request)
    assert counts(account, "Cleo Agent") == (1, 1)

    outcome = assigner.assign(request)

    assert outcome.status == ASSIGNED and assignee(account, ticket) == account["users"]["Cleo Agent"]
    assert counts(account, "Cleo Agent") == (1, 1) and counts(account, "Ben Agent") == (0, 0)
