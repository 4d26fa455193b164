"""The assignment worker, consumer of the assignment queue: assigns each queued ticket exactly once (see
round_robin/assignment/assigner.py), delaying a message by a backoff when it cannot finish now. A rate limit (the
account's shared budget spent, or Zendesk's 429) is never a failure: the assigner queues the ticket again as a new
message delayed until its time (POSTPONED), and this one is deleted as handled, so it never nears the dead-letter
limit. Every failure of one record is logged with its ticket id and reported as that record's batch failure.
Its sibling webhook.py receives Zendesk's deliveries and queues them.
"""

import time

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from round_robin import wiring
from round_robin.assignment.claims import ASSIGNED, DIVERTED, PARKED, POSTPONED, WAITING, RetryLaterError
from round_robin.aws.queue import AssignmentRequest, backoff
from round_robin.errors import StorageError
from round_robin.observability import MetricUnit, count_by, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
# A batch whose every ticket was postponed is not a function error: each message already carries its delay.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# A ticket is not started with less than this left of the invocation: an attempt can take a token refresh (up to
# three calls to Zendesk's token endpoint) and the ticket's calls, and Lambda must not stop it between a grant
# and storing the new tokens. The rest of the batch comes back at once, as new.
TIME_RESERVE_MS = 15_000
TOO_LATE_DELAY = 1.0


class NotStartedError(Exception):
    """The invocation has too little time left to start this ticket."""


def assign_record(record: SQSRecord, lambda_context=None) -> None:
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() < TIME_RESERVE_MS:
        wiring.queue().delay(record.receipt_handle, TOO_LATE_DELAY)
        raise NotStartedError("too little time left in this invocation; the ticket is retried at once")
    try:
        request = AssignmentRequest.from_json(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("unreadable queue message dropped", message_id=record.message_id)
        metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
        return
    logger.append_keys(subdomain=request.subdomain, ticket_id=request.ticket_id)
    receive_count = int(record.attributes.approximate_receive_count)
    started = time.time()
    try:
        outcome = wiring.assigner().assign(request)
    except (RetryLaterError, StorageError) as exc:
        metrics.add_metric(name="AssignmentRetried", unit=MetricUnit.Count, value=1)
        if receive_count >= settings.max_receive_count:
            metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
            logger.error("ticket not assigned after every retry; its message goes to the dead-letter queue",
                         reason=str(exc), attempts=receive_count)
            raise
        delay = getattr(exc, "delay", None)
        if delay is None:
            delay = backoff(receive_count)
        logger.warning("assignment retried later", reason=str(exc), retry_in=round(delay, 1), attempt=receive_count)
        wiring.queue().delay(record.receipt_handle, delay)
        raise
    except Exception:
        # A bug, not a Zendesk or AWS answer: logged with the ticket (appended keys), then reported as this
        # record's failure; SQS redelivers it once the claim's lease has expired, or dead-letters it.
        metrics.add_metric(name="AssignmentRetried", unit=MetricUnit.Count, value=1)
        if receive_count >= settings.max_receive_count:
            metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
        logger.exception("ticket assignment failed unexpectedly", attempts=receive_count)
        raise
    if outcome.status == ASSIGNED:
        assert outcome.choice is not None
        metrics.add_metric(name="TicketsAssigned", unit=MetricUnit.Count, value=1)
        logger.info("ticket assigned", agent_id=outcome.choice.agent.id, group_id=outcome.choice.group_id,
                    position=outcome.choice.position, attempts=outcome.attempts, source=request.source)
    elif outcome.status == PARKED:
        metrics.add_metric(name="AssignmentFailed", unit=MetricUnit.Count, value=1)
        logger.error("ticket parked: the connection is broken, reconnect the account", reason=outcome.reason)
        wiring.alerts().broken(request.subdomain, outcome.reason, since=started)
    elif outcome.status == POSTPONED:
        # Its own metric, by reason ("paced": the account's shared budget is spent; "rate_limited": a 429's
        # Retry-After): never AssignmentRetried or AssignmentFailed, which lead to the alarm.
        count_by("AssignmentPostponed", "reason", outcome.reason)
        logger.info("ticket postponed by the account's Zendesk rate limit", reason=outcome.reason,
                    wait_seconds=round(max(0.0, (outcome.wake_at or started) - time.time()), 1),
                    attempt=receive_count)
    elif outcome.status == DIVERTED:  # counted as BatchModeTickets by the switch (assignment/batch.py)
        logger.info("ticket handed to batch mode: the account's ticket updates are rate-limited")
    elif outcome.status == WAITING:
        metrics.add_metric(name="TicketsWaiting", unit=MetricUnit.Count, value=1)
        logger.info("ticket waiting for an eligible agent", reason=outcome.reason, group_id=outcome.group_id)
    else:
        metrics.add_metric(name="AssignmentSkipped", unit=MetricUnit.Count, value=1)
        logger.info("ticket not assigned", outcome=outcome.status, reason=outcome.reason)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=assign_record, processor=processor, context=context)
