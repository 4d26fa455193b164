"""GET /oauth/start?subdomain=<sub>: redirect an admin to their Zendesk to approve the connection."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from round_robin import wiring
from round_robin.connect.pages import message_page
from round_robin.errors import InvalidSubdomainError, StorageError
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings
from round_robin.web import html, public_base_url, redirect

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
app = APIGatewayHttpResolver()


@app.get("/oauth/start")
def start():
    base = public_base_url(settings, app.current_event.request_context.domain_name)
    raw = app.current_event.get_query_string_value("subdomain")
    url = wiring.connector().authorization_url(raw, f"{base}/oauth/callback")
    metrics.add_metric(name="ConnectStarted", unit=MetricUnit.Count, value=1)
    return redirect(url)


@app.exception_handler(InvalidSubdomainError)
def invalid_subdomain(exc: InvalidSubdomainError):
    logger.info("connect link refused", reason=str(exc))
    metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
    return html(400, message_page(
        "That is not a Zendesk subdomain",
        f"{exc}.",
        "Open this link with your account's subdomain, for example /oauth/start?subdomain=acme "
        "for acme.zendesk.com.",
    ))


@app.exception_handler(StorageError)
def storage_unavailable(exc: StorageError):
    logger.error("connect link failed", reason=str(exc))
    return html(503, message_page(
        "Please try again", "The service could not save the sign-in state. Nothing was changed."
    ))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
