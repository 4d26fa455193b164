"""The operator commands in-process (main(argv)) on an account stored in moto's in-process AWS (the table from
template.yaml), Zendesk through `responses`: what they print for people, what --json gives, and the mistakes
they refuse without changing anything. No sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

import boto3
import pytest
import responses
from moto import mock_aws

from round_robin import wiring
from round_robin.accounts.credentials import Credentials, TokenSet
from round_robin.accounts.registry import Account
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member, Roster
from round_robin.maintenance import AccountReport, Maintainer
from round_robin_cli import main
from tests.support.table import create_template_table

SHOW_MANY = "https://acme.zendesk.com/api/v2/users/show_many.json"
ADA, BOB, IVY = Member(1, "Ada Admin"), Member(2, "Bob Agent"), Member(9, "Ivy Agent")


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A connected account `acme` (API token) with Ada in Support, Bob in Support and Billing, Ivy excluded."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(dynamodb, "rr-cli")
        events = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="rr-cli-events")["QueueUrl"]
        for name, value in {"TABLE_NAME": "rr-cli", "SECRET_PREFIX": "rr-cli/accounts/", "ZENDESK_CLIENT_ID": "rr",
                            "ZENDESK_CLIENT_SECRET_ARN": "arn:client", "STATE_KEY_SECRET_ARN": "arn:state",
                            "EVENTS_QUEUE_URL": events}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("ZENDESK_URL_TEMPLATE", raising=False)
        wiring.reset()
        wiring.registry().save(Account("acme", "connected", "api_token", 1, "Ada Admin", 0, 0))
        wiring.registry().set_excluded("acme", [IVY.id], 0)
        wiring.rosters().sync("acme", [Roster("10", "Support", (ADA, BOB)), Roster("20", "Billing", (BOB,)),
                                       Roster(ACCOUNT_WIDE, "All agents", (ADA, BOB))], 0)
        wiring.vault().save("acme", Credentials("api_token", api_email="ada@acme.test", api_token="api-token-1"))
        yield
        wiring.reset()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def excluded() -> tuple[int, ...]:
    account = wiring.registry().get("acme")
    assert account is not None
    return account.excluded_agent_ids


def test_agents_as_json_have_id_name_rotation_availability_and_eligibility(capsys, acme):
    with responses.RequestsMock() as zendesk:
        zendesk.get(SHOW_MANY, json={"users": [{"id": 9, "name": "Ivy Agent", "role": "agent"}]})
        code, out, err = run(capsys, "agents", "acme", "--json")

    assert code == 0, err
    agents = {a["id"]: a for a in json.loads(out)}
    assert set(agents) == {1, 2, 9}
    assert agents[2] | {} == {**agents[2], "name": "Bob Agent", "groups": ["Support", "Billing"], "in_rotation": True,
                              "availability": "available", "eligible": True}
    assert agents[9]["name"] == "Ivy Agent" and agents[9]["in_rotation"] is False
    assert agents[9]["eligible"] is False and agents[9]["why_not"] == "excluded"
    assert "api-token-1" not in out + err


def test_agents_for_people_is_a_table_and_an_unreadable_name_is_said_so(capsys, acme):
    with responses.RequestsMock() as zendesk:
        zendesk.get(SHOW_MANY, status=403, json={"error": "Forbidden"})
        code, out, err = run(capsys, "agents", "acme")

    assert code == 0, err
    header, *rows = out.splitlines()
    # the contract's return date and counts against caps (CONTRACT.md, `agents`) are columns of their own
    assert header.split() == ["ID", "NAME", "GROUPS", "IN", "ROTATION", "AVAILABILITY", "RETURN", "OPEN", "TODAY",
                              "ELIGIBLE"]
    assert rows[1].split() == ["2", "Bob", "Agent", "Support,", "Billing", "yes", "available", "(none)", "-", "0",
                               "0", "yes"]
    assert rows[2].startswith("9 ") and "(excluded, name unknown)" in rows[2] and rows[2].endswith("no: excluded")
    assert not out.lstrip().startswith(("[", "{"))


def test_an_unknown_account_is_one_line(capsys, acme):
    for argv in (["agents", "nobody"], ["exclude", "nobody", "1"], ["resync", "nobody"], ["maintain", "nobody"],
                 ["migrate", "nobody"]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == "" and len(err.splitlines()) == 1, argv
        assert "nobody is not registered" in err and "round-robin accounts" in err


def test_exclude_refuses_an_id_that_is_not_an_agent_and_changes_nothing(capsys, acme):
    code, out, err = run(capsys, "exclude", "acme", "2", "12345")

    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert "12345 is not an agent of acme" in err and "round-robin agents acme" in err
    assert excluded() == (IVY.id,)


def test_exclude_sets_the_list_and_says_so_in_words_or_json(capsys, acme):
    code, out, err = run(capsys, "exclude", "acme", "2", "9")
    assert code == 0, err
    assert out.startswith("acme: kept out of every rotation: 2 (Bob Agent), 9") and "round-robin resync acme" in out
    assert excluded() == (2, 9)

    code, out, _ = run(capsys, "--json", "exclude", "acme", "--none")
    assert code == 0 and json.loads(out)["excluded_agent_ids"] == [] and excluded() == ()


def test_maintain_prints_one_readable_row_per_account(capsys, acme, monkeypatch):
    reports = [asdict(AccountReport("acme", "connected", refreshed=True, health="ok",
                                    roster_changes={"joined": 1, "left": 0, "groups": 2}, requeued=2, swept=1,
                                    counts_corrected=3, waiting_alerted=4, log_indexed=5)),
               asdict(AccountReport("beta", "needs_reconnect", errors=["ZendeskUnavailableError: 503"]))]

    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/rr-cli")
    monkeypatch.setenv("WEBHOOK_SECRET_PREFIX", "rr-cli/webhooks/")
    monkeypatch.setattr(Maintainer, "run", lambda _self, subdomains=None: reports)  # what a run found
    code, out, err = run(capsys, "maintain")

    assert code == 0, err
    header, acme_row, beta_row = out.splitlines()
    assert header.split() == ["ACCOUNT", "STATUS", "REFRESHED", "HEALTH", "ROSTER", "CHANGES", "REQUEUED", "SWEPT",
                              "COUNTS", "CORRECTED", "WAITING", "ALERTED", "LOG", "INDEXED", "ERRORS"]
    assert acme_row.split() == ["acme", "connected", "yes", "ok", "+1", "-0", "2", "1", "3", "4", "5", "-"]
    assert beta_row.split()[:4] == ["beta", "needs_reconnect", "no", "-"]
    assert beta_row.endswith("ZendeskUnavailableError: 503")
    assert not any(python in out for python in ("{'", "[]", "False", "True"))

    code, out, _ = run(capsys, "maintain", "--json")
    assert code == 0 and json.loads(out) == reports


def test_a_secret_the_service_cannot_read_is_one_line(capsys, acme):
    # given an OAuth account whose access token has expired, and the OAuth client's secret, which refreshing it
    # needs, missing from Secrets Manager (ZENDESK_CLIENT_SECRET_ARN names none)
    wiring.vault().save("acme", Credentials("oauth", TokenSet("access-1", "refresh-1", 1.0, None, "read")))
    code, out, err = run(capsys, "resync", "acme")

    assert code == 1 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "reading the service's secret failed" in err and "refresh-1" not in err and "access-1" not in err
