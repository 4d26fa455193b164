"""The operator command line as the README runs it on the local stack: `.venv/bin/round-robin --local <url> ...`,
the installed entry point in a subprocess, over real HTTP to the stack and its AWS emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.browser import connect
from tests.e2e.conftest import _free_port

ROUND_ROBIN = str(Path(sys.executable).with_name("round-robin"))


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def test_the_readme_commands_list_agents_exclude_one_resync_and_maintain(stack):
    # given a connected account
    account = stack.new_account("e2e-cli")
    ben = next(u for u in account["users"] if u["name"] == "Ben Agent")
    assert connect(stack.url, "e2e-cli").page.status_code == 200

    # accounts and agents, for people and as JSON (--json anywhere on the line)
    listed = ok(stack.cli("accounts"))
    assert listed.splitlines()[0].split()[:3] == ["SUBDOMAIN", "AUTH", "STATUS"]
    assert any(line.startswith("e2e-cli ") and " oauth " in line for line in listed.splitlines())
    agents = {a["name"]: a for a in json.loads(ok(stack.cli("agents", "e2e-cli", "--json")))}
    assert {"Ada Admin", "Ben Agent", "Cleo Agent", "Dev Agent", "Eve Agent", "Ivy Agent"} == set(agents)
    assert agents["Ben Agent"]["id"] == ben["id"] and agents["Ben Agent"]["groups"] == ["Support"]
    assert all(a["in_rotation"] and a["eligible"] and a["availability"] == "available" for a in agents.values())
    table = ok(stack.cli("agents", "e2e-cli"))
    assert table.splitlines()[0].split()[:2] == ["ID", "NAME"] and f"{ben['id']}  Ben Agent" in table

    # exclude: an id that is no agent is refused, and nothing changes
    refused = stack.cli("exclude", "e2e-cli", "999999")
    assert "999999 is not an agent of e2e-cli" in one_error_line(refused)
    assert f"round-robin --local {stack.url} agents e2e-cli" in refused.stderr

    # exclude Ben, re-sync: he is out of every rotation, still listed with his name from Zendesk
    said = ok(stack.cli("exclude", "e2e-cli", str(ben["id"])))
    assert said.startswith(f"e2e-cli: kept out of every rotation: {ben['id']} (Ben Agent)")
    resynced = ok(stack.cli("resync", "e2e-cli"))
    support = next(line for line in resynced.splitlines() if line.startswith("Support "))
    assert "Ada Admin" in support and "Ben Agent" not in support
    ben_now = next(a for a in json.loads(ok(stack.cli("--json", "agents", "e2e-cli"))) if a["id"] == ben["id"])
    assert ben_now | {} == {**ben_now, "name": "Ben Agent", "in_rotation": False, "eligible": False,
                            "why_not": "excluded"}

    # maintain: one readable row
    maintained = ok(stack.cli("maintain", "e2e-cli")).splitlines()
    assert maintained[0].split()[:3] == ["ACCOUNT", "STATUS", "REFRESHED"]
    assert maintained[1].split()[:2] == ["e2e-cli", "connected"] and len(maintained) == 2
    assert json.loads(ok(stack.cli("maintain", "e2e-cli", "--json")))[0]["subdomain"] == "e2e-cli"

    # and back: nobody excluded
    assert json.loads(ok(stack.cli("exclude", "e2e-cli", "--none", "--json")))["excluded_agent_ids"] == []


def test_make_run_prints_the_cli_by_its_path(stack):
    assert f"bin/round-robin --local {stack.url} accounts" in stack.log_text()


def test_the_cli_explains_a_bad_command_without_a_traceback(stack):
    result = stack.cli("migrate", "nobody-here")
    assert result.returncode == 1
    assert "not registered" in one_error_line(result)


def test_no_local_stack_running_is_one_line_from_the_installed_command():
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    result = subprocess.run([ROUND_ROBIN, "--local", url, "accounts"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"nothing answers at {url}" in one_error_line(result)
