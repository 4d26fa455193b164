"""Choosing the agent for a ticket: the next eligible agent in rotation order, taken atomically (see rotation.py).

One selection on a warm worker, in DynamoDB calls:

1. one consistent BatchGetItem: the group's `ROTATION#<group>` and the account's `AVAILABILITY` stamp (and the
   `ROSTER#<group>` members, when this worker has not cached that roster version yet);
2. the walk, from the agent after `last_agent_id`, asking the injected eligibility rule about each agent's state
   (cached per warm worker while the stamp is unchanged; read 100 at a time, in walk order, when it changed), up
   to the first eligible one. An agent the cache shows at a cap is read again before being passed over: its
   tickets may have been solved since;
3. one TransactWriteItems: the rotation's compare-and-set (its `sequence` and roster version as read) + the agent's
   check-and-increment (its `version` as read, each count under its cap) + the ticket's record (still this
   attempt's claim, nothing counted yet: it records the agent, so a retry reuses them). If it is cancelled, the
   cancellation reasons say why: the rotation moved (another worker assigned) -> read again; the agent changed or
   filled up -> read that agent again; the claim was lost -> RetryLaterError. Bounded, then RetryLaterError.

Every item written is small (rotation ~100 bytes, agent and ticket well under 1 KB), whatever the roster's size.
When nobody is eligible the ticket waits, with the verdicts' common reason and the earliest time one of them may
change by itself (`Waiting`).

Batch mode (batch.py) takes many tickets' agents at once (`select_many`): the same read and walk, one turn after
another with each pick counted in the cache, then one transaction per 100 items (TransactWriteItems' limit): the
rotation moved by as many turns, each agent's check-and-increment by the tickets they take (count + n within the
cap), each ticket's record. A cancellation is handled as above, for the picks not yet written.

A reassignment (an agent out of office, absence.py) first asks for the absent agent's backup (`backup`: a member
of the group's roster, eligible by the same rule, counted with the same check-and-increment, the rotation
untouched), else selects as above; either way the ticket's counts leave the agent who held them (its marker as
read) in the same transaction. When the agent chosen already holds the ticket's counts (a lost event left its
marker on them), nothing is counted again, and they are asked about as if it were not in their counts: the ticket
is within their caps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from round_robin.assignment.agents import (
    AgentRecord,
    AgentStore,
    CountChange,
    Marker,
    agent_from_item,
    effective_caps,
    local_day,
    uncounted,
)
from round_robin.assignment.claims import CHOICE_FIELDS, IN_PROGRESS, Claim, RetryLaterError, choice_attributes
from round_robin.assignment.rosters import RosterStore, roster_from_item, rotation_from_item
from round_robin.assignment.rotation import Choice, Member, Roster, Rotation, walk
from round_robin.aws.dynamo import CONDITION_FAILED, serialize
from round_robin.table import AVAILABILITY_SK, account_pk, agent_sk, roster_sk, rotation_sk

ATTEMPTS = 10  # failed transactions per ticket: each mostly means another worker assigned (progress), but bounded
CHUNK = 100
TRANSACTION_ITEMS = 100  # TransactWriteItems' most items
GIVE_BACK_ATTEMPTS = 3
NOTHING_COUNTED = Marker()
_AWAY = {"away", "out_of_office", "zendesk_status", "ooo_app"}
_CAPACITY = {"open_cap", "daily_cap"}
_HOURS = {"off_hours", "holiday"}


class Verdict(Protocol):
    """What the eligibility rule answers (availability.model.Verdict)."""

    @property
    def eligible(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def until(self) -> float | None: ...


class EligibilityRule(Protocol):
    """availability.rules.eligibility: whether an agent may take a ticket of `group_id` at `now`."""

    def __call__(self, agent: AgentRecord, policy: Any, schedules: Sequence[Any], group_id: str,
                 now: float) -> Verdict: ...


@dataclass(frozen=True)
class Rules:
    """The eligibility rule, and how to read the account's policy and schedules from its AVAILABILITY item."""

    eligibility: EligibilityRule
    policy: Callable[[Mapping[str, Any]], tuple[Any, Sequence[Any]]]


@dataclass(frozen=True)
class Waiting:
    """Nobody in the group may take the ticket now: why, and when that may change by itself (None: unknown)."""

    reason: str
    until: float | None = None


def waiting_reason(verdicts: Sequence[Verdict]) -> str:
    """The reason a ticket waits: the verdicts' reason when they all agree, else their family (all_away,
    all_at_capacity, off_hours), else no_eligible_agent (also for an empty roster)."""
    reasons = {v.reason for v in verdicts}
    if len(reasons) == 1:
        return reasons.pop()
    for family, name in ((_AWAY, "all_away"), (_CAPACITY, "all_at_capacity"), (_HOURS, "off_hours")):
        if reasons and reasons <= family:
            return name
    return "no_eligible_agent"


def earliest(verdicts: Sequence[Verdict]) -> float | None:
    times = [v.until for v in verdicts if v.until is not None]
    return min(times) if times else None


@dataclass
class _Cache:
    stamp: int
    policy: Any
    schedules: Sequence[Any]
    agents: dict[int, AgentRecord]


class Selector:
    """Selects and counts the agent for a ticket (see the module docstring); caches per warm worker."""

    def __init__(self, *, table_name: str, rosters: RosterStore, agents: AgentStore, rules: Rules) -> None:
        self._table = table_name
        self._rosters = rosters
        self._agents = agents
        self._rules = rules
        self._roster_cache: dict[tuple[str, str], Roster] = {}
        self._accounts: dict[str, _Cache] = {}

    def select(self, subdomain: str, group_id: str, ticket_id: int, claim: Claim,
               now: float, *, counted: Marker = NOTHING_COUNTED) -> Choice | Waiting | None:
        """Take the next eligible agent of the group for this ticket, counted; Waiting if nobody may take it;
        None if the group has no roster, or nobody in it.

        `counted` is the ticket's count marker as read (a reassignment's: the absent agent holds it); its holder's
        counts move to the new agent in the same transaction (if the holder is chosen, they keep them).
        """
        refreshed: set[int] = set()
        holder = self._holder(subdomain, counted)
        failures = 0
        while failures < ATTEMPTS:
            read = self._read(subdomain, group_id)
            if read is None:
                return None
            rotation, roster, cache = read
            if not roster.members:
                return None
            found = self._walk(subdomain, group_id, roster, rotation, cache, refreshed, now, counted)
            if found is None:
                continue  # agents seen at a cap in the cache were read again (at most once each): walk again
            if isinstance(found, Waiting):
                return found
            member, agent = found
            codes = self._take(subdomain, group_id, ticket_id, claim, rotation, member, agent, cache, now,
                               counted, holder)
            if codes is None:
                if counted.agent_id == agent.id:
                    self._forget(subdomain, agent.id)
                else:
                    cache.agents[agent.id] = _counted(agent, local_day(agent.time_zone, now))
                return Choice(member, rotation.sequence + 1, group_id)
            failures += 1
            if codes[2] == CONDITION_FAILED:
                raise RetryLaterError("the claim was lost (lease expired)")
            if codes[1] == CONDITION_FAILED:  # the agent changed or filled up: read them again
                cache.agents.pop(agent.id, None)
                refreshed.discard(agent.id)
            if codes[3:] and codes[3] == CONDITION_FAILED:  # the holder's day moved on: read them again
                holder = self._holder(subdomain, counted)
        raise RetryLaterError("rotation_busy")

    def backup(self, subdomain: str, group_id: str, ticket_id: int, claim: Claim, absent_id: int, counted: Marker,
               now: float) -> Choice | None:
        """Take the absent agent's backup for this ticket, counted as a rotation pick is (caps checked in the same
        transaction; the holder of `counted` gives the ticket up): None if they have no backup, or it is not a
        member of the group's roster, or not eligible now. The rotation does not move: the backup's position is 0.
        """
        for _ in range(GIVE_BACK_ATTEMPTS):
            _, absent = self._read_agent(subdomain, Member(absent_id, ""))
            read = self._read(subdomain, group_id)  # the roster as the rotation reads it (cached by version)
            if absent.backup_id is None or read is None:
                return None
            _, roster, cache = read
            member = next((m for m in roster.members if m.id == absent.backup_id), None)
            if member is None or member.id == absent_id:
                return None
            _, agent = self._read_agent(subdomain, member)
            if not self._rules.eligibility(uncounted(agent, counted), cache.policy, cache.schedules, group_id,
                                           now).eligible:
                return None
            change = CountChange(self._table, subdomain)
            day = local_day(agent.time_zone, now)
            choice = choice_attributes(subdomain, member, 0, group_id)
            record = change.mark(ticket_id, counted, Marker(agent.id, True, day) if counted.agent_id != agent.id
                                 else counted, now, fence=_fence(claim), also_set=choice)
            items = [record]
            if counted.agent_id != agent.id:  # else counted for them already (an attempt that stopped)
                items.append(change.take(agent, day, is_open=True, caps=effective_caps(agent, cache.policy), at=now))
                released = self._release(subdomain, counted)
                if released is not None:
                    items.append(released)
            codes = self._agents.transact(items, "assigning the backup", conflicts_ok=True)
            self._forget(subdomain, agent.id)
            if codes is None:
                return Choice(member, 0, group_id)
            if codes[0] == CONDITION_FAILED:
                raise RetryLaterError("the claim was lost, or the ticket's counts changed")
            # the backup filled up or changed, or the holder's day moved on, meanwhile: ask again
        return None

    def select_many(self, subdomain: str, group_id: str, tickets: Sequence[tuple[int, Claim]],
                    now: float) -> dict[int, Choice | Waiting] | None:
        """Take the group's next eligible agents for these tickets, in order, each counted, as select() takes one
        (batch mode, batch.py): one read, then one transaction per TRANSACTION_ITEMS items (the rotation's
        compare-and-set moved by as many places as tickets in it, each agent's check-and-increment by the tickets
        they take, each ticket's record fenced by its claim). The tickets must have nothing chosen or counted yet.
        Once nobody may take the next ticket, it and the rest wait. A ticket whose claim was lost is absent from the
        answer; None if the group has no roster, or nobody in it. Cancelled transactions are read again, as in
        select(), at most ATTEMPTS times; then RetryLaterError."""
        chosen: dict[int, Choice | Waiting] = {}
        pending = list(tickets)
        refreshed: set[int] = set()
        failures = 0
        while pending:
            if failures >= ATTEMPTS:
                raise RetryLaterError("rotation_busy")
            read = self._read(subdomain, group_id)
            if read is None or not read[1].members:
                return None
            rotation, roster, cache = read
            picks, waiting = self._walk_many(subdomain, group_id, roster, rotation, cache, refreshed, pending, now)
            codes = self._take_many(subdomain, group_id, rotation, picks, cache, now) if picks else None
            if codes is not None:
                failures += 1
                for _, _, _, agent in picks:  # counted in the cache by the walk, not in the table
                    cache.agents.pop(agent.id, None)
                    refreshed.discard(agent.id)
                tickets_from = 1 + len(_agents_of(picks))  # the codes of the tickets' records follow these
                lost = {picks[i][0] for i, code in enumerate(codes[tickets_from:]) if code == CONDITION_FAILED}
                pending = [t for t in pending if t[0] not in lost]
                continue
            for place, (ticket_id, _, member, _) in enumerate(picks, start=1):
                chosen[ticket_id] = Choice(member, rotation.sequence + place, group_id)
            pending = pending[len(picks):]
            if waiting is not None:
                chosen.update({ticket_id: waiting for ticket_id, _ in pending})
                pending = []
        return chosen

    def _walk_many(self, subdomain: str, group_id: str, roster: Roster, rotation: Rotation, cache: _Cache,
                   refreshed: set[int], pending: list[tuple[int, Claim]],
                   now: float) -> tuple[list[tuple[int, Claim, Member, AgentRecord]], Waiting | None]:
        """The agents for the first pending tickets, one turn after another, as many as one transaction holds; and
        Waiting when nobody may take the next ticket. Each pick is counted in the cache (so caps hold across the
        picks) and kept from being read again: until the transaction, the cache is the newer of the two."""
        picks: list[tuple[int, Claim, Member, AgentRecord]] = []
        last = rotation.last_agent_id
        for ticket_id, claim in pending:
            found = None
            while found is None:  # None: agents seen at a cap were read again; at most once each, so this ends
                found = self._walk(subdomain, group_id, roster, replace(rotation, last_agent_id=last), cache,
                                   refreshed, now)
            if isinstance(found, Waiting):
                return picks, found
            member, agent = found
            agents = _agents_of(picks) | {agent.id}
            if 1 + len(agents) + len(picks) + 1 > TRANSACTION_ITEMS:
                break
            picks.append((ticket_id, claim, member, agent))
            cache.agents[agent.id] = _counted(agent, local_day(agent.time_zone, now))
            refreshed.add(agent.id)
            last = member.id
        return picks, None

    def _take_many(self, subdomain: str, group_id: str, rotation: Rotation,
                   picks: list[tuple[int, Claim, Member, AgentRecord]], cache: _Cache, now: float) -> list[str] | None:
        """One transaction for the picks: the rotation moved by len(picks), each agent's counts taken (as read
        before the walk counted them), each ticket's record marked; None if applied, else the cancellation codes
        in that order (rotation, agents by first pick, tickets)."""
        change = CountChange(self._table, subdomain)
        first: dict[int, AgentRecord] = {}
        taken: dict[int, int] = {}
        for _, _, _, agent in picks:
            first.setdefault(agent.id, agent)
            taken[agent.id] = taken.get(agent.id, 0) + 1
        items = [self._move(change, group_id, rotation, picks[-1][2].id, len(picks))]
        for agent_id, agent in first.items():
            items.append(change.take(agent, local_day(agent.time_zone, now), is_open=True,
                                     caps=effective_caps(agent, cache.policy), tickets=taken[agent_id], at=now))
        for place, (ticket_id, claim, member, agent) in enumerate(picks, start=1):
            new = Marker(agent.id, True, local_day(agent.time_zone, now))
            items.append(change.mark(ticket_id, NOTHING_COUNTED, new, now, fence=_fence(claim),
                                     also_set=choice_attributes(subdomain, member, rotation.sequence + place,
                                                                group_id)))
        return self._agents.transact(items, "assigning the rotation in batch", conflicts_ok=True)

    def still_eligible_many(self, subdomain: str, choices: Mapping[int, tuple[Choice, Marker]],
                            now: float) -> set[int]:
        """Of these tickets, those whose earlier choice may still take them (still_eligible, for many: one read of
        the agents and the account's stamp)."""
        names = {choice.agent.id: choice.agent.name for choice, _ in choices.values()}
        if not names:
            return set()
        keys = [serialize({"pk": account_pk(subdomain), "sk": sk})
                for sk in [AVAILABILITY_SK, *(agent_sk(i) for i in names)]]
        items = {i["sk"]: i for start in range(0, len(keys), CHUNK)
                 for i in self._agents.batch_get(keys[start:start + CHUNK], "reading the agents")}
        cache = self._account(subdomain, items.get(AVAILABILITY_SK, {}))
        agents = {i: agent_from_item(items[agent_sk(i)], n) if agent_sk(i) in items else AgentRecord(i, n)
                  for i, n in names.items()}
        cache.agents.update(agents)
        return {ticket_id for ticket_id, (choice, counted) in choices.items()
                if self._rules.eligibility(uncounted(agents[choice.agent.id], counted), cache.policy,
                                           cache.schedules, choice.group_id, now).eligible}

    def counted(self, subdomain: str, ticket_id: int) -> Marker:
        """Whose counts hold the ticket now (its marker, read consistently)."""
        return self._agents.marker(subdomain, ticket_id)

    def settings(self, subdomain: str, agent_id: int) -> tuple[AgentRecord, Any]:
        """An agent as stored and the account's policy, read together (consistent)."""
        stamp_item, agent = self._read_agent(subdomain, Member(agent_id, ""))
        return agent, self._account(subdomain, stamp_item).policy

    def recount(self, subdomain: str, ticket_id: int, agent_id: int | None, *, is_open: bool, now: float) -> None:
        """Make the ticket count for whoever Zendesk says holds it (AgentStore.count)."""
        self._agents.count(subdomain, ticket_id, agent_id, is_open=is_open, now=now)
        if agent_id is not None:
            self._forget(subdomain, agent_id)

    def _holder(self, subdomain: str, counted: Marker) -> AgentRecord | None:
        if counted.agent_id is None:
            return None
        return self._agents.agents(subdomain, {counted.agent_id: ""})[counted.agent_id]

    def _release(self, subdomain: str, counted: Marker) -> dict[str, Any] | None:
        holder = self._holder(subdomain, counted)
        if holder is None:
            return None
        self._forget(subdomain, holder.id)
        return CountChange(self._table, subdomain).release(holder, counted)

    def still_eligible(self, subdomain: str, choice: Choice, counted: Marker, now: float) -> bool:
        """Whether the agent an earlier attempt chose (and counted, as `counted` says) may still take the ticket:
        asked as if this ticket were not in their counts."""
        stamp_item, agent = self._read_agent(subdomain, choice.agent)
        cache = self._account(subdomain, stamp_item)
        cache.agents[agent.id] = agent
        return self._rules.eligibility(uncounted(agent, counted), cache.policy, cache.schedules, choice.group_id,
                                       now).eligible

    def give_back(self, subdomain: str, ticket_id: int, claim: Claim, now: float) -> None:
        """Undo what choosing an agent for this ticket counted, and forget the choice, so it is picked again."""
        change = CountChange(self._table, subdomain)
        for _ in range(GIVE_BACK_ATTEMPTS):
            marker = self._agents.marker(subdomain, ticket_id)
            items = []
            if marker.agent_id is not None:
                agent = self._agents.agents(subdomain, {marker.agent_id: ""})[marker.agent_id]
                released = change.release(agent, marker)
                if released is not None:
                    items.append(released)
                self._forget(subdomain, agent.id)
            items.append(change.mark(ticket_id, marker, Marker(), now, fence=_fence(claim),
                                     also_remove=CHOICE_FIELDS))
            if self._agents.transact(items, "giving back a count", conflicts_ok=True) is None:
                return
        raise RetryLaterError("the claim was lost, or the counts kept changing")

    def eligible_agents(self, subdomain: str, group_id: str, now: float) -> list[AgentRecord]:
        """The group's agents who may take a ticket at `now`, in the order their turns come: the same reads and rule
        as select(), with every member read fresh (counts change without moving the availability stamp)."""
        read = self._read(subdomain, group_id)
        if read is None:
            return []
        rotation, roster, cache = read
        order = walk(roster.members, rotation.last_agent_id)
        self._reread(subdomain, order, cache, set())
        return [cache.agents[m.id] for m in order
                if self._rules.eligibility(cache.agents[m.id], cache.policy, cache.schedules, group_id, now).eligible]

    def policy(self, subdomain: str) -> Any:
        """The account's policy, as the eligibility rule takes it (read with its stamp; cached while unchanged)."""
        items = self._agents.batch_get([serialize({"pk": account_pk(subdomain), "sk": AVAILABILITY_SK})],
                                       "reading the policy")
        return self._account(subdomain, items[0] if items else {}).policy

    # -- reading -----------------------------------------------------------------------------------------------

    def _read(self, subdomain: str, group_id: str) -> tuple[Rotation, Roster, _Cache] | None:
        key = (subdomain, group_id)
        sks = [rotation_sk(group_id), AVAILABILITY_SK]
        if key not in self._roster_cache:
            sks.append(roster_sk(group_id))
        items = {i["sk"]: i for i in self._agents.batch_get(
            [serialize({"pk": account_pk(subdomain), "sk": sk}) for sk in sks], "reading the rotation")}
        cache = self._account(subdomain, items.get(AVAILABILITY_SK, {}))
        if roster_sk(group_id) in items:
            self._roster_cache[key] = roster_from_item(items[roster_sk(group_id)])
        if rotation_sk(group_id) not in items:
            started = self._rosters.start_rotation(subdomain, group_id)  # a roster from before rotation items
            if started is None:
                self._roster_cache.pop(key, None)
                return None
            self._roster_cache[key] = started[0]
            return started[1], started[0], cache
        rotation = rotation_from_item(items[rotation_sk(group_id)])
        roster = self._roster_cache.get(key)
        if roster is None or roster.version != rotation.roster_version:
            roster = self._rosters.get(subdomain, group_id, consistent=False)
            if roster is not None and roster.version != rotation.roster_version:
                roster = self._rosters.get(subdomain, group_id)
            if roster is None:
                self._roster_cache.pop(key, None)
                return None
            self._roster_cache[key] = roster
        return rotation, roster, cache

    def _account(self, subdomain: str, stamp_item: Mapping[str, Any]) -> _Cache:
        stamp = stamp_item.get("version", 0)
        cache = self._accounts.get(subdomain)
        if cache is None or cache.stamp != stamp:
            policy, schedules = self._rules.policy(stamp_item)
            cache = self._accounts[subdomain] = _Cache(stamp, policy, schedules, {})
        return cache

    def _read_agent(self, subdomain: str, member: Member) -> tuple[dict[str, Any], AgentRecord]:
        items = {i["sk"]: i for i in self._agents.batch_get(
            [serialize({"pk": account_pk(subdomain), "sk": sk}) for sk in (agent_sk(member.id), AVAILABILITY_SK)],
            "reading the agent")}
        item = items.get(agent_sk(member.id))
        agent = agent_from_item(item, member.name) if item else AgentRecord(member.id, member.name)
        return items.get(AVAILABILITY_SK, {}), agent

    def _forget(self, subdomain: str, agent_id: int) -> None:
        cache = self._accounts.get(subdomain)
        if cache is not None:
            cache.agents.pop(agent_id, None)

    # -- the walk and the transaction --------------------------------------------------------------------------

    def _walk(self, subdomain: str, group_id: str, roster: Roster, rotation: Rotation, cache: _Cache,
              refreshed: set[int], now: float,
              counted: Marker = NOTHING_COUNTED) -> tuple[Member, AgentRecord] | Waiting | None:
        """The first eligible member after the pointer (the holder of `counted` asked as if the ticket were not in
        their counts); Waiting if none; None if agents seen at a cap in the cache were read again (walk again)."""
        order = walk(roster.members, rotation.last_agent_id)
        verdicts: list[Verdict] = []
        at_cap: list[Member] = []
        for place, member in enumerate(order):
            if member.id not in cache.agents:  # read the next agents the walk may need, 100 at a time
                missing = {m.id: m.name for m in order[place:place + CHUNK] if m.id not in cache.agents}
                cache.agents.update(self._agents.agents(subdomain, missing))
                refreshed.update(missing)
            agent = cache.agents[member.id]
            verdict = self._rules.eligibility(uncounted(agent, counted), cache.policy, cache.schedules, group_id, now)
            if verdict.eligible and not at_cap:
                return member, agent
            if verdict.eligible:  # but some before them looked full in the cache: read those, walk again
                self._reread(subdomain, at_cap, cache, refreshed)
                return None
            verdicts.append(verdict)
            if verdict.reason in _CAPACITY and member.id not in refreshed:
                at_cap.append(member)
        if at_cap:
            self._reread(subdomain, at_cap, cache, refreshed)
            return None
        return Waiting(waiting_reason(verdicts) if verdicts else "no_eligible_agent", earliest(verdicts))

    def _reread(self, subdomain: str, members: list[Member], cache: _Cache, refreshed: set[int]) -> None:
        for start in range(0, len(members), CHUNK):
            names = {m.id: m.name for m in members[start:start + CHUNK]}
            cache.agents.update(self._agents.agents(subdomain, names))
            refreshed.update(names)

    def _move(self, change: CountChange, group_id: str, rotation: Rotation, last_agent_id: int,
              places: int) -> dict[str, Any]:
        """The rotation's compare-and-set: `places` turns on from the sequence as read, to `last_agent_id`."""
        names = {"#sequence": "sequence", "#version": "roster_version"}
        values: dict[str, Any] = {":last": last_agent_id, ":sequence": rotation.sequence + places,
                                  ":roster": rotation.roster_version, ":read": rotation.sequence}
        condition = "#sequence = :read AND #version = :roster"
        if rotation.roster_version == 0:  # migrated from a roster without versions
            condition = "#sequence = :read AND (attribute_not_exists(#version) OR #version = :roster)"
        return {"Update": {"TableName": self._table, "Key": change.key(rotation_sk(group_id)),
                           "UpdateExpression": "SET last_agent_id = :last, #sequence = :sequence",
                           "ConditionExpression": condition, "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": serialize(values)}}

    def _take(self, subdomain: str, group_id: str, ticket_id: int, claim: Claim, rotation: Rotation,
              member: Member, agent: AgentRecord, cache: _Cache, now: float, counted: Marker = NOTHING_COUNTED,
              holder: AgentRecord | None = None) -> list[str] | None:
        """The transaction: None if applied, else each item's cancellation code ("" where it did not fail), in the
        order rotation, agent, ticket (and the holder of `counted`, giving the ticket up)."""
        change = CountChange(self._table, subdomain)
        day = local_day(agent.time_zone, now)
        sequence = rotation.sequence + 1
        move = self._move(change, group_id, rotation, member.id, 1)
        caps = effective_caps(agent, cache.policy)
        if counted.agent_id == agent.id:  # theirs already: take only what is not counted (the version still checked)
            new = Marker(agent.id, True, counted.date or day)
            count = change.take(agent, day, is_open=not counted.open, daily=counted.date is None, caps=caps,
                                at=now)
        else:
            new = Marker(agent.id, True, day)
            count = change.take(agent, day, is_open=True, caps=caps, at=now)
        record = change.mark(ticket_id, counted, new, now, fence=_fence(claim),
                             also_set=choice_attributes(subdomain, member, sequence, group_id))
        items = [move, count, record]
        if holder is not None and holder.id != agent.id:
            released = change.release(holder, counted)
            self._forget(subdomain, holder.id)
            if released is not None:
                items.append(released)
        return self._agents.transact(items, "assigning the rotation", conflicts_ok=True)


def _agents_of(picks: Sequence[tuple[int, Claim, Member, AgentRecord]]) -> set[int]:
    return {agent.id for _, _, _, agent in picks}


def _fence(claim: Claim) -> tuple[str, dict[str, Any]]:
    """Only the attempt holding the claim may write the ticket's record (claims.py)."""
    return "#status = :working AND attempts = :attempt", {":working": IN_PROGRESS, ":attempt": claim.attempts}


def _counted(agent: AgentRecord, day: str) -> AgentRecord:
    same_day = agent.daily_date == day
    return replace(agent, open_count=agent.open_count + 1, daily_date=day,
                   daily_count=agent.daily_count + 1 if same_day else 1)
