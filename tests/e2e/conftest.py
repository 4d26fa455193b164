"""The local stack as a user runs it (`python -m round_robin_local run`), in a subprocess, over real HTTP.

Its whole output (handler logs, metrics, access logs) goes to one file that tests can search.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from round_robin.table import ACCOUNT_SK, account_pk

STARTUP_DEADLINE = 90.0


@dataclass
class Stack:
    url: str
    info: dict[str, Any]
    log_path: Path

    @property
    def sandbox(self) -> str:
        return self.info["sandbox"]

    def aws(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.info["emulator"],
                            aws_access_key_id="local", aws_secret_access_key="local")

    def new_account(self, subdomain: str) -> dict[str, Any]:
        answer = requests.post(f"{self.sandbox}/_sandbox/accounts", json={"subdomain": subdomain}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def zendesk_account(self, subdomain: str) -> dict[str, Any]:
        return requests.get(f"{self.sandbox}/_sandbox/accounts/{subdomain}", timeout=10).json()

    def create_tickets(self, subdomain: str, group: str | None, count: int) -> list[int]:
        """Tickets submitted from the sandbox's new-ticket page, as a person would."""
        groups = {g["name"]: g["id"] for g in self.zendesk_account(subdomain)["groups"]}
        before = {t["id"] for t in self.zendesk_account(subdomain)["tickets"]}
        for n in range(count):
            answer = requests.post(f"{self.sandbox}/{subdomain}/tickets/new", allow_redirects=False, timeout=10,
                                   data={"subject": f"Ticket {n}", "group_id": groups[group] if group else ""})
            assert answer.status_code == 303
        return sorted({t["id"] for t in self.zendesk_account(subdomain)["tickets"]} - before)

    def zendesk_requests(self, subdomain: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.sandbox}/_sandbox/accounts/{subdomain}/requests", timeout=10).json()["requests"]

    def sandbox_control(self, subdomain: str, what: str, body: dict[str, Any]) -> None:
        requests.post(f"{self.sandbox}/_sandbox/accounts/{subdomain}/{what}", json=body, timeout=10).raise_for_status()

    def invoke(self, function: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a scheduled function now (POST /_local/invoke/<function>)."""
        answer = requests.post(f"{self.url}/_local/invoke/{function}", json=event or {}, timeout=120)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def maintain(self, subdomains: list[str] | None = None) -> dict[str, Any]:
        """A scheduled maintenance run now: the dispatcher queues the accounts' jobs and the answer comes once the
        maintenance queue is drained (?drain=MaintenanceQueue). `accounts`: what each account's run recorded on it
        (status, health and the run's counts: swept, requeued, ...), as the dispatcher listed them."""
        answer = requests.post(f"{self.url}/_local/invoke/RefreshTokensFunction?drain=MaintenanceQueue&timeout=110",
                               json={"subdomains": subdomains} if subdomains is not None else {}, timeout=120)
        assert answer.status_code == 200, answer.text
        dispatched = answer.json()
        dynamodb, table = self.aws("dynamodb"), self.info["table"]
        accounts = []
        for subdomain in sorted(dispatched["queued"] + dispatched["needs_reconnect"]):
            item = dynamodb.get_item(TableName=table, ConsistentRead=True,
                                     Key={"pk": {"S": account_pk(subdomain)}, "sk": {"S": ACCOUNT_SK}})["Item"]
            counts = {k: int(v["N"]) for k, v in item.get("last_maintenance", {}).get("M", {}).items()}
            accounts.append({"subdomain": subdomain, "status": item["status"]["S"],
                             "health": item.get("health", {}).get("S", ""), **counts})
        return {"dispatch": dispatched, "accounts": accounts}

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The operator's command line against this stack."""
        command = [str(Path(sys.executable).with_name("round-robin")), "--local", self.url, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {})})

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_stack(log_path: Path, **settings: str) -> Iterator[Stack]:
    """`python -m round_robin_local run` in a subprocess with `settings` as extra environment variables."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "PUBLIC_BASE_URL", "AWS_"))}
    # Log everything the service logs, at its most verbose, so the secrets test sees the worst case.
    env.update({"PORT": str(port), "LOG_LEVEL": "DEBUG", "LOCAL_LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1",
                # the sweep takes tickets older than this; 3 minutes by default, too long for a test
                "SWEEP_MIN_AGE_SECONDS": "2", **settings})
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "round_robin_local", "run"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE
    info = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            info = requests.get(f"{url}/_local/health", timeout=2).json()
            break
        except requests.RequestException:  # not listening yet, or listening but not serving yet
            time.sleep(0.1)  # polling, bounded by the deadline
    if info is None:
        process.kill()
        pytest.fail(f"the local stack did not start:\n{log_path.read_text()[-4000:]}")
    try:
        yield Stack(url, info, log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack") / "stack.log") as started:
        yield started


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.25):
    """Poll `condition()` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)  # polling with a deadline
