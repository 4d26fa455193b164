"""POST /webhooks/zendesk/<subdomain>: checks Zendesk's signed delivery and queues the ticket for the worker
(app.py), or a subscribed Zendesk event for the events function. It never calls Zendesk, so it answers at once
whatever Zendesk's rate limits do."""

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from round_robin import wiring
from round_robin.assignment.webhook import WebhookRejectedError
from round_robin.aws.queue import EventMessage
from round_robin.errors import StorageError
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
app = APIGatewayHttpResolver()


@app.post("/webhooks/zendesk/<subdomain>")
def webhook(subdomain: str) -> Response:
    event = app.current_event
    request = wiring.receiver().accept(subdomain, event.headers, event.body, event.is_base64_encoded)
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    if request is None:
        return _json(200, {"status": "ignored", "reason": "not an event type this service subscribes to"})
    if isinstance(request, EventMessage):
        event_type = request.payload["type"]
        logger.info("event queued", subdomain=request.subdomain, event_type=event_type,
                    invocation_id=event.headers.get("x-zendesk-webhook-invocation-id"))
        return _json(202, {"status": "queued", "event": event_type})
    logger.info("ticket queued", subdomain=request.subdomain, ticket_id=request.ticket_id,
                invocation_id=request.invocation_id)
    return _json(202, {"status": "queued", "ticket_id": request.ticket_id})


@app.exception_handler(WebhookRejectedError)
def rejected(exc: WebhookRejectedError) -> Response:
    logger.warning("webhook rejected", reason=exc.reason, status=exc.status)
    metrics.add_dimension(name="reason", value=exc.reason)  # the only metric of this invocation
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    return _json(exc.status, {"message": str(exc)})


@app.exception_handler(StorageError)
def unavailable(exc: StorageError) -> Response:
    # Zendesk retries a 503 that carries a short Retry-After.
    logger.error("webhook not queued", error=str(exc))
    return Response(status_code=503, content_type="application/json", body='{"message": "try again"}',
                    headers={"Retry-After": "5"})


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
