"""The availability commands in-process (main(argv)) on the `acme` account of test_cli_commands.py (moto in-process,
no sockets): what they store, what they print, the mistakes they refuse with one line and no change, and that
the selection follows what they set."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import responses

from round_robin import wiring
from round_robin.assignment.agent_overview import availability_of
from round_robin.assignment.rotation import ACCOUNT_WIDE
from round_robin.availability.model import AccountPolicy, AgentState
from round_robin.aws.queue import AssignmentRequest
from tests.unit.test_cli_commands import SHOW_MANY, acme, run  # noqa: F401 (the fixture)

TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # after today in every time zone
YESTERDAY = (date.today() - timedelta(days=2)).isoformat()


def stored(agent_id: int):
    return wiring.agent_store().agents("acme", {agent_id: ""})[agent_id]


def assigned(group_id: str, tickets: range) -> list[int | str]:
    """Who the selection picks for these tickets of the group (the reason when they wait)."""
    now = datetime.now(UTC).timestamp()
    picked: list[int | str] = []
    for ticket in tickets:
        claim = wiring.assignment_store().claim(AssignmentRequest("acme", ticket, "webhook", now), now)
        assert claim is not None
        choice = wiring.selector().select("acme", group_id, ticket, claim, now)
        picked.append(choice.agent.id if hasattr(choice, "agent") else choice.reason)
    return picked


def refused(capsys, *argv: str, code: int = 1) -> str:
    exit_code, out, err = run(capsys, *argv)
    assert exit_code == code and out == "" and len(err.splitlines()) == 1, (argv, err)
    return err


def test_an_agent_set_away_is_skipped_by_the_selection_and_back_when_available(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "availability", "acme", "1", "away")
    assert code == 0, err
    assert out.strip() == "acme: Ada Admin is away" and stored(1).status == "away"
    assert assigned("10", range(1, 4)) == [2, 2, 2]

    assert run(capsys, "availability", "acme", "1", "available")[0] == 0
    assert sorted(assigned("10", range(4, 6))) == [1, 2]


def test_out_of_office_with_a_return_date_and_a_backup_is_stored(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "availability", "acme", "2", "ooo", "--until", TOMORROW, "--backup", "1", "--json")
    assert code == 0, err
    assert json.loads(out) == {"subdomain": "acme", "agent_id": 2, "availability": "ooo", "until": TOMORROW,
                               "backup_id": 1}
    bob = stored(2)
    assert (bob.status, bob.ooo_until, bob.backup_id) == ("ooo", TOMORROW, 1)
    assert assigned("20", range(1, 2)) == ["out_of_office"]  # Bob is Billing's only agent: the ticket waits


@pytest.mark.parametrize(("argv", "message"), [
    (["availability", "acme", "12345", "away"], "unknown agent: 12345"),
    (["availability", "acme", "1", "ooo", "--until", YESTERDAY], f"return date {YESTERDAY} is not after today"),
    (["availability", "acme", "1", "ooo", "--until", "soon"], "return date must be a date written YYYY-MM-DD"),
    (["availability", "acme", "1", "ooo", "--backup", "777"], "unknown agent: 777"),
    (["availability", "acme", "1", "ooo", "--backup", "1"], "cannot be their own backup"),
    (["availability", "acme", "1", "away", "--until", TOMORROW], "go with ooo only"),
    (["availability", "acme", "1", "lunch"], "status must be one of available, away, ooo"),
    (["capacity", "acme", "--open", "-1"], "a cap must be a whole number of 0 or more"),
    (["capacity", "acme", "12345", "--open", "2"], "unknown agent: 12345"),
    (["settings", "acme", "--reassign", "all"], "reassign must be one of off, new, open"),
    (["hours", "acme", "set", "eu", "--tz", "Mars/Base", "--weekly", "mon-fri 09:00-17:00", "--groups", "10"],
     "unknown time zone: 'Mars/Base'"),
    (["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon-fri 17:00-09:00", "--groups", "10"],
     "ends before it starts"),
    (["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon-fri 09:00-17:00", "--groups", "99"],
     "unknown group: 99"),
    (["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon 09:00-17:00", "--agents", "5"],
     "unknown agent: 5"),
    (["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon 09:00-17:00", "--groups", "10", "--holiday",
      "2026-02-30"], "holiday must be a date"),
    (["hours", "acme", "remove", "nope"], "no hours named 'nope'"),
])
def test_bad_input_is_one_line_and_changes_nothing(capsys, acme, argv, message):  # noqa: F811
    before = (stored(1), stored(2), wiring.policies().get("acme"))

    err = refused(capsys, *argv)

    assert message in err
    assert (stored(1), stored(2), wiring.policies().get("acme")) == before


@pytest.mark.parametrize("argv", [
    ["availability", "acme", "1"],
    ["settings", "acme", "--zendesk-status", "maybe"],
    ["hours", "acme", "move"],
    ["hours", "acme", "set", "eu", "--weekly", "mon 09:00-17:00", "--groups", "10"],
    ["hours", "acme", "set", "--tz", "UTC", "--weekly", "mon 09:00-17:00", "--groups", "10"],
    ["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon 09:00-17:00"],
    ["hours", "acme", "list", "eu"],
])
def test_a_malformed_line_exits_2(capsys, acme, argv):  # noqa: F811
    refused(capsys, *argv, code=2)


def test_capacity_sets_the_account_default_and_an_agents_override_and_the_selection_keeps_them(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "capacity", "acme", "--open", "1")
    assert code == 0, err
    assert out.strip() == "acme: account default: open tickets 1, tickets a day none"
    code, out, err = run(capsys, "capacity", "acme", "2", "--open", "2", "--json")
    assert code == 0, err
    assert json.loads(out) == {"subdomain": "acme", "agent_id": 2, "open_cap": 2, "daily_cap": None}

    assert assigned("10", range(1, 5)) == [1, 2, 2, "open_cap"]

    code, out, _ = run(capsys, "capacity", "acme", "2")  # no option: shows
    assert out.strip() == "acme: Bob Agent: open tickets 2, tickets a day none (account default: open 1, daily none)"
    assert run(capsys, "capacity", "acme", "2", "--open", "none")[0] == 0
    assert stored(2).open_cap is None


def test_settings_show_and_set_the_accounts_switches(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "settings", "acme", "--json")
    assert code == 0, err
    assert json.loads(out) == {"subdomain": "acme", "zendesk_status": "off", "ooo_app": "off", "reassign": "off",
                               "open_cap": "none", "daily_cap": "none", "counted_statuses": "new,open",
                               "waiting_alert_minutes": 30,
                               "status_map": "away=away, offline=away, online=available, transfers only=away"}

    code, out, err = run(capsys, "settings", "acme", "--zendesk-status", "on", "--reassign", "new")
    assert code == 0, err
    assert out.split("\n")[2].split() == ["zendesk_status", "on"] and "reassign               new" in out
    policy, _ = wiring.policies().get("acme")
    assert (policy.zendesk_status, policy.ooo_app, policy.reassign) == (True, False, "new")


def test_settings_map_custom_zendesk_statuses_count_statuses_and_set_the_waiting_alert(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "settings", "acme", "--status", "In a  Meeting=away", "--status",
                         "Transfers only=available", "--counted-statuses", "open,new,pending",
                         "--waiting-alert-minutes", "45")
    assert code == 0, err
    policy, _ = wiring.policies().get("acme")
    assert policy.status_map == {"online": "available", "away": "away", "offline": "away",
                                 "transfers only": "available", "in a meeting": "away"}
    assert policy.counted_statuses == ("new", "open", "pending") and policy.waiting_alert_minutes == 45

    # one more custom status later keeps the others
    assert run(capsys, "settings", "acme", "--status", "Lunch=away")[0] == 0
    assert wiring.policies().get("acme")[0].status_map["in a meeting"] == "away"


@pytest.mark.parametrize("option, value, message", [
    ("--status", "Lunch=maybe", "must map to available or away"),
    ("--status", "=away", "a Zendesk status name is empty"),
    ("--counted-statuses", "open,solved", "counted statuses must be some of"),
    ("--waiting-alert-minutes", "0", "minutes must be a whole number from 1"),
    ("--waiting-alert-minutes", "-5", "minutes must be a whole number from 1"),
])
def test_bad_settings_are_one_line_and_change_nothing(capsys, acme, option, value, message):  # noqa: F811
    before = wiring.policies().get("acme")

    code, out, err = run(capsys, "settings", "acme", option, value)

    assert code != 0 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert wiring.policies().get("acme") == before


def test_hours_set_list_and_remove(capsys, acme):  # noqa: F811
    code, out, err = run(capsys, "hours", "acme", "set", "eu", "--tz", "Europe/Berlin", "--weekly",
                         "mon-fri 09:00-17:00", "--holiday", "2026-12-24..2026-12-26", "--groups", "10",
                         "--agents", "2")
    assert code == 0, err
    assert out.startswith("acme: hours 'eu' set")
    code, out, err = run(capsys, "hours", "acme", "list", "--json")
    assert json.loads(out) == [{"name": "eu", "time_zone": "Europe/Berlin",
                                "weekly": "mon 09:00-17:00, tue 09:00-17:00, wed 09:00-17:00, thu 09:00-17:00, "
                                          "fri 09:00-17:00",
                                "holidays": ["2026-12-24..2026-12-26"], "groups": ["10"], "agents": [2]}]
    _, schedules = wiring.policies().get("acme")
    assert schedules[0].intervals[0] == (1 * 1440 + 540, 1 * 1440 + 1020)

    code, out, err = run(capsys, "hours", "acme", "remove", "eu")
    assert code == 0, err
    assert wiring.policies().get("acme")[1] == ()
    assert run(capsys, "hours", "acme", "list")[1].strip() == (
        "acme has no working hours: every agent may take tickets at any time.")


def test_hours_that_never_open_make_the_group_wait_off_hours(capsys, acme):  # noqa: F811
    # given hours that are closed all of every day but a minute on a day two days away (never now)
    day = (datetime.now(UTC).weekday() + 1 + 3) % 7  # Sunday-first index, three days ahead
    name = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")[day]
    code, _, err = run(capsys, "hours", "acme", "set", "x", "--tz", "UTC", "--weekly", f"{name} 12:00-12:01",
                       "--groups", "20")
    assert code == 0, err
    assert assigned("20", range(1, 2)) == ["off_hours"]
    assert assigned(ACCOUNT_WIDE, range(2, 3)) != ["off_hours"]  # the account-wide roster has no hours


def test_agents_shows_availability_its_source_the_return_date_counts_against_caps_and_why_not(capsys, acme):  # noqa: F811
    run(capsys, "availability", "acme", "2", "ooo", "--until", TOMORROW, "--backup", "1")
    run(capsys, "capacity", "acme", "--open", "3", "--daily", "1")
    assigned("10", range(1, 2))  # Ada's first ticket: 1 of 1 today

    with responses.RequestsMock() as zendesk:
        zendesk.get(SHOW_MANY, json={"users": [{"id": 9, "name": "Ivy Agent", "role": "agent"}]})
        code, out, err = run(capsys, "agents", "acme", "--json")

    assert code == 0, err
    agents = {a["id"]: a for a in json.loads(out)}
    assert {k: agents[2][k] for k in ("availability", "availability_source", "return_date", "eligible", "why_not")} \
        == {"availability": "ooo", "availability_source": "service", "return_date": TOMORROW, "eligible": False,
            "why_not": f"out of office until {TOMORROW} (backup: Ada Admin)"}
    assert {k: agents[1][k] for k in ("availability", "open_count", "open_cap", "daily_count", "daily_cap",
                                      "eligible", "why_not")} \
        == {"availability": "available", "open_count": 1, "open_cap": 3, "daily_count": 1, "daily_cap": 1,
            "eligible": False, "why_not": "1 of 1 tickets today"}
    assert agents[9]["why_not"] == "excluded"


@pytest.mark.parametrize(("policy", "state", "expected"), [
    (AccountPolicy(), AgentState(1, "A"), ("available", "none")),
    (AccountPolicy(), AgentState(1, "A", status="away"), ("away", "service")),
    (AccountPolicy(ooo_app=True), AgentState(1, "A", ooo_app=True), ("ooo", "ooo_app")),
    (AccountPolicy(ooo_app=False), AgentState(1, "A", ooo_app=True), ("available", "none")),
    (AccountPolicy(zendesk_status=True), AgentState(1, "A", zendesk_status="offline"), ("away", "zendesk")),
    (AccountPolicy(zendesk_status=True), AgentState(1, "A", zendesk_status="online"), ("available", "zendesk")),
    (AccountPolicy(zendesk_status=True), AgentState(1, "A", status="ooo", zendesk_status="online"),
     ("ooo", "service")),  # the operator's word wins
])
def test_availability_and_its_source_follow_the_rules_order(policy, state, expected):
    assert availability_of(state, policy, 0.0) == expected


# -- each change is announced on the events queue ------------------------------------------------------------

def announced() -> list[tuple[str, str, dict]]:
    """(subdomain, kind, payload) of every message on the events queue, taken off it."""
    import os

    import boto3

    sqs, url = boto3.client("sqs", region_name="us-east-1"), os.environ["EVENTS_QUEUE_URL"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [(b["subdomain"], b["kind"], b["payload"]) for b in (json.loads(m["Body"]) for m in messages)]


@pytest.mark.parametrize(("argv", "kinds"), [
    (["availability", "acme", "1", "away"], [("agent_changed", {"agent_id": 1})]),
    (["availability", "acme", "1", "available"], [("agent_changed", {"agent_id": 1})]),
    (["availability", "acme", "2", "ooo", "--until", TOMORROW],
     [("agent_changed", {"agent_id": 2}), ("absence", {"agent_id": 2})]),
    (["capacity", "acme", "1", "--open", "3"], [("agent_changed", {"agent_id": 1})]),
    (["capacity", "acme", "--daily", "20"], [("settings_changed", {})]),
    (["settings", "acme", "--reassign", "open"], [("settings_changed", {})]),
    (["hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon-fri 09:00-17:00", "--groups", "10"],
     [("settings_changed", {})]),
    (["capacity", "acme"], []),
    (["capacity", "acme", "1"], []),
    (["settings", "acme"], []),
    (["hours", "acme", "list"], []),
])
def test_each_change_is_announced_on_the_events_queue_and_a_look_is_not(capsys, acme, argv, kinds):  # noqa: F811
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert announced() == [("acme", kind, payload) for kind, payload in kinds]


def test_removing_hours_is_announced(capsys, acme):  # noqa: F811
    assert run(capsys, "hours", "acme", "set", "eu", "--tz", "UTC", "--weekly", "mon 09:00-17:00", "--groups",
               "10")[0] == 0
    announced()
    assert run(capsys, "hours", "acme", "remove", "eu")[0] == 0
    assert announced() == [("acme", "settings_changed", {})]


def test_a_refused_change_is_not_announced(capsys, acme):  # noqa: F811
    refused(capsys, "availability", "acme", "12345", "away")
    assert announced() == []


def test_a_change_that_cannot_be_announced_stays_stored_and_says_so_with_a_failing_exit(capsys, acme,  # noqa: F811
                                                                                       monkeypatch):
    # given an events queue that does not exist (deleted, or a stack from before it)
    monkeypatch.setenv("EVENTS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/rr-cli-gone")

    err = refused(capsys, "availability", "acme", "1", "away")

    assert "acme: stored; the service will apply it at its next maintenance run" in err
    assert stored(1).status == "away"  # never undone


def test_a_stack_without_an_events_queue_keeps_the_change_and_says_so(capsys, acme, monkeypatch):  # noqa: F811
    monkeypatch.delenv("EVENTS_QUEUE_URL")

    err = refused(capsys, "settings", "acme", "--reassign", "new")

    assert "stored; the service will apply it at its next maintenance run" in err and "EVENTS_QUEUE_URL" in err
    assert wiring.policies().get("acme")[0].reassign == "new"
