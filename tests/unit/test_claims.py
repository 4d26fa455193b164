"""The per-ticket claim state machine (assignment/claims.py), on a controllable clock.

The claim is a set of DynamoDB conditional writes. A hand-written fake would be a second implementation of
DynamoDB's condition expressions (and could agree with the code while DynamoDB disagrees), so these tests use
moto's in-process `mock_aws` (no sockets), with the table created from template.yaml. Every time is passed in
explicitly: the clock is the test's.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from round_robin.assignment.claims import (
    ASSIGNED,
    CLAIM_LEASE,
    PARKED,
    SKIPPED,
    WAITING,
    AssignmentStore,
    Outcome,
    RetryLaterError,
    is_claimable,
)
from round_robin.assignment.rotation import Choice, Member
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import StorageError
from tests.support.table import create_template_table

T0 = 1_800_000_000.0
ADA = Choice(Member(7, "Ada"), 3, "42")


@pytest.fixture
def store() -> Iterator[AssignmentStore]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(dynamodb, "claims")
        yield AssignmentStore("claims", dynamodb)


def request(ticket_id: int = 1, received_at: float = T0) -> AssignmentRequest:
    return AssignmentRequest("acme", ticket_id, "webhook", received_at)


def status(store: AssignmentStore, ticket_id: int = 1) -> str:
    return (store.get("acme", ticket_id) or {}).get("status", "")


def test_a_new_ticket_is_claimed_with_a_lease(store):
    claim = store.claim(request(), T0)
    assert claim is not None and claim.attempts == 1 and claim.choice is None
    record = store.get("acme", 1)
    assert record["status"] == "in_progress" and record["lease_until"] == T0 + CLAIM_LEASE


def test_a_held_claim_cannot_be_taken_until_its_lease_expires(store):
    store.claim(request(), T0)
    assert store.claim(request(), T0 + CLAIM_LEASE - 1) is None
    again = store.claim(request(), T0 + CLAIM_LEASE + 1)
    assert again is not None and again.attempts == 2


def test_a_released_ticket_is_pending_and_the_next_claim_reuses_its_position(store):
    claim = store.claim(request(), T0)
    store.release("acme", 1, claim, ADA, T0 + 1)
    assert status(store) == "pending" and "lease_until" not in store.get("acme", 1)
    again = store.claim(request(), T0 + 2)
    assert again is not None and again.choice == ADA and again.attempts == 2


@pytest.mark.parametrize("ending", [ASSIGNED, SKIPPED, PARKED])
def test_a_finished_ticket_is_never_claimed_again(store, ending):
    claim = store.claim(request(), T0)
    store.finish("acme", 1, claim, Outcome(ending, "", ADA if ending == ASSIGNED else None), T0 + 1)
    assert status(store) == ending
    assert store.claim(request(), T0 + 10 * CLAIM_LEASE) is None


def test_a_parked_ticket_is_reopened_as_pending_then_claimable(store):
    claim = store.claim(request(), T0)
    store.finish("acme", 1, claim, Outcome(PARKED, "unauthorized"), T0 + 1)
    assert [r["ticket_id"] for r in store.indexed("acme", PARKED)] == [1]
    assert store.reopen("acme", 1, T0 + 2) is True
    assert status(store) == "pending" and store.indexed("acme", PARKED) == []
    assert store.claim(request(), T0 + 3) is not None


def test_a_waiting_ticket_is_listed_oldest_first_with_its_reason_and_stays_claimable(store):
    for ticket_id, received in ((1, T0 + 30), (2, T0 + 10), (3, T0 + 20)):
        claim = store.claim(request(ticket_id, received), T0 + 40)
        store.finish("acme", ticket_id, claim, Outcome(WAITING, "no_eligible_agent", group_id="42"), T0 + 41)

    waiting = store.indexed("acme", WAITING, newest_first=False)

    assert [r["ticket_id"] for r in waiting] == [2, 3, 1]  # by when each ticket was received
    assert all(r["reason"] == "no_eligible_agent" and r["group_id"] == "42" for r in waiting)
    assert store.claim(request(2), T0 + 42) is not None
    assert [r["ticket_id"] for r in store.indexed("acme", WAITING, newest_first=False)] == [3, 1]


def test_each_groups_waiting_tickets_are_read_on_their_own_oldest_first(store):
    # group ids that are prefixes of one another, and the account-wide roster "*"
    for ticket_id, group_id, received in ((1, "123", T0 + 5), (2, "12", T0 + 9), (3, "*", T0 + 1),
                                          (4, "12", T0 + 2), (5, "1234", T0 + 3)):
        claim = store.claim(request(ticket_id, received), T0 + 40)
        store.finish("acme", ticket_id, claim, Outcome(WAITING, "all_away", group_id=group_id), T0 + 41)

    assert store.waiting_groups("acme") == ["*", "12", "123", "1234"]
    assert [r["ticket_id"] for r in store.waiting("acme", "12")] == [4, 2]
    assert [r["ticket_id"] for r in store.waiting("acme", "12", limit=1)] == [4]
    assert [r["ticket_id"] for r in store.waiting("acme", "12", received_before=T0 + 5)] == [4]
    assert [r["ticket_id"] for r in store.waiting("acme", "1")] == []
    assert store.waiting_groups("other") == []


def test_a_waiting_ticket_that_gets_assigned_leaves_the_waiting_list(store):
    claim = store.claim(request(), T0)
    store.finish("acme", 1, claim, Outcome(WAITING, "no_eligible_agent", group_id="42"), T0 + 1)
    again = store.claim(request(), T0 + 600)
    store.finish("acme", 1, again, Outcome(ASSIGNED, "", ADA), T0 + 601)
    assert store.indexed("acme", WAITING) == []
    assert [r["ticket_id"] for r in store.indexed("acme", ASSIGNED)] == [1]


def wait(store: AssignmentStore, at: float) -> None:
    claim = store.claim(request(), at)
    store.finish("acme", 1, claim, Outcome(WAITING, "all_away", group_id="42"), at)


def test_a_waiting_ticket_is_woken_once_per_interval_and_again_after_it_waits_anew(store):
    wait(store, T0)

    assert store.mark_woken("acme", 1, T0 + 1, 20) is True
    assert store.mark_woken("acme", 1, T0 + 2, 20) is False  # another wake, same round
    assert store.mark_woken("acme", 1, T0 + 21, 20) is True  # a round later, still waiting: queued again
    wait(store, T0 + 22)  # its claim took the mark off; it waits again
    assert store.mark_woken("acme", 1, T0 + 23, 20) is True


def test_only_a_waiting_ticket_can_be_woken(store):
    store.claim(request(), T0)
    assert store.mark_woken("acme", 1, T0 + 1, 20) is False
    assert store.mark_woken("acme", 2, T0 + 1, 20) is False  # never seen
    assert store.get("acme", 2) is None  # and nothing was written for it


def test_a_waiting_ticket_is_reported_once_even_if_it_waits_again(store):
    wait(store, T0)
    assert store.mark_alerted("acme", 1, T0 + 1) is True
    assert store.mark_alerted("acme", 1, T0 + 2) is False
    wait(store, T0 + 3)
    assert store.mark_alerted("acme", 1, T0 + 4) is False


def test_a_worker_whose_lease_expired_and_was_taken_over_can_neither_finish_nor_release(store):
    slow = store.claim(request(), T0)
    fresh = store.claim(request(), T0 + CLAIM_LEASE + 1)  # the slow worker's lease expired: taken over

    with pytest.raises(RetryLaterError):
        store.finish("acme", 1, slow, Outcome(ASSIGNED, "", ADA), T0 + CLAIM_LEASE + 2)
    with pytest.raises(RetryLaterError):
        store.release("acme", 1, slow, ADA, T0 + CLAIM_LEASE + 2)

    assert status(store) == "in_progress"
    store.finish("acme", 1, fresh, Outcome(ASSIGNED, "", ADA), T0 + CLAIM_LEASE + 3)
    assert status(store) == ASSIGNED


@pytest.mark.parametrize("state", ["missing", "in_progress", "expired", "pending", "waiting", ASSIGNED, SKIPPED,
                                   PARKED])
def test_is_claimable_says_what_the_conditional_claim_does(store, state):
    now = T0 + 10
    if state != "missing":
        claim = store.claim(request(), T0 - CLAIM_LEASE if state == "expired" else T0)
        if state == "pending":
            store.release("acme", 1, claim, None, T0)
        elif state in (WAITING, ASSIGNED, SKIPPED, PARKED):
            store.finish("acme", 1, claim, Outcome(state, "", ADA if state == ASSIGNED else None), T0)

    predicted = is_claimable(store.get("acme", 1), now)

    assert predicted == (store.claim(request(), now) is not None)
    assert predicted == (state in ("missing", "expired", "pending", "waiting"))


def reassignment(ticket_id: int = 1, received_at: float = T0, absent: int = 5) -> AssignmentRequest:
    return AssignmentRequest("acme", ticket_id, "absence", received_at, reassign_from=absent)


def test_a_reassignment_claims_an_assigned_ticket_and_forgets_the_agent_it_was_assigned_to(store):
    first = store.claim(request(), T0)
    store.finish("acme", 1, first, Outcome(ASSIGNED, choice=ADA), T0 + 1)

    claim = store.claim_reassignment(reassignment(), T0 + 60)

    assert claim is not None and claim.attempts == 2 and claim.choice is None
    record = store.get("acme", 1)
    assert record["status"] == "in_progress" and record["reassign_from"] == 5 and "agent_id" not in record
    assert "gsi1pk" not in record  # no longer listed as assigned while it is reassigned


def test_a_reassignment_claims_a_skipped_ticket_and_one_never_claimed(store):
    first = store.claim(request(), T0)
    store.finish("acme", 1, first, Outcome(SKIPPED, "already_assigned"), T0 + 1)

    assert store.claim_reassignment(reassignment(), T0 + 60) is not None
    assert store.claim_reassignment(reassignment(ticket_id=2), T0 + 60) is not None


def test_a_live_claim_wins_over_a_reassignment(store):
    store.claim(request(), T0)
    assert store.claim_reassignment(reassignment(), T0 + 1) is None
    assert status(store) == "in_progress"


def test_a_reassignment_never_takes_an_assignment_under_way_released_or_waiting(store):
    claim = store.claim(request(), T0)
    store.release("acme", 1, claim, None, T0 + 1)
    assert store.claim_reassignment(reassignment(), T0 + 2) is None
    again = store.claim(request(), T0 + 3)
    store.finish("acme", 1, again, Outcome(WAITING, "all_away"), T0 + 4)
    assert store.claim_reassignment(reassignment(), T0 + 5) is None
    store.claim(request(), T0 + 6)
    assert store.claim_reassignment(reassignment(), T0 + 6 + CLAIM_LEASE + 1) is None  # expired, not ours


def test_a_released_reassignment_is_retried_with_the_agent_it_chose(store):
    claim = store.claim_reassignment(reassignment(), T0)
    store.release("acme", 1, claim, ADA, T0 + 1)

    assert store.claim_reassignment(reassignment(absent=8), T0 + 2) is None  # another absence's request waits
    retry = store.claim_reassignment(reassignment(), T0 + 2)

    assert retry is not None and retry.attempts == 2 and retry.choice == ADA


def test_a_reassignment_whose_worker_died_is_taken_over_after_its_lease(store):
    store.claim_reassignment(reassignment(), T0)
    assert store.claim_reassignment(reassignment(), T0 + 1) is None
    assert store.claim_reassignment(reassignment(), T0 + CLAIM_LEASE + 1) is not None


def test_a_ticket_reassigned_from_an_agent_is_not_claimed_again_for_the_same_agent(store):
    claim = store.claim_reassignment(reassignment(), T0)
    store.finish("acme", 1, claim, Outcome(ASSIGNED, choice=ADA, reassigned_from=5), T0 + 1)
    record = store.get("acme", 1)
    assert (record["status"], record["reassigned_from"], record["agent_id"]) == ("assigned", 5, ADA.agent.id)

    assert store.claim_reassignment(reassignment(received_at=T0 + 5), T0 + 10) is None  # a duplicate stops here
    assert store.claim_reassignment(reassignment(absent=9), T0 + 10) is not None  # another agent's absence


def test_a_normal_claim_of_a_released_reassignment_makes_it_an_assignment_again(store):
    claim = store.claim_reassignment(reassignment(), T0)
    store.release("acme", 1, claim, None, T0 + 1)
    taken = store.claim(request(), T0 + 2)
    assert taken is not None and "reassign_from" not in store.get("acme", 1)
    store.release("acme", 1, taken, None, T0 + 3)

    assert store.claim_reassignment(reassignment(), T0 + 4) is None  # a plain assignment's, now


def test_many_tickets_are_claimed_at_once_as_one_by_one_each_once(store):
    store.claim(request(2), T0)  # held by another worker
    store.finish("acme", 3, store.claim(request(3), T0), Outcome(ASSIGNED, choice=ADA), T0)  # done
    store.release("acme", 4, store.claim(request(4), T0), ADA, T0)  # released with its agent: reused
    asked = [request(t) for t in (1, 2, 3, 4, 5, 1)] + [request(t) for t in range(6, 206)]  # 1 twice; 206 tickets

    claims = store.claim_many(asked, T0 + 1)

    assert [c is not None for c in claims[:6]] == [True, False, False, True, True, False]
    assert all(c is not None and c.attempts == 1 for c in claims[6:])  # past one transaction's 100 items
    assert claims[3].attempts == 2 and claims[3].choice == ADA
    assert status(store, 2) == "in_progress" and status(store, 3) == "assigned" and status(store, 205) == "in_progress"
    assert store.claim(request(5), T0 + 2) is None  # a claim like any other: held now


def test_many_outcomes_are_recorded_at_once_but_not_over_a_lost_claim(store):
    first = store.claim_many([request(1), request(2), request(3)], T0)
    taken_over = store.claim(request(2), T0 + CLAIM_LEASE + 1)  # 2's lease expired: another attempt holds it
    assert taken_over is not None

    recorded = store.finish_many("acme", [(1, first[0], Outcome(ASSIGNED, choice=ADA)),
                                          (2, first[1], Outcome(ASSIGNED, choice=ADA)),
                                          (3, first[2], Outcome(SKIPPED, "solved"))], T0 + CLAIM_LEASE + 2)

    assert recorded == [True, False, True]
    assert status(store, 1) == "assigned" and store.get("acme", 1)["agent_id"] == 7
    assert status(store, 2) == "in_progress" and status(store, 3) == "skipped"
    assert [r["ticket_id"] for r in store.indexed("acme", ASSIGNED)] == [1]


def test_claims_taken_but_not_read_are_retried_after_their_lease_not_taken_for_duplicates(store, monkeypatch):
    from botocore.exceptions import ClientError  # noqa: PLC0415

    def refuse(**_):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                          "BatchGetItem")

    monkeypatch.setattr(store._dynamodb, "batch_get_item", refuse)  # the claims are written, their read fails
    with pytest.raises(RetryLaterError) as refused:
        store.claim_many([request(1), request(2)], T0)
    monkeypatch.undo()

    assert refused.value.delay is not None and refused.value.delay > CLAIM_LEASE
    assert None not in store.claim_many([request(1), request(2)], T0 + refused.value.delay)  # taken over

    monkeypatch.setattr(store._dynamodb, "transact_write_items", refuse)  # nothing claimed: try again soon
    with pytest.raises(StorageError):
        store.claim_many([request(3)], T0)


class RetriedAfterItsAnswerWasLost:
    """A DynamoDB client whose first UpdateItem is applied, then sent again, as botocore does when the answer of a
    request that DynamoDB applied times out: the caller sees only the second answer."""

    def __init__(self, dynamodb) -> None:
        self._dynamodb = dynamodb
        self.sent = 0

    def update_item(self, **params):
        self.sent += 1
        if self.sent == 1:
            self._dynamodb.update_item(**params)  # applied; its answer is lost
        return self._dynamodb.update_item(**params)

    def __getattr__(self, name):
        return getattr(self._dynamodb, name)


def test_a_claim_applied_whose_answer_was_lost_is_still_this_attempts_claim(store):
    retried = RetriedAfterItsAnswerWasLost(store._dynamodb)
    flaky = AssignmentStore("claims", retried)

    claim = flaky.claim(request(), T0)

    assert claim is not None and claim.attempts == 1  # not mistaken for another worker's claim
    assert status(store) == "in_progress"
    # and another attempt meanwhile still finds the ticket held
    assert store.claim(request(), T0 + 1) is None
