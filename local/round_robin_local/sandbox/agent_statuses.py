"""Agent statuses (unified statuses) and the Agent Availability API.

- Default unified statuses (developer.zendesk.com/api-reference/agent-availability/unified-agent-status-api/
  introduction/): Offline 2 "Can't receive work" (all channels offline), Online 3 "Can receive work" (all online),
  Away 4 "Can only receive email tickets" (all channels offline), Transfers Only 5 "Can only receive work from
  other agents" (all transfers only). Names are lower-case in the API ({"name": "online"}: Default Unified Status).
- Custom statuses an admin defines: a name, a description, a state per channel (messaging, support, talk: "online",
  "away", "transfers_only" or "offline") and the groups that may use it (Custom Unified Status).
- `GET /api/v2/agent_availabilities/agent_statuses`: `{default, custom, links, meta}` (Unified Agent Statuses).
- `GET /api/v2/agent_availabilities` and `/{agent_id}`: "Allowed For: Admins"; JSON:API; "It supports cursor
  pagination, and does not support offset pagination" (agent-availability-api/introduction). Filters (from
  Zendesk's own API client: AgentAvailability.search): `filter[channel_status]=support:online`,
  `filter[agent_status_id]=<id>`, `filter[agent_id]=1,2`. `version` is "The version number of the agent's
  availability", one more at every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import ApiError, invalid_endpoint, json_answer, record_invalid, to_int
from round_robin_local.sandbox.pagination import cursor_page

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events
    from round_robin_local.sandbox.model import Account, Sandbox

CHANNELS = ("messaging", "support", "talk")
CHANNEL_STATES = ("online", "away", "transfers_only", "offline")
OFFLINE, ONLINE, AWAY, TRANSFERS_ONLY = 2, 3, 4, 5
DEFAULT_STATUSES = {
    OFFLINE: ("offline", "Can't receive work", "offline"),
    ONLINE: ("online", "Can receive work", "online"),
    AWAY: ("away", "Can only receive email tickets", "offline"),
    TRANSFERS_ONLY: ("transfers_only", "Can only receive work from other agents", "transfers_only"),
}


def statuses(account: Account) -> dict[int, dict[str, Any]]:
    """Every unified status of the account by id: `{id, name, description, channels, custom}`."""
    found = {status_id: {"id": status_id, "name": name, "description": description, "custom": False,
                         "channels": dict.fromkeys(CHANNELS, state)}
             for status_id, (name, description, state) in DEFAULT_STATUSES.items()}
    found.update({s["id"]: {**s, "custom": True} for s in account.custom_agent_statuses.values()})
    return found


def create_custom_status(sandbox: Sandbox, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    """A custom unified status; its name is unique per account ("unique per account": Custom Unified Status
    Attributes)."""
    name = str(spec.get("name") or "").strip()
    channels = spec.get("channels") or {}
    if not name or any(s["name"].lower() == name.lower() for s in statuses(account).values()):
        raise record_invalid("Name: must be present and unique", "name")
    if set(channels) != set(CHANNELS) or any(v not in CHANNEL_STATES for v in channels.values()):
        raise record_invalid(f"Channels: a state ({', '.join(CHANNEL_STATES)}) for each of {', '.join(CHANNELS)}",
                             "channels")
    status_id = sandbox.next_id()
    status = {"id": status_id, "name": name, "description": str(spec.get("description") or ""),
              "channels": dict(channels), "group_ids": list(spec.get("group_ids") or []),
              "updated_at": sandbox.clock.iso()}
    account.custom_agent_statuses[status_id] = status
    return status


def availability(account: Account, agent_id: int) -> dict[str, Any]:
    """An agent's unified status: `{status_id, reason, updated_at, version}` (Offline until one is set)."""
    return account.availability.get(agent_id) or {"status_id": OFFLINE, "reason": "UNKNOWN", "updated_at": None,
                                                   "version": 0}


def set_status(sandbox: Sandbox, account: Account, agent_id: int, status: Any, events: Events,
               reason: str = "AGENT_STATUS_SWITCHER") -> dict[str, Any]:
    """Set an agent's unified status (by id or by name) and send its events; setting the same status is no change."""
    user = account.users.get(agent_id)
    if user is None or user["role"] not in ("agent", "admin"):
        raise ApiError(404, {"error": "RecordNotFound", "description": "No such agent"})
    known = statuses(account)
    wanted = known.get(to_int(status) or -1) or next(
        (s for s in known.values() if s["name"].lower() == str(status).lower()), None)
    if wanted is None:
        raise record_invalid("Agent status: is invalid", "agent_status_id")
    before = availability(account, agent_id)
    if before["status_id"] == wanted["id"]:
        return before
    now = sandbox.clock.iso()
    after = {"status_id": wanted["id"], "reason": reason, "updated_at": now, "version": before["version"] + 1}
    account.availability[agent_id] = after
    previous = {**known[before["status_id"]], "reason": before["reason"]}
    events.agent_status_changed(account, agent_id, previous, {**wanted, "reason": reason, "updated_at": now},
                                after["version"])
    return after


def route(request: Request, account: Account, rest: list[str]) -> Response:
    """`/api/v2/agent_availabilities/<rest>` (admins only: access.py)."""
    if request.method != "GET":
        raise invalid_endpoint()
    base = f"{request.host_url.rstrip('/')}/{account.subdomain}/api/v2/agent_availabilities"
    match rest:
        case ["agent_statuses"]:
            known = sorted(statuses(account).values(), key=lambda s: s["name"].lower())  # "lexicographical order"
            return json_answer({"default": [_status_view(s) for s in known if not s["custom"]],
                                "custom": [_status_view(s) for s in known if s["custom"]],
                                "links": {"next": None, "prev": None}, "meta": {"has_more": False}})
        case []:
            agents = [_availability_view(account, u, base) for u in _agents(account, request)]
            page = cursor_page(request, base, "data", agents)
            shown = {a["attributes"]["agent_id"] for a in page["data"]}
            page["included"] = [c for u in _agents(account, request) if u["id"] in shown for c in _channels(account, u)]
            return json_answer(page)
        case [agent_id]:
            user = account.users.get(to_int(agent_id) or -1)
            if user is None or user["role"] not in ("agent", "admin"):
                raise ApiError(404, {"errors": [{"code": "NotFound", "title": "Agent not found"}]})
            return json_answer({"data": _availability_view(account, user, base), "included": _channels(account, user)})
    raise invalid_endpoint()


def _agents(account: Account, request: Request) -> list[dict[str, Any]]:
    known = statuses(account)
    agents = [u for u in account.users.values() if u["role"] in ("agent", "admin") and u["active"]]
    if request.args.get("filter[agent_id]"):
        wanted = {to_int(i) for i in request.args["filter[agent_id]"].split(",")}
        agents = [u for u in agents if u["id"] in wanted]
    if request.args.get("filter[agent_status_id]"):
        status_id = to_int(request.args["filter[agent_status_id]"])
        agents = [u for u in agents if availability(account, u["id"])["status_id"] == status_id]
    if request.args.get("filter[channel_status]"):
        channel, _, state = request.args["filter[channel_status]"].partition(":")
        agents = [u for u in agents if known[availability(account, u["id"])["status_id"]]["channels"].get(channel)
                  == state]
    return agents


def _availability_view(account: Account, user: dict[str, Any], base: str) -> dict[str, Any]:
    current = availability(account, user["id"])
    status = statuses(account)[current["status_id"]]
    key = f"agent_availabilities|{user['id']}"
    return {"type": "agent_availabilities", "id": key,
            "attributes": {"agent_id": user["id"],
                           "agent_status": {"id": status["id"], "name": status["name"], "reason": current["reason"],
                                            "updated_at": current["updated_at"]},
                           "group_ids": sorted(m["group_id"] for m in account.memberships.values()
                                               if m["user_id"] == user["id"]),
                           "skills": [], "version": current["version"]},
            "links": {"self": f"{base}/{user['id']}"},
            "relationships": {"channels": {"data": [{"id": f"{key}|channels|{c}", "type": "channels"}
                                                    for c in CHANNELS]}}}


def _channels(account: Account, user: dict[str, Any]) -> list[dict[str, Any]]:
    """The compound document's channel resources (their status; capacity and work items are not modelled)."""
    current = availability(account, user["id"])
    states = statuses(account)[current["status_id"]]["channels"]
    return [{"type": "channels", "id": f"agent_availabilities|{user['id']}|channels|{c}",
             "attributes": {"name": c, "status": states[c], "updated_at": current["updated_at"]}} for c in CHANNELS]


def _status_view(status: dict[str, Any]) -> dict[str, Any]:
    if not status["custom"]:
        return {"attributes": {"description": status["description"], "name": status["name"]}, "id": status["id"],
                "type": "agent_status"}
    return {"attributes": {"channels": status["channels"], "description": status["description"],
                           "group_ids": status["group_ids"], "name": status["name"]},
            "id": status["id"], "type": "agent_status", "updated_at": status["updated_at"]}
