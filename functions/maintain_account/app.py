"""Per-account maintenance, consumer of the maintenance queue: runs one account's upkeep per job (token refresh,
health, agent re-sync, the missed-ticket sweep: round_robin/maintenance.py), dropping a job that a newer scheduled
run has superseded. An account's transient trouble (Zendesk down, throttled storage) is reported on the account and
retried by the next run; anything else fails the job, retried shortly, then dead-lettered. An "import" job goes on
with a connect's agent import (Maintainer.continue_import); its failures are retried the same way."""

import random

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from round_robin import wiring
from round_robin.aws.queue import IMPORT, JOB_ATTEMPTS, MaintenanceJob
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def maintain_record(record: SQSRecord, lambda_context=None) -> None:
    try:
        job = MaintenanceJob.from_json(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("unreadable maintenance job dropped", message_id=record.message_id)
        metrics.add_metric(name="MaintenanceFailed", unit=MetricUnit.Count, value=1)
        return
    logger.append_keys(subdomain=job.subdomain)
    receive_count = int(record.attributes.approximate_receive_count)
    try:
        time_left = None if lambda_context is None else (lambda: lambda_context.get_remaining_time_in_millis() / 1000)
        if job.kind == IMPORT:
            _continue_import(job, time_left)
            return
        report = wiring.maintainer().maintain_job(job, time_left)
    except Exception:
        # Storage failing outright, or a bug: retried within the interval (a job that waited out the default
        # visibility timeout would be stale by then), then dead-lettered.
        metrics.add_metric(name="MaintenanceFailed", unit=MetricUnit.Count, value=1)
        if receive_count >= JOB_ATTEMPTS:
            logger.exception("account not maintained after every retry; its job goes to the dead-letter queue",
                             attempts=receive_count)
        else:
            logger.exception("account maintenance failed; retried shortly", attempts=receive_count)
            wiring.maintenance_queue().delay(record.receipt_handle, 10.0 * receive_count * random.uniform(0.8, 1.2))
        raise
    if report is None:
        metrics.add_metric(name="MaintenanceSkipped", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="AccountsMaintained", unit=MetricUnit.Count, value=1)
    logger.info("account maintained", status=report.status, health=report.health, refreshed=report.refreshed,
                swept=report.swept, requeued=report.requeued, errors=len(report.errors))


def _continue_import(job: MaintenanceJob, time_left) -> None:
    progress = wiring.maintainer().continue_import(job, time_left)
    if progress is None:
        logger.info("agent import dropped: unknown, expired, or its account is no longer connected")
        return
    logger.info("agent import continued", status=progress.status, pages=progress.pages, agents=progress.agents,
                groups=progress.groups)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=maintain_record, processor=processor, context=context)
