"""GET /oauth/callback: finish connecting a Zendesk account and show what was set up, or finish a console sign-in
(the state's purpose says which: round_robin/connect/states.py); GET /oauth/import: the progress of a connect's agent
import when that goes on after the callback (assignment/import_job.py)."""

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from round_robin import wiring
from round_robin.connect.lease import ConnectInProgressError
from round_robin.connect.pages import UNUSED_GRANT, connected_page, import_page, message_page
from round_robin.console.front import not_connected_page, refused_page
from round_robin.console.http import (
    SIGN_IN_COOKIE,
    cleared_cookie,
    cookie_value,
    html_response,
    see_other,
    session_cookie,
    session_id_from,
)
from round_robin.console.signin import DEFAULT_LANDING, LANDING_PAGES
from round_robin.errors import (
    NotAdminError,
    NotConnectedError,
    OAuthError,
    OAuthUnavailableError,
    SignInBrowserError,
    SignInRefusedError,
    StateError,
    StateReplayedError,
    StorageError,
    ZendeskError,
)
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings
from round_robin.web import html, public_base_url

if TYPE_CHECKING:
    from round_robin.connect.states import PendingAuthorization

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
app = APIGatewayHttpResolver()
START_AGAIN = "Start again from the connect link: /oauth/start?subdomain=<your-subdomain>."


@app.get("/oauth/callback")
def callback():
    query = app.current_event.get_query_string_value
    state, code, error = query("state"), query("code"), query("error")
    if error:
        pending = wiring.connector().spend(state)
        subdomain = pending.subdomain
        if pending.signs_in:
            return html(403 if error == "access_denied" else 400, message_page(
                "You were not signed in",
                f"Zendesk reported {error}: the sign-in to {subdomain}.zendesk.com was not approved.",
                f"Sign in again from /admin?subdomain={subdomain}.",
            ))
        _failed("consent_" + ("denied" if error == "access_denied" else "error"), subdomain=subdomain, error=error)
        if error == "access_denied":
            return html(403, message_page(
                "Access was not granted",
                f"The connection to {subdomain}.zendesk.com was declined in Zendesk, so nothing was connected.",
                START_AGAIN,
            ))
        return html(400, message_page(
            "Zendesk did not connect",
            f"Zendesk reported {error}: {query('error_description') or 'no description'}. Nothing was connected.",
            START_AGAIN,
        ))
    if not code:
        _failed("missing_code")
        return html(400, message_page("The sign-in answer is incomplete",
                                      "Zendesk's answer has no authorization code.", START_AGAIN))

    base = public_base_url(settings, app.current_event.request_context.domain_name)
    pending = wiring.connector().spend(state)
    assert state is not None
    if pending.signs_in:
        return _sign_in(pending, state, code, f"{base}/oauth/callback")
    report = wiring.connector().complete(
        state=state, code=code, redirect_uri=f"{base}/oauth/callback", webhook_base_url=base, pending=pending
    )
    metrics.add_metric(name="AccountConnected", unit=MetricUnit.Count, value=1)
    return html(200, connected_page(report))


def _sign_in(pending: "PendingAuthorization", state: str, code: str, redirect_uri: str):
    """A console sign-in: a new session (the browser's previous one ends), then the Settings page."""
    again = f"Sign in again from /admin?subdomain={pending.subdomain}."
    cookies = app.current_event.cookies
    try:
        signed = wiring.console_signin().complete(pending, state=state, code=code, redirect_uri=redirect_uri,
                                                  browser=cookie_value(cookies, SIGN_IN_COOKIE),
                                                  previous_session_id=session_id_from(cookies))
    except SignInBrowserError:
        logger.warning("console sign-in refused", subdomain=pending.subdomain, reason="another_browser")
        return html(400, message_page(
            "You were not signed in",
            "This sign-in was started in another browser (or its cookie expired after 10 minutes), so it cannot "
            "sign this one in.", again))
    except OAuthError as exc:
        logger.warning("console sign-in failed", subdomain=pending.subdomain, reason="token_refused", error=exc.error)
        return html(502, message_page("Zendesk refused the sign-in", f"Zendesk answered {exc.error}. You were not "
                                      "signed in.", again))
    except (OAuthUnavailableError, ZendeskError) as exc:
        logger.warning("console sign-in failed", subdomain=pending.subdomain, reason="zendesk", detail=str(exc))
        return html(502, message_page("Zendesk failed during the sign-in", f"{exc}. You were not signed in.", again))
    logger.info("console sign-in", subdomain=pending.subdomain, user_id=signed.session.user_id)
    metrics.add_metric(name="ConsoleSignedIn", unit=MetricUnit.Count, value=1)
    landing = pending.landing if pending.landing in LANDING_PAGES else DEFAULT_LANDING
    return see_other(f"/admin/{landing}",
                     cookies=[session_cookie(signed.session_id), cleared_cookie(SIGN_IN_COOKIE)])


@app.exception_handler(SignInRefusedError)
def sign_in_refused(exc: SignInRefusedError):
    logger.warning("console sign-in refused", subdomain=exc.subdomain, role=exc.role)
    return html_response(403, refused_page(exc.subdomain, exc.user_name, exc.role))


@app.exception_handler(NotConnectedError)
def sign_in_not_connected(exc: NotConnectedError):
    return html_response(404, not_connected_page(exc.subdomain))


@app.get("/oauth/import")
def import_progress():
    # The id is the link's only key: an unknown, expired or malformed one gets one answer, naming no account.
    import_id = app.current_event.get_query_string_value("id")
    progress = wiring.imports().progress(import_id)
    if progress is None or import_id is None:
        return html(404, message_page("This import link is unknown or has expired",
                                      "Import links work for a day after connecting.", START_AGAIN))
    return html(200, import_page(progress, import_id, time.time()))


@app.exception_handler(StateError)
def bad_state(exc: StateError):
    _failed("state", detail=str(exc))
    return html(400, message_page("This sign-in link can't be used", f"{str(exc).capitalize()}.", START_AGAIN))


@app.exception_handler(StateReplayedError)
def replayed_state(exc: StateReplayedError):
    # The same approval arrived twice (a double click on Allow): say how the first one ended, not just "used".
    _failed("state_replayed")
    if exc.signs_in:  # the first answer signed the browser in (or was refused): nothing to wait for
        return html(400, message_page(
            "This sign-in link was already used",
            "Zendesk's answer arrived twice. Open the console, or sign in again from "
            f"/admin?subdomain={exc.subdomain}.",
        ))
    account = wiring.connector().after_replay(exc)
    if account is not None:
        return html(400, message_page(
            "This sign-in link was already used",
            f"It was used a moment ago, and {account.subdomain}.zendesk.com is connected by "
            f"{account.connected_user_name or 'an administrator'}. Nothing more to do: you can close this page.",
        ))
    return html(400, message_page(
        "This sign-in link was already used",
        f"It was used a moment ago, and the connection of {exc.subdomain}.zendesk.com it started did not complete "
        "(or is still running). Check the first page, or start again.", START_AGAIN,
    ))


@app.exception_handler(NotAdminError)
def not_admin(exc: NotAdminError):
    _failed("not_admin", role=exc.role)
    return html(403, message_page(
        "Only a Zendesk administrator can connect",
        f"You approved as {exc.user_name or 'a user'} (role: {exc.role}). Connecting creates two webhooks and a "
        "trigger and assigns tickets on the account's behalf, which needs an administrator.",
        UNUSED_GRANT,
        "Ask an administrator of the account to open the connect link.",
    ))


@app.exception_handler(ConnectInProgressError)
def in_progress(exc: ConnectInProgressError):
    _failed("in_progress")
    return html(409, message_page("A connection is already in progress",
                                  f"{str(exc).capitalize()}. Nothing was kept from this attempt."))


@app.exception_handler(OAuthError)
def token_refused(exc: OAuthError):
    _failed("token_refused", error=exc.error)
    return html(502, message_page(
        "Zendesk refused the sign-in",
        f"Exchanging the authorization code failed: {exc.error}"
        + (f" ({exc.description})" if exc.description else "") + ". Nothing was saved.",
        "Authorization codes are valid for two minutes and work once. " + START_AGAIN,
    ))


@app.exception_handler(OAuthUnavailableError)
def token_unavailable(exc: OAuthUnavailableError):
    _failed("token_unavailable", detail=str(exc))
    return html(502, message_page("Zendesk could not be reached",
                                  f"{exc}. Nothing was saved.", START_AGAIN))


@app.exception_handler(ZendeskError)
def zendesk_failed(exc: ZendeskError):
    _failed("zendesk", detail=str(exc), status=exc.status)
    return html(502, message_page(
        "Zendesk failed while connecting",
        f"{exc}. Nothing was saved.", UNUSED_GRANT, START_AGAIN,
    ))


@app.exception_handler(StorageError)
def storage_failed(exc: StorageError):
    _failed("storage", detail=str(exc))
    return html(503, message_page("Please try again", f"The service could not save the connection ({exc}).",
                                  START_AGAIN))


def _failed(reason: str, **details) -> None:
    logger.warning("connect failed", reason=reason, **details)
    metrics.add_metric(name="ConnectFailed", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
