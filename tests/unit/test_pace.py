"""The per-account pace of ticket updates (assignment/pace.py): the fixed window, its jitter, sharing between
workers, a 429's Retry-After filling the budget, and when a worker consults it at all.

The pace is a DynamoDB conditional write; as in test_claims.py it runs on moto's in-process `mock_aws` with the table
from template.yaml, and every time is passed in: the clock is the test's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from round_robin.assignment.pace import Pace
from round_robin.aws.queue import AssignmentRequest
from round_robin.zendesk.client import RateLimits
from tests.support.table import create_template_table

T0 = 1_800_000_000.0  # a multiple of the windows below: a window starts here


@pytest.fixture
def dynamodb() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(client, "pace")
        yield client


def pace(dynamodb, limit: int = 10, window: float = 10.0, seed: int = 7) -> Pace:
    return Pace("pace", dynamodb, limit=limit, window=window, rng=random.Random(seed))


def test_windows_are_aligned_so_that_every_worker_agrees_on_the_current_one(dynamodb):
    worker = pace(dynamodb)
    assert worker.window_start(T0) == worker.window_start(T0 + 9.99) == T0
    assert worker.window_start(T0 + 10) == T0 + 10


def test_a_window_grants_its_limit_and_postpones_the_rest_into_the_windows_their_place_falls_in(dynamodb):
    worker = pace(dynamodb, limit=10, window=10.0)
    now = T0 + 3

    answers = [worker.take("acme", now) for _ in range(25)]

    assert answers[:10] == [now] * 10
    assert all(T0 + 10 <= at < T0 + 20 for at in answers[10:20])  # the next window
    assert all(T0 + 20 <= at < T0 + 30 for at in answers[20:])  # the one after
    assert len(set(answers[10:20])) == 10  # jittered across the window: they do not come back at once


def test_a_new_window_starts_a_new_count(dynamodb):
    worker = pace(dynamodb, limit=2)
    assert [worker.take("acme", T0) for _ in range(3)][2] > T0

    assert worker.take("acme", T0 + 10) == T0 + 10
    assert pace(dynamodb, limit=2).take("acme", T0 + 10.5) == T0 + 10.5  # another worker, the same window
    assert worker.take("acme", T0 + 11) >= T0 + 20


def test_every_worker_shares_the_account_budget_and_accounts_are_apart(dynamodb):
    first, second = pace(dynamodb, limit=3), pace(dynamodb, limit=3, seed=8)
    assert [first.take("acme", T0) for _ in range(2)] == [T0, T0]

    assert second.take("acme", T0) == T0  # the second worker guessed a new window: wrong, and still right
    assert first.take("acme", T0) >= T0 + 10 and second.take("acme", T0) >= T0 + 10
    assert second.take("globex", T0) == T0


def test_a_429s_retry_after_fills_the_budget_for_every_worker_until_it_ends(dynamodb):
    refused, other = pace(dynamodb), pace(dynamodb, seed=8)

    back = refused.block("acme", T0 + 30, T0)

    assert T0 + 30 <= back <= T0 + 40  # until Retry-After, plus up to a window of jitter
    assert refused.blocked_until("acme", T0) == T0 + 30  # this worker waits without a call
    assert other.blocked_until("acme", T0) is None  # the other learns of it from the budget:
    assert T0 + 30 <= other.take("acme", T0 + 1) <= T0 + 40
    assert other.blocked_until("acme", T0 + 1) == T0 + 30 and other.pressed("acme", T0 + 35)
    refused.block("acme", T0 + 5, T0)  # an earlier end never shortens it
    assert T0 + 30 <= pace(dynamodb, seed=9).take("acme", T0 + 2) <= T0 + 40
    assert other.take("acme", T0 + 31) == T0 + 31  # over: a slot again


def test_the_budget_is_consulted_only_when_it_runs_low_or_after_a_429(dynamodb):
    worker = pace(dynamodb, limit=8, window=10.0)
    assert not worker.pressed("acme", T0)

    for _ in range(6):  # 6 of 8 used: a quarter left, still plenty
        worker.take("acme", T0)
    assert not worker.pressed("acme", T0)
    worker.take("acme", T0)  # 7 of 8: less than a quarter left
    assert worker.pressed("acme", T0 + 19) and not worker.pressed("acme", T0 + 20)  # until the next window ends

    worker.observe("globex", RateLimits(limit=700, remaining=176), T0)
    assert not worker.pressed("globex", T0)
    worker.observe("globex", RateLimits(limit=700, remaining=174), T0)  # Zendesk's headers: under a quarter left
    assert worker.pressed("globex", T0 + 9) and not worker.pressed("globex", T0 + 10)
    worker.observe("initech", RateLimits(), T0)  # no headers: nothing known, nothing pressed
    assert not worker.pressed("initech", T0)


def test_the_jitter_spreads_a_postponement_over_one_window_after_its_time(dynamodb):
    worker = pace(dynamodb, window=60.0)
    times = [worker.spread(T0) for _ in range(200)]
    assert all(T0 <= t <= T0 + 60 for t in times)
    assert max(times) - min(times) > 30  # spread, not bunched


def test_after_a_short_retry_after_the_jitter_is_as_short_and_never_under_a_second(dynamodb):
    worker = pace(dynamodb, window=60.0)
    backs = [worker.block("acme", T0 + 3, T0) for _ in range(50)]
    assert all(T0 + 3 <= t <= T0 + 6 for t in backs) and len(set(backs)) > 1
    assert all(T0 <= worker.spread(T0, 0.2) <= T0 + 1 for _ in range(50))


@pytest.mark.parametrize("limit, window", [(0, 60.0), (10, 0.0)])
def test_a_pace_without_room_is_refused(dynamodb, limit, window):
    with pytest.raises(ValueError):
        Pace("pace", dynamodb, limit=limit, window=window)


def test_a_request_carries_its_wait_and_older_messages_still_read():
    request = AssignmentRequest("acme", 5, "webhook", T0, not_before=T0 + 12.5)
    assert AssignmentRequest.from_json(request.to_json()) == request
    plain = AssignmentRequest("acme", 5, "webhook", T0)
    assert "not_before" not in plain.to_json() and AssignmentRequest.from_json(plain.to_json()) == plain


def test_a_worker_that_saw_the_window_spent_knows_it_without_a_call_until_the_next_window(dynamodb):
    worker = pace(dynamodb, limit=2, window=10.0)
    now = T0 + 3
    assert [worker.take("acme", now) for _ in range(2)] == [now, now]
    assert not worker.spent("acme", now)

    assert worker.take("acme", now) > now

    assert worker.spent("acme", now) and not worker.spent("beta", now)
    assert not worker.spent("acme", T0 + 10)  # a new window: the budget is consulted again
