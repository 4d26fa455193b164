"""Applying one message of the events queue: a Zendesk event, or an operator's notice.

Zendesk events (kind "zendesk", the verified webhook body):
- user events: the user is read again and the rosters made to agree (people.py); about the connecting admin
  (role, active, suspended, deleted), the health check runs at once and the operators are told;
- agent.unified_state_changed and the Out of Office app's field: stored on the agent, last writer wins
  (statuses.py);
- ticket status and assignment changes: the counts follow the newest snapshot (tickets.py).
Operator notices: "agent_changed", "settings_changed", "wake", "absence".

Whenever someone may have become eligible (status available, out of office off, joined a group, capacity freed)
the waiting tickets of their groups are woken; waking is cheap when nothing waits. Changes that can only make
someone ineligible wake nobody. An account that needs reconnecting still gets what needs no Zendesk call (statuses,
counts, notices); what does (user events) ends "connection_broken", and the re-sync after reconnecting catches up.
`handle` returns a short outcome for the log; Zendesk's rate limits and outages
raise RetryLaterError and storage failures StorageError, for the queue to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from round_robin.accounts.alerts import ConnectionAlerts
from round_robin.accounts.registry import Account, AccountRegistry
from round_robin.accounts.tokens import TokenManager
from round_robin.assignment.agents import AgentStore
from round_robin.assignment.claims import RetryLaterError
from round_robin.assignment.policy import PolicyStore, policy_from_item
from round_robin.assignment.rosters import RosterStore
from round_robin.availability.model import AVAILABLE, OUT_OF_OFFICE
from round_robin.availability.rules import eligibility, own_status
from round_robin.aws.queue import EventMessage
from round_robin.errors import (
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    ZendeskError,
    ZendeskNotFoundError,
    ZendeskRateLimitedError,
    ZendeskUnauthorizedError,
    ZendeskUnavailableError,
)
from round_robin.events import statuses, tickets
from round_robin.events.parsing import Event, MalformedEventError, id_of, parse_event
from round_robin.events.people import People
from round_robin.observability import logger
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory

ROSTER_EVENTS = frozenset(f"user.{name}" for name in (
    "active_changed", "suspended_changed", "role_changed", "custom_role_changed", "deleted",
    "group_membership_created", "group_membership_deleted", "time_zone_changed"))
# What about the connecting admin can break the connection (their token acts as them).
ADMIN_EVENTS = frozenset(f"user.{name}" for name in ("active_changed", "suspended_changed", "role_changed",
                                                      "custom_role_changed", "deleted"))


ACCOUNT_SECONDS = 30.0


class Wake(Protocol):
    def __call__(self, subdomain: str, group_ids: Iterable[str] | None, now: float, round: int = 0) -> int: ...


class EventHandler:
    def __init__(
        self,
        *,
        registry: AccountRegistry,
        rosters: RosterStore,
        agents: AgentStore,
        policies: PolicyStore,
        tokens: TokenManager,
        zendesk: ZendeskFactory,
        wake: Wake,
        absence_started: Callable[[str, int, float], int],
        reopened: Callable[[str, int, int, float], bool],
        check_health: Callable[[str], str],
        alerts: ConnectionAlerts,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._rosters = rosters
        self._agents = agents
        self._policies = policies
        self._tokens = tokens
        self._zendesk = zendesk
        self._wake = wake
        self._absence_started = absence_started
        self._reopened = reopened
        self._check_health = check_health
        self._alerts = alerts
        self._clock = clock
        self._people = People(rosters=rosters, agents=agents, clock=clock)
        self._field_keys: dict[tuple[str, int], str] = {}  # (subdomain, user field id) -> key, per warm process
        self._accounts: dict[str, tuple[float, Account]] = {}  # subdomain -> (read at, account), per warm process

    def _account(self, subdomain: str) -> Account | None:
        """The account, read again once the copy of this warm process is ACCOUNT_SECONDS old: every Zendesk
        event needs it (a burst of ticket events would otherwise read it for each); a connect or an exclusion
        reaches the events at most that much later, and the scheduled re-sync applies exclusions anyway."""
        now = self._clock()
        cached = self._accounts.get(subdomain)
        if cached is not None and now - cached[0] < ACCOUNT_SECONDS:
            return cached[1]
        account = self._registry.get(subdomain)
        if account is None:
            self._accounts.pop(subdomain, None)
        else:
            self._accounts[subdomain] = (now, account)
        return account

    def handle(self, message: EventMessage) -> str:
        """Apply one message; returns its outcome: applied, unchanged, stale, ignored, malformed, unknown_account,
        connection_broken, or what a notice did (woken, absence, ...)."""
        subdomain = message.subdomain
        try:
            event = parse_event(message.payload) if message.kind == "zendesk" else None
            account = self._account(subdomain)
            if account is None:  # never connected (or a stale message): nothing to apply it to
                return "unknown_account"
            if event is None:
                return self._notice(account, message)
            return self._event(account, event)
        except MalformedEventError as exc:
            logger.warning("malformed event dropped", subdomain=subdomain, kind=message.kind, reason=exc.reason)
            return "malformed"
        except ConnectionBrokenError as exc:  # the re-sync after reconnecting catches up
            self._alerts.broken(subdomain, exc.reason)  # flags and tells the operators, once
            logger.warning("event not applied: the connection is broken", subdomain=subdomain, reason=exc.reason)
            return "connection_broken"
        except ZendeskRateLimitedError as exc:
            raise RetryLaterError("rate_limited", exc.retry_after) from exc
        except ZendeskUnavailableError as exc:
            raise RetryLaterError("zendesk_unavailable") from exc
        except ZendeskError as exc:  # an answer nothing above expects (403, 400, ...): logged, retried with backoff
            logger.error("unexpected Zendesk answer while applying an event", subdomain=subdomain, status=exc.status,
                         method=exc.method, path=exc.path, error=type(exc).__name__)
            raise RetryLaterError(f"zendesk_{exc.status or 'error'}") from exc
        except (OAuthUnavailableError, OAuthError) as exc:
            raise RetryLaterError(type(exc).__name__) from exc

    # -- Zendesk events ------------------------------------------------------------------------------------

    def _event(self, account: Account, event: Event) -> str:
        if event.type in ROSTER_EVENTS and event.subject_kind == "user":
            return self._user_event(account, event)
        if event.type == "user.custom_field_changed" and event.subject_kind == "user":
            return self._custom_field(account, event)
        if event.type == "agent.unified_state_changed":
            return self._unified_status(account.subdomain, event)
        if event.type in tickets.COUNTED_EVENTS and event.subject_kind == "ticket":
            return self._ticket(account.subdomain, event)
        return "ignored"

    def _user_event(self, account: Account, event: Event) -> str:
        subdomain, user_id = account.subdomain, event.subject_id
        if event.detail.get("role") == "end-user" and event.type != "user.role_changed":
            # Zendesk sends these for end users too (a spam purge deletes thousands); an end user is in no roster
            # and is never the connecting admin, and an agent becoming one comes as user.role_changed. Reading each
            # from Zendesk would spend the account's API budget that assignments need.
            return "ignored"
        client = self._client(subdomain)
        sync = self._call(subdomain, lambda: self._people.sync_user(subdomain, client, user_id,
                                                                     account.excluded_agent_ids))
        if sync.joined:
            self._wake(subdomain, sync.joined, self._clock())
        if user_id == account.connected_user_id and event.type in ADMIN_EVENTS:
            health = self._check_health(subdomain)
            self._alerts.admin_changed(subdomain, event.id, event.type, health)
        if sync.joined or sync.left or sync.time_zone_changed:
            logger.info("user event applied", subdomain=subdomain, user_id=user_id, type=event.type,
                        joined=list(sync.joined), left=list(sync.left))
            return "applied"
        return "unchanged"

    def _custom_field(self, account: Account, event: Event) -> str:
        subdomain = account.subdomain
        field_id, value = statuses.custom_field_change(event)
        if self._field_key(subdomain, field_id) != statuses.OOO_FIELD_KEY:
            return "ignored"
        now, agent_id, out = self._clock(), event.subject_id, statuses.checked(value)
        if not self._agents.change_unless_older(subdomain, agent_id, {"ooo_app": out}, statuses.OOO_ORDER, event.time,
                                            now):
            return "stale"
        policy, _ = self._policies.get(subdomain)
        if policy.ooo_app and out:
            self._absence_started(subdomain, agent_id, now)
        elif policy.ooo_app:
            self._wake(subdomain, self._groups_of(subdomain, agent_id), now)
        return "applied"

    def _field_key(self, subdomain: str, field_id: int) -> str:
        key = self._field_keys.get((subdomain, field_id))
        if key is None:
            client = self._client(subdomain)
            try:
                key = str(self._call(subdomain, lambda: users.user_field(client, field_id)).get("key") or "")
            except ZendeskNotFoundError:
                key = ""  # deleted since: not the app's field any more
            self._field_keys[(subdomain, field_id)] = key
        return key

    def _unified_status(self, subdomain: str, event: Event) -> str:
        agent_id, name, version = statuses.unified_status(event)
        now = self._clock()
        if not self._agents.change_unless_older(subdomain, agent_id, {"zendesk_status": name}, statuses.STATUS_ORDER,
                                            version, now):
            return "stale"
        policy, _ = self._policies.get(subdomain)
        if policy.zendesk_status and policy.status_map.get(name, None) == AVAILABLE:
            self._wake(subdomain, self._groups_of(subdomain, agent_id), now)
        return "applied"

    def _ticket(self, subdomain: str, event: Event) -> str:
        ticket = tickets.snapshot(event)
        read, availability = self._agents.marker_and_availability(subdomain, ticket.ticket_id)
        if read.at is not None and read.at > ticket.updated_at:
            return "stale"  # older than what the counts hold: one read, nothing else
        policy, _ = policy_from_item(availability)
        now = self._clock()
        is_open = ticket.assignee_id is not None and ticket.status in policy.counted_statuses
        before = self._agents.count(subdomain, ticket.ticket_id, ticket.assignee_id, is_open=is_open, now=now,
                                    as_of=ticket.updated_at, read=read)
        if before is None:
            return "stale"
        changed = (before.agent_id, before.open) != (ticket.assignee_id, is_open)
        freed = before.agent_id is not None and before.open and changed
        if freed and before.agent_id is not None:
            self._wake(subdomain, self._groups_of(subdomain, before.agent_id), now)
        elif not changed and before.at == ticket.updated_at and not is_open and ticket.assignee_id is not None:
            # A redelivery of the change that freed this agent: its wake may have failed the first time (waking
            # is idempotent, and cheap when nothing waits).
            self._wake(subdomain, self._groups_of(subdomain, ticket.assignee_id), now)
        if tickets.reopened(ticket) and ticket.assignee_id is not None:
            self._reopened(subdomain, ticket.ticket_id, ticket.assignee_id, now)  # the claim stops a duplicate
        return "applied" if changed else "unchanged"

    # -- operator notices ----------------------------------------------------------------------------------

    def _notice(self, account: Account, message: EventMessage) -> str:
        subdomain, payload, now = account.subdomain, message.payload, self._clock()
        if message.kind == "settings_changed":
            self._wake(subdomain, None, now)
            return "woken"
        if message.kind == "wake":
            group_ids = payload.get("group_ids")
            if group_ids is not None and (not isinstance(group_ids, list)
                                          or not all(isinstance(g, str) for g in group_ids)):
                raise MalformedEventError("group_ids")
            round_ = payload.get("round", 0)
            if not isinstance(round_, int) or isinstance(round_, bool) or round_ < 0:
                raise MalformedEventError("round")
            self._wake(subdomain, group_ids, now, round=round_)
            return "woken"
        if message.kind not in ("agent_changed", "absence"):
            raise MalformedEventError("kind")
        agent_id = id_of(payload.get("agent_id"), "agent_id")
        if agent_id is None:
            raise MalformedEventError("agent_id")
        if message.kind == "absence":
            self._absence_started(subdomain, agent_id, now)
            return "absence"
        return self._agent_changed(subdomain, agent_id, now)

    def _agent_changed(self, subdomain: str, agent_id: int, now: float) -> str:
        """An operator changed the agent's availability or caps: wake their groups where they are now eligible;
        start their absence if they are now out of office (a future one starts by itself)."""
        agent = self._agents.agents(subdomain, {agent_id: ""})[agent_id]
        if own_status(agent, now) == OUT_OF_OFFICE:
            self._absence_started(subdomain, agent_id, now)
            return "absence"
        policy, schedules = self._policies.get(subdomain)
        groups = [g for g in self._groups_of(subdomain, agent_id)
                  if eligibility(agent, policy, schedules, g, now).eligible]
        if groups:
            self._wake(subdomain, groups, now)
            return "woken"
        return "unchanged"

    # -- helpers -------------------------------------------------------------------------------------------

    def _groups_of(self, subdomain: str, agent_id: int) -> list[str]:
        """The rosters (group ids, `*` included) that hold the agent."""
        return [r.group_id for r in self._rosters.list(subdomain) if any(m.id == agent_id for m in r.members)]

    def _client(self, subdomain: str) -> ZendeskClient:
        return self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))

    def _call(self, subdomain: str, operation: Callable[[], Any]) -> Any:
        """Run Zendesk calls; on 401 replace the refused token (TokenManager.after_unauthorized) and run again."""
        try:
            return operation()
        except ZendeskUnauthorizedError as exc:
            return self._tokens.after_unauthorized(subdomain, exc.credential, operation)

