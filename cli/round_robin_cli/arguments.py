"""The command line's grammar. The common options (--json, --stack, --local, --verbose) are accepted before or
after the command: each command's parser has them too, with defaults that do not overwrite what was given
before it. A malformed line is a one-line CliError, not argparse's usage block."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from round_robin_cli import availability, commands
from round_robin_cli.errors import CliError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)", exit_code=2)


def _common_options(*, top: bool) -> _Parser:
    # On a command's parser the defaults are SUPPRESS, so that `--json accounts` keeps the top level's True.
    default: Any = {} if top else {"default": argparse.SUPPRESS}
    options = _Parser(add_help=False)
    options.add_argument("--json", action="store_true", help="print JSON", **default)
    options.add_argument("--stack", metavar="NAME", help="a deployed stack's name (with your AWS credentials)",
                         **default)
    options.add_argument("--local", metavar="URL", help="the local stack's API URL, e.g. http://127.0.0.1:3000",
                         **default)
    options.add_argument("--verbose", action="store_true", help="show the service's log lines (on stderr)", **default)
    return options


def _subdomain(command: argparse.ArgumentParser) -> None:
    command.add_argument("subdomain", help="the Zendesk account, e.g. acme")


def _exclude(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("agent_ids", nargs="*", type=int, metavar="agent_id",
                         help="the agents' Zendesk user ids (round-robin agents <subdomain> shows them)")
    command.add_argument("--none", action="store_true", help="exclude nobody")


def _register(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("--email", required=True, help="the admin whose API token it is")


def _maintain(command: argparse.ArgumentParser) -> None:
    command.add_argument("subdomains", nargs="*", metavar="subdomain", help="only these accounts (default: all)")


def _availability(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("agent_id", help="the agent's Zendesk user id")
    command.add_argument("status", help="available, away or ooo (out of office)")
    command.add_argument("--until", metavar="YYYY-MM-DD", help="ooo: the first day back, in the agent's time zone")
    command.add_argument("--backup", metavar="AGENT_ID", help="ooo: who takes over their tickets")


def _capacity(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("agent_id", nargs="?", help="one agent (default: the account's default caps)")
    command.add_argument("--open", metavar="N", help="open tickets at most (none: no cap)")
    command.add_argument("--daily", metavar="N", help="tickets a day at most, in the agent's day (none: no cap)")


def _settings(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("--zendesk-status", choices=("on", "off"), help="follow Zendesk's unified agent status")
    command.add_argument("--ooo-app", choices=("on", "off"), help="follow the Out of Office app's \"Agent Out?\"")
    command.add_argument("--reassign", metavar="off|new|open", help="what going out of office reassigns")
    command.add_argument("--status", action="append", metavar="NAME=available|away",
                         help="how a Zendesk status (custom ones too) counts, e.g. \"In a meeting=away\"; repeat")
    command.add_argument("--counted-statuses", metavar="new,open,...",
                         help="the ticket statuses the open cap counts (of new, open, pending, hold)")
    command.add_argument("--waiting-alert-minutes", metavar="N",
                         help="alert on a ticket waiting longer than this for an eligible agent")


def _hours(command: argparse.ArgumentParser) -> None:
    _subdomain(command)
    command.add_argument("action", choices=("set", "list", "remove", "import"))
    command.add_argument("name", nargs="?", help="the hours' name (set, remove)")
    command.add_argument("--only", metavar="SCHEDULE_ID", help="import: only this Zendesk schedule")
    command.add_argument("--tz", metavar="IANA", help="their time zone, e.g. Europe/Berlin")
    command.add_argument("--weekly", action="append", metavar="HOURS", help='e.g. "mon-fri 09:00-17:00"')
    command.add_argument("--holiday", nargs="+", action="extend", metavar="YYYY-MM-DD",
                         help="closed days (YYYY-MM-DD..YYYY-MM-DD for a range)")
    command.add_argument("--groups", nargs="+", action="extend", metavar="GROUP_ID",
                         help="the groups they apply to (import: with --only)")
    command.add_argument("--agents", nargs="+", action="extend", metavar="AGENT_ID",
                         help="agents they apply to (their own hours win over their groups')")


# name, what it does (help), its own arguments, the function that runs it
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Any]]] = [
    ("accounts", "each account: auth method, status, token expiry, reconnect deadline, last refresh, last "
                 "assignment, health", lambda _: None, commands.accounts),
    ("agents", "each agent of an account: id, name, groups, in rotation, availability, eligible now",
     _subdomain, commands.agents),
    ("availability", "set an agent's own availability: available, away, or ooo (out of office) [--until the "
                     "first day back] [--backup agent]", _availability, availability.availability),
    ("capacity", "show or set the caps on open tickets and tickets a day: the account default, or one agent's",
     _capacity, availability.capacity),
    ("settings", "show or set the account's switches: follow Zendesk's agent status, the Out of Office app, "
                 "what going out of office reassigns", _settings, availability.settings),
    ("hours", "working hours: set <name> --tz --weekly [--holiday] --groups/--agents, list, remove <name>, "
              "import [--only <Zendesk schedule id> --groups/--agents] (Zendesk's business hours)",
     _hours, availability.hours),
    ("exclude", "keep agents out of every rotation of an account (replaces the list; --none: nobody)",
     _exclude, commands.exclude),
    ("resync", "re-import an account's agents and groups from Zendesk now", _subdomain, commands.resync),
    ("maintain", "run the scheduled maintenance now", _maintain, commands.maintain),
    ("register-api-token", "register an account that still uses an API token (read from ZENDESK_API_TOKEN or "
                           "a prompt)", _register, commands.register_api_token),
    ("migrate", "move an API-token account to OAuth, without a browser", _subdomain, commands.migrate),
]


def parser(description: str | None = None) -> argparse.ArgumentParser:
    top = _Parser(prog="round-robin", description=description, parents=[_common_options(top=True)],
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    options = _common_options(top=False)
    subcommands = top.add_subparsers(dest="command", required=True, metavar="command")
    for name, text, arguments, run in COMMANDS:
        command = subcommands.add_parser(name, help=text, description=text, parents=[options])
        arguments(command)
        command.set_defaults(run=run)
    return top


def parse(argv: list[str] | None, description: str | None = None) -> argparse.Namespace:
    args = parser(description).parse_args(argv)
    if args.stack and args.local:
        raise CliError("give --stack or --local, not both", exit_code=2)
    return args
