"""The events function, consumer of the events queue: applies each message (a verified Zendesk event, or an
operator's change sent by the CLI) through round_robin/events/handler.py, delaying a message by the handler's
`delay` or a backoff when it cannot finish now. Each failure is logged with the message's kind and event type (never
the payload) and reported as that record's batch failure; after every retry the message goes to the dead-letter
queue."""


from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from round_robin import wiring
from round_robin.assignment.claims import RetryLaterError
from round_robin.aws.queue import EventMessage, backoff
from round_robin.errors import StorageError
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
# A batch whose every message was postponed is not a function error: each message already carries its delay.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def handle_record(record: SQSRecord) -> None:
    try:
        message = EventMessage.from_json(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("unreadable event message dropped", message_id=record.message_id)
        metrics.add_metric(name="EventFailed", unit=MetricUnit.Count, value=1)
        return
    event_type = message.payload.get("type") if message.kind == "zendesk" else None
    logger.append_keys(subdomain=message.subdomain, kind=message.kind, event_type=event_type,
                       event_id=message.payload.get("id") if message.kind == "zendesk" else None)
    receive_count = int(record.attributes.approximate_receive_count)
    try:
        outcome = wiring.event_handler().handle(message)
    except (RetryLaterError, StorageError) as exc:
        metrics.add_metric(name="EventRetried", unit=MetricUnit.Count, value=1)
        if receive_count >= settings.max_receive_count:
            metrics.add_metric(name="EventFailed", unit=MetricUnit.Count, value=1)
            logger.error("event not applied after every retry; its message goes to the dead-letter queue",
                         reason=str(exc), attempts=receive_count)
            raise
        delay = getattr(exc, "delay", None)
        if delay is None:
            delay = backoff(receive_count)
        logger.warning("event postponed", reason=str(exc), retry_in=round(delay, 1), attempt=receive_count)
        wiring.event_queue().delay(record.receipt_handle, delay)
        raise
    except Exception:
        # A bug, not a Zendesk or AWS answer: logged with the message's kind and type (appended keys), then
        # reported as this record's failure; SQS redelivers it, or dead-letters it after every retry.
        metrics.add_metric(name="EventRetried", unit=MetricUnit.Count, value=1)
        if receive_count >= settings.max_receive_count:
            metrics.add_metric(name="EventFailed", unit=MetricUnit.Count, value=1)
        logger.exception("event failed unexpectedly", attempts=receive_count)
        raise
    metrics.add_metric(name="EventApplied", unit=MetricUnit.Count, value=1)
    logger.info("event applied", outcome=outcome)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
