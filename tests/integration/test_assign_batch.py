"""Batch mode in-process (assignment/batch.py): the batch worker over SQS events, AWS via moto, Zendesk via the
sandbox; the assignment worker handing rate-limited tickets over."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from round_robin import wiring
from round_robin.assignment.batch import BatchAssigner
from round_robin.assignment.claims import (
    ASSIGNED,
    DIVERTED,
    PARKED,
    POSTPONED,
    SKIPPED,
    TO_SINGLE,
)
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import ConnectionBrokenError
from round_robin.zendesk.client import ZendeskClient
from tests.integration.helpers import assignee, counts, new_ticket, position, record, request_for
from tests.integration.test_assign_ticket import count_dynamodb_calls
from tests.support.lambda_env import LambdaContext, load_handler
from tests.support.logs import captured_logs

BATCH_ARN = "arn:aws:sqs:us-east-1:123456789012:rr-test-batch"


@pytest.fixture
def batch_url(aws_env, monkeypatch) -> str:
    """Batch mode on: the batch queue exists and the functions are told about it."""
    url = aws_env.sqs.create_queue(QueueName="rr-test-batch")["QueueUrl"]
    monkeypatch.setenv("BATCH_QUEUE_URL", url)
    wiring.reset()
    return url


def queue_for_batch(aws_env, batch_url: str, ticket_ids: list[int]) -> None:
    wiring.batch_queue().send_all([request_for(t) for t in ticket_ids])


def run_batch_worker(aws_env, batch_url: str) -> list[dict[str, Any]]:
    """Deliver the batch queue to the batch worker as Lambda's poller does (up to 100 messages an invocation,
    successes deleted) until it is empty; the invocations' answers."""
    handler = load_handler("assign_batch")
    answers = []
    while True:
        messages: list[dict[str, Any]] = []
        while len(messages) < 100:
            got = aws_env.sqs.receive_message(QueueUrl=batch_url, MaxNumberOfMessages=10,
                                              AttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            messages += got
        if not messages:
            return answers
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                              "eventSource": "aws:sqs", "eventSourceARN": BATCH_ARN, "awsRegion": "us-east-1"}
                             for m in messages]}
        answer = handler.lambda_handler(event, LambdaContext(remaining_ms=150_000))
        answers.append(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                aws_env.sqs.delete_message(QueueUrl=batch_url, ReceiptHandle=message["ReceiptHandle"])


def zendesk_calls(account, start: int = 0) -> Counter:
    """The service's Zendesk calls since `start`, by kind."""
    kinds: Counter = Counter()
    for call in account["zendesk"].mock.calls[start:]:
        url = call.request.url.split("?")[0]
        kind = next((k for k in ("show_many", "update_many", "job_statuses", "oauth") if k in url), None)
        kinds[kind or f"{call.request.method} other"] += 1
    return kinds


def test_a_burst_of_120_tickets_is_assigned_in_batches_once_each_fair_within_the_call_budget(aws_env, account,
                                                                                            batch_url, capsys):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(120)]
    queue_for_batch(aws_env, batch_url, ticket_ids)
    zendesk_start = len(account["zendesk"].mock.calls)
    dynamodb = count_dynamodb_calls()

    answers = run_batch_worker(aws_env, batch_url)
    dynamodb_calls, calls = dict(dynamodb), zendesk_calls(account, zendesk_start)  # before the checks read more

    assert [a["batchItemFailures"] for a in answers] == [[], []]  # two invocations: 100, then 20
    per_agent = Counter(assignee(account, t) for t in ticket_ids)
    assert None not in per_agent and len(per_agent) == 3  # Ada, Ben, Cleo: the Support agents who take tickets
    assert max(per_agent.values()) - min(per_agent.values()) <= 1
    assert all(record(t)["status"] == "assigned" for t in ticket_ids)
    assert position(aws_env, account["groups"]["Support"]) == 120  # the rotation moved once per ticket
    assert counts(account, "Ben Agent") == (per_agent[account["users"]["Ben Agent"]],) * 2
    assert calls["update_many"] == 2 and calls["show_many"] == 4  # a re-read before each job, a check after it
    assert calls["PUT other"] == 0 and calls["GET other"] == 0  # no single ticket read or written
    zendesk_per_ticket = sum(calls.values()) / 120
    dynamodb_per_ticket = sum(dynamodb_calls.values()) / 120
    print(f"batch of 120: Zendesk {dict(calls)} = {zendesk_per_ticket:.3f}/ticket; "
          f"DynamoDB {dynamodb_calls} = {dynamodb_per_ticket:.3f}/ticket")
    assert zendesk_per_ticket <= 0.1
    assert dynamodb_per_ticket <= 2.5
    out = capsys.readouterr().out  # the per-job figures, as metrics (one line of metrics per invocation)
    assert '"BatchJobs":[1.0]' in out and '"TicketsAssigned":[' in out and '"BatchJobFailedTickets":[0.0]' in out


class Meanwhile:
    """A Zendesk client that runs `before_job` right before the update_many PUT, and `after_job` once the job's
    status first reads completed (people acting while the batch runs)."""

    def __init__(self, client: ZendeskClient, before_job=None, after_job=None, jobs=None) -> None:
        self._client = client
        self._before, self._after = before_job, after_job
        self._jobs = jobs if jobs is not None else []  # the bodies of the update_many PUTs

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put(self, path, body):
        if "update_many" in path:
            self._jobs.append(body)
            if self._before is not None:
                before, self._before = self._before, None
                before()
        return self._client.put(path, body)

    def get(self, path, params=None):
        answer = self._client.get(path, params)
        if "job_statuses" in path and answer["job_status"]["status"] == "completed" and self._after is not None:
            after, self._after = self._after, None
            after()
        return answer


def batch_assigner(**meanwhile) -> BatchAssigner:
    """The wiring's batch assigner, its Zendesk clients wrapped in Meanwhile."""
    made = wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=0)
    return BatchAssigner(store=wiring.assignment_store(), selector=wiring.selector(), tokens=wiring.tokens(),
                         zendesk=lambda sub, auth: Meanwhile(made(sub, auth), **meanwhile),  # type: ignore[arg-type]
                         single=lambda requests: wiring.queue().send_all(requests))


def by_person(account, ticket_id: int, **fields) -> None:
    """A person changes the ticket in Zendesk (a newer updated_at)."""
    sandbox = account["zendesk"].sandbox
    with sandbox.lock:
        sandbox.clock.offset += 1
        account["model"].tickets[ticket_id].update({**fields, "updated_at": sandbox.clock.iso()})


def test_one_ticket_the_job_fails_goes_to_the_single_path_and_the_rest_are_assigned(aws_env, account, batch_url):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(6)]
    closed = ticket_ids[2]
    assigner = batch_assigner(before_job=lambda: by_person(account, closed, status="closed"))

    results = assigner.assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))

    assert [r.status for r in results] == [ASSIGNED, ASSIGNED, TO_SINGLE, ASSIGNED, ASSIGNED, ASSIGNED]
    (figures,) = assigner.figures
    assert (figures.update_many, figures.show_many, figures.failed) == (1, 2, 1)
    assert record(closed)["status"] == "pending" and record(closed)["agent_id"]  # released, its agent kept
    (handed,) = aws_env.take_queued()
    assert handed["ticket_id"] == closed
    # the single path re-reads it: closed, so it is skipped and its count given back
    outcome = wiring.assigner().assign(AssignmentRequest.from_json(json.dumps(handed)))
    assert (outcome.status, outcome.reason) == (SKIPPED, "ticket_closed")
    open_counts = sum(counts(account, name)[0] for name in ("Ada Admin", "Ben Agent", "Cleo Agent"))
    assert open_counts == 5


def test_a_ticket_skipped_before_the_job_is_recorded_before_the_job_runs(aws_env, account, batch_url):
    # a late webhook, or a wake, must find it finished while the job (up to 90 s) is still followed
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(3)]
    early = ticket_ids[0]
    by_person(account, early, assignee_id=account["users"]["Cleo Agent"], status="open")
    seen: list[str] = []
    assigner = batch_assigner(before_job=lambda: seen.append(record(early)["status"]))

    results = assigner.assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))

    assert seen == [SKIPPED]
    assert [r.status for r in results] == [SKIPPED, ASSIGNED, ASSIGNED]


def test_tickets_people_assigned_before_or_after_the_job_are_left_to_them(aws_env, account, batch_url):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(4)]
    ben, cleo = account["users"]["Ben Agent"], account["users"]["Cleo Agent"]
    early, late = ticket_ids[0], ticket_ids[3]
    by_person(account, early, assignee_id=cleo, status="open")  # before the batch re-reads it
    sent: list[Any] = []

    def late_person():  # after the job assigned it, before the batch checks it
        by_person(account, late, assignee_id=ben)

    assigner = batch_assigner(after_job=late_person, jobs=sent)

    results = assigner.assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))

    assert (results[0].status, results[0].reason) == (SKIPPED, "already_assigned")
    assert assignee(account, early) == cleo and early not in [t["id"] for t in sent[0]["tickets"]]
    assert (results[3].status, results[3].reason) == (ASSIGNED, "changed_after_batch")
    assert assignee(account, late) == ben  # never written again
    assert [r.status for r in results[1:3]] == [ASSIGNED, ASSIGNED]
    # every ticket of the job carries safe_update with the updated_at re-read right before it
    stamps = {t["id"]: t["updated_stamp"] for t in sent[0]["tickets"]}
    assert all(t["safe_update"] is True for t in sent[0]["tickets"])
    assert stamps[ticket_ids[1]] == account["model"].tickets[ticket_ids[1]]["created_at"]


def test_a_rate_limited_ticket_is_handed_to_batch_mode_with_its_agent_kept(aws_env, account, batch_url, capsys):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=1,
                                headers={"Retry-After": "40"}, body={"error": "APIRateLimitExceeded"})

    with captured_logs() as logs:
        outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert outcome.status == DIVERTED and outcome.choice.agent.name == "Ada Admin"
    assert logs.find("batch mode on for acme")["subdomain"] == "acme"
    pending = record(ticket["id"])
    assert pending["status"] == "pending" and pending["agent_id"] == account["users"]["Ada Admin"]
    assert run_batch_worker(aws_env, batch_url) == [{"batchItemFailures": []}]
    assert assignee(account, ticket["id"]) == account["users"]["Ada Admin"]  # the agent taken first
    assert position(aws_env, account["groups"]["Support"]) == 1  # nobody skipped, nobody counted twice
    assert counts(account, "Ada Admin") == (1, 1)
    assert '"BatchModeTickets"' in capsys.readouterr().out


def test_a_ticket_that_keeps_coming_back_is_no_longer_diverted(aws_env, account, batch_url):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=10,
                                headers={"Retry-After": "40"})
    assigner = wiring.assigner()
    request = request_for(ticket["id"])
    assert assigner.assign(request).status == DIVERTED
    # given back by batch mode (or postponed before): it waits for a slot of the budget, never diverted again
    assert assigner.assign(replace(request, not_before=time.time())).status == POSTPONED


def test_a_ticket_claimed_too_often_is_no_longer_diverted(aws_env, account, batch_url, monkeypatch):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=429, times=10,
                                headers={"Retry-After": "40"})
    assigner = wiring.assigner()
    monkeypatch.setattr(assigner, "_pace", None)  # no shared budget: the claim count alone bounds the bounce
    statuses = [assigner.assign(request_for(ticket["id"])).status for _ in range(4)]
    assert statuses == [DIVERTED, DIVERTED, DIVERTED, POSTPONED]


def test_too_many_jobs_requeues_the_batch_with_claims_released_and_the_retry_assigns(aws_env, account, batch_url,
                                                                                     capsys):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(3)]
    account["zendesk"].override("PUT", r"/tickets/update_many", status=429, times=1, headers={"Retry-After": "10"},
                                body={"error": "TooManyJobs", "description": "Too many jobs in flight"})
    queue_for_batch(aws_env, batch_url, ticket_ids)
    handler = load_handler("assign_batch")
    messages = aws_env.sqs.receive_message(QueueUrl=batch_url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"])["Messages"]
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m["Attributes"]} for m in messages]}

    answer = handler.lambda_handler(event, LambdaContext(remaining_ms=150_000))

    # a rate limit is no failure: each ticket is queued again as a new message (a fresh receive count), delayed
    assert answer["batchItemFailures"] == []
    assert all(record(t)["status"] == "pending" and record(t)["agent_id"] for t in ticket_ids)
    attributes = aws_env.sqs.get_queue_attributes(QueueUrl=batch_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "3"
    out = capsys.readouterr().out
    assert '"AssignmentPostponed"' in out and '"AssignmentRetried"' not in out and '"AssignmentFailed"' not in out
    results = wiring.batch_assigner().assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))
    assert [r.status for r in results] == [ASSIGNED] * 3
    assert position(aws_env, account["groups"]["Support"]) == 3  # the agents chosen first were kept


def test_a_broken_connection_parks_the_batch_as_the_single_path_does(aws_env, account, batch_url, monkeypatch):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(2)]

    def broken(subdomain: str) -> str:
        raise ConnectionBrokenError(subdomain, "invalid_grant")

    monkeypatch.setattr(wiring.tokens(), "authorization", broken)

    results = wiring.batch_assigner().assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))

    assert [(r.status, r.reason) for r in results] == [(PARKED, "invalid_grant")] * 2
    assert all(record(t)["status"] == "parked" for t in ticket_ids)


def test_a_group_without_a_roster_yet_goes_to_the_single_path_which_imports_it(aws_env, account, batch_url):
    zendesk = account["zendesk"]
    night = zendesk.sandbox.add_group(account["model"], "Night shift")
    zendesk.sandbox.add_membership(account["model"], account["users"]["Eve Agent"], night["id"])
    ticket = zendesk.app.create_ticket(account["model"], {"subject": "Late", "group_id": night["id"]},
                                       account["users"]["Hana Customer"], channel="web")
    support = new_ticket(account, "Support")["id"]

    results = wiring.batch_assigner().assign_all([request_for(ticket["id"]), request_for(support)],
                                                 deadline=float("inf"))

    assert [r.status for r in results] == [TO_SINGLE, ASSIGNED]
    (handed,) = aws_env.take_queued()
    outcome = wiring.assigner().assign(AssignmentRequest.from_json(json.dumps(handed)))
    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Eve Agent"


def test_a_job_not_done_by_the_deadline_keeps_its_claims_and_its_retry_finds_the_job_done(aws_env, account,
                                                                                         batch_url):
    ticket_ids = [new_ticket(account, "Support")["id"] for _ in range(3)]

    results = wiring.batch_assigner().assign_all([request_for(t) for t in ticket_ids], deadline=0.0)

    # not released: no other attempt chooses again while the job may still assign its agents
    assert [(r.reason, r.delay) for r in results] == [("batch_job_running", 135.0)] * 3
    chosen = {t: record(t)["agent_id"] for t in ticket_ids}
    assert all(record(t)["status"] == "in_progress" for t in ticket_ids)
    deadline = time.monotonic() + 30
    while not all(assignee(account, t) for t in ticket_ids):  # the sandbox runs the job in a thread
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(0.05)  # polling, bounded by the deadline
    # the retry comes after the claims' lease: it takes them over and records the job's assignments
    later = BatchAssigner(store=wiring.assignment_store(), selector=wiring.selector(), tokens=wiring.tokens(),
                          zendesk=wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=0),
                          single=lambda requests: wiring.queue().send_all(requests),
                          clock=lambda: time.time() + 136)
    retried = later.assign_all([request_for(t) for t in ticket_ids], deadline=float("inf"))
    assert [r.status for r in retried] == [ASSIGNED] * 3
    assert {t: assignee(account, t) for t in ticket_ids} == chosen
    assert position(aws_env, account["groups"]["Support"]) == 3  # chosen once each


def test_a_worker_that_saw_the_budget_spent_hands_new_tickets_to_batch_mode_without_a_call(aws_env, account,
                                                                                          batch_url, monkeypatch):
    monkeypatch.setenv("PACE_TICKET_UPDATES", "2")
    monkeypatch.setenv("PACE_WINDOW_SECONDS", "600")  # the whole test within one window
    wiring.reset()
    pace, now = wiring.pace(), time.time()
    assert [pace.take("acme", now) <= now for _ in range(3)] == [True, True, False]  # this worker saw it spent
    ticket = new_ticket(account)
    calls = count_dynamodb_calls()

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    # no slot reserved for a ticket that batch mode assigns, no claim: batch mode claims it
    assert (outcome.status, outcome.reason) == (DIVERTED, "paced")
    assert sum(calls.values()) == 0 and record(ticket["id"]) is None
    assert json.loads(aws_env.sqs.receive_message(QueueUrl=batch_url)["Messages"][0]["Body"])["ticket_id"] == \
        ticket["id"]


def test_a_ticket_queued_longer_than_batch_after_goes_to_batch_mode_and_a_fresh_one_is_assigned_at_once(
        aws_env, account, batch_url):
    old, fresh = new_ticket(account)["id"], new_ticket(account)["id"]
    calls = count_dynamodb_calls()

    backlog = wiring.assigner().assign(AssignmentRequest("acme", old, "webhook", time.time() - 11))

    # single updates are not keeping up (a burst): batch mode claims it, nothing is spent here
    assert (backlog.status, backlog.reason) == (DIVERTED, "backlog") and sum(calls.values()) == 0
    assert json.loads(aws_env.sqs.receive_message(QueueUrl=batch_url)["Messages"][0]["Body"])["ticket_id"] == old
    assert wiring.assigner().assign(AssignmentRequest("acme", fresh, "webhook", time.time() - 2)).status == ASSIGNED
    # one given back by batch mode (not_before set) waits for its turn here, however long it has been queued
    given_back = AssignmentRequest("acme", old, "webhook", time.time() - 60, not_before=time.time())
    assert wiring.assigner().assign(given_back).status == ASSIGNED
