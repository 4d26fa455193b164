"""The batch worker, consumer of the batch queue: assigns up to a hundred queued tickets with one Zendesk job per
account (see round_robin/assignment/batch.py). A ticket that cannot finish now has its message delayed by a backoff
or Zendesk's Retry-After and reported as a batch item failure; the others' messages are deleted. A rate limit (429,
TooManyJobs) is never a failure: the ticket is queued again as a new delayed message, so SQS's receive count, which
leads to the dead-letter queue, does not grow with it.
"""

import time

from round_robin import wiring
from round_robin.assignment.batch import JOB_RUNNING
from round_robin.assignment.claims import ASSIGNED, PARKED, TO_SINGLE, WAITING, RetryLaterError
from round_robin.aws.queue import AssignmentRequest, backoff
from round_robin.errors import StorageError
from round_robin.observability import MetricUnit, count_by, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
TIME_RESERVE_S = 20.0  # left for recording the outcomes after following a job
MAX_FOLLOW_S = 90.0  # a job is followed at most this long: the claims' lease is 120 s (claims.CLAIM_LEASE)
_METRICS = {ASSIGNED: "TicketsAssigned", WAITING: "TicketsWaiting", TO_SINGLE: "BatchTicketsToSingle"}


def _requests(records: list[dict]) -> tuple[list[dict], list[AssignmentRequest]]:
    """The readable records and their requests; an unreadable message is dropped (logged and counted)."""
    kept, requests = [], []
    for record in records:
        try:
            requests.append(AssignmentRequest.from_json(record["body"]))
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable queue message dropped", message_id=record.get("messageId"))
            metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
            continue
        kept.append(record)
    return kept, requests


def _requeued(request: AssignmentRequest, error: RetryLaterError) -> bool:
    """A rate limit, or a job still running (its claims kept until their lease ends): queue the ticket again,
    delayed, as a new message (True); False if not queued. Neither is a failure."""
    if error.reason not in ("rate_limited", JOB_RUNNING):
        return False
    delay = error.delay if error.delay is not None else backoff(1)
    try:
        wiring.batch_queue().send(request, delay)
    except StorageError:  # this message is retried instead (one receive more)
        return False
    count_by("AssignmentPostponed", "reason", error.reason)
    logger.info("batch assignment postponed", reason=error.reason, subdomain=request.subdomain,
                ticket_id=request.ticket_id, wait_seconds=round(delay, 1))
    return True


def _postpone(record: dict, request: AssignmentRequest, error: RetryLaterError) -> None:
    receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    metrics.add_metric(name="AssignmentRetried", unit=MetricUnit.Count, value=1)
    if receive_count >= settings.max_receive_count:
        metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
        logger.error("ticket not assigned after every retry; its message goes to the dead-letter queue",
                     subdomain=request.subdomain, ticket_id=request.ticket_id, reason=error.reason)
        return
    delay = error.delay if error.delay is not None else backoff(receive_count)
    logger.warning("batch assignment postponed", subdomain=request.subdomain, ticket_id=request.ticket_id,
                   reason=error.reason, retry_in=round(delay, 1), attempt=receive_count)
    try:
        wiring.batch_queue().delay(record["receiptHandle"], delay)
    except StorageError:  # visible again after the queue's visibility timeout instead
        logger.warning("could not delay the message", ticket_id=request.ticket_id)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    records, requests = _requests(event.get("Records") or [])
    follow = min(MAX_FOLLOW_S, context.get_remaining_time_in_millis() / 1000 - TIME_RESERVE_S)
    results = wiring.batch_assigner().assign_all(requests, time.time() + follow)
    failures = []
    for record, request, result in zip(records, requests, results, strict=True):
        if isinstance(result, RetryLaterError):
            if _requeued(request, result):
                continue
            _postpone(record, request, result)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        metrics.add_metric(name=_METRICS.get(result.status, "AssignmentSkipped"), unit=MetricUnit.Count, value=1)
        if result.status == PARKED:
            logger.error("ticket parked: the connection is broken, reconnect the account", reason=result.reason,
                         subdomain=request.subdomain, ticket_id=request.ticket_id)
            wiring.alerts().broken(request.subdomain, result.reason, since=time.time())
    return {"batchItemFailures": failures}
