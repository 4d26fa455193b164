"""Scheduled maintenance (EventBridge Scheduler, every 10 minutes by default): queues one job per connected account
on the maintenance queue, least recently maintained first; the maintain_account function runs each (token refresh,
connection health, agent re-sync, the missed-ticket sweep: see round_robin/maintenance.py).

The schedule's input may name accounts: {"subdomains": ["acme"]}; without it every account is maintained.
"""

from dataclasses import asdict

from round_robin import wiring
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    subdomains = event.get("subdomains") if isinstance(event, dict) else None
    report = wiring.dispatcher().dispatch(subdomains)
    metrics.add_metric(name="MaintenanceJobsQueued", unit=MetricUnit.Count, value=len(report.queued))
    logger.info("maintenance dispatched", queued=len(report.queued), needs_reconnect=report.needs_reconnect,
                refused=report.refused)
    return asdict(report)
