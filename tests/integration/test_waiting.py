"""Waiting tickets and fair catch-up (assignment/waiting.py): rounds of at most one ticket per eligible agent,
nothing while nobody is eligible, concurrent wakes, wakes asked for by the worker, and the waiting-too-long alert.
The worker is the real Selector and claim record (as in test_selection.py); Zendesk is not involved."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from round_robin import wiring
from round_robin.assignment.assigner import Assigner
from round_robin.assignment.claims import ASSIGNED, DUPLICATE, WAITING, Outcome
from round_robin.assignment.rotation import Choice
from round_robin.assignment.selection import Rules, Selector, Waiting
from round_robin.assignment.waiting import DRAIN_INTERVAL, MAX_SCHEDULE_DELAY, READ_LIMIT, Waker
from round_robin.aws import clients
from round_robin.aws.dynamo import serialize
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import StorageError
from round_robin.table import account_pk, outcome_partition, ticket_sk, time_sort_key
from tests.integration.conftest import TABLE
from tests.integration.helpers import atomic_dynamodb, new_ticket, record, request_for
from tests.integration.selection_support import (
    SUB,
    Verdict,
    agents,
    claims,
    fake_policy,
    roster,
    selector,
    store_rosters,
)
from tests.support.logs import captured_logs

NOW = 1_795_000_000.0  # 2026-11-18, in the middle of a UTC day
GROUP = "7"


class Wakes:
    """The schedule callable: records the "wake" messages the lead's events queue would carry."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str] | None, int, float]] = []

    def __call__(self, subdomain: str, group_ids: list[str] | None, round: int, delay: float) -> None:
        self.asked.append((subdomain, group_ids, round, delay))


def waker(wakes: Wakes, worker: Selector | None = None) -> Waker:
    return Waker(assignments=claims(), selector=worker or selector(), queue=wiring.queue(), schedule=wakes,
                 alerts=wiring.alerts())


def work(aws_env, worker: Selector, now: float) -> list[Outcome]:
    """The worker: take every queued request, claim it, select and record the outcome (Assigner without Zendesk)."""
    return [handle(AssignmentRequest.from_json(json.dumps(m)), worker, now) for m in aws_env.take_queued()]


def handle(request: AssignmentRequest, worker: Selector, now: float) -> Outcome:
    store = claims()
    claim = store.claim(request, now)
    if claim is None:
        return Outcome(DUPLICATE)
    selected = worker.select(SUB, GROUP, request.ticket_id, claim, now)
    if isinstance(selected, Choice):
        outcome = Outcome(ASSIGNED, "", selected, claim.attempts)
    else:
        assert isinstance(selected, Waiting)
        outcome = Outcome(WAITING, selected.reason, None, claim.attempts, GROUP, selected.until)
    store.finish(SUB, request.ticket_id, claim, outcome, now)
    return outcome


def make_waiting(worker: Selector, ticket_ids: range) -> None:
    """These tickets arrive one second apart while nobody can take them: they wait."""
    for ticket_id in ticket_ids:
        outcome = handle(AssignmentRequest(SUB, ticket_id, "webhook", NOW + ticket_id), worker, NOW + ticket_id)
        assert outcome.status == WAITING


def away(*ids: int, status: str = "away") -> None:
    for agent_id in ids:
        agents().change(SUB, agent_id, {"status": status}, NOW)


def assigned_to(outcomes: list[Outcome]) -> list[int]:
    return [o.choice.agent.id for o in outcomes if o.choice is not None]


def waiting_ids() -> list[int]:
    return [int(r["ticket_id"]) for r in claims().indexed(SUB, WAITING, newest_first=False)]


def drain(aws_env, wakes: Wakes, waking: Waker, worker: Selector, now: float) -> list[list[int]]:
    """Run the scheduled rounds as the events queue would, each followed by the worker; who got what, per round."""
    rounds = [assigned_to(work(aws_env, worker, now))]
    while wakes.asked:
        (subdomain, groups, round_, delay) = wakes.asked.pop(0)
        assert delay == DRAIN_INTERVAL and not wakes.asked
        now += delay
        waking.wake(subdomain, groups, now, round_)
        rounds.append(assigned_to(work(aws_env, worker, now)))
    return rounds


def test_waiting_tickets_spread_one_per_returning_agent_a_round_oldest_first(aws_env):
    # given 12 tickets waiting while agents 1, 2 and 3 are all away
    store_rosters(roster(GROUP, [1, 2, 3]))
    worker, wakes = selector(), Wakes()
    away(1, 2, 3)
    make_waiting(worker, range(1, 13))
    waking = waker(wakes)
    away(1, 2, 3, status="available")

    # when they come back together
    queued = waking.wake(SUB, [GROUP], NOW + 60)

    # then round 1 queues the 3 oldest, and each round after the next 3, one per agent
    assert queued == 3 and wakes.asked == [(SUB, [GROUP], 1, DRAIN_INTERVAL)]
    rounds = drain(aws_env, wakes, waking, worker, NOW + 60)
    assert [sorted(r) for r in rounds] == [[1, 2, 3]] * 4
    assert waiting_ids() == []
    assert set(Counter(a for r in rounds for a in r).values()) == {4}  # final spread 0 (at most 1)


def test_the_first_agent_back_gets_one_ticket_a_round_not_the_backlog(aws_env):
    store_rosters(roster(GROUP, [1, 2, 3]))
    worker, wakes = selector(), Wakes()
    away(1, 2, 3)
    make_waiting(worker, range(1, 13))
    waking = waker(wakes)
    away(2, status="available")

    assert waking.wake(SUB, None, NOW + 60) == 1
    outcomes = work(aws_env, worker, NOW + 60)

    assert assigned_to(outcomes) == [2] and waiting_ids() == list(range(2, 13))  # the oldest went, 11 still wait
    assert wakes.asked == [(SUB, [GROUP], 1, DRAIN_INTERVAL)]


def test_with_nobody_eligible_nothing_is_queued_and_nothing_cycles(aws_env):
    store_rosters(roster(GROUP, [1, 2]))
    worker, wakes = selector(), Wakes()
    away(1, 2)
    make_waiting(worker, range(1, 6))
    waking = waker(wakes)

    for minutes in (10, 20, 30):  # maintenance runs, and status events of people still away
        assert waking.wake(SUB, None, NOW + 60 * minutes) == 0

    assert aws_env.take_queued() == [] and wakes.asked == []
    assert waiting_ids() == [1, 2, 3, 4, 5]


def test_two_wakes_at_once_never_queue_a_ticket_twice_in_a_round(aws_env):
    store_rosters(roster(GROUP, [1, 2, 3]))
    worker, wakes = selector(), Wakes()
    away(1, 2, 3)
    make_waiting(worker, range(1, 10))
    away(1, 2, 3, status="available")

    # two status events handled at once, each by its own warm worker
    first = waker(wakes, selector()).wake(SUB, [GROUP], NOW + 60)
    second = waker(wakes, selector()).wake(SUB, [GROUP], NOW + 60)

    queued = [m["ticket_id"] for m in aws_env.take_queued()]
    assert (first, second) == (3, 0) and sorted(queued) == [1, 2, 3]
    # a round later, the tickets still waiting can be woken again
    assert waker(wakes).wake(SUB, [GROUP], NOW + 60 + DRAIN_INTERVAL) == 3


def test_many_wakes_in_parallel_queue_each_ticket_once_and_one_per_agent_in_a_round(aws_env, monkeypatch):
    atomic_dynamodb(monkeypatch)
    store_rosters(roster(GROUP, [1, 2, 3]))
    worker, wakes = selector(), Wakes()
    away(1, 2, 3)
    make_waiting(worker, range(1, 10))
    away(1, 2, 3, status="available")

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: waker(wakes, selector()).wake(SUB, [GROUP], NOW + 60), range(8)))

    queued = [m["ticket_id"] for m in aws_env.take_queued()]
    assert sum(counts) == 3 and sorted(queued) == [1, 2, 3]


def test_an_agent_back_from_away_does_not_catch_up_on_what_they_missed(aws_env):
    store_rosters(roster(GROUP, [1, 2, 3]))
    worker, wakes = selector(), Wakes()
    away(1)
    for ticket_id in range(1, 5):  # agent 1 is away: 2 and 3 take two each
        handle(AssignmentRequest(SUB, ticket_id, "webhook", NOW), worker, NOW)
    away(2, 3)
    make_waiting(worker, range(5, 11))  # 6 tickets wait while everyone is away
    waking = waker(wakes)
    away(1, 2, 3, status="available")

    waking.wake(SUB, [GROUP], NOW + 60)
    rounds = drain(aws_env, wakes, waking, worker, NOW + 60)

    # the waiting tickets are spread evenly; agent 1 gets no more than the others to make up for being away
    assert [sorted(r) for r in rounds] == [[1, 2, 3]] * 2
    assert {a: agents().agents(SUB, {a: ""})[a].open_count for a in (1, 2, 3)} == {1: 2, 2: 4, 3: 4}


def test_a_wake_is_asked_for_when_an_agent_may_become_eligible_within_the_queue_delay(aws_env):
    wakes = Wakes()
    waking = waker(wakes)

    waking.wake_at(SUB, GROUP, NOW + 300, NOW)
    waking.wake_at(SUB, GROUP, NOW + 300, NOW + 1)  # another ticket waiting for the same change
    waking.wake_at(SUB, GROUP, NOW + 3600, NOW)  # beyond SQS's delay: the maintenance run wakes it

    ((subdomain, groups, round_, delay),) = wakes.asked
    assert (subdomain, groups, round_) == (SUB, [GROUP], 0)
    assert 300 <= delay <= MAX_SCHEDULE_DELAY


def test_tickets_waiting_too_long_are_reported_once_each(aws_env):
    store_rosters(roster(GROUP, [1, 2]))
    worker, wakes = selector(), Wakes()
    away(1, 2)
    make_waiting(worker, range(1, 4))
    waking = waker(wakes)
    late = NOW + 2.5 + 30 * 60  # tickets 1 and 2 (received at NOW + 1, + 2) have waited over 30 minutes, 3 not

    with captured_logs() as logs:
        assert waking.alert_overdue(SUB, late) == 2
    assert waking.alert_overdue(SUB, late + 60) == 1  # ticket 3 now; 1 and 2 were reported already
    assert waking.alert_overdue(SUB, late + 600) == 0

    line = logs.find("tickets waiting too long")
    assert line["tickets"] == {"1": "away", "2": "away"} and line["oldest_minutes"] == 30
    notes = aws_env.notifications()
    assert len(notes) == 2 and "#1: away" in notes[0]["Message"] and "#2: away" in notes[0]["Message"]
    assert "#3: away" in notes[1]["Message"] and "#1" not in notes[1]["Message"]


# -- a backlog in one group never hides another's tickets -----------------------------------------------------

BACKLOG = 1_001  # more than a wake read of the whole account before waiting tickets were kept per group
STAFFED = "8"


def wait_in(group_id: str, ticket_ids: range, received: float) -> None:
    """These tickets (received one second apart from `received` on) wait for `group_id`: the first recorded by the
    worker's claim and finish, the others copies of its item (written in batches: a backlog in seconds)."""
    store, dynamodb = claims(), clients.client("dynamodb")
    first = ticket_ids[0]
    taken = store.claim(AssignmentRequest(SUB, first, "webhook", received + first), received + first)
    assert taken is not None
    store.finish(SUB, first, taken, Outcome(WAITING, "off_hours", None, taken.attempts, group_id), received + first)
    model = store.get(SUB, first)
    assert model is not None
    copies = [{**model, "sk": ticket_sk(t), "ticket_id": t, "received_at": received + t,
               "gsi1sk": model["gsi1sk"].replace(time_sort_key(received + first), time_sort_key(received + t))}
              for t in ticket_ids[1:]]
    for start in range(0, len(copies), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": serialize(c)}}
                                                        for c in copies[start:start + 25]]})


def legacy_wait(ticket_id: int, group_id: str, received: float) -> None:
    """A ticket recorded waiting before waiting tickets were kept per group: its index key is its receipt time."""
    clients.client("dynamodb").put_item(TableName=TABLE, Item=serialize({
        "pk": account_pk(SUB), "sk": ticket_sk(ticket_id), "ticket_id": ticket_id, "status": WAITING,
        "reason": "off_hours", "group_id": group_id, "received_at": received, "attempts": 1,
        "gsi1pk": outcome_partition(WAITING, SUB), "gsi1sk": time_sort_key(received)}))


def test_a_staffed_groups_oldest_tickets_are_woken_however_many_wait_in_an_off_hours_group(aws_env):
    # given an off-hours group's backlog, the account's oldest, and a staffed group's tickets that came later
    store_rosters(roster(GROUP, [1, 2]), roster(STAFFED, [3, 4]))
    away(1, 2)
    wait_in(GROUP, range(1, BACKLOG + 1), NOW)
    wait_in(STAFFED, range(5001, 5004), NOW + 10_000)
    wakes = Wakes()

    # when the maintenance run wakes every group, and when an event wakes the staffed group alone
    everyone = waker(wakes).wake(SUB, None, NOW + 20_000)
    first = sorted(q["ticket_id"] for q in aws_env.take_queued())
    for ticket_id in first:  # the worker takes them
        assert claims().claim(AssignmentRequest(SUB, ticket_id, "waiting", NOW), NOW + 20_001) is not None
    staffed = waker(wakes).wake(SUB, [STAFFED], NOW + 20_000 + DRAIN_INTERVAL, 1)
    second = [q["ticket_id"] for q in aws_env.take_queued()]

    # then the staffed group's two oldest go first (two agents eligible), the next round takes the last one
    assert (everyone, first) == (2, [5001, 5002])
    assert (staffed, second) == (1, [5003])
    assert wakes.asked == [(SUB, [STAFFED], 1, DRAIN_INTERVAL)]


def test_the_overdue_tickets_of_every_group_are_reported_however_many_another_group_holds(aws_env):
    # the oldest READ_LIMIT of the backlog's group, and the other group's ticket though it is newer than all of them
    store_rosters(roster(GROUP, [1, 2]), roster(STAFFED, [3]))
    away(1, 2, 3)
    wait_in(GROUP, range(1, BACKLOG + 1), NOW)
    wait_in(STAFFED, range(5001, 5002), NOW + 10_000)

    reported = waker(Wakes()).alert_overdue(SUB, NOW + 10_000 + 5001 + 31 * 60)

    assert reported == READ_LIMIT + 1 and "alerted_at" in claims().get(SUB, 5001)
    assert "#5001: off_hours" in aws_env.notifications()[0]["Message"]


def test_tickets_recorded_waiting_before_the_per_group_index_are_still_woken_and_reported(aws_env):
    store_rosters(roster(GROUP, [1]), roster(STAFFED, [3]))
    away(1)
    legacy_wait(11, STAFFED, NOW + 1)
    legacy_wait(12, STAFFED, NOW + 2)
    legacy_wait(13, GROUP, NOW + 3)
    wakes = Wakes()

    assert waker(wakes).alert_overdue(SUB, NOW + 31 * 60) == 3
    assert waker(wakes).wake(SUB, [STAFFED], NOW + 31 * 60) == 1

    assert [q["ticket_id"] for q in aws_env.take_queued()] == [11]
    assert wakes.asked == [(SUB, [STAFFED], 1, DRAIN_INTERVAL)]
    assert sorted(waiting_ids()) == [11, 12, 13]  # all still listed, now under their group
    assert {claims().get(SUB, t)["gsi1sk"].split("#")[1] for t in (11, 12)} == {STAFFED}


# -- the worker asks for a wake ------------------------------------------------------------------------------

def back_soon(agent, policy, schedules, group_id: str, now: float) -> Verdict:
    """Nobody may take a ticket now; each may in five minutes (the end of a break, the start of a shift)."""
    return Verdict(False, "off_hours", "hours", until=now + 300)


def assigner_with(wake_at) -> Assigner:
    worker = Selector(table_name=TABLE, rosters=wiring.rosters(), agents=wiring.agent_store(),
                      rules=Rules(back_soon, fake_policy))
    return Assigner(store=wiring.assignment_store(), rosters=wiring.rosters(), selector=worker,
                    tokens=wiring.tokens(), zendesk=wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=0),
                    wake_at=wake_at)


def test_the_worker_asks_for_a_wake_when_a_waiting_tickets_group_may_become_eligible(aws_env, account):
    asked: list[tuple[str, str, float, float]] = []
    ticket = new_ticket(account)

    outcome = assigner_with(lambda *wake: asked.append(wake)).assign(request_for(ticket["id"]))

    assert (outcome.status, outcome.reason) == (WAITING, "off_hours")
    ((subdomain, group_id, at, _now),) = asked
    assert (subdomain, group_id, at) == ("acme", str(account["groups"]["Support"]), outcome.wake_at)


def test_a_wake_that_cannot_be_asked_for_leaves_the_ticket_waiting_for_maintenance(aws_env, account):
    def unavailable(*_wake) -> None:
        raise StorageError("queueing the wake failed: ServiceUnavailable")

    ticket = new_ticket(account)
    with captured_logs() as logs:
        outcome = assigner_with(unavailable).assign(request_for(ticket["id"]))

    assert outcome.status == WAITING and record(ticket["id"])["status"] == "waiting"
    assert logs.find("could not ask for a wake")["level"] == "WARNING"


def test_a_wake_at_is_a_wake_message_on_the_events_queue_delayed_until_then(aws_env):
    wiring.waker().wake_at(SUB, GROUP, NOW + 120, NOW)

    assert aws_env.take_queued() == []  # nothing for the worker yet
    assert aws_env.queued_events() == []  # and the wake is not visible before its time
    attributes = aws_env.sqs.get_queue_attributes(QueueUrl=aws_env.events_queue_url,
                                                  AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_wake_message_says_which_groups_and_which_round(aws_env):
    wiring.schedule_wake(SUB, [GROUP], 2, 0)

    (message,) = aws_env.queued_events()
    assert (message["subdomain"], message["kind"], message["payload"]) == (
        SUB, "wake", {"group_ids": [GROUP], "round": 2})
