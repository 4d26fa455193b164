"""Benchmark of the assignment path, against the local stack, all figures from one run.

    .venv/bin/python bench/assign_bench.py            # or: make bench
    .venv/bin/python bench/assign_bench.py --accounts 1000   # one maintenance run instead (maintenance_bench.py)
    .venv/bin/python bench/assign_bench.py --burst 1000      # N tickets at once instead (burst_bench.py)
    .venv/bin/python bench/assign_bench.py --rosters         # the roster-size sweep instead (roster_bench.py)

Reports, for tickets created one by one in the sandbox and assigned through its signed webhooks:
- webhook-to-assigned latency (p50, p95): from Zendesk sending the webhook to Zendesk accepting the assignment;
- AWS calls per assignment made by the assignment worker, and by every handler (counted by the local stack's
  proxy, per function from the `app/<function>` it puts in each SDK's User-Agent), by service;
- Zendesk calls per assignment (the sandbox's request log);
and each handler module's cold import time as a ratio to `import boto3` plus creating one DynamoDB client,
measured here in the same run (median of several fresh interpreters each).

Targets (issue 3; issue 9 moved DynamoDB from 3 to 4: the eligible agent's capped count is taken with the
rotation in one transaction): at most 4 DynamoDB calls, 0 Secrets Manager calls (warm), 1 Zendesk write and at
most 1 Zendesk read per ticket; cold import at most 1.3 times the boto3 floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from round_robin_local.demo import connect  # noqa: E402
from round_robin_local.functions import load_functions  # noqa: E402
from round_robin_local.stack import LocalStack, StackConfig  # noqa: E402
from round_robin_local.template import load_template  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from burst_bench import measure_burst  # noqa: E402
from burst_bench import report as report_burst  # noqa: E402
from maintenance_bench import interval_seconds, measure_maintenance  # noqa: E402
from maintenance_bench import report as report_maintenance  # noqa: E402
from roster_bench import measure_rosters  # noqa: E402
from roster_bench import report as report_rosters  # noqa: E402

SUBDOMAIN = "acme"
WORKER = "AssignTicketFunction"  # the assignment worker, whose calls per assignment the issue bounds
FLOOR_CODE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
IMPORT_ENV = {
    "TABLE_NAME": "bench", "SECRET_PREFIX": "bench/accounts/", "ZENDESK_CLIENT_ID": "bench",
    "ZENDESK_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c",
    "STATE_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench", "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "round-robin", "POWERTOOLS_METRICS_NAMESPACE": "RoundRobinForZendesk",
    "POWERTOOLS_TRACE_DISABLED": "true",  # the template's default (XRaySubsegments=false)
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def create_tickets(sandbox_url: str, groups: dict[str, int], count: int, interval: float) -> None:
    names = list(groups)
    for n in range(count):
        group = names[n % len(names)]
        answer = requests.post(f"{sandbox_url}/{SUBDOMAIN}/tickets/new", allow_redirects=False, timeout=10,
                               data={"subject": f"bench {n}", "group_id": groups[group]})
        answer.raise_for_status()
        time.sleep(interval)  # tickets arrive one by one, as in a support queue


def wait_assigned(account, sandbox, expected: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with sandbox.lock:
            done = sum(1 for t in account.tickets.values() if t["assignee_id"])
        if done >= expected:
            return
        time.sleep(0.1)  # polling, bounded by the deadline
    raise SystemExit(f"only {done} of {expected} tickets were assigned in time")


def measure_assignments(tickets: int, interval: float) -> dict:
    stack = LocalStack(StackConfig.from_env(port=0, zendesk_url_template=None)).start()
    try:
        page = connect(requests.Session(), stack.url, SUBDOMAIN)
        assert page.status_code == 200, page.text
        assert stack.sandbox is not None and stack.counter is not None
        sandbox = stack.sandbox.sandbox
        account = sandbox.accounts[SUBDOMAIN]
        groups = {g["name"]: g["id"] for g in account.groups.values()}

        warm_up = 8  # every execution environment handles a ticket first: the figures below are warm
        create_tickets(stack.sandbox.url, groups, warm_up, 0.05)
        wait_assigned(account, sandbox, warm_up, time.monotonic() + 60)

        aws_before = Counter(stack.counter.snapshot())
        worker_before = Counter(stack.counter.snapshot(WORKER))
        receiver = stack.functions["WebhookFunction"]
        receiver_before = receiver.usage()
        with sandbox.lock:
            log_start = len(account.request_log)
            first_ticket = max(account.tickets) + 1
        create_tickets(stack.sandbox.url, groups, tickets, interval)
        wait_assigned(account, sandbox, warm_up + tickets, time.monotonic() + 120)
        time.sleep(1.0)  # let the last records and acknowledgements land before counting
        aws_calls = Counter(stack.counter.snapshot()) - aws_before
        worker_calls = Counter(stack.counter.snapshot(WORKER)) - worker_before
        invocations, cpu = receiver.usage_since(receiver_before)

        with sandbox.lock:
            log = account.request_log[log_start:]
            # The trigger's deliveries (new tickets); the event webhook's ticket events come after the assignment.
            deliveries = {d["ticket_id"]: d for d in account.deliveries
                          if d["type"] == "conditional_ticket_events" and (d["ticket_id"] or 0) >= first_ticket}
        assigned_at = {}
        for entry in log:
            if entry["method"] == "PUT" and entry["status"] == 200 and entry["path"].startswith("/api/v2/tickets/"):
                ticket_id = int(entry["path"].rsplit("/", 1)[-1].split(".")[0])
                assigned_at.setdefault(ticket_id, entry["at"])
        latencies = [(assigned_at[t] - d["sent_at"]) * 1000 for t, d in deliveries.items() if t in assigned_at]
        by_service, worker_by_service = Counter(), Counter()
        for key, count in aws_calls.items():
            by_service[key.split(":")[0]] += count
        for key, count in worker_calls.items():
            worker_by_service[key.split(":")[0]] += count
        reads = sum(1 for e in log if e["method"] == "GET" and e["path"].startswith("/api/v2/tickets/"))
        writes = sum(1 for e in log if e["method"] == "PUT" and e["path"].startswith("/api/v2/tickets/"))
        return {
            "tickets": tickets,
            "latency_ms": {"p50": round(percentile(latencies, 0.5), 1), "p95": round(percentile(latencies, 0.95), 1),
                           "max": round(max(latencies), 1)},
            "aws_calls_per_ticket": {s: round(by_service[s] / tickets, 2)
                                     for s in ("dynamodb", "secretsmanager", "sqs")},
            "worker_calls_per_ticket": {s: round(worker_by_service[s] / tickets, 2)
                                        for s in ("dynamodb", "secretsmanager", "sqs")},
            "aws_calls_by_operation": dict(sorted(aws_calls.items())),
            "worker_calls_by_operation": dict(sorted(worker_calls.items())),
            # The webhook receiver's own CPU per invocation, in its environment (the trigger's deliveries and the
            # assignments' ticket events): the burst benchmark's acknowledgement floor is measured the same way.
            "receiver_cpu_ms": round(cpu / invocations * 1000, 2) if invocations else 0.0,
            "zendesk_calls_per_ticket": {"reads": round(reads / tickets, 2), "writes": round(writes / tickets, 2),
                                         "other": round((len(log) - reads - writes) / tickets, 2)},
        }
    finally:
        stack.stop()


def _import_seconds(code: str) -> float:
    timer = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}, **IMPORT_ENV}
    out = subprocess.run([sys.executable, "-c", timer], env=env, cwd=ROOT,  # noqa: S603 - our own code
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_imports(runs: int) -> dict:
    modules = {}
    for function in load_functions(load_template()).values():
        spec = function.spec
        modules[f"{function.name}/{spec.module}.py ({function.logical_id})"] = (
            "import importlib.util as u; "
            f"s = u.spec_from_file_location('handler', {os.path.join(spec.code_dir, spec.module + '.py')!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m)"
        )
    samples: dict[str, list[float]] = {"floor": [], **{name: [] for name in modules}}
    for _ in range(runs):  # interleaved, so that machine noise hits every measurement alike
        samples["floor"].append(_import_seconds(FLOOR_CODE))
        for name, code in modules.items():
            samples[name].append(_import_seconds(code))
    floor = statistics.median(samples["floor"])
    return {
        "floor_ms": round(floor * 1000, 1),
        "modules": {name: {"ms": round(statistics.median(values) * 1000, 1),
                           "ratio": round(statistics.median(values) / floor, 2)}
                    for name, values in samples.items() if name != "floor"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between new tickets")
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--accounts", type=int, help="instead: one maintenance run over this many new accounts")
    parser.add_argument("--maintenance-workers", type=int, default=10,
                        help="maintenance functions at once (the template's MaintenanceMaxConcurrency default)")
    parser.add_argument("--maintenance-timeout", type=float, default=1800, help="seconds to wait for the run")
    parser.add_argument("--burst", type=int, help="instead: this many tickets created at once in one group")
    parser.add_argument("--window", type=float, default=20.0,
                        help="--burst: seconds in the sandbox's rate-limit minute (times are reported per 60 s)")
    parser.add_argument("--webhook-environments", type=int, default=8,
                        help="--burst: execution environments of the webhook receiver (WebhookFunction)")
    parser.add_argument("--worker-environments", type=int, default=5,
                        help="--burst: execution environments of the assignment worker (the template's "
                             "AssignmentMaxConcurrency default, which caps its queue's pollers)")
    parser.add_argument("--burst-timeout", type=float, help="--burst: seconds to wait (default: 30 Zendesk minutes)")
    parser.add_argument("--rosters", action="store_true",
                        help="instead: what one assignment writes at 10, 1,000 and 5,000 agents")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.rosters:
        figures = measure_rosters()
        ok = report_rosters(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0 if ok else 1
    if args.burst is not None:
        if not 1 <= args.burst <= 5000 or args.window <= 0 or min(args.webhook_environments,
                                                                    args.worker_environments) < 1:
            parser.error("--burst takes 1 to 5000 tickets, --window a positive number of seconds, "
                         "--webhook-environments and --worker-environments at least 1")
        figures = measure_burst(args.burst, window=args.window, webhook_environments=args.webhook_environments,
                                worker_environments=args.worker_environments,
                                timeout=args.burst_timeout or 30 * args.window)
        ok = report_burst(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0 if ok else 1
    if args.accounts is not None:
        if args.accounts < 1 or args.maintenance_workers < 2:
            parser.error("--accounts needs at least 1 account and --maintenance-workers at least 2 (Lambda's least)")
        figures = measure_maintenance(args.accounts, args.maintenance_workers, args.maintenance_timeout)
        ok = report_maintenance(figures, interval_seconds())
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0 if ok else 1

    results = {"assignments": measure_assignments(args.tickets, args.interval),
               "cold_import": measure_imports(args.import_runs)}
    a, c = results["assignments"], results["cold_import"]
    per, worker = a["aws_calls_per_ticket"], a["worker_calls_per_ticket"]
    zd = a["zendesk_calls_per_ticket"]
    checks = [
        ("DynamoDB calls per assignment (the worker)", worker["dynamodb"], "<= 4", worker["dynamodb"] <= 4),
        ("DynamoDB calls per ticket (every function)", per["dynamodb"], "-", True),
        ("Secrets Manager calls per ticket (warm)", per["secretsmanager"], "0", per["secretsmanager"] == 0),
        ("SQS calls per ticket (handlers)", per["sqs"], "-", True),
        ("Zendesk writes per ticket", zd["writes"], "1", zd["writes"] == 1),
        ("Zendesk reads per ticket", zd["reads"], "<= 1", zd["reads"] <= 1),
        ("Webhook-to-assigned p50 (ms)", a["latency_ms"]["p50"], "-", True),
        ("Webhook-to-assigned p95 (ms)", a["latency_ms"]["p95"], "< 1000", a["latency_ms"]["p95"] < 1000),
        ("Webhook receiver CPU per invocation (ms)", a["receiver_cpu_ms"], "-", True),
    ]
    for name, figures in c["modules"].items():
        checks.append((f"cold import {name} / boto3 floor", figures["ratio"], "<= 1.3", figures["ratio"] <= 1.3))
    print(f"\n{a['tickets']} tickets, one every {args.interval} s; boto3 floor {c['floor_ms']} ms\n")
    print("| figure | measured | target |\n| --- | --- | --- |")
    for name, value, target, ok in checks:
        print(f"| {name} | {value} | {target}{'' if ok else ' (missed)'} |")
    print(f"\nAWS calls by operation, the worker: {a['worker_calls_by_operation']}")
    print(f"AWS calls by operation, every function: {a['aws_calls_by_operation']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
