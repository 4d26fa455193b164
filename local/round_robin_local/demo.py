"""`make demo`: start the local stack with its embedded sandbox, connect the sandbox account `acme` through the
real OAuth redirects (clicking Allow on the consent page as a browser would), create tickets in two groups
from the sandbox's new-ticket page, wait until Zendesk's signed webhooks have had them assigned, and print
tickets per agent and the spread."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urljoin

import boto3
import requests

from round_robin.assignment.rosters import RosterStore
from round_robin_local.sandbox.model import CANNOT_TAKE_TICKETS, CONTRIBUTOR, LIGHT_AGENT
from round_robin_local.stack import LocalStack, StackConfig
from round_robin_local.template import PSEUDO

SUBDOMAIN = "acme"
TICKETS = {"Support": 10, "Billing": 10}
ASSIGN_DEADLINE = 60.0


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
        return _assign_tickets(stack, account)
    finally:
        stack.stop()


def _assign_tickets(stack: LocalStack, account) -> int:
    assert stack.sandbox is not None
    groups = {g["name"]: g["id"] for g in account.groups.values()}
    names = {u["id"]: u["name"] for u in account.users.values()}
    started = time.monotonic()
    for group, count in TICKETS.items():
        for n in range(count):
            answer = requests.post(f"{stack.sandbox.url}/{SUBDOMAIN}/tickets/new", allow_redirects=False, timeout=10,
                                   data={"subject": f"{group} question {n + 1}", "group_id": groups[group]})
            answer.raise_for_status()
    total = sum(TICKETS.values())
    print(f"\nCreated {total} tickets in the sandbox ({', '.join(f'{n} in {g}' for g, n in TICKETS.items())}); "
          "waiting for the webhooks ...")
    deadline = time.monotonic() + ASSIGN_DEADLINE
    while True:
        with stack.sandbox.sandbox.lock:
            tickets = [dict(t) for t in account.tickets.values()]
        if all(t["assignee_id"] for t in tickets) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # polling the sandbox, bounded by the deadline
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
