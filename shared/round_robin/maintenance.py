"""The scheduled upkeep of every connected account (refresh_tokens, run by EventBridge Scheduler):

1. tokens: refresh the access token if it expires before the next run plus a margin, and the refresh token
   once it has lived two thirds of its lifetime even if the account is idle (Zendesk drops refresh tokens
   unused for 30 days);
2. health: /api/v2/users/me must answer, for an admin; otherwise the account needs reconnecting;
3. agents: re-import the rosters (leavers, suspended and demoted agents drop out; newcomers join at the end);
4. the project's webhooks and trigger: copies that a race or a failed connect left in Zendesk are deleted (two
   list calls per run: under 0.1% of the smallest plan's 200 calls a minute at the default 10-minute interval,
   so every run; a copy's deliveries fail signature checks until it is gone). An account connected before the
   event-subscribed webhook existed gets it here, under the connect lease (its signing secret stored first,
   then its id on the account), so that a connect running meanwhile cannot be overwritten;
5. absences: agents whose out of office started since the last run (one scheduled ahead starts by itself) have
   their tickets queued for reassignment, as the account's policy says (assignment/absence.py);
6. waiting tickets (their group had no eligible agent): a wake (assignment/waiting.py) queues, oldest first, at
   most one per agent of their group eligible now, and drains the rest in rounds; a group with nobody eligible
   queues nothing, so tickets do not cycle while everyone is away. Tickets waiting longer than the account's
   `waiting_alert_minutes` are counted (TicketsWaitingTooLong) and reported to the operators, once per ticket;
7. the missed-ticket sweep: unassigned new/open tickets older than a few minutes are queued through the same
   idempotent path as webhooks when their record is missing, released, held by a worker whose lease expired, or
   waiting for a group other than the one Zendesk now has them in, where somebody is eligible, so a ticket whose
   webhook never came, or whose worker died, is still assigned, once. Zendesk's search is offset-paginated, 100 a
   page and at most 1,000 results a query: the sweep reads oldest first and, past 1,000, narrows the query by
   creation time.
8. counts: at most once an hour, agents' open counts are reconciled with Zendesk's search (the ticket events keep
   them up to date; this repairs what lost events left wrong) and records of tickets open for long are kept
   (assignment/reconcile.py);
9. the log's agent index: records logged before the per-agent index existed get its keys, a few pages a run
   (LOG_INDEX_PAGES of 500 log entries, newest first), resumable (the cursor is kept on the account), until the
   whole log has been read; then never again (assignment/claims.py `index_agent_log`, table.py). It runs before
   step 5, so that a Zendesk failure in the later steps cannot keep it from running, run after run.
Steps 5, 6 and 9 fail on their own: their error is reported, the next run tries again, and the rest of the run
goes on (the sweep and the counts above all).
Each run queues at most QUEUE_PER_RUN tickets per account (about what Zendesk's 100 ticket updates a minute allow
between two runs); the rest wait for the next run. Step 5 is in assignment/absence.py, 6 in assignment/waiting.py,
7 in sweep.py, the search in zendesk/tickets.py.

The schedule fans out: its function (refresh_tokens) is a Dispatcher that queues one MaintenanceJob per connected
account, least recently maintained first, on the maintenance queue; the maintain_account function runs
Maintainer.maintain_job for each, a bounded number at once (the queue's event source MaximumConcurrency), so a slow
account occupies one worker and never delays the others' token refreshes. A job the next run has superseded (older
than one interval) is dropped rather than run twice. The operators' `round-robin maintain` runs Maintainer.run
directly, synchronously. The same queue carries a connect's agent import when the OAuth callback could not finish
it in its request (`kind` "import": Maintainer.continue_import, assignment/import_job.py); such a job is never
stale, and queues the next one while the import is not done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from round_robin.accounts.alerts import ConnectionAlerts
from round_robin.accounts.registry import CONNECTED, Account, AccountRegistry
from round_robin.accounts.tokens import TokenManager
from round_robin.accounts.vault import SigningSecretStore
from round_robin.assignment.absence import Absences
from round_robin.assignment.claims import AssignmentStore
from round_robin.assignment.dead_letters import DeadLetters
from round_robin.assignment.import_job import AccountImport, ImportProgress
from round_robin.assignment.reconcile import CountReconciler
from round_robin.assignment.roster_import import import_rosters
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.selection import Selector
from round_robin.assignment.waiting import Waker
from round_robin.aws.queue import IMPORT, AssignmentQueue, MaintenanceJob, MaintenanceQueue
from round_robin.connect.lease import ConnectInProgressError, ConnectLease
from round_robin.errors import (
    AccountNotFoundError,
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    StorageError,
    ZendeskError,
    ZendeskUnauthorizedError,
)
from round_robin.observability import logger
from round_robin.sweep import Sweeper
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory
from round_robin.zendesk.hooks import ensure_events_webhook, remove_duplicates

REFRESH_MARGIN = 300.0  # refresh when the access token would expire within the next run + this
REFRESH_TOKEN_AGE = 2 / 3  # of its lifetime
# A token without refresh token (made by the migration) dies at its expiry: the operators are told this long
# before, once. Two weeks leave room for an administrator's holiday; reconnecting itself takes a minute.
EXPIRY_WARNING = 14 * 86400.0
# Failures that leave the account connected (Zendesk down or throttling, storage throttled): the next run retries.
TRANSIENT = (OAuthError, OAuthUnavailableError, ZendeskError, StorageError)
# Seconds of the invocation an optional step (absences, waiting, the sweep, counts) needs at least to start: a few
# Zendesk pages at their 10-second read time-out.
STEP_RESERVE = 40.0
# Reads of the log (claims.LOG_INDEX_PAGE entries each) whose older records step 9 indexes by agent, per run: 2,000
# entries in a few seconds, so at the default ten-minute interval a log of 100,000 records is read in 9 hours.
LOG_INDEX_PAGES = 4


@dataclass
class AccountReport:
    subdomain: str
    status: str
    refreshed: bool = False
    health: str = ""
    roster_changes: dict[str, int] = field(default_factory=dict)
    reassigned: int = 0  # tickets of agents whose out of office started, queued for reassignment
    requeued: int = 0  # waiting and parked tickets queued again
    waiting_alerted: int = 0  # tickets newly reported for waiting too long
    swept: int = 0
    hooks_removed: int = 0
    counts_corrected: int = 0
    log_indexed: int = 0  # records logged before the agent index existed, given their entry in it (step 9)
    errors: list[str] = field(default_factory=list)

    def outcome(self) -> dict[str, int]:
        """The run's counts, kept on the account (the last run's outcome, whichever worker ran it)."""
        return {"refreshed": int(self.refreshed), "reassigned": self.reassigned, "requeued": self.requeued,
                "waiting_alerted": self.waiting_alerted, "swept": self.swept, "hooks_removed": self.hooks_removed,
                "counts_corrected": self.counts_corrected, "log_indexed": self.log_indexed,
                "errors": len(self.errors)}


@dataclass
class DispatchReport:
    run_at: float
    queued: list[str] = field(default_factory=list)  # accounts whose job is queued
    needs_reconnect: list[str] = field(default_factory=list)  # not connected: nothing to maintain until reconnected
    refused: list[str] = field(default_factory=list)  # jobs SQS refused: the next run queues them again
    dead_letters_deleted: int = 0  # dead letters of tickets assigned since (assignment/dead_letters.py)


class Dispatcher:
    """The scheduled run: one maintenance job per connected account, on the maintenance queue."""

    def __init__(self, *, registry: AccountRegistry, jobs: MaintenanceQueue,
                 dead_letters: Sequence[DeadLetters] = (), clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._jobs = jobs
        self._dead_letters = tuple(dead_letters)  # the assignment queue's and batch mode's
        self._clock = clock

    def dispatch(self, subdomains: Iterable[str] | None = None) -> DispatchReport:
        """Queue a job for every connected account (or the given ones), least recently maintained first."""
        wanted = set(subdomains) if subdomains is not None else None
        report = DispatchReport(run_at=self._clock())
        connected = []
        for account in self._registry.list():
            if wanted is not None and account.subdomain not in wanted:
                continue
            if account.status != CONNECTED:
                report.needs_reconnect.append(account.subdomain)
            else:
                connected.append(account)
        # SQS standard queues deliver roughly in order: the accounts that waited longest (never maintained first)
        # are taken first when the workers cannot take every job at once.
        connected.sort(key=lambda a: (a.health_checked_at or 0, a.subdomain))
        report.refused = self._jobs.send_all([MaintenanceJob(a.subdomain, report.run_at) for a in connected])
        refused = set(report.refused)
        report.queued = [a.subdomain for a in connected if a.subdomain not in refused]
        if report.refused:
            logger.warning("maintenance jobs not queued; the next run queues them again", accounts=report.refused)
        for dead_letters in self._dead_letters if wanted is None else ():
            try:
                report.dead_letters_deleted += dead_letters.clear_done().deleted
            except StorageError as exc:  # the jobs are queued; the next run looks again
                logger.warning("dead letters not cleared; the next run tries again", error=str(exc))
        return report


class Maintainer:
    def __init__(
        self,
        *,
        registry: AccountRegistry,
        tokens: TokenManager,
        rosters: RosterStore,
        assignments: AssignmentStore,
        queue: AssignmentQueue,
        alerts: ConnectionAlerts,
        zendesk: ZendeskFactory,
        interval: float,
        sweep_min_age: float,
        waker: Waker,
        selector: Selector,
        signing_secrets: SigningSecretStore | None = None,
        reconciler: CountReconciler | None = None,
        absences: Absences | None = None,
        lease: ConnectLease | None = None,
        imports: AccountImport | None = None,
        jobs: MaintenanceQueue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._tokens = tokens
        self._rosters = rosters
        self._alerts = alerts
        self._zendesk = zendesk
        self._interval = interval
        self._assignments = assignments
        self._sweeper = Sweeper(assignments=assignments, queue=queue, min_age=sweep_min_age, clock=clock)
        self._waker = waker
        self._selector = selector
        self._signing_secrets = signing_secrets
        self._reconciler = reconciler
        self._absences = absences
        self._lease = lease
        self._imports = imports
        self._jobs = jobs
        self._clock = clock

    def run(self, subdomains: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Maintain every connected account (or the given ones) now, one after the other (the operators'
        `round-robin maintain`; the schedule fans out through Dispatcher); one account's failure never stops the
        rest."""
        wanted = set(subdomains) if subdomains is not None else None
        reports = []
        for account in self._registry.list():
            if wanted is not None and account.subdomain not in wanted:
                continue
            if account.status != CONNECTED:
                reports.append(asdict(AccountReport(account.subdomain, account.status)))
                continue
            reports.append(asdict(self.maintain(account)))
        return reports

    def maintain_job(self, job: MaintenanceJob, time_left: Callable[[], float] | None = None) -> AccountReport | None:
        """One queued job: its account maintained, or None when the job is stale (older than one interval: the
        next run has queued its own) or the account is no longer connected."""
        age = self._clock() - job.run_at
        if age >= self._interval:
            logger.info("stale maintenance job dropped; a newer run has queued its own", subdomain=job.subdomain,
                        age=round(age))
            return None
        account = self._registry.get(job.subdomain)
        if account is None or account.status != CONNECTED:
            return None  # disconnected or broken since the job was queued
        return self.maintain(account, time_left)

    def continue_import(self, job: MaintenanceJob,
                        time_left: Callable[[], float] | None = None) -> ImportProgress | None:
        """An import job: read the import's next pages (until STEP_RESERVE seconds are left of the invocation),
        build the rosters once every page is read, else queue the next step. None if there is nothing to do: the
        import is unknown or expired, or its account no longer connected. A transient failure is recorded on the
        import (its page shows it) and raised, so the job is retried."""
        if self._imports is None or job.import_key is None:
            raise RuntimeError("import jobs need the import store and the maintenance queue")
        progress = self._imports.get(job.import_key)
        account = self._registry.get(job.subdomain)
        if (progress is None or progress.done or progress.subdomain != job.subdomain or account is None
                or account.status != CONNECTED):
            return progress if progress is not None and progress.subdomain == job.subdomain else None
        subdomain, key = job.subdomain, job.import_key
        client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
        try:
            progress = self._imports.run(key, client, lambda: time_left is not None and time_left() < STEP_RESERVE)
        except TRANSIENT as exc:
            self._imports.failed(key, f"{type(exc).__name__}: {exc}")
            raise
        if progress is not None and not progress.done:
            if self._jobs is None:
                raise RuntimeError("import jobs need the maintenance queue")
            self._jobs.send(MaintenanceJob(subdomain, self._clock(), kind=IMPORT, import_key=key))
        return progress

    def maintain(self, account: Account, time_left: Callable[[], float] | None = None) -> AccountReport:
        """Maintain one connected account (steps 1 to 9 above); its outcome is also recorded on the account.

        `time_left` (seconds left of the invocation): steps 5 to 9 are not started with under STEP_RESERVE
        seconds left, so the run ends and is recorded rather than being cut by the function's timeout (the tokens
        and the health check, first, always run; what was skipped is in the report's errors, for the next run)."""
        started = self._clock()
        subdomain = account.subdomain
        report = AccountReport(subdomain, CONNECTED)

        def in_time(step: str) -> bool:
            if time_left is None or time_left() >= STEP_RESERVE:
                return True
            report.errors.append(f"OutOfTime: {step} and what follows left for the next run")
            logger.warning("maintenance cut short before the function's timeout", subdomain=subdomain, next_step=step)
            return False
        try:
            report.refreshed = self._upkeep_tokens(subdomain)
            self._move_signing_secret(subdomain)
            client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
            report.health = self._check_health(subdomain, client)
            if report.health != "ok":
                report.status = "needs_reconnect"
                return report
            report.roster_changes = self._resync(account, client)
            if account.webhook_id and account.trigger_id:
                events_webhook_id = account.events_webhook_id or self._add_events_webhook(account, client, report)
                report.hooks_removed = remove_duplicates(client, account.webhook_id, account.trigger_id,
                                                         events_webhook_id)
            # Step 9 runs here, before the steps that call Zendesk, so that their failures cannot keep an account's
            # log from being indexed run after run; it is a few DynamoDB reads and writes, bounded by LOG_INDEX_PAGES.
            if account.log_index_filled_at is None and in_time("the log's agent index"):
                report.log_indexed = self._step(report, "log not indexed by agent; the next run goes on",
                                                lambda: self._index_agent_log(account))
            # Steps 5 and 6 each fail on their own (reported, retried next run): the sweep and the count
            # reconciliation after them are the safety net and must run whatever became of these.
            absences = self._absences
            if absences is not None and in_time("absences"):
                report.reassigned = self._step(report, "absences not handled; the next run tries again",
                                               lambda: absences.due(subdomain, self._clock()))
            now = self._clock()
            if not in_time("waiting tickets"):
                return report
            report.requeued = self._step(report, "waiting tickets not woken; the next run tries again",
                                         lambda: self._waker.wake(subdomain, None, now))
            report.waiting_alerted = self._step(report, "waiting alert not sent; the next run tries again",
                                                lambda: self._waker.alert_overdue(subdomain, now))
            report.requeued += self._sweeper.requeue_parked(subdomain)
            if not in_time("the sweep"):
                return report
            report.swept = self._sweeper.sweep(subdomain, client, self._has_eligible(subdomain, now), report.requeued,
                                               account.first_connected_at)
            if self._reconciler is not None and in_time("the count reconciliation"):
                report.counts_corrected = self._reconciler.reconcile(subdomain, client)
        except ConnectionBrokenError as exc:
            self._alerts.broken(subdomain, exc.reason, since=started)
            report.status, report.health = "needs_reconnect", exc.reason
        except TRANSIENT as exc:
            # Transient (Zendesk down, throttled storage): the account stays connected; the next run retries.
            report.errors.append(f"{type(exc).__name__}: {exc}")
            logger.warning("maintenance incomplete", subdomain=subdomain, error=str(exc))
        finally:
            self._registry.record_maintenance(subdomain, self._clock(), refreshed=report.refreshed,
                                              health=report.health or ("error" if report.errors else "ok"),
                                              outcome=report.outcome(), errors=report.errors)
        return report

    def _step(self, report: AccountReport, failure: str, step: Callable[[], int]) -> int:
        """Run one step of the account's run whose transient failure must not stop the others: the error is
        reported (report.errors) and logged as `failure`, the step counts 0, and the next run tries again. A broken
        connection still stops the run (the caller marks the account)."""
        try:
            return step()
        except TRANSIENT as exc:
            report.errors.append(f"{type(exc).__name__}: {exc}")
            logger.warning(failure, subdomain=report.subdomain, error=str(exc))
            return 0

    def _index_agent_log(self, account: Account) -> int:
        """Step 9, one run's share: from where the last run stopped; the progress is kept on the account (a run
        that fails keeps the last one's: the pages read again are filtered out, nothing is written twice)."""
        indexed, cursor = self._assignments.index_agent_log(account.subdomain, account.log_index_cursor,
                                                            LOG_INDEX_PAGES)
        self._registry.record_log_index(account.subdomain, cursor, self._clock())
        if cursor is None:
            logger.info("log indexed by agent to its end", subdomain=account.subdomain, indexed=indexed)
        return indexed

    def _has_eligible(self, subdomain: str, now: float) -> Callable[[str], bool]:
        """Whether somebody in a group may take a ticket now, asked of the selection at most once per group."""
        known: dict[str, bool] = {}

        def has_eligible(group_id: str) -> bool:
            if group_id not in known:
                known[group_id] = bool(self._selector.eligible_agents(subdomain, group_id, now))
            return known[group_id]

        return has_eligible

    def _upkeep_tokens(self, subdomain: str) -> bool:
        credentials = self._tokens.stored(subdomain)
        tokens = credentials.tokens
        if credentials.auth_method != "oauth" or tokens is None:
            return False  # API-token accounts have nothing to refresh
        now = self._clock()
        if not tokens.refresh_token:  # made by the migration: nothing to refresh with; warn before it expires
            if tokens.access_expires_at is not None and tokens.access_expires_at - now <= EXPIRY_WARNING:
                self._alerts.expiring(subdomain, tokens.access_expires_at)
            return False
        access_due = tokens.access_expires_at is not None and \
            tokens.access_expires_at <= now + self._interval + REFRESH_MARGIN
        refresh_due = tokens.refresh_token_age(now) >= REFRESH_TOKEN_AGE
        if not (access_due or refresh_due):
            return False
        self._tokens.refresh(subdomain, credentials.fingerprint())  # counts TokenRefreshed / ...Failed
        return True

    def _move_signing_secret(self, subdomain: str) -> None:
        """An account connected before signing secrets had their own store keeps its one with the tokens, where
        the webhook receiver cannot read it: copy it over (once; a reconnect writes the new store itself)."""
        if self._signing_secrets is None:
            return
        legacy = self._tokens.credentials(subdomain)  # cached by the token upkeep just before
        if not (legacy.webhook_id and legacy.webhook_secret):
            return
        try:
            self._signing_secrets.load(subdomain)
        except AccountNotFoundError:
            self._signing_secrets.save(subdomain, legacy.webhook_id, legacy.webhook_secret)
            logger.info("webhook signing secret moved to its own secret", subdomain=subdomain)

    def check_health(self, subdomain: str) -> str:
        """Check the account's connection now (an event said its connecting admin changed): "ok", or the reason it
        is broken, in which case the account is marked and the operators are told as by the schedule. Zendesk's
        transient failures raise (ZendeskError, OAuthUnavailableError, StorageError) for the caller to retry."""
        started = self._clock()
        client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
        try:
            health = self._check_health(subdomain, client)
        except ConnectionBrokenError as exc:
            self._alerts.broken(subdomain, exc.reason, since=started)
            return exc.reason
        self._registry.record_maintenance(subdomain, self._clock(), refreshed=False, health=health)
        return health

    def _add_events_webhook(self, account: Account, client: ZendeskClient, report: AccountReport) -> str | None:
        """The events webhook of an account connected before it existed (see step 4); None if not made now. Its
        failure is reported and retried next run, without stopping the run's other steps (the sweep above all)."""
        if self._signing_secrets is None or self._lease is None:
            return None
        subdomain = account.subdomain
        try:
            with self._lease.hold(subdomain):
                current = self._registry.get(subdomain)
                if current is None or current.status != CONNECTED or current.webhook_id != account.webhook_id:
                    return None  # reconnected or disconnected meanwhile: the connect made its own hooks
                if current.events_webhook_id:
                    return current.events_webhook_id
                events = ensure_events_webhook(client, account.webhook_id or "")
                if events is None:
                    return None  # the trigger webhook is gone: a reconnect recreates both
                self._signing_secrets.save(subdomain, events.webhook_id, events.signing_secret)
                self._registry.set_events_webhook(subdomain, events.webhook_id, self._clock())
        except ConnectInProgressError:
            return None  # a connect is running: it makes the events webhook itself
        except (ZendeskError, StorageError) as exc:
            report.errors.append(f"{type(exc).__name__}: {exc}")
            logger.warning("events webhook not added; the next run tries again", subdomain=subdomain, error=str(exc))
            return None
        logger.info("events webhook added", subdomain=subdomain, webhook_id=events.webhook_id, action=events.action)
        return events.webhook_id

    def _check_health(self, subdomain: str, client: ZendeskClient) -> str:
        try:
            me = users.me(client)
        except ZendeskUnauthorizedError as exc:
            me = self._tokens.after_unauthorized(subdomain, exc.credential, lambda: users.me(client))
        if me.get("role") != "admin" or not me.get("active", True):
            raise ConnectionBrokenError(subdomain, "not_admin")
        return "ok"

    def _resync(self, account: Account, client: ZendeskClient) -> dict[str, int]:
        synced = self._rosters.sync(account.subdomain, import_rosters(client, account.excluded_agent_ids),
                                    self._clock())
        if synced.joined or synced.left:
            logger.info("rosters re-synced", subdomain=account.subdomain, joined=synced.joined, left=synced.left)
        return {"joined": synced.joined, "left": synced.left, "groups": len(synced.rosters) - 1}
