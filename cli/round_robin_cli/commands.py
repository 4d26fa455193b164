"""The commands: each reads its arguments, calls the service's own objects (round_robin.wiring) and returns
an Output (its data for --json, a text otherwise). A mistake of the operator is a CliError."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from round_robin import wiring
from round_robin.accounts.registry import Account
from round_robin.assignment.agent_overview import list_agents, unknown_agents
from round_robin.errors import RoundRobinError
from round_robin.observability import logger
from round_robin.zendesk import users as zendesk_users
from round_robin.zendesk.client import ZendeskClient
from round_robin_cli.errors import CliError
from round_robin_cli.output import Output, table

RESYNC_NOTE = "applied at the next re-sync (round-robin resync, or the schedule)"


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _command(args: argparse.Namespace, line: str) -> str:
    """The command line to run next on the same target, for a message to suggest."""
    target = f"--local {args.local} " if args.local else f"--stack {args.stack} " if args.stack else ""
    return f"round-robin {target}{line}"


def registered(args: argparse.Namespace, subdomain: str) -> Account:
    """The account, or a CliError saying how to list the accounts."""
    account = wiring.registry().get(subdomain)
    if account is None:
        raise CliError(f"{subdomain} is not registered: `{_command(args, 'accounts')}` lists the accounts")
    return account


def zendesk_client(subdomain: str) -> ZendeskClient:
    return wiring.zendesk_factory(wiring.get_settings(), max_retry_wait=10)(
        subdomain, lambda: wiring.tokens().authorization(subdomain))


def account_rows() -> list[dict[str, Any]]:
    """Each account: auth method, status, token expiry, reconnect deadline, last refresh, last assignment, health."""
    from round_robin.assignment.claims import ASSIGNED

    rows = []
    for account in wiring.registry().list():
        deadline = "-"  # when the connection dies unless an admin reconnects: a token without refresh token
        try:
            credentials = wiring.vault().load(account.subdomain, fresh=True)
            expiry = credentials.tokens.access_expires_at if credentials.tokens else None
            token = _when(expiry) if credentials.auth_method == "oauth" else "(API token)"
            if credentials.auth_method == "oauth" and credentials.tokens and expiry is None:
                token = "no expiry"
            if credentials.tokens is not None and not credentials.tokens.refresh_token:
                deadline = _when(expiry)
        except RoundRobinError as exc:
            token = f"unreadable ({exc})"
        latest = wiring.assignment_store().indexed(account.subdomain, ASSIGNED, limit=1)
        rows.append({
            "subdomain": account.subdomain,
            "auth": account.auth_method,
            "status": account.status + (f" ({account.broken_reason})" if account.broken_reason else ""),
            "token_expires": token,
            "reconnect_by": deadline,
            "last_refresh": _when(account.last_refresh_at),
            "last_assignment": _when(latest[0]["finished_at"]) if latest else "-",
            "health": f"{account.health} at {_when(account.health_checked_at)}" if account.health else "-",
        })
    return rows


def accounts(_args: argparse.Namespace) -> Output:
    rows = account_rows()
    if not rows:
        return Output(rows, "No accounts yet: an admin connects one with the connect link (/oauth/start).")
    return Output(rows, table(rows, list(rows[0])))


def agents(args: argparse.Namespace) -> Output:
    account = registered(args, args.subdomain)
    rosters = wiring.rosters().list(account.subdomain)
    names = _names(account)
    ids = {m.id: m.name for r in rosters for m in r.members} | {i: names.get(i, "") for i in account.excluded_agent_ids}
    policy, schedules = wiring.policies().get(account.subdomain)
    states = wiring.agent_store().agents(account.subdomain, ids) if ids else {}
    listed = list_agents(rosters, account.excluded_agent_ids, names, states, policy, schedules,
                         datetime.now(UTC).timestamp())
    data = [a.as_dict() for a in listed]
    if not data:
        return Output(data, f"{account.subdomain} has no agents in its rosters: "
                            f"`{_command(args, 'resync ' + account.subdomain)}` imports them from Zendesk.")
    rows = [{**row, "availability": f"{row['availability']} ({row['availability_source']})",
             "return": row["return_date"], "open": _against(row["open_count"], row["open_cap"]),
             "today": _against(row["daily_count"], row["daily_cap"]),
             "eligible": "yes" if row["eligible"] else f"no: {row['why_not']}"} for row in data]
    return Output(data, table(rows, ["id", "name", "groups", "in_rotation", "availability", "return", "open", "today",
                                     "eligible"]))


def _against(count: int, cap: int | None) -> str:
    return str(count) if cap is None else f"{count}/{cap}"


def _names(account: Account) -> dict[int, str]:
    """The excluded agents' names from Zendesk (they are in no roster); none if Zendesk cannot be read now."""
    if not account.excluded_agent_ids:
        return {}
    try:
        excluded = zendesk_users.by_id(zendesk_client(account.subdomain), list(account.excluded_agent_ids))
    except RoundRobinError as exc:
        logger.info("names of excluded agents not read", subdomain=account.subdomain, error=str(exc))
        return {}
    return {u["id"]: u["name"] for u in excluded if u.get("name")}


def exclude(args: argparse.Namespace) -> Output:
    if args.none == bool(args.agent_ids):
        raise CliError("give the ids of the agents to keep out of every rotation, or --none (not both)", 2)
    account = registered(args, args.subdomain)
    rosters = wiring.rosters().list(account.subdomain)
    unknown = unknown_agents(args.agent_ids, rosters, account.excluded_agent_ids)
    if unknown:
        listed = ", ".join(str(i) for i in unknown)
        how = _command(args, f"agents {account.subdomain}")
        raise CliError(f"{listed} {'is not an agent' if len(unknown) == 1 else 'are not agents'} of "
                       f"{account.subdomain}; nothing changed: `{how}` lists the agents and their ids")
    ids = sorted(set(args.agent_ids))
    wiring.registry().set_excluded(account.subdomain, ids, datetime.now(UTC).timestamp())
    names = {m.id: m.name for r in rosters for m in r.members}
    kept_out = ", ".join(f"{i} ({names[i]})" if i in names else str(i) for i in ids)
    text = (f"{account.subdomain}: " + (f"kept out of every rotation: {kept_out}" if ids else "nobody is excluded")
            + f"; applied at the next re-sync ({_command(args, 'resync ' + account.subdomain)}, or the schedule)")
    return Output({"subdomain": account.subdomain, "excluded_agent_ids": ids, "note": RESYNC_NOTE}, text)


def resync(args: argparse.Namespace) -> Output:
    account = registered(args, args.subdomain)
    from round_robin.assignment.roster_import import import_rosters

    imported = import_rosters(zendesk_client(account.subdomain), account.excluded_agent_ids)
    synced = wiring.rosters().sync(account.subdomain, imported, datetime.now(UTC).timestamp())
    rosters = {r.group_name: [m.name for m in r.members] for r in synced.rosters}
    return Output(rosters, f"{account.subdomain}: agents and groups re-imported from Zendesk\n{_rosters(rosters)}")


def _rosters(rosters: dict[str, list[str]]) -> str:
    """Each group's roster, one line each."""
    return table([{"group": group, "agents": names or "(nobody)"} for group, names in rosters.items()],
                 ["group", "agents"])


def maintain(args: argparse.Namespace) -> Output:
    for subdomain in args.subdomains:
        registered(args, subdomain)
    reports = wiring.maintainer().run(args.subdomains or None)
    if not reports:
        return Output(reports, "No accounts to maintain.")
    rows = [{**r, "account": r["subdomain"], "roster_changes": _changes(r["roster_changes"])} for r in reports]
    return Output(reports, table(rows, ["account", "status", "refreshed", "health", "roster_changes", "requeued",
                                        "swept", "counts_corrected", "waiting_alerted", "log_indexed", "errors"],
                 formats={"errors": _errors}))


def _changes(changes: dict[str, int]) -> str:
    return f"+{changes['joined']} -{changes['left']}" if changes else "-"


def _errors(errors: Sequence[str]) -> str:
    return "; ".join(errors) if errors else "-"


def migrate(args: argparse.Namespace) -> Output:
    registered(args, args.subdomain)
    report = wiring.migrator().migrate(args.subdomain)
    text = f"{report.subdomain}: {report.detail}"
    if report.changed:
        text += (f" (OAuth client {report.oauth_client}, {'created' if report.client_created else 'found'}; "
                 f"token {report.token_id})")
    return Output(report.as_dict(), text)


def register_api_token(args: argparse.Namespace) -> Output:
    token = _api_token()
    settings = wiring.get_settings()
    if not settings.public_base_url:
        raise CliError("PUBLIC_BASE_URL is not known: the webhook needs the service's address")
    report = wiring.api_token_registration().register(args.subdomain, email=args.email, api_token=token,
                                                      webhook_base_url=settings.public_base_url)
    rosters = {r.group_name: [m.name for m in r.members] for r in report.rosters}
    data = {"subdomain": report.subdomain, "auth": report.auth_method, "connected_by": report.user_name,
            "reconnected": report.reconnected, "webhook": report.webhook_action, "trigger": report.trigger_action,
            "rosters": rosters}
    text = (f"{report.subdomain}: {'registered again' if report.reconnected else 'registered'} with the API token of "
            f"{report.user_name} (webhook {report.webhook_action}, trigger {report.trigger_action})\n"
            + _rosters(rosters))
    return Output(data, text)


def _api_token() -> str:
    """From ZENDESK_API_TOKEN or typed at a prompt; never an argument (it would stay in the shell's history)."""
    token = os.environ.get("ZENDESK_API_TOKEN", "").strip()
    if token:
        return token
    if not sys.stdin.isatty():
        raise CliError("no API token: set ZENDESK_API_TOKEN (there is no terminal to type it at)")
    try:
        token = getpass.getpass("Zendesk API token: ").strip()
    except EOFError as exc:
        raise CliError("no API token typed") from exc
    if not token:
        raise CliError("no API token typed")
    return token
