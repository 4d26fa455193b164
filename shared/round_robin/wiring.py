"""Wiring: builds the service objects once per cold start from Settings, lazily, with cached AWS clients.

Nothing here runs at import; each factory runs on first use and is cached for the warm Lambda's lifetime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from round_robin.aws import clients
from round_robin.errors import SettingsError
from round_robin.settings import Settings, get_settings

# Each function imports only what it uses, at first use: the webhook receiver never loads the Zendesk client
# (requests) and the worker never loads the OAuth pages. The imports below are for type checkers only.
if TYPE_CHECKING:
    import requests

    from round_robin.accounts.alerts import ConnectionAlerts
    from round_robin.accounts.registry import AccountRegistry
    from round_robin.accounts.tokens import TokenManager
    from round_robin.accounts.vault import SigningSecretStore, TokenVault
    from round_robin.assignment.absence import Absences
    from round_robin.assignment.agents import AgentStore
    from round_robin.assignment.assigner import Assigner
    from round_robin.assignment.batch import BatchAssigner
    from round_robin.assignment.claims import AssignmentStore
    from round_robin.assignment.import_job import AccountImport
    from round_robin.assignment.pace import Pace
    from round_robin.assignment.policy import PolicyStore
    from round_robin.assignment.reconcile import CountReconciler
    from round_robin.assignment.rosters import RosterStore
    from round_robin.assignment.selection import Rules, Selector
    from round_robin.assignment.waiting import Waker
    from round_robin.assignment.webhook import WebhookReceiver
    from round_robin.aws.queue import AssignmentQueue, AssignmentRequest, BatchQueue, EventQueue, MaintenanceQueue
    from round_robin.connect.api_token import ApiTokenRegistration
    from round_robin.connect.connections import Connections
    from round_robin.connect.connector import Connector
    from round_robin.connect.lease import ConnectLease
    from round_robin.connect.migration import Migrator
    from round_robin.console.account_settings import AccountSettings
    from round_robin.console.agents_page import AgentsPage
    from round_robin.console.assignments_page import AssignmentsPage
    from round_robin.console.health_page import HealthPage
    from round_robin.console.sessions import SessionStore
    from round_robin.console.signin import SignIn
    from round_robin.events.handler import EventHandler
    from round_robin.maintenance import Dispatcher, Maintainer
    from round_robin.zendesk.client import ZendeskClient, ZendeskFactory
    from round_robin.zendesk.oauth import OAuthClient

SECRET_CACHE_SECONDS = 300


def _secret(arn: str) -> str:
    """A secret's value through Powertools' parameters utility (cached SECRET_CACHE_SECONDS)."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(arn, max_age=SECRET_CACHE_SECONDS))


def client_secret(settings: Settings) -> str:
    """The OAuth client secret: the secret's plain string, or its `client_secret` key if it holds JSON."""
    import json

    raw = _secret(settings.client_secret_arn)
    if raw.lstrip().startswith("{"):
        return str(json.loads(raw)["client_secret"])
    return raw


@lru_cache(maxsize=1)
def http_session() -> requests.Session:
    from round_robin.zendesk.client import new_session

    return new_session()


@lru_cache(maxsize=1)
def vault() -> TokenVault:
    from round_robin.accounts.vault import TokenVault

    return TokenVault(get_settings().secret_prefix, clients.client("secretsmanager"))


@lru_cache(maxsize=1)
def signing_secrets() -> SigningSecretStore:
    from round_robin.accounts.vault import SigningSecretStore

    settings = get_settings()
    if not settings.webhook_secret_prefix:
        raise SettingsError("environment variable WEBHOOK_SECRET_PREFIX is required by this function")
    return SigningSecretStore(settings.webhook_secret_prefix, clients.client("secretsmanager"))


@lru_cache(maxsize=1)
def registry() -> AccountRegistry:
    from round_robin.accounts.registry import AccountRegistry

    return AccountRegistry(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def rosters() -> RosterStore:
    from round_robin.assignment.rosters import RosterStore

    return RosterStore(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def oauth_client() -> OAuthClient:
    from round_robin.zendesk.oauth import OAuthClient

    settings = get_settings()
    return OAuthClient(
        base_url_for=settings.zendesk_base_url,
        client_id=settings.client_id,
        client_secret=lambda: client_secret(settings),  # read only when a token is requested
        session=http_session(),
        access_lifetime=settings.access_token_lifetime,
        refresh_lifetime=settings.refresh_token_lifetime,
    )


@lru_cache(maxsize=1)
def tokens() -> TokenManager:
    from round_robin.accounts.tokens import TokenManager
    from round_robin.aws.leases import LeaseStore

    return TokenManager(vault=vault(), oauth=oauth_client(),
                        leases=LeaseStore(get_settings().table_name, clients.client("dynamodb")))


@lru_cache(maxsize=1)
def queue() -> AssignmentQueue:
    from round_robin.aws.queue import AssignmentQueue

    settings = get_settings()
    if not settings.queue_url:
        raise SettingsError("environment variable QUEUE_URL is required by this function")
    return AssignmentQueue(clients.client("sqs"), settings.queue_url)


@lru_cache(maxsize=1)
def batch_queue() -> BatchQueue:
    from round_robin.aws.queue import BatchQueue

    settings = get_settings()
    if not settings.batch_queue_url:
        raise SettingsError("environment variable BATCH_QUEUE_URL is required by this function")
    return BatchQueue(clients.client("sqs"), settings.batch_queue_url)


@lru_cache(maxsize=1)
def batch_switch() -> Callable[[AssignmentRequest], bool]:
    """The assignment worker's `divert`: a rate-limited ticket goes to the batch queue (batch.py); without
    BATCH_QUEUE_URL batch mode is off and the ticket is delayed as before."""
    if not get_settings().batch_queue_url:
        return lambda _request: False
    from round_robin.assignment.batch import BatchSwitch

    return BatchSwitch(lambda request: batch_queue().send(request))


@lru_cache(maxsize=1)
def batch_assigner() -> BatchAssigner:
    """The batch worker's assigner: tickets it gives back go to the assignment queue."""
    from round_robin.assignment.batch import BatchAssigner

    settings = get_settings()
    return BatchAssigner(
        store=assignment_store(), selector=selector(), tokens=tokens(),
        # A rate limit postpones the whole batch (its messages are delayed), never waited out here.
        zendesk=zendesk_factory(settings, max_retry_wait=0),
        single=lambda requests: queue().send_all(requests),
        wake_at=lambda subdomain, group_id, at, now: waker().wake_at(subdomain, group_id, at, now),
    )


@lru_cache(maxsize=1)
def event_queue() -> EventQueue:
    from round_robin.aws.queue import EventQueue

    settings = get_settings()
    if not settings.events_queue_url:
        raise SettingsError("environment variable EVENTS_QUEUE_URL is required by this function")
    return EventQueue(clients.client("sqs"), settings.events_queue_url)


@lru_cache(maxsize=1)
def event_handler() -> EventHandler:
    """Applies one events-queue message (round_robin/events/handler.py)."""
    from round_robin.events.handler import EventHandler

    settings = get_settings()
    wake, absent = waker(), absences()
    # Its Zendesk reads do not wait out a rate limit: the message is delayed by Retry-After instead.
    return EventHandler(registry=registry(), rosters=rosters(), agents=agent_store(), policies=policies(),
                        tokens=tokens(), zendesk=zendesk_factory(settings, max_retry_wait=0), wake=wake.wake,
                        absence_started=absent.started, reopened=absent.reopened,
                        check_health=lambda subdomain: maintainer().check_health(subdomain), alerts=alerts())


def zendesk_factory(settings: Settings, *, max_retry_wait: float) -> ZendeskFactory:
    """Makes ZendeskClients for an account, with the Marketplace headers when configured."""
    from round_robin.zendesk.client import ZendeskClient

    extra = settings.marketplace.as_headers() if settings.marketplace else {}

    def make(subdomain: str, authorization: Callable[[], str]) -> ZendeskClient:
        return ZendeskClient(
            settings.zendesk_base_url(subdomain), authorization, session=http_session(),
            extra_headers=extra, max_retry_wait=max_retry_wait, read_timeout=settings.zendesk_timeout,
        )

    return make


@lru_cache(maxsize=1)
def connect_lease() -> ConnectLease:
    from round_robin.aws.leases import LeaseStore
    from round_robin.connect.lease import ConnectLease

    return ConnectLease(LeaseStore(get_settings().table_name, clients.client("dynamodb")))


@lru_cache(maxsize=1)
def connections() -> Connections:
    from round_robin.connect.connections import Connections

    settings = get_settings()
    parked = (assignment_store(), queue()) if settings.queue_url else (None, None)
    return Connections(tokens=tokens(), signing_secrets=signing_secrets(), registry=registry(), rosters=rosters(),
                       imports=imports(), assignments=parked[0], queue=parked[1],
                       jobs=maintenance_queue() if settings.maintenance_queue_url else None)


@lru_cache(maxsize=1)
def imports() -> AccountImport:
    """Connects' agent imports (assignment/import_job.py): the callback, its progress page, the import jobs."""
    from round_robin.assignment.import_job import AccountImport

    return AccountImport(table_name=get_settings().table_name, dynamodb=clients.client("dynamodb"), rosters=rosters())


def connect_zendesk_factory(settings: Settings) -> ZendeskFactory:
    """The clients a connect uses: it runs behind API Gateway's 30 s limit, so waits out only short Retry-After."""
    return zendesk_factory(settings, max_retry_wait=8)


@lru_cache(maxsize=1)
def connector() -> Connector:
    from round_robin.connect.connector import Connector
    from round_robin.connect.states import StateStore

    settings = get_settings()
    return Connector(
        settings=settings,
        states=StateStore(settings.table_name, clients.client("dynamodb")),
        state_key=_secret(settings.state_key_secret_arn).encode(),
        oauth=oauth_client(),
        zendesk=connect_zendesk_factory(settings),
        lease=connect_lease(),
        connections=connections(),
        registry=registry(),
    )


@lru_cache(maxsize=1)
def sessions() -> SessionStore:
    """The console's sessions (console/sessions.py)."""
    from round_robin.console.sessions import SessionStore

    return SessionStore(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def console_signin() -> SignIn:
    """Sign in with Zendesk (console/signin.py): its own token client asks for the shortest lifetimes."""
    from round_robin.connect.states import StateStore
    from round_robin.console.signin import SIGN_IN_ACCESS_LIFETIME, SIGN_IN_REFRESH_LIFETIME, SignIn
    from round_robin.zendesk.oauth import OAuthClient

    settings = get_settings()
    oauth = OAuthClient(base_url_for=settings.zendesk_base_url, client_id=settings.client_id,
                        client_secret=lambda: client_secret(settings), session=http_session(),
                        access_lifetime=SIGN_IN_ACCESS_LIFETIME, refresh_lifetime=SIGN_IN_REFRESH_LIFETIME)
    return SignIn(settings=settings, states=StateStore(settings.table_name, clients.client("dynamodb")),
                  state_key=_secret(settings.state_key_secret_arn).encode(), oauth=oauth,
                  zendesk=connect_zendesk_factory(settings), registry=registry(), sessions=sessions())


def announce_settings_changed(subdomain: str) -> bool:
    """Tell the events queue an account's settings changed (as the CLI does); False if it cannot be reached (the
    change is stored and applied at the next maintenance run)."""
    import time

    from botocore.exceptions import BotoCoreError, ClientError

    from round_robin.aws.queue import EventMessage
    from round_robin.errors import RoundRobinError
    from round_robin.observability import logger

    try:
        event_queue().send(EventMessage(subdomain=subdomain, kind="settings_changed", received_at=time.time(),
                                        payload={}))
    except (RoundRobinError, BotoCoreError, ClientError) as exc:
        logger.warning("settings change not announced", subdomain=subdomain, error=type(exc).__name__)
        return False
    return True


@lru_cache(maxsize=1)
def account_settings() -> AccountSettings:
    """What the console's Settings page reads and does (console/account_settings.py)."""
    from round_robin.console.account_settings import AccountSettings

    settings = get_settings()
    make = zendesk_factory(settings, max_retry_wait=8)  # behind API Gateway's 30 s limit
    return AccountSettings(registry=registry(), vault=vault(), policies=policies(), rosters=rosters(),
                           zendesk=lambda subdomain: make(subdomain, lambda: tokens().authorization(subdomain)),
                           migrate=lambda subdomain: migrator().migrate(subdomain),
                           announce=announce_settings_changed, imports=imports(), jobs=maintenance_queue(),
                           import_seconds=settings.connect_import_seconds)


@lru_cache(maxsize=1)
def api_token_registration() -> ApiTokenRegistration:
    from round_robin.connect.api_token import ApiTokenRegistration

    return ApiTokenRegistration(registry=registry(), zendesk=connect_zendesk_factory(get_settings()),
                                lease=connect_lease(), connections=connections())


@lru_cache(maxsize=1)
def receiver() -> WebhookReceiver:
    from round_robin.assignment.webhook import WebhookReceiver

    # Only the signing secrets: the internet-facing function cannot read (nor is given) any account's tokens.
    return WebhookReceiver(secrets=signing_secrets(), queue=queue(), events=event_queue())


def _excluded_agents(subdomain: str) -> tuple[int, ...]:
    account = registry().get(subdomain)
    return account.excluded_agent_ids if account else ()


@lru_cache(maxsize=1)
def assignment_store() -> AssignmentStore:
    from round_robin.assignment.claims import AssignmentStore

    return AssignmentStore(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def alerts() -> ConnectionAlerts:
    from round_robin.accounts.alerts import ConnectionAlerts

    settings = get_settings()
    return ConnectionAlerts(registry=registry(), sns=clients.client("sns"), topic_arn=settings.alerts_topic_arn,
                            public_base_url=settings.public_base_url)


@lru_cache(maxsize=1)
def maintainer() -> Maintainer:
    from round_robin.maintenance import Maintainer

    settings = get_settings()
    return Maintainer(registry=registry(), tokens=tokens(), rosters=rosters(), assignments=assignment_store(),
                      queue=queue(), alerts=alerts(), zendesk=zendesk_factory(settings, max_retry_wait=10),
                      interval=settings.maintenance_interval, sweep_min_age=settings.sweep_min_age,
                      waker=waker(), selector=selector(), signing_secrets=signing_secrets(),
                      reconciler=count_reconciler(), absences=absences(),
                      lease=connect_lease(), imports=imports(),
                      jobs=maintenance_queue() if settings.maintenance_queue_url else None)


@lru_cache(maxsize=1)
def maintenance_queue() -> MaintenanceQueue:
    from round_robin.aws.queue import MaintenanceQueue

    settings = get_settings()
    if not settings.maintenance_queue_url:
        raise SettingsError("environment variable MAINTENANCE_QUEUE_URL is required by this function")
    return MaintenanceQueue(clients.client("sqs"), settings.maintenance_queue_url)


@lru_cache(maxsize=1)
def dispatcher() -> Dispatcher:
    """The scheduled run's fan-out: one maintenance job per connected account."""
    from round_robin.maintenance import Dispatcher

    settings = get_settings()
    from round_robin.assignment.dead_letters import DeadLetters

    urls = [url for url in (settings.dead_letter_queue_url, settings.batch_dead_letter_queue_url) if url]
    dead_letters = [DeadLetters(sqs=clients.client("sqs"), url=url, assignments=assignment_store()) for url in urls]
    return Dispatcher(registry=registry(), jobs=maintenance_queue(), dead_letters=dead_letters)


def count_reconciler() -> CountReconciler:
    """The maintenance run's count reconciliation (assignment/reconcile.py)."""
    from round_robin.assignment.reconcile import CountReconciler

    return CountReconciler(agents=agent_store(), table_name=get_settings().table_name,
                           dynamodb=clients.client("dynamodb"))


@lru_cache(maxsize=1)
def migrator() -> Migrator:
    from round_robin.connect.migration import Migrator

    settings = get_settings()
    return Migrator(vault=vault(), registry=registry(), zendesk=zendesk_factory(settings, max_retry_wait=10),
                    lease=connect_lease(), client_identifier=settings.client_id)


def eligibility_rules() -> Rules:
    """Who may take a ticket now: availability.rules.eligibility with the account's stored policy and schedules."""
    from round_robin.assignment.policy import policy_from_item
    from round_robin.assignment.selection import Rules
    from round_robin.availability.rules import eligibility

    return Rules(eligibility=eligibility, policy=policy_from_item)


@lru_cache(maxsize=1)
def policies() -> PolicyStore:
    from round_robin.assignment.policy import PolicyStore

    return PolicyStore(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def agent_store() -> AgentStore:
    from round_robin.assignment.agents import AgentStore

    return AgentStore(get_settings().table_name, clients.client("dynamodb"))


@lru_cache(maxsize=1)
def selector() -> Selector:
    from round_robin.assignment.agents import AgentStore
    from round_robin.assignment.selection import Selector

    table, dynamodb = get_settings().table_name, clients.client("dynamodb")
    return Selector(table_name=table, rosters=rosters(), agents=AgentStore(table, dynamodb), rules=eligibility_rules())


@lru_cache(maxsize=1)
def assigner() -> Assigner:
    from round_robin.assignment.assigner import Assigner

    settings = get_settings()
    return Assigner(
        store=assignment_store(),
        rosters=rosters(),
        selector=selector(),
        tokens=tokens(),
        # Never wait out a rate limit in the worker: the queue message is delayed instead.
        zendesk=zendesk_factory(settings, max_retry_wait=0),
        excluded_agents=_excluded_agents,
        # Built at the first waiting ticket with a wake time, not with the worker.
        wake_at=lambda subdomain, group_id, at, now: waker().wake_at(subdomain, group_id, at, now),
        pace=pace(),
        requeue=lambda request, delay: queue().send(request, delay),
        divert=batch_switch(),
        batch_after=settings.batch_after_seconds if settings.batch_queue_url else None,
    )


@lru_cache(maxsize=1)
def pace() -> Pace:
    """The per-account pace of ticket updates, shared by every worker through DynamoDB."""
    from round_robin.assignment.pace import Pace

    settings = get_settings()
    return Pace(settings.table_name, clients.client("dynamodb"), limit=settings.pace_ticket_updates,
                window=settings.pace_window)


def schedule_wake(subdomain: str, group_ids: list[str] | None, round: int, delay: float) -> None:
    """Ask for a wake of these groups' waiting tickets in `delay` seconds: an events-queue "wake" message (SQS
    delays it up to 15 minutes; the waker asks for nothing later than that)."""
    import time

    from round_robin.aws.queue import EventMessage

    event_queue().send(EventMessage(subdomain=subdomain, kind="wake", received_at=time.time(),
                                    payload={"group_ids": group_ids, "round": round}), delay=delay)


@lru_cache(maxsize=1)
def waker() -> Waker:
    from round_robin.assignment.waiting import Waker

    return Waker(assignments=assignment_store(), selector=selector(), queue=queue(), schedule=schedule_wake,
                 alerts=alerts())
@lru_cache(maxsize=1)
def absences() -> Absences:
    from round_robin.assignment.absence import Absences

    settings = get_settings()
    # Its search is a read: a short Retry-After is waited out; a longer one fails the call, to be retried.
    return Absences(agents=agent_store(), policies=policies(), queue=queue(), tokens=tokens(),
                    zendesk=zendesk_factory(settings, max_retry_wait=10))


def reset() -> None:
    """Forget every cached object and setting (tests, and the local stack between configurations)."""
    for factory in (http_session, vault, signing_secrets, registry, rosters, oauth_client, tokens, queue,
                    batch_queue, batch_switch, batch_assigner,
                    event_queue, event_handler, connect_lease, connections, connector, api_token_registration,
                    sessions, console_signin, account_settings,
                    receiver, assigner, selector, assignment_store, alerts, maintainer, maintenance_queue, dispatcher,
                    migrator, policies, agent_store, waker, absences, pace, imports, get_settings, clients.client):
        factory.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


def announce_agent_changes(subdomain: str, notices: Sequence[tuple[str, dict[str, Any]]]) -> bool:
    """Send an operator's agent changes (kind, payload) to the events queue, as the CLI does; False if it cannot be
    reached (the change is stored and applied at the next maintenance run)."""
    import time

    from botocore.exceptions import BotoCoreError, ClientError

    from round_robin.aws.queue import EventMessage
    from round_robin.errors import RoundRobinError
    from round_robin.observability import logger

    try:
        for kind, payload in notices:
            event_queue().send(EventMessage(subdomain=subdomain, kind=kind, received_at=time.time(), payload=payload))
    except (RoundRobinError, BotoCoreError, ClientError) as exc:
        logger.warning("agent change not announced", subdomain=subdomain, error=type(exc).__name__)
        return False
    return True


@lru_cache(maxsize=1)
def agents_page() -> AgentsPage:
    """The console's Agents page (console/agents_page.py)."""
    from round_robin.console.agents_page import AgentsPage

    return AgentsPage(registry=registry(), rosters=rosters(), agents=agent_store(), policies=policies(),
                      announce=announce_agent_changes)


@lru_cache(maxsize=1)
def assignments_page() -> AssignmentsPage:
    """The console's Assignments page, its CSV and chart (console/assignments_page.py)."""
    from round_robin.console.assignments_page import AssignmentsPage

    return AssignmentsPage(log=assignment_store(), rosters=rosters())


@lru_cache(maxsize=1)
def health_page() -> HealthPage:
    """The console's Health page (console/health_page.py)."""
    from round_robin.console.health_page import HealthPage

    return HealthPage(registry=registry(), waiting=assignment_store(), rosters=rosters(),
                      dead_letters=dead_letter_count)


def dead_letter_count() -> int | None:
    """The assignment and batch dead-letter queues' approximate number of messages (all accounts); None when no queue
    is configured or one cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    urls = [url for url in (settings.dead_letter_queue_url, settings.batch_dead_letter_queue_url) if url]
    if not urls:
        return None
    total = 0
    for url in urls:  # the assignment queue's and batch mode's
        try:
            answer = clients.client("sqs").get_queue_attributes(QueueUrl=url,
                                                                AttributeNames=["ApproximateNumberOfMessages"])
        except (ClientError, BotoCoreError):
            return None
        total += int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
    return total
