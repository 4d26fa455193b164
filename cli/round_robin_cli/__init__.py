"""`round-robin`: the operator's command line, on the same AWS resources as the deployed functions.

    round-robin --stack round-robin accounts            # a deployed stack (your AWS credentials)
    round-robin --local http://127.0.0.1:3000 accounts  # the local stack (make run)
    round-robin accounts                                 # the functions' environment variables, set by you

Commands: accounts, register-api-token, migrate, resync, maintain, exclude. API tokens are read from the
ZENDESK_API_TOKEN environment variable or typed at a prompt, never taken as an argument (shell history).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from round_robin import wiring
from round_robin.errors import RoundRobinError


def _from_local(url: str) -> dict[str, str]:
    import requests

    info = requests.get(f"{url.rstrip('/')}/_local/health", timeout=10).json()
    return {**info["environment"], "AWS_ENDPOINT_URL": info["emulator"], "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


def _from_stack(stack: str) -> dict[str, str]:
    import boto3

    resource = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="AssignTicketFunction")["StackResourceDetail"]
    configuration = boto3.client("lambda").get_function_configuration(FunctionName=resource["PhysicalResourceId"])
    environment = dict(configuration["Environment"]["Variables"])
    if not environment.get("PUBLIC_BASE_URL"):
        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
        environment["PUBLIC_BASE_URL"] = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl"), "")
    return environment


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def accounts(_args: argparse.Namespace) -> list[dict[str, Any]]:
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
            "health": f"{account.health or '-'} at {_when(account.health_checked_at)}",
        })
    return rows


def register_api_token(args: argparse.Namespace) -> dict[str, Any]:
    token = os.environ.get("ZENDESK_API_TOKEN") or getpass.getpass("Zendesk API token: ")
    settings = wiring.get_settings()
    if not settings.public_base_url:
        raise RoundRobinError("PUBLIC_BASE_URL is not known: the webhook needs the service's address")
    report = wiring.api_token_registration().register(args.subdomain, email=args.email, api_token=token,
                                                      webhook_base_url=settings.public_base_url)
    return {"subdomain": report.subdomain, "auth": report.auth_method, "connected_by": report.user_name,
            "reconnected": report.reconnected, "webhook": report.webhook_action, "trigger": report.trigger_action,
            "rosters": {r.group_name: [m.name for m in r.members] for r in report.rosters}}


def migrate(args: argparse.Namespace) -> dict[str, Any]:
    return wiring.migrator().migrate(args.subdomain).as_dict()


def resync(args: argparse.Namespace) -> dict[str, Any]:
    account = wiring.registry().get(args.subdomain)
    if account is None:
        raise RoundRobinError(f"{args.subdomain} is not registered")
    from round_robin.assignment.roster_import import import_rosters
    from round_robin.wiring import zendesk_factory

    client = zendesk_factory(wiring.get_settings(), max_retry_wait=10)(
        args.subdomain, lambda: wiring.tokens().authorization(args.subdomain))
    stored = wiring.rosters().sync(args.subdomain, import_rosters(client, account.excluded_agent_ids),
                                     datetime.now(UTC).timestamp())
    return {r.group_name: [m.name for m in r.members] for r in stored}


def maintain(args: argparse.Namespace) -> list[dict[str, Any]]:
    return wiring.maintainer().run(args.subdomains or None)


def exclude(args: argparse.Namespace) -> dict[str, Any]:
    ids = [] if args.none else args.agent_ids
    wiring.registry().set_excluded(args.subdomain, ids, datetime.now(UTC).timestamp())
    return {"subdomain": args.subdomain, "excluded_agent_ids": sorted(set(ids)),
            "note": "applied at the next re-sync (round-robin resync, or the schedule)"}


def _print(result: Any, as_json: bool) -> None:
    if as_json or not isinstance(result, list) or not result or not isinstance(result[0], dict):
        print(json.dumps(result, indent=2, default=str))
        return
    columns = list(result[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in result)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in result:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="round-robin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed CloudFormation stack's name")
    where.add_argument("--local", metavar="URL", help="the local stack's API URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--verbose", action="store_true", help="show the service's log lines (on stderr)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("accounts", help="list accounts: auth method, status, token expiry, reconnect "
                                         "deadline, last refresh, last assignment, health").set_defaults(run=accounts)
    command = commands.add_parser("register-api-token", help="register an account that still uses an API token")
    command.add_argument("subdomain")
    command.add_argument("--email", required=True, help="the admin whose API token it is")
    command.set_defaults(run=register_api_token)
    command = commands.add_parser("migrate", help="move an API-token account to OAuth, without a browser")
    command.add_argument("subdomain")
    command.set_defaults(run=migrate)
    command = commands.add_parser("resync", help="re-import an account's agents and groups now")
    command.add_argument("subdomain")
    command.set_defaults(run=resync)
    command = commands.add_parser("maintain", help="run the scheduled maintenance now")
    command.add_argument("subdomains", nargs="*")
    command.set_defaults(run=maintain)
    command = commands.add_parser("exclude", help="keep agents out of every rotation of an account")
    command.add_argument("subdomain")
    command.add_argument("agent_ids", nargs="*", type=int)
    command.add_argument("--none", action="store_true", help="exclude nobody")
    command.set_defaults(run=exclude)
    args = parser.parse_args(argv)
    # The service's structured log lines go to stderr here, so that stdout holds only the command's answer.
    from round_robin.observability import logger

    logger.registered_handler.setStream(sys.stderr)
    logger.setLevel("INFO" if args.verbose else "WARNING")

    try:
        if args.local:
            os.environ.update(_from_local(args.local))
        elif args.stack:
            os.environ.update(_from_stack(args.stack))
        wiring.reset()
        _print(args.run(args), args.json)
    except RoundRobinError as exc:
        print(f"round-robin: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
