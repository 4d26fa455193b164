"""The scheduled maintenance fanned out: the dispatcher (refresh_tokens, with EventBridge Scheduler's inputs from
tests/events/scheduler_*.json) queues one job per connected account on the maintenance queue, and the consumer
(maintain_account) maintains each account from its job, as Lambda's SQS event source delivers them."""

from __future__ import annotations

import json
import time
from typing import Any

from round_robin import wiring
from round_robin.accounts.registry import AccountRegistry
from round_robin.assignment.claims import ASSIGNED, WAITING, Outcome
from round_robin.aws.queue import AssignmentRequest, MaintenanceJob
from round_robin.errors import StorageError
from tests.integration.flows import seed_connected_account
from tests.support.lambda_env import LambdaContext, load_handler, sample_event
from tests.support.logs import captured_logs


def dispatch(event: dict[str, Any] | None = None) -> dict[str, Any]:
    return load_handler("refresh_tokens").lambda_handler(event or sample_event("scheduler_maintenance"),
                                                         LambdaContext(remaining_ms=60_000))


def received_jobs(aws_env) -> list[dict[str, Any]]:
    """The queued jobs as Lambda's event source hands them to the consumer (SQS records), taken off the queue."""
    records = []
    while answer := aws_env.sqs.receive_message(QueueUrl=aws_env.maintenance_queue_url, MaxNumberOfMessages=10,
                                                AttributeNames=["All"]).get("Messages"):
        for message in answer:
            records.append({"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                            "body": message["Body"], "attributes": message["Attributes"], "messageAttributes": {},
                            "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rr-test-maintenance",
                            "awsRegion": "us-east-1"})
            aws_env.sqs.delete_message(QueueUrl=aws_env.maintenance_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return records


def consume(records: list[dict[str, Any]]) -> dict[str, Any]:
    return load_handler("maintain_account").lambda_handler({"Records": records}, LambdaContext(remaining_ms=120_000))


def connect_more(zendesk, *subdomains: str) -> None:
    for subdomain in subdomains:
        zendesk.sandbox.create_account(subdomain)
        seed_connected_account(zendesk, subdomain)
    wiring.reset()


def test_the_schedule_queues_one_job_per_connected_account_and_reports_the_broken_ones(aws_env, account):
    connect_more(account["zendesk"], "globex", "initech")
    wiring.registry().mark_needs_reconnect("initech", "revoked", time.time())

    result = dispatch()

    assert sorted(result["queued"]) == ["acme", "globex"] and result["needs_reconnect"] == ["initech"]
    jobs = [MaintenanceJob.from_json(r["body"]) for r in received_jobs(aws_env)]
    assert sorted(j.subdomain for j in jobs) == ["acme", "globex"]
    assert {j.run_at for j in jobs} == {result["run_at"]}


def test_the_least_recently_maintained_account_is_queued_first(aws_env, account):
    connect_more(account["zendesk"], "globex", "initech")
    registry = wiring.registry()
    registry.record_maintenance("acme", 2_000, refreshed=False, health="ok")
    registry.record_maintenance("initech", 1_000, refreshed=False, health="ok")

    assert dispatch()["queued"] == ["globex", "initech", "acme"]  # globex never maintained


def test_a_schedule_input_naming_other_accounts_queues_nothing(aws_env, account):
    event = {**sample_event("scheduler_maintenance_some_accounts"), "subdomains": ["globex"]}

    assert dispatch(event)["queued"] == []
    assert received_jobs(aws_env) == []


def test_every_queued_job_maintains_its_account(aws_env, account):
    connect_more(account["zendesk"], "globex")
    dispatch()

    assert consume(received_jobs(aws_env)) == {"batchItemFailures": []}

    for subdomain in ("acme", "globex"):
        maintained = wiring.registry().get(subdomain)
        assert maintained is not None and maintained.health == "ok" and maintained.health_checked_at
        assert maintained.last_maintenance is not None and maintained.last_maintenance["errors"] == 0


def test_one_accounts_failure_fails_only_its_job_which_is_retried_shortly(aws_env, account, monkeypatch):
    connect_more(account["zendesk"], "globex")
    recorded = AccountRegistry.record_maintenance

    def failing_for_globex(self, subdomain, *args, **kwargs):
        if subdomain == "globex":
            raise StorageError("recording the maintenance: throttled")
        return recorded(self, subdomain, *args, **kwargs)
    monkeypatch.setattr(AccountRegistry, "record_maintenance", failing_for_globex)
    dispatch()
    records = received_jobs(aws_env)
    changed: list[int] = []
    monkeypatch.setattr(wiring.maintenance_queue(), "delay", lambda handle, seconds: changed.append(seconds))

    with captured_logs() as logs:
        result = consume(records)

    failed = next(r["messageId"] for r in records if json.loads(r["body"])["subdomain"] == "globex")
    assert result == {"batchItemFailures": [{"itemIdentifier": failed}]}
    acme = wiring.registry().get("acme")
    assert acme is not None and acme.health_checked_at and acme.health == "ok"
    assert len(changed) == 1 and changed[0] < wiring.get_settings().maintenance_interval
    assert logs.find("account maintenance failed; retried shortly")["subdomain"] == "globex"


def test_a_job_a_newer_run_superseded_is_dropped_without_calling_zendesk(aws_env, account):
    zendesk = account["zendesk"]
    interval = wiring.get_settings().maintenance_interval
    stale = MaintenanceJob("acme", time.time() - interval - 1)
    aws_env.sqs.send_message(QueueUrl=aws_env.maintenance_queue_url, MessageBody=stale.to_json())
    before = len(zendesk.mock.calls)

    assert consume(received_jobs(aws_env)) == {"batchItemFailures": []}

    assert len(zendesk.mock.calls) == before
    maintained = wiring.registry().get("acme")
    assert maintained is not None and maintained.health_checked_at is None


def test_a_job_for_an_account_broken_since_it_was_queued_is_dropped(aws_env, account):
    dispatch()
    wiring.registry().mark_needs_reconnect("acme", "revoked", time.time())
    before = len(account["zendesk"].mock.calls)

    assert consume(received_jobs(aws_env)) == {"batchItemFailures": []}

    assert len(account["zendesk"].mock.calls) == before


def test_an_unreadable_job_is_dropped_and_counted(aws_env, account):
    aws_env.sqs.send_message(QueueUrl=aws_env.maintenance_queue_url, MessageBody='{"subdomain": 7}')

    with captured_logs() as logs:
        assert consume(received_jobs(aws_env)) == {"batchItemFailures": []}

    assert logs.find("unreadable maintenance job dropped")


def test_the_schedule_deletes_the_dead_letters_of_tickets_assigned_since_and_keeps_the_rest(aws_env, account,
                                                                                            monkeypatch):
    # given dead letters: a ticket assigned since (by the sweep), one still waiting, a reassignment not done, one
    # unreadable message
    dlq = aws_env.sqs.create_queue(QueueName="rr-test-assignments-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    wiring.reset()
    store, now = wiring.assignment_store(), time.time()
    for ticket_id, outcome in ((1, Outcome(ASSIGNED)), (2, Outcome(WAITING, "all_away", group_id="*"))):
        claim = store.claim(AssignmentRequest("acme", ticket_id, "webhook", now), now)
        store.finish("acme", ticket_id, claim, outcome, now)
    bodies = [AssignmentRequest("acme", 1, "webhook", now).to_json(),
              AssignmentRequest("acme", 2, "webhook", now).to_json(),
              AssignmentRequest("acme", 1, "absence", now, reassign_from=7).to_json(),
              "not a request"]
    for body in bodies:
        aws_env.sqs.send_message(QueueUrl=dlq, MessageBody=body)

    # when the schedule runs
    result = dispatch()

    # then only the assigned ticket's message is gone; the others are visible again at once
    assert result["dead_letters_deleted"] == 1
    left = aws_env.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert sorted(m["Body"] for m in left) == sorted(bodies[1:])


def test_the_schedule_also_deletes_batch_modes_dead_letters_of_tickets_assigned_since(aws_env, account, monkeypatch):
    dlq = aws_env.sqs.create_queue(QueueName="rr-test-assignments-dlq")["QueueUrl"]
    batch_dlq = aws_env.sqs.create_queue(QueueName="rr-test-batch-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    monkeypatch.setenv("BATCH_DEAD_LETTER_QUEUE_URL", batch_dlq)
    wiring.reset()
    store, now = wiring.assignment_store(), time.time()
    claim = store.claim(AssignmentRequest("acme", 1, "webhook", now), now)
    store.finish("acme", 1, claim, Outcome(ASSIGNED), now)
    aws_env.sqs.send_message(QueueUrl=batch_dlq, MessageBody=AssignmentRequest("acme", 1, "webhook", now).to_json())

    assert dispatch()["dead_letters_deleted"] == 1
    assert aws_env.sqs.receive_message(QueueUrl=batch_dlq, VisibilityTimeout=0).get("Messages", []) == []
    assert wiring.dead_letter_count() == 0


def test_naming_accounts_leaves_the_dead_letters_alone(aws_env, account, monkeypatch):
    dlq = aws_env.sqs.create_queue(QueueName="rr-test-assignments-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    wiring.reset()
    store, now = wiring.assignment_store(), time.time()
    store.finish("acme", 1, store.claim(AssignmentRequest("acme", 1, "webhook", now), now), Outcome(ASSIGNED), now)
    aws_env.sqs.send_message(QueueUrl=dlq, MessageBody=AssignmentRequest("acme", 1, "webhook", now).to_json())

    # a run for some accounts only (an operator's) leaves the shared dead-letter queue to the scheduled run
    assert dispatch({"subdomains": ["acme"]})["dead_letters_deleted"] == 0
    assert aws_env.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_a_job_near_its_timeout_refreshes_and_checks_health_but_starts_no_optional_step(aws_env, account):
    # given an invocation with 10 s left (under the 40 s an optional step needs to start)
    maintainer = wiring.maintainer()
    searches = len(account["zendesk"].calls("GET", "/search"))

    report = maintainer.maintain(wiring.registry().get("acme"), time_left=lambda: 10.0)

    # then health ran, the sweep did not, and the run says what was left for the next one
    assert report.health == "ok" and report.swept == 0
    assert len(account["zendesk"].calls("GET", "/search")) == searches
    assert any(e.startswith("OutOfTime: absences") for e in report.errors)
    assert wiring.registry().get("acme").last_maintenance is not None  # recorded, not cut by a timeout


def test_a_job_with_time_left_runs_every_step(aws_env, account):
    searches = len(account["zendesk"].calls("GET", "/search"))

    report = wiring.maintainer().maintain(wiring.registry().get("acme"), time_left=lambda: 100.0)

    assert not report.errors and len(account["zendesk"].calls("GET", "/search")) > searches


def test_done_dead_letters_behind_more_than_a_receive_of_kept_ones_are_deleted_too(aws_env, account, monkeypatch):
    # given 15 dead letters still needed (waiting tickets), then 10 of tickets assigned since
    dlq = aws_env.sqs.create_queue(QueueName="rr-test-assignments-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    wiring.reset()
    store, now = wiring.assignment_store(), time.time()
    for ticket_id in range(1, 26):
        outcome = Outcome(WAITING, "all_away", group_id="*") if ticket_id <= 15 else Outcome(ASSIGNED)
        store.finish("acme", ticket_id, store.claim(AssignmentRequest("acme", ticket_id, "webhook", now), now),
                     outcome, now)
        aws_env.sqs.send_message(QueueUrl=dlq, MessageBody=AssignmentRequest("acme", ticket_id, "webhook",
                                                                             now).to_json())

    assert dispatch()["dead_letters_deleted"] == 10

    left = []
    while answer := aws_env.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages"):
        left += [AssignmentRequest.from_json(m["Body"]).ticket_id for m in answer]
    assert sorted(left) == list(range(1, 16))  # the kept ones, handed back visible
