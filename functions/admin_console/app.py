"""The admin console: `/` (the front door), `/admin...` (Sign in with Zendesk, then Settings and the other pages),
and a friendly 404 page for every other path and method. Pages and rules live in round_robin/console/."""

import time
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from round_robin import wiring
from round_robin.availability.errors import InvalidInputError
from round_robin.connect.lease import ConnectInProgressError
from round_robin.console import front, settings_page
from round_robin.console.http import (
    CsrfError,
    Form,
    FormError,
    SignInRequiredError,
    check_csrf,
    cleared_cookie,
    csv_response,
    html_response,
    parse_form,
    require_session,
    see_other,
    session_id_from,
    sign_in_cookie,
)
from round_robin.console.layout import page
from round_robin.console.sessions import Session
from round_robin.console.signin import DEFAULT_LANDING, LANDING_PAGES, landing_page
from round_robin.errors import (
    AccountNotFoundError,
    ConnectionBrokenError,
    InvalidSubdomainError,
    NotAdminError,
    NotConnectedError,
    StorageError,
    ZendeskError,
)
from round_robin.observability import MetricUnit, logger, metrics, tracer
from round_robin.settings import get_settings
from round_robin.web import public_base_url
from round_robin.zendesk.subdomain import normalize_subdomain

settings = get_settings()  # fails the cold start with a message naming a missing or bad variable
app = APIGatewayHttpResolver()


def signed_in() -> Session:
    """The request's session, or SignInRequiredError (answered with a redirect to the sign-in page)."""
    return require_session(wiring.sessions(), app.current_event.cookies, time.time())


def posted(session: Session) -> Form:
    """The request's form, checked for the session's CSRF token."""
    event = app.current_event
    form = parse_form(event.body, base64_encoded=event.is_base64_encoded,
                      content_type=event.headers.get("content-type"))
    check_csrf(form, session)
    return form


@app.get("/")
def home():
    return html_response(200, front.home_page())


@app.get("/admin")
def admin():
    raw = app.current_event.get_query_string_value("subdomain")
    asked = app.current_event.get_query_string_value("page")
    landing = landing_page(asked)  # before anything else: a bad page never reaches Zendesk
    if raw is None:
        session = wiring.sessions().get(session_id_from(app.current_event.cookies), time.time())
        return see_other(f"/admin/{landing}") if session else html_response(200, front.sign_in_page(landing=asked))
    subdomain = normalize_subdomain(raw)
    base = public_base_url(settings, app.current_event.request_context.domain_name)
    url, browser = wiring.console_signin().authorization_url(subdomain, f"{base}/oauth/callback", landing)
    metrics.add_metric(name="ConsoleSignInStarted", unit=MetricUnit.Count, value=1)
    return see_other(url, cookies=[sign_in_cookie(browser)])


@app.get("/admin/settings")
def show_settings():
    return _settings(signed_in())


@app.post("/admin/settings")
def save_settings():
    session = signed_in()
    form = posted(session)
    service = wiring.account_settings()
    try:
        given = settings_page.parse_switches(form)
    except InvalidInputError as exc:
        return _settings(session, 400, error=f"Nothing was saved: {exc}.")
    saved = service.save_switches(session.subdomain, given)
    logger.info("console settings saved", subdomain=session.subdomain, user_id=session.user_id,
                changed=sorted(saved.changed))
    return _settings(session, saved=saved)


@app.post("/admin/import")
def import_agents():
    session = signed_in()
    posted(session)
    try:
        summary = wiring.account_settings().import_agents(session.subdomain)
    except ConnectionBrokenError:
        return _settings(session, 409, error="Zendesk no longer accepts this account's connection: reconnect it, "
                                             "then import again. Nothing was changed.")
    except ZendeskError as exc:
        return _settings(session, 502, error=f"Importing from Zendesk failed ({exc}). Nothing was changed.")
    logger.info("console import", subdomain=session.subdomain, user_id=session.user_id, changed=summary.changed)
    return _settings(session, imported=summary)


@app.post("/admin/migrate")
def migrate():
    session = signed_in()
    posted(session)
    try:
        report = wiring.account_settings().migrate(session.subdomain)
    except NotAdminError as exc:
        return _settings(session, 409, error=f"The stored API token belongs to {exc.user_name or 'a user'} "
                                             f"(role: {exc.role}), not an administrator, so it cannot create the "
                                             "OAuth token. Use Reconnect instead. Nothing was changed.")
    except ConnectInProgressError:
        return _settings(session, 409, error="A connection or migration of this account is already running. "
                                             "Try again in a minute. Nothing was changed.")
    except ConnectionBrokenError:
        return _settings(session, 409, error="Zendesk no longer accepts the stored API token: use Reconnect. "
                                             "Nothing was changed.")
    except ZendeskError as exc:
        return _settings(session, 502, error=f"Zendesk failed during the migration ({exc}). The account still "
                                             "uses its API token.")
    logger.info("console migration", subdomain=session.subdomain, user_id=session.user_id, changed=report.changed)
    return _settings(session, migrated=report)


@app.get("/admin/agents")
def show_agents():
    return _agents(signed_in())


@app.post("/admin/agents")
def change_agent():
    session = signed_in()
    form = posted(session)
    fields = {name: form.get(name) or "" for name in ("action", "agent_id", "status", "until", "backup", "open_cap",
                                                     "daily_cap", "in_rotation")}
    try:
        notice = wiring.agents_page().edit(session.subdomain, fields, time.time())
    except InvalidInputError as exc:
        return _agents(session, 400, error=f"Nothing was changed: {exc}.", query=_kept(form))
    logger.info("console agent change", subdomain=session.subdomain, user_id=session.user_id,
                action=fields["action"], agent_id=fields["agent_id"])
    return _agents(session, notice=notice, query=_kept(form))


@app.get("/admin/assignments")
def show_assignments():
    session = signed_in()
    status, body = wiring.assignments_page().render(session.subdomain, _query(), time.time())
    return html_response(status, page("Assignments", body, account=session.subdomain, csrf_token=session.csrf_token,
                                      active="assignments"))


@app.get("/admin/assignments.csv")
def export_assignments():
    session = signed_in()
    try:
        text = wiring.assignments_page().csv(session.subdomain, _query(), time.time())
    except InvalidInputError as exc:
        return html_response(400, front.message("Nothing was exported", f"{exc}."))
    return csv_response(text, f"assignments-{session.subdomain}.csv")


@app.get("/admin/health")
def show_health():
    session = signed_in()
    body = wiring.health_page().render(session.subdomain, time.time())
    return html_response(200, page("Health", body, account=session.subdomain, csrf_token=session.csrf_token,
                                   active="health"))


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _kept(form: Form) -> dict[str, str]:
    """The Agents page's filters a form carried back, to show the page as it was."""
    return {name: form.get(name) or "" for name in ("q", "group", "page", "agent_id")} | {
        "agent": form.get("agent_id") or ""}


def _agents(session: Session, status: int = 200, *, error: str | None = None, notice: str | None = None,
            query: dict[str, str] | None = None):
    body = wiring.agents_page().render(session.subdomain, _query() if query is None else query,
                                       csrf_token=session.csrf_token, now=time.time(), error=error, notice=notice)
    return html_response(status, page("Agents", body, account=session.subdomain, csrf_token=session.csrf_token,
                                      active="agents"))


@app.post("/admin/signout")
def sign_out():
    session = signed_in()
    posted(session)
    wiring.sessions().delete(session_id_from(app.current_event.cookies))
    logger.info("console sign-out", subdomain=session.subdomain, user_id=session.user_id)
    return html_response(200, front.message("Signed out", f"You are signed out of {session.subdomain}.zendesk.com."),
                         cookies=[cleared_cookie()])


def _settings(session: Session, status: int = 200, **shown):
    service, now = wiring.account_settings(), time.time()
    connection = service.connection(session.subdomain)
    return html_response(status, settings_page.render(session, connection, service.policy(session.subdomain), now,
                                                      **shown))


@app.not_found
def not_found(exc):
    return html_response(404, front.not_found_page(app.current_event.path))


@app.exception_handler(SignInRequiredError)
def sign_in_required(exc: SignInRequiredError):
    # An alert's link names its account (`/admin/health?subdomain=acme`, accounts/alerts.py): sign in to that one,
    # then land on the page it links
    raw = app.current_event.get_query_string_value("subdomain")
    asked = app.current_event.path.removeprefix("/admin/")
    landing = {"page": asked} if asked in LANDING_PAGES and asked != DEFAULT_LANDING else {}
    try:
        return see_other(f"/admin?{urlencode({'subdomain': normalize_subdomain(raw), **landing})}" if raw else
                         f"/admin?{urlencode(landing)}".removesuffix("?"))
    except InvalidSubdomainError:  # not an account's: the sign-in form asks
        return see_other(f"/admin?{urlencode(landing)}".removesuffix("?"))


@app.exception_handler(CsrfError)
def csrf_refused(exc: CsrfError):
    logger.warning("console request refused", reason="csrf", path=app.current_event.path)
    return html_response(403, front.message(
        "This form has expired", "The page was open too long, or the form did not come from this console. "
        "Nothing was changed. Reload the page and try again."))


@app.exception_handler(FormError)
def bad_form(exc: FormError):
    return html_response(400, front.message("The form could not be read", f"{str(exc).capitalize()}. "
                                            "Nothing was changed."))


@app.exception_handler(InvalidSubdomainError)
def invalid_subdomain(exc: InvalidSubdomainError):
    return html_response(400, front.sign_in_page(f"That is not a Zendesk subdomain: {exc}."))


@app.exception_handler(NotConnectedError)
def not_connected(exc: NotConnectedError):
    return html_response(404, front.not_connected_page(exc.subdomain))


@app.exception_handler(AccountNotFoundError)
def account_gone(exc: AccountNotFoundError):
    return html_response(404, front.message(
        "This account is no longer connected", "Its connection was removed. Connect it again from the start page."))


@app.exception_handler(StorageError)
def storage_unavailable(exc: StorageError):
    logger.error("console storage failed", reason=str(exc))
    return html_response(503, front.message("Please try again", "The service's storage did not answer. "
                                            "Nothing was changed."))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
