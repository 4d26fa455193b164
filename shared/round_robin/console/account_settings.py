"""What the Settings page reads and does for the signed-in account: the connection's facts (from the account
record the maintenance keeps, accounts/registry.py, and the stored credentials' expiry: no Zendesk call per page
view), the per-account switches (the CLI's `settings` and `capacity` defaults), Import agents now (the CLI's
`resync`), and Migrate to OAuth (connect/migration.py).

Every method takes the session's subdomain and nothing else names an account, so a page can only ever act on
the account its admin signed in to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import Account, AccountRegistry
from round_robin.accounts.vault import TokenVault
from round_robin.assignment.policy import PolicyStore, Settings
from round_robin.assignment.rosters import RosterStore
from round_robin.availability.model import AccountPolicy, Schedule
from round_robin.connect.migration import MigrationReport
from round_robin.errors import AccountNotFoundError
from round_robin.zendesk.client import ZendeskClient

if TYPE_CHECKING:
    from round_robin.assignment.import_job import AccountImport
    from round_robin.aws.queue import MaintenanceQueue


@dataclass(frozen=True)
class Connection:
    """What the Settings page shows of the connection."""

    account: Account
    credentials: Credentials | None  # None: the secret is gone (the account must be connected again)


@dataclass(frozen=True)
class GroupChange:
    group_name: str
    members: int
    joined: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed: per group, who joined and who left; groups new and gone."""

    groups: tuple[GroupChange, ...]
    added_groups: tuple[str, ...] = ()
    removed_groups: tuple[str, ...] = ()
    agents: int = 0  # distinct agents in some rotation after the import
    import_id: str | None = None  # not finished within the request: a job goes on (its progress: /oauth/import)

    @property
    def changed(self) -> bool:
        return bool(self.added_groups or self.removed_groups or any(g.joined or g.left for g in self.groups))


@dataclass(frozen=True)
class SwitchesSaved:
    policy: AccountPolicy
    announced: bool  # False: stored, but the events queue could not be told (applied at the next maintenance)
    changed: dict[str, Any] = field(default_factory=dict)


class AccountSettings:
    def __init__(self, *, registry: AccountRegistry, vault: TokenVault, policies: PolicyStore, rosters: RosterStore,
                 zendesk: Callable[[str], ZendeskClient], migrate: Callable[[str], MigrationReport],
                 announce: Callable[[str], bool], imports: AccountImport, jobs: MaintenanceQueue,
                 import_seconds: float = 8.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._vault = vault
        self._policies = policies
        self._rosters = rosters
        self._zendesk = zendesk
        self._migrate = migrate
        self._announce = announce
        self._imports = imports
        self._jobs = jobs
        self._import_seconds = import_seconds
        self._clock = clock

    def connection(self, subdomain: str) -> Connection:
        """The account's record and stored credentials; AccountNotFoundError when it is no longer registered."""
        account = self._registry.get(subdomain)
        if account is None:
            raise AccountNotFoundError(f"{subdomain} is not registered")
        try:
            credentials: Credentials | None = self._vault.load(subdomain)
        except AccountNotFoundError:
            credentials = None
        return Connection(account, credentials)

    def policy(self, subdomain: str) -> AccountPolicy:
        """The account's switches as stored (the defaults before any change)."""
        return self._policies.get(subdomain)[0]

    def save_switches(self, subdomain: str, given: dict[str, Any]) -> SwitchesSaved:
        """Store validated switches (AccountPolicy fields) and announce the change on the events queue, as the CLI
        does; what differs from the stored policy is reported in `changed`."""
        before = self.policy(subdomain)

        def change(policy: AccountPolicy, schedules: tuple[Schedule, ...]) -> Settings:
            return replace(policy, **given), schedules

        policy, _ = self._policies.set(subdomain, change, self._clock())
        changed = {k: v for k, v in given.items() if getattr(before, k) != v}
        return SwitchesSaved(policy, self._announce(subdomain), changed)

    def import_agents(self, subdomain: str) -> ImportSummary:
        """Re-import the account's agents and groups from Zendesk now (the CLI's `resync`) and say what changed."""
        account = self._registry.get(subdomain)
        if account is None:
            raise AccountNotFoundError(f"{subdomain} is not registered")
        before = {r.group_id: r for r in self._rosters.list(subdomain)}
        # As the connect does (assignment/import_job.py): read Zendesk's pages for a few seconds, staging them, and
        # leave the rest to a maintenance job, so that a large account is never cut off half-written by API
        # Gateway's 29 s; rosters are stored only once every page is read.
        from round_robin.assignment.import_job import import_key  # noqa: PLC0415 (on a click only)

        import_id = self._imports.start(subdomain, account.excluded_agent_ids)
        key, deadline = import_key(import_id), self._clock() + self._import_seconds
        progress = self._imports.fetch(key, self._zendesk(subdomain), lambda: self._clock() >= deadline)
        synced = self._imports.build_or_defer(subdomain, key, progress, self._jobs)
        if synced is None:  # an import job goes on
            return ImportSummary((), agents=0, import_id=import_id)
        stored = synced.rosters
        groups, added = [], []
        for roster in stored:
            old = before.pop(roster.group_id, None)
            if old is None:
                added.append(roster.group_name)
            old_ids = {m.id for m in old.members} if old else set()
            new_ids = {m.id for m in roster.members}
            groups.append(GroupChange(
                roster.group_name, len(roster.members),
                tuple(m.name for m in roster.members if m.id not in old_ids) if old else (),
                tuple(m.name for m in old.members if m.id not in new_ids) if old else (),
            ))
        agents = len({m.id for r in stored for m in r.members})
        return ImportSummary(tuple(groups), tuple(added), tuple(r.group_name for r in before.values()), agents)

    def migrate(self, subdomain: str) -> MigrationReport:
        """Move an API-token account to OAuth (the notice's "Migrate to OAuth authentication method")."""
        return self._migrate(subdomain)
