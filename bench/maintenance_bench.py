"""Benchmark of one scheduled maintenance run over N connected accounts, against the local stack (issue 10):

    .venv/bin/python bench/assign_bench.py --accounts 1000     # or: make bench ARGS="--accounts 1000"

N sandbox accounts are connected directly (the connect's own setup and store, as tests/integration/flows.py's
seed_connected_account does, without the browser), then the schedule's dispatcher runs once and the run is timed
until the maintenance queue is drained. Reported from that one run: its duration, the accounts maintained (their
health checked by this run), and AWS calls (per function and service, counted by the local stack's proxy) and
Zendesk calls (the sandbox's request log) per account.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from round_robin_local.stack import LocalStack, StackConfig

DISPATCHER, CONSUMER = "RefreshTokensFunction", "MaintainAccountFunction"
ADMIN = "Ada Admin"  # the sandbox's demo seed has her as an admin


def _seed(stack: LocalStack, subdomain: str) -> None:
    """Connect `subdomain` as the OAuth callback does once it holds a grant (the sandbox issues the admin a token)."""
    from round_robin_local.seeding import connect_new_account

    connect_new_account(stack, subdomain, ADMIN)


def _endpoint(path: str) -> str:
    """`/api/v2/users/me.json` -> `users`; `/oauth/tokens` -> `oauth`."""
    parts = path.strip("/").split("/")
    name = parts[2] if parts[:2] == ["api", "v2"] and len(parts) > 2 else parts[0]
    return name.split(".")[0]


def measure_maintenance(accounts: int, workers: int, timeout: float) -> dict[str, Any]:
    """One maintenance run over `accounts` fresh connected accounts, with `workers` maintenance functions at once."""
    config = StackConfig.from_env(port=0, zendesk_url_template=None)
    config = replace(config, concurrency=(*config.concurrency, (CONSUMER, workers)),
                     parameters=(*config.parameters, ("MaintenanceMaxConcurrency", str(workers))))
    stack = LocalStack(config).start()
    try:
        from round_robin import wiring

        wiring.reset()  # this process now has the functions' environment: the same table, queues and secrets
        assert stack.sandbox is not None and stack.counter is not None
        subdomains = [f"bench{n:04d}" for n in range(accounts)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as seeding:
            list(seeding.map(lambda s: _seed(stack, s), subdomains))
        seeded_in = time.monotonic() - started
        sandbox = stack.sandbox.sandbox
        with sandbox.lock:
            log_start = {s: len(sandbox.accounts[s].request_log) for s in subdomains}
        before = {f: Counter(stack.counter.snapshot(f)) for f in (DISPATCHER, CONSUMER)}

        run_at = time.time()
        started = time.monotonic()
        dispatched = stack.functions[DISPATCHER].invoke({})
        dispatched_in = time.monotonic() - started
        if not stack.drain("MaintenanceQueue", timeout):
            raise SystemExit(f"the maintenance queue was not drained within {timeout:g} s")
        duration = time.monotonic() - started

        calls = {f: Counter(stack.counter.snapshot(f)) - before[f] for f in (DISPATCHER, CONSUMER)}
        mine = set(subdomains)
        maintained = sum(1 for a in wiring.registry().list()
                         if a.subdomain in mine and (a.health_checked_at or 0) >= int(run_at))
        with sandbox.lock:
            zendesk = Counter(f"{e['method']} {_endpoint(e['path'])}"
                              for s in subdomains for e in sandbox.accounts[s].request_log[log_start[s]:])
        by_service: dict[str, Counter[str]] = {f: Counter() for f in calls}
        for function, counts in calls.items():
            for key, count in counts.items():
                by_service[function][key.split(":")[0]] += count
        return {
            "accounts": accounts,
            "workers": workers,
            "seeded_s": round(seeded_in, 1),
            "queued": len(dispatched["queued"]),
            "dispatch_s": round(dispatched_in, 2),
            "run_s": round(duration, 1),
            "maintained": maintained,
            "aws_calls_per_account": {f: {s: round(n / accounts, 2) for s, n in sorted(c.items())}
                                      for f, c in by_service.items()},
            "aws_calls_by_operation": {f: dict(sorted(c.items())) for f, c in calls.items()},
            "zendesk_calls_per_account": round(sum(zendesk.values()) / accounts, 2),
            "zendesk_calls_by_endpoint_per_account": {k: round(v / accounts, 2) for k, v in sorted(zendesk.items())},
        }
    finally:
        stack.stop()


def report(figures: dict[str, Any], interval_s: float) -> bool:
    """Print the figures as the README's table; True if the run covered every account within its interval."""
    ok = figures["maintained"] == figures["accounts"] and figures["run_s"] <= interval_s
    per = figures["aws_calls_per_account"]
    rows = [
        ("accounts maintained / connected", f"{figures['maintained']} / {figures['accounts']}", "all"),
        (f"run duration, {figures['workers']} workers (s)", figures["run_s"], f"<= {interval_s:g} (the interval)"),
        ("dispatch duration (s)", figures["dispatch_s"], "-"),
        ("Zendesk calls per account", figures["zendesk_calls_per_account"], "flat"),
        ("AWS calls per account, dispatcher", per[DISPATCHER], "-"),
        ("AWS calls per account, maintain_account", per[CONSUMER], "flat"),
    ]
    print(f"\nOne maintenance run over {figures['accounts']} accounts (seeded in {figures['seeded_s']} s)\n")
    print("| figure | measured | target |\n| --- | --- | --- |")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    print(f"\nZendesk calls per account by endpoint: {figures['zendesk_calls_by_endpoint_per_account']}")
    print(f"AWS calls by operation: {figures['aws_calls_by_operation']}")
    return ok


def interval_seconds() -> float:
    return float(os.environ.get("MAINTENANCE_INTERVAL_MINUTES") or 10) * 60
