"""Connecting an account once its credentials are in hand (an OAuth grant, or an API token): the Zendesk side
first (setup.py), then our side, so that a failure part-way leaves nothing half-stored.

Our side is written last, secrets first, so the registry never points at missing credentials: the tokens, then
the webhooks' signing secrets, then the account, then the rosters; then tickets parked while the connection was
broken go back to the queue. The agent import (assignment/import_job.py) reads Zendesk's pages after the
webhooks and trigger are set up, staging them under its own id until `import_seconds` have passed; if it has read
every page by then, the rosters are built and stored with the rest, otherwise the connection is stored without
them and a maintenance job goes on from the page it reached (the admin's page follows its progress). Until the
rosters are stored, a ticket of a group without a roster has that group imported by the worker. The caller holds
the account's connect lease (lease.py) throughout. Webhooks and triggers that a failure left in Zendesk are
adopted by the next connect, and copies of them deleted (zendesk/hooks.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import CONNECTED, Account, AccountRegistry
from round_robin.accounts.tokens import TokenManager
from round_robin.accounts.vault import SigningSecretStore
from round_robin.assignment.claims import AssignmentStore
from round_robin.assignment.import_job import AccountImport, ImportProgress, import_key
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.rotation import Roster
from round_robin.aws.queue import AssignmentQueue, MaintenanceQueue
from round_robin.connect.setup import Setup, set_up
from round_robin.errors import StorageError
from round_robin.observability import logger
from round_robin.sweep import requeue_parked
from round_robin.zendesk.client import ZendeskClient


@dataclass(frozen=True)
class ConnectionReport:
    """What a successful connection did, for the confirmation page and the logs."""

    subdomain: str
    user_name: str
    reconnected: bool
    previous_auth_method: str | None
    rosters: list[Roster]
    webhook_action: str
    trigger_action: str
    auth_method: str = "oauth"
    requeued: int = 0  # parked tickets sent back to the queue
    events_webhook_action: str = ""  # the event-subscribed webhook: created | updated | unchanged
    # The agent import, when it goes on after the request (`rosters` is then empty): its id, for the progress link
    # only (never logged), and how far it got.
    import_id: str | None = field(default=None, repr=False)
    import_progress: ImportProgress | None = None


class Connections:
    """Sets an account up in Zendesk with its credentials, then stores the connection (see the module docstring)."""

    def __init__(
        self,
        *,
        tokens: TokenManager,
        signing_secrets: SigningSecretStore,
        registry: AccountRegistry,
        rosters: RosterStore,
        imports: AccountImport,
        assignments: AssignmentStore | None = None,
        queue: AssignmentQueue | None = None,
        jobs: MaintenanceQueue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._signing_secrets = signing_secrets
        self._registry = registry
        self._rosters = rosters
        self._imports = imports
        self._assignments = assignments
        self._queue = queue
        self._jobs = jobs
        self._clock = clock

    def __repr__(self) -> str:
        return "Connections()"

    def connect(self, subdomain: str, client: ZendeskClient, credentials: Credentials, webhook_base_url: str, *,
                import_seconds: float | None = None) -> ConnectionReport:
        """Connect `subdomain` with `credentials` (what `client` authenticates with); the caller holds the lease.

        `import_seconds`: how long the agent import may read Zendesk's pages before the rest is left to a
        maintenance job (None: until it is done, for the command line, which has no request time limit)."""
        setup = set_up(subdomain, client, credentials, self._registry.get(subdomain), webhook_base_url)
        import_id = self._imports.start(subdomain, setup.previous.excluded_agent_ids if setup.previous else ())
        deadline = None if import_seconds is None or self._jobs is None else self._clock() + import_seconds
        try:
            progress = self._imports.fetch(import_key(import_id), client,
                                           lambda: deadline is not None and self._clock() >= deadline)
            return self._store(setup, import_id, progress)
        except Exception:
            self._discard(import_id)
            raise

    def _discard(self, import_id: str) -> None:
        """A failed connect keeps nothing of its import (the staged pages would otherwise wait for their TTL)."""
        try:
            self._imports.discard(import_key(import_id))
        except StorageError as exc:  # the connect's own failure is what the admin must see; the TTL cleans up
            logger.warning("a failed connect's agent import not discarded", error=str(exc))

    def _store(self, setup: Setup, import_id: str, progress: ImportProgress | None) -> ConnectionReport:
        """Our side, secrets first. The signing secret goes to its own store (the webhook receiver reads only
        that), not with the tokens."""
        subdomain, me, previous = setup.subdomain, setup.me, setup.previous
        now = int(self._clock())
        credentials = replace(setup.credentials, connected_user_id=me["id"], webhook_id=setup.webhook_id,
                              webhook_secret=None)
        # Stored under the refresh lease, so a refresh in flight cannot write the replaced pair back over it. A
        # reconnect also drops the secret's previous version: it holds the replaced grant (still valid in Zendesk
        # until it lapses, as the service cannot revoke it) or, for a migration, the API token.
        self._tokens.install(subdomain, credentials, forget_previous=previous is not None)
        # Exactly the kept webhooks' secrets: those of webhooks deleted since are no longer accepted.
        self._signing_secrets.replace(subdomain, {setup.webhook_id: setup.signing_secret,
                                                  setup.events_webhook_id: setup.events_signing_secret})
        self._registry.save(
            Account(
                subdomain=subdomain, status=CONNECTED, auth_method=credentials.auth_method,
                connected_user_id=me["id"],
                connected_user_name=me.get("name"), connected_at=now, updated_at=now,
                webhook_id=setup.webhook_id, trigger_id=setup.trigger_id, events_webhook_id=setup.events_webhook_id,
            )
        )
        key = import_key(import_id)
        synced = self._imports.build_or_defer(subdomain, key, progress, self._jobs)  # None: an import job goes on
        stored = synced.rosters if synced is not None else []
        requeued = self._requeue_parked(subdomain)
        report = ConnectionReport(
            subdomain=subdomain,
            user_name=str(me.get("name") or me["id"]),
            reconnected=previous is not None,
            previous_auth_method=previous.auth_method if previous else None,
            rosters=stored,
            webhook_action=setup.webhook_action,
            trigger_action=setup.trigger_action,
            auth_method=credentials.auth_method,
            requeued=requeued,
            events_webhook_action=setup.events_webhook_action,
            import_id=None if synced is not None else import_id,
            import_progress=None if synced is not None else progress,
        )
        logger.info(
            "account connected", subdomain=subdomain, connected_user_id=me["id"], reconnected=report.reconnected,
            auth_method=credentials.auth_method, requeued_parked_tickets=requeued,
            groups=len(stored) - 1 if stored else None, agents=len(stored[-1].members) if stored else None,
            agents_imported_later=synced is None, webhook=setup.webhook_action,
            trigger=setup.trigger_action, events_webhook=setup.events_webhook_action,
        )
        return report

    def _requeue_parked(self, subdomain: str) -> int:
        """Tickets parked while the connection was broken go back to the queue."""
        if self._assignments is None or self._queue is None:
            return 0
        return requeue_parked(self._assignments, self._queue, subdomain, self._clock(), "reconnect")
