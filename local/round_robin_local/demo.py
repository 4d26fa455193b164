"""`make demo`: start the local stack with its embedded sandbox, connect the sandbox account `acme` through the
real OAuth redirects (clicking Allow on the consent page as a browser would), create tickets in two groups
from the sandbox's new-ticket page, wait until Zendesk's signed webhooks have had them assigned, and print
tickets per agent and the spread; then one agent goes out of office in Zendesk's Out of Office app partway
through, the tickets flow around them, and they come back and take their turns again, without catching up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import boto3
import requests

from round_robin.assignment.agents import AgentStore
from round_robin.assignment.rosters import RosterStore
from round_robin_local.sandbox.model import CANNOT_TAKE_TICKETS, CONTRIBUTOR, LIGHT_AGENT
from round_robin_local.stack import LocalStack, StackConfig
from round_robin_local.template import PSEUDO

SUBDOMAIN = "acme"
TICKETS = {"Support": 10, "Billing": 10}
ASSIGN_DEADLINE = 60.0
EVENT_DEADLINE = 30.0  # Zendesk's event webhook reaching the service, applied
ABSENT = "Ben Agent"  # who goes out of office in the second part
SCENE_TICKETS = 9  # Support tickets while they are out, and again once they are back


class _FormFields(HTMLParser):
    """The hidden inputs and the selected user of the sandbox's consent form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""


def connect(session: requests.Session, api_url: str, subdomain: str) -> requests.Response:
    """Open the connect link, approve on the consent page, follow the redirect back; return the final page."""
    start = session.get(f"{api_url}/oauth/start", params={"subdomain": subdomain}, allow_redirects=False, timeout=30)
    if start.status_code != 302:
        raise RuntimeError(f"/oauth/start answered {start.status_code}")
    consent_url = start.headers["Location"]
    consent = session.get(consent_url, allow_redirects=False, timeout=30)
    if consent.status_code == 302:  # the sandbox's auto-approve mode
        approved = consent
    else:
        form = _FormFields()
        form.feed(consent.text)
        approved = session.post(consent_url.split("?", 1)[0], data={**form.fields, "decision": "allow"},
                                allow_redirects=False, timeout=30)
    if approved.status_code != 302:
        raise RuntimeError(f"the consent page answered {approved.status_code}")
    return session.get(urljoin(consent_url, approved.headers["Location"]), allow_redirects=False, timeout=60)


def run_demo(port: int | None = None) -> int:
    # Keep the handlers' JSON logs and metrics out of the demo's output (`make run` shows them).
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger("round_robin_local.access").setLevel(logging.WARNING)
    chosen = port if port is not None else int(os.environ.get("PORT") or 0)
    config = StackConfig.from_env(port=chosen, zendesk_url_template=None)
    print("Starting the local stack: AWS emulator, Zendesk sandbox, and each function's execution environments ...",
          flush=True)
    stack = LocalStack(config).start()
    try:
        info = stack.info()
        print(f"Local stack on {info['api']}; Zendesk sandbox on {info['sandbox']}; AWS emulator on {info['emulator']}")
        print(f"Connecting {SUBDOMAIN}.zendesk.com (sandbox) through {info['connect_link']} ...")
        page = connect(requests.Session(), stack.url, SUBDOMAIN)
        if page.status_code != 200:
            print(f"FAILED: the callback answered {page.status_code}")
            return 1
        print(f"Connected: the callback answered {page.status_code}.")

        assert stack.sandbox is not None
        account = stack.sandbox.sandbox.accounts[SUBDOMAIN]
        for webhook in account.webhooks.values():
            print(f"Webhook in Zendesk: {webhook['name']!r} -> {webhook['endpoint']}")
        for trigger in account.triggers.values():
            print(f"Trigger in Zendesk: {trigger['title']!r}")

        dynamodb = boto3.client("dynamodb", region_name=PSEUDO["AWS::Region"], endpoint_url=stack.emulator_url)
        rosters = RosterStore(info["table"], dynamodb).list(SUBDOMAIN)
        print("\nImported agents per group (rotation order):")
        width = max(len(r.group_name) for r in rosters)
        for roster in rosters:
            names = ", ".join(m.name for m in roster.members) or "(no eligible agents)"
            print(f"  {roster.group_name:<{width}}  {len(roster.members)}  {names}")
        in_rotation = {m.id for r in rosters for m in r.members}
        left_out = [f"{u['name']} ({_why(u)})" for u in account.users.values() if u["id"] not in in_rotation]
        if left_out:
            print(f"Not in rotation: {', '.join(left_out)}")
        if _assign_tickets(stack, account) != 0:
            return 1
        return _out_of_office(stack, account, AgentStore(info["table"], dynamodb))
    finally:
        stack.stop()


def _create_tickets(stack: LocalStack, account, counts: dict[str, int], label: str) -> list[dict]:
    """Create tickets from the sandbox's new-ticket page and wait until every one is assigned (or the deadline);
    the new tickets as they are then."""
    assert stack.sandbox is not None
    groups = {g["name"]: g["id"] for g in account.groups.values()}
    with stack.sandbox.sandbox.lock:
        first = max(account.tickets, default=0) + 1
    for group, count in counts.items():
        for n in range(count):
            answer = requests.post(f"{stack.sandbox.url}/{SUBDOMAIN}/tickets/new", allow_redirects=False, timeout=10,
                                   data={"subject": f"{group} {label} {n + 1}", "group_id": groups[group]})
            answer.raise_for_status()
    deadline = time.monotonic() + ASSIGN_DEADLINE
    while True:
        with stack.sandbox.sandbox.lock:
            tickets = [dict(t) for i, t in account.tickets.items() if i >= first]
        if all(t["assignee_id"] for t in tickets) or time.monotonic() > deadline:
            return tickets
        time.sleep(0.2)  # polling the sandbox, bounded by the deadline


def _assign_tickets(stack: LocalStack, account) -> int:
    groups = {g["name"]: g["id"] for g in account.groups.values()}
    names = {u["id"]: u["name"] for u in account.users.values()}
    started = time.monotonic()
    total = sum(TICKETS.values())
    print(f"\nCreating {total} tickets in the sandbox ({', '.join(f'{n} in {g}' for g, n in TICKETS.items())}); "
          "waiting for the webhooks ...")
    tickets = _create_tickets(stack, account, TICKETS, "question")
    elapsed = time.monotonic() - started
    assigned = [t for t in tickets if t["assignee_id"]]
    print(f"{len(assigned)} of {len(tickets)} tickets assigned in {elapsed:.1f} s.\n")
    ok = len(assigned) == len(tickets)
    for group, group_id in groups.items():
        counts = Counter(names[t["assignee_id"]] for t in assigned if t["group_id"] == group_id)
        spread = max(counts.values()) - min(counts.values()) if counts else 0
        ok = ok and spread <= 1
        print(f"  {group}")
        for name, count in sorted(counts.items()):
            print(f"    {name:<12} {count:>2}  {'#' * count}")
        print(f"    spread (most - fewest): {spread}")
    print("\nEvery ticket was assigned once, fairly." if ok else "\nFAILED: not every ticket was assigned fairly.")
    return 0 if ok else 1


def _out_of_office(stack: LocalStack, account, agents: AgentStore) -> int:
    """Ben ticks "Agent Out?" in Zendesk's Out of Office app: Support's tickets go to the others; he unticks it and
    takes his turns again, without catching up on what he missed."""
    assert stack.sandbox is not None
    names = {u["id"]: u["name"] for u in account.users.values()}
    absent = next(i for i, name in names.items() if name == ABSENT)
    print(f"\nOut of office. The account follows Zendesk's Out of Office app:\n"
          f"  $ round-robin --local {stack.url} settings {SUBDOMAIN} --ooo-app on")
    command = [str(Path(sys.executable).parent / "round-robin"), "--local", stack.url, "settings", SUBDOMAIN,
               "--ooo-app", "on"]
    cli = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603 - our CLI
    print("\n".join(f"  {line}" for line in (cli.stdout + cli.stderr).strip().splitlines()))
    if cli.returncode != 0:
        print("FAILED: the settings command failed")
        return 1
    ok = True
    for out, label in ((True, "while he is out"), (False, "after he is back")):
        started = time.monotonic()
        answer = requests.post(f"{stack.sandbox.url}/_sandbox/accounts/{SUBDOMAIN}/users/{absent}",
                               json={"agent_ooo": out}, timeout=10)
        answer.raise_for_status()
        print(f"\n{ABSENT} {'ticks' if out else 'unticks'} \"Agent Out?\" in Zendesk; its event webhook tells the "
              "service ...")
        deadline = time.monotonic() + EVENT_DEADLINE
        while agents.agents(SUBDOMAIN, {absent: ABSENT})[absent].ooo_app != out:
            if time.monotonic() > deadline:
                print(f"FAILED: the service did not learn it within {EVENT_DEADLINE:.0f} s")
                return 1
            time.sleep(0.2)  # polling the table, bounded by the deadline
        print(f"  known to the service {time.monotonic() - started:.1f} s later.")
        tickets = _create_tickets(stack, account, {"Support": SCENE_TICKETS}, "request")
        counts = Counter(names[t["assignee_id"]] for t in tickets if t["assignee_id"])
        support = [u for u in _support_members(account) if u in names]
        print(f"  {SCENE_TICKETS} new Support tickets {label}: "
              f"{sum(counts.values())} assigned")
        for user_id in support:
            count = counts.get(names[user_id], 0)
            print(f"    {names[user_id]:<12} {count:>2}  {'#' * count}")
        if out:
            ok = ok and counts.get(ABSENT, 0) == 0 and sum(counts.values()) == SCENE_TICKETS
        else:
            shares = [counts.get(names[u], 0) for u in support]
            ok = ok and sum(counts.values()) == SCENE_TICKETS and max(shares) - min(shares) <= 1
    print(f"\n{ABSENT} got no ticket while out, and an equal share once back (no catch-up)." if ok
          else "\nFAILED: the tickets did not flow around the absent agent as expected.")
    return 0 if ok else 1


def _support_members(account) -> list[int]:
    """The Support group's members who can take tickets, in membership order."""
    support = next(g["id"] for g in account.groups.values() if g["name"] == "Support")
    users = account.users
    return [m["user_id"] for m in account.memberships.values()
            if m["group_id"] == support and users[m["user_id"]]["active"] and not users[m["user_id"]]["suspended"]
            and users[m["user_id"]].get("role_type") not in CANNOT_TAKE_TICKETS]


def _why(user: dict) -> str:
    if user["role"] not in ("agent", "admin"):
        return "end user"
    if user.get("role_type") in CANNOT_TAKE_TICKETS:  # role "agent", yet Zendesk refuses them as assignees
        return {LIGHT_AGENT: "light agent", CONTRIBUTOR: "contributor"}.get(user["role_type"], "chat-only agent")
    if user["suspended"]:
        return "suspended"
    if not user["active"]:
        return "inactive"
    return "in no group"
