"""Scheduled upkeep (EventBridge Scheduler, every 10 minutes by default): token refresh, connection health,
agent re-sync and the missed-ticket sweep for every connected account (see round_robin/maintenance.py).

The schedule's input may name accounts: {"subdomains": ["acme"]}; without it every account is maintained.
"""

import time

from round_robin import wiring
from round_robin.observability import logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
SAFETY_MARGIN_MS = 20_000  # stop starting new accounts this long before the function's timeout


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    subdomains = event.get("subdomains") if isinstance(event, dict) else None
    deadline = time.monotonic() + max(0, context.get_remaining_time_in_millis() - SAFETY_MARGIN_MS) / 1000
    reports = wiring.maintainer().run(subdomains, deadline=deadline)
    logger.info("maintenance done", accounts=len(reports),
                needs_reconnect=[r["subdomain"] for r in reports if r["status"] != "connected"],
                swept=sum(r["swept"] for r in reports))
    return {"accounts": reports}
