"""Benchmark of a burst (issue 10): N tickets created at once in one group, against the local stack.

    .venv/bin/python bench/assign_bench.py --burst 1000      # or: make bench ARGS="--burst 1000"

The sandbox creates the N tickets in one step; its trigger then sends N signed webhook deliveries at once (its
delivery pool is raised to N), as Zendesk would for a flood of emails. Zendesk's documented limits hold: 100 ticket
updates and 700 API requests a minute per account (local/round_robin_local/sandbox/limits.py), but the sandbox's
minute lasts `window` seconds to keep the run short; times are reported in Zendesk minutes (elapsed / window).

Reported from that one run: the time until every ticket was assigned, Zendesk calls and 429s per ticket by endpoint
(the sandbox's request log), AWS calls per ticket by function, service and operation (the local AWS proxy's
counts), dead letters and whether the dead-letter alarm would fire (template.yaml's DeadLetterAlarm: more than 0
messages visible), the fairness spread per agent of the group, tickets assigned twice (more than one assignee
change: Zendesk's ticket.agent_assignment_changed events), and the webhook acknowledgement latency (each delivery
attempt's answer time, recorded by the sandbox's dispatcher).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import boto3
import requests

from round_robin_local.demo import connect
from round_robin_local.stack import LocalStack, StackConfig

SUBDOMAIN = "acme"
GROUP = "Support"
TRIGGER_DELIVERY = "conditional_ticket_events"
PROGRESS_EVERY = 15.0  # seconds between progress lines on stderr
ASSIGNMENT_CHANGED = "zen:event-type:ticket.agent_assignment_changed"


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def endpoint(method: str, path: str) -> str:
    """A request log entry's endpoint: `GET tickets/{id}`, `PUT tickets/update_many`, `GET job_statuses/{id}`."""
    parts = path.split("?", 1)[0].removeprefix("/api/v2/").removesuffix(".json").split("/")
    return f"{method} " + "/".join("{id}" if part.isdigit() or len(part) >= 20 else part for part in parts)


def spread(counts: Counter[int], members: list[int]) -> int:
    """Most minus fewest tickets between the group's members (members with none count as 0)."""
    values = [counts.get(m, 0) for m in members]
    return max(values) - min(values) if values else 0


def summarize(*, tickets: list[int], window: float, started_at: float, finished_at: float | None,
              log: list[dict[str, Any]],
              deliveries: list[dict[str, Any]], assignees: dict[int, int | None], members: list[int],
              aws_calls: dict[str, Counter[str]], dead_letters: int) -> dict[str, Any]:
    """The burst's figures from what the sandbox and the AWS proxy recorded (pure: unit-tested)."""
    n = len(tickets)
    wanted = set(tickets)
    assigned = {t: a for t, a in assignees.items() if t in wanted and a}
    finished = finished_at if len(assigned) == n else None
    calls = Counter(endpoint(e["method"], e["path"]) for e in log)
    throttled = Counter(endpoint(e["method"], e["path"]) for e in log if e["status"] == 429)
    trigger = [d for d in deliveries if d["type"] == TRIGGER_DELIVERY and d["ticket_id"] in wanted]
    answered = [s for d in trigger for s in d.get("answered_in", [])]
    attempts = [a for d in trigger for a in d["attempts"]]
    changes = Counter(d["ticket_id"] for d in deliveries
                      if d["type"] == ASSIGNMENT_CHANGED and d["ticket_id"] in wanted)
    per_service: dict[str, Counter[str]] = {}
    for function, counts in aws_calls.items():
        for key, count in counts.items():
            per_service.setdefault(function, Counter())[key.split(":")[0]] += count
    return {
        "tickets": n,
        "assigned": len(assigned),
        "window_s": window,
        "elapsed_s": None if finished is None else round(finished - started_at, 1),
        "zendesk_minutes": None if finished is None else round((finished - started_at) / window, 2),
        "zendesk_calls_per_ticket": round(len(log) / n, 2),
        "zendesk_calls_per_ticket_by_endpoint": {k: round(v / n, 2) for k, v in sorted(calls.items())},
        "429_per_ticket": round(sum(throttled.values()) / n, 3),
        "429_by_endpoint": dict(sorted(throttled.items())),
        "aws_calls_per_ticket": {f: {s: round(v / n, 2) for s, v in sorted(c.items())}
                                 for f, c in sorted(per_service.items()) if c},
        "aws_calls_by_operation": {f: dict(sorted(c.items())) for f, c in sorted(aws_calls.items()) if c},
        "dead_letters": dead_letters,
        "alarm": dead_letters > 0,  # template.yaml DeadLetterAlarm: ApproximateNumberOfMessagesVisible > 0
        "spread": spread(Counter(assigned.values()), members),
        "assigned_twice": sum(1 for count in changes.values() if count > 1),
        "deliveries": len(trigger),
        "deliveries_acknowledged": sum(1 for d in trigger if d["status"] == "delivered"),
        "delivery_attempts": len(attempts),
        "delivery_timeouts": sum(1 for a in attempts if a == "timeout"),
        "ack_ms": {"p50": _ms(percentile(answered, 0.5)), "p99": _ms(percentile(answered, 0.99)),
                   "max": _ms(max(answered, default=0.0))},
    }


def acknowledgement_floor(deliveries: int, invocations: int, cpu_seconds: float, cores: int) -> dict[str, Any]:
    """The receivers' CPU per invocation (their handler's own, measured in their environments), and the earliest
    the last of `deliveries` simultaneous deliveries can be acknowledged on `cores` cores if the receivers had every
    core to themselves: nothing else counted (not the sandbox, the local API, the emulator or the assignment)."""
    per_invocation = cpu_seconds / invocations if invocations else 0.0
    return {"receiver_invocations": invocations, "receiver_cpu_ms": _ms(per_invocation), "cores": cores,
            "ack_floor_ms": _ms(deliveries * per_invocation / cores)}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure_burst(count: int, *, window: float, webhook_environments: int, worker_environments: int,
                  timeout: float) -> dict[str, Any]:
    """Create `count` tickets at once in one group and follow them until each is assigned (or `timeout`)."""
    # The service's shared pace (assignment/pace.py) keeps the same shortened minute as the sandbox.
    os.environ["PACE_WINDOW_SECONDS"] = f"{window:g}"
    config = StackConfig.from_env(port=0, zendesk_url_template=None)
    config = replace(config, concurrency=(("WebhookFunction", webhook_environments),
                                          ("AssignTicketFunction", worker_environments), *config.concurrency))
    stack = LocalStack(config).start()
    try:
        page = connect(requests.Session(), stack.url, SUBDOMAIN)
        assert page.status_code == 200, page.text
        assert stack.sandbox is not None and stack.counter is not None and stack.resolver is not None
        sandbox_url, sandbox = stack.sandbox.url, stack.sandbox.sandbox
        account = sandbox.accounts[SUBDOMAIN]
        with sandbox.lock:
            group = next(g["id"] for g in account.groups.values() if g["name"] == GROUP)
            members = sorted(m["user_id"] for m in account.assignable_memberships(group))
        limits = requests.post(f"{sandbox_url}/_sandbox/accounts/{SUBDOMAIN}/limits", json={"window": window},
                               timeout=10)
        limits.raise_for_status()

        # Warm-up: every environment handles a ticket first, so the burst meets warm functions.
        warm_up = _create(sandbox_url, group, 8, "warm-up")
        _wait(lambda: all(account.tickets[t]["assignee_id"] for t in warm_up), sandbox, 120, "the warm-up")
        if not stack.drain("AssignmentQueue", 60) or not stack.drain("EventsQueue", 60):
            raise SystemExit("the queues were not drained after the warm-up")
        with sandbox.lock:  # the burst starts with the account's whole minute unused
            account.update_window.hits.clear()
            account.account_window.hits.clear()
            log_start, deliveries_start = len(account.request_log), len(account.deliveries)
        before = {f: Counter(stack.counter.snapshot(f)) for f in stack.functions}
        receiver = stack.functions["WebhookFunction"]
        usage_before = receiver.usage()
        delivering = requests.post(f"{sandbox_url}/_sandbox/deliveries", json={"concurrency": count}, timeout=10)
        delivering.raise_for_status()

        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=stack.emulator_url)
        dead_letter_queue = stack.resolver.refs["AssignmentDeadLetterQueue"]
        started_at = time.time()
        tickets = _create(sandbox_url, group, count, "burst")
        deadline = time.monotonic() + timeout
        finished_at = None
        next_progress = time.monotonic() + PROGRESS_EVERY
        # Done when every ticket is assigned, or when each one not assigned is a dead letter; else at the deadline.
        while time.monotonic() < deadline:
            with sandbox.lock:
                assigned = sum(1 for t in tickets if account.tickets[t]["assignee_id"])
            if assigned == count:
                finished_at = time.time()
                break
            if assigned + _dead_letters(sqs, dead_letter_queue) >= count:
                break
            if time.monotonic() >= next_progress:  # a long run shows it is moving
                next_progress += PROGRESS_EVERY
                print(f"  {time.time() - started_at:6.0f} s: {assigned} of {count} assigned", file=sys.stderr)
            time.sleep(0.2)  # polling, bounded by the deadline
        stack.drain("AssignmentQueue", max(1.0, deadline - time.monotonic()))
        stack.drain("EventsQueue", 120)  # the assignments' ticket events, counted with the burst's AWS calls

        with sandbox.lock:
            log = list(account.request_log[log_start:])
            deliveries = [dict(d) for d in account.deliveries[deliveries_start:]]
            assignees = {t: account.tickets[t]["assignee_id"] for t in tickets}
        figures = summarize(tickets=tickets, window=window, started_at=started_at, finished_at=finished_at, log=log,
                            deliveries=deliveries, assignees=assignees, members=members,
                            aws_calls={f: Counter(stack.counter.snapshot(f)) - before[f] for f in stack.functions},
                            dead_letters=_dead_letters(sqs, dead_letter_queue))
        invocations, cpu = receiver.usage_since(usage_before)
        # The receivers run on at most their environments' count of this process's usable cores
        cores = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                    webhook_environments)
        figures.update(acknowledgement_floor(figures["deliveries"], invocations, cpu, cores))
        figures["webhook_environments"] = webhook_environments
        figures["worker_environments"] = stack.functions["AssignTicketFunction"].concurrency
        return figures
    finally:
        stack.stop()


def _dead_letters(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _create(sandbox_url: str, group: int, count: int, subject: str) -> list[int]:
    answer = requests.post(f"{sandbox_url}/_sandbox/accounts/{SUBDOMAIN}/tickets", timeout=120,
                           json={"count": count, "group_id": group, "subject": subject})
    answer.raise_for_status()
    return answer.json()["ticket_ids"]


def _wait(condition, sandbox, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sandbox.lock:
            if condition():
                return
        time.sleep(0.1)  # polling, bounded by the deadline
    raise SystemExit(f"{what} was not done within {timeout:g} s")


def report(f: dict[str, Any]) -> bool:
    """Print the figures as the README's table; True when the issue's targets hold."""
    minutes = f["zendesk_minutes"]
    aws = f["aws_calls_per_ticket"]
    dynamodb = sum(c.get("dynamodb", 0) for c in aws.values())
    rows = [
        ("tickets assigned / created", f"{f['assigned']} / {f['tickets']}", "all", f["assigned"] == f["tickets"]),
        ("time until all assigned (Zendesk minutes)",
         "not all assigned" if minutes is None else f"{minutes} ({f['elapsed_s']} s at a {f['window_s']:g} s minute)",
         "<= 2", minutes is not None and minutes <= 2),
        ("Zendesk calls per ticket", f["zendesk_calls_per_ticket"], "<= 0.1", f["zendesk_calls_per_ticket"] <= 0.1),
        ("429 answers per ticket", f["429_per_ticket"], "<= 0.05", f["429_per_ticket"] <= 0.05),
        ("DynamoDB calls per ticket (every function)", round(dynamodb, 2), "<= 2.5", dynamodb <= 2.5),
        ("dead letters / alarm", f"{f['dead_letters']} / {'yes' if f['alarm'] else 'no'}", "0 / no",
         f["dead_letters"] == 0),
        ("fairness spread (most - fewest per agent)", f["spread"], "<= 1", f["spread"] <= 1),
        ("tickets assigned twice", f["assigned_twice"], "0", f["assigned_twice"] == 0),
        ("deliveries acknowledged (2xx) / sent", f"{f['deliveries_acknowledged']} / {f['deliveries']}", "all",
         f["deliveries_acknowledged"] == f["deliveries"]),
        ("delivery time-outs", f["delivery_timeouts"], "0", f["delivery_timeouts"] == 0),
        ("webhook acknowledgement p50 / p99 (ms)", f"{f['ack_ms']['p50']} / {f['ack_ms']['p99']}", "p99 <= 1000",
         f["ack_ms"]["p99"] <= 1000),
    ]
    floor = (f"\nThe receivers used {f['receiver_cpu_ms']} ms of CPU per invocation ({f['receiver_invocations']} "
             f"invocations: the trigger's deliveries and the assignments' ticket events), so {f['deliveries']} "
             f"simultaneous deliveries need {f['ack_floor_ms'] / 1000:.2f} s of the {f['cores']} cores the receivers "
             "can use before the last is acknowledged, counting the receivers' handler alone.")
    print(f"\nA burst of {f['tickets']} tickets created at once in one group; {f['webhook_environments']} webhook "
          f"receivers, {f['worker_environments']} assignment workers; a Zendesk minute of {f['window_s']:g} s\n")
    print("| figure | measured | target |\n| --- | --- | --- |")
    for name, value, target, ok in rows:
        print(f"| {name} | {value} | {target}{'' if ok else ' (missed)'} |")
    print(floor)
    print(f"\nZendesk calls per ticket by endpoint: {f['zendesk_calls_per_ticket_by_endpoint']}")
    print(f"429 answers by endpoint: {f['429_by_endpoint']}")
    print(f"AWS calls per ticket by function and service: {aws}")
    print(f"AWS calls by function and operation: {f['aws_calls_by_operation']}")
    return all(ok for *_, ok in rows)
