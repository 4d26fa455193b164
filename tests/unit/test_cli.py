"""The operator command line's grammar, output and error paths: main(argv) in-process, stdout and stderr
captured. No sockets: `responses` stands for the HTTP a local stack would answer, botocore fails before it
sends anything (no region, no credentials), moto's in-process mock stands for CloudFormation."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
import responses
from botocore.exceptions import ClientError
from moto import mock_aws

from round_robin.assignment.agent_overview import UNKNOWN_NAME, list_agents, unknown_agents
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member, Roster
from round_robin_cli import main
from round_robin_cli.arguments import parse
from round_robin_cli.errors import CliError
from round_robin_cli.output import table
from round_robin_cli.targets import aws_error, stack_environment

LOCAL = "http://127.0.0.1:3999"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    """The whole of stderr: one line, no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("round-robin: ")
    return lines[0]


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """No AWS configuration at all: no profile files, no instance metadata, no settings in the environment."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


# --- the grammar -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--json", "agents", "acme"],
    ["agents", "--json", "acme"],
    ["agents", "acme", "--json"],
])
def test_json_is_accepted_anywhere_on_the_line(argv):
    args = parse(argv)
    assert args.json is True and args.subdomain == "acme"


def test_without_json_the_output_is_for_people():
    assert parse(["agents", "acme"]).json is False
    assert parse(["exclude", "acme", "1", "2"]).json is False


def test_the_target_may_follow_the_command():
    args = parse(["accounts", "--local", LOCAL])
    assert args.local == LOCAL and args.stack is None
    assert parse(["--stack", "prod", "maintain", "acme"]).stack == "prod"


@pytest.mark.parametrize("argv", [
    [],
    ["nonsense"],
    ["agents"],
    ["exclude", "acme", "not-a-number"],
    ["register-api-token", "acme"],
    ["--stack", "x", "--local", LOCAL, "accounts"],
    ["accounts", "--stack", "x", "--local", LOCAL],
])
def test_a_malformed_line_is_one_line_on_stderr_and_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "--help" in one_error_line(err) or "not both" in err


def test_exclude_needs_ids_or_none_and_not_both(capsys):
    code, _, err = run(capsys, "exclude", "acme")
    assert code == 2 and "--none" in one_error_line(err)
    code, _, err = run(capsys, "exclude", "acme", "12", "--none")
    assert code == 2 and "not both" in one_error_line(err)


# --- where the commands run --------------------------------------------------------------------------------------

def test_no_local_stack_running_is_one_line_saying_how_to_start_it(capsys):
    with responses.RequestsMock():  # nothing answers: responses raises ConnectionError, as a closed port would
        code, out, err = run(capsys, "--local", LOCAL, "accounts")
    assert code == 1 and out == ""
    assert "nothing answers at http://127.0.0.1:3999" in one_error_line(err) and "make run" in err


@pytest.mark.parametrize(("status", "body"), [
    (200, "<html>a web page</html>"),
    (404, '{"message": "Not Found"}'),
    (200, '{"status": "ok"}'),
    (200, "[1, 2]"),
])
def test_a_local_url_that_is_not_the_local_stack_is_one_line(capsys, status, body):
    with responses.RequestsMock() as mock:
        mock.get(f"{LOCAL}/_local/health", status=status, body=body)
        code, out, err = run(capsys, "--local", LOCAL, "agents", "acme", "--json")
    assert code == 1 and out == ""
    assert "not as the local stack" in one_error_line(err)


def test_a_local_value_that_is_not_a_url_is_one_line(capsys):
    code, _, err = run(capsys, "--local", "3000", "accounts")
    assert code == 1 and "http://127.0.0.1:3000" in one_error_line(err)


def test_no_aws_region_is_one_line(capsys, no_aws_config):
    code, out, err = run(capsys, "--stack", "x", "accounts")
    assert code == 1 and out == ""
    assert "no AWS region" in one_error_line(err) and "AWS_DEFAULT_REGION" in err


def test_no_aws_credentials_is_one_line(capsys, no_aws_config):
    no_aws_config.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    code, out, err = run(capsys, "--stack", "x", "accounts", "--json")
    assert code == 1 and out == ""
    assert "no AWS credentials" in one_error_line(err)


def test_a_stack_that_does_not_exist_is_one_line(capsys):
    with mock_aws():
        code, out, err = run(capsys, "--stack", "no-such-stack", "accounts")
    assert code == 1 and out == ""
    assert "there is no stack no-such-stack in us-east-1" in one_error_line(err)


def _refusing(code: str):
    class Refusing:
        meta = type("Meta", (), {"region_name": "eu-west-1"})

        def describe_stacks(self, **_):
            raise ClientError({"Error": {"Code": code, "Message": "secret-ish details"}}, "DescribeStacks")

    return lambda _service: Refusing()


@pytest.mark.parametrize(("code", "said"), [
    ("ExpiredToken", "your AWS credentials have expired"),
    ("AccessDenied", "AWS refused reading stack prod (AccessDenied)"),
    ("Throttling", "AWS refused reading stack prod: Throttling"),
])
def test_aws_refusals_name_the_code_and_what_to_do(code, said):
    with pytest.raises(CliError) as raised:
        stack_environment("prod", _refusing(code))
    assert said in str(raised.value) and "secret-ish" not in str(raised.value)


def test_a_botocore_error_outside_the_adapters_is_one_line(capsys, no_aws_config):
    # given the functions' settings in the environment but no AWS region: the first AWS client fails
    for name, value in {"TABLE_NAME": "t", "SECRET_PREFIX": "p/", "ZENDESK_CLIENT_ID": "c",
                        "ZENDESK_CLIENT_SECRET_ARN": "arn:c", "STATE_KEY_SECRET_ARN": "arn:s"}.items():
        no_aws_config.setenv(name, value)
    code, _, err = run(capsys, "accounts")
    assert code == 1 and "no AWS region" in one_error_line(err)
    assert isinstance(aws_error(ClientError({"Error": {"Code": "X"}}, "Op"), "doing"), CliError)


def test_no_target_and_no_settings_says_how_to_give_one(capsys, no_aws_config):
    code, _, err = run(capsys, "accounts")
    assert code == 1
    assert "TABLE_NAME is required" in one_error_line(err) and "--stack" in err and "--local" in err


# --- the API token prompt -------------------------------------------------------------------------------------

def test_register_api_token_without_a_token_or_a_terminal_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("ZENDESK_API_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a TTY: getpass would fall back to reading stdin
    code, out, err = run(capsys, "register-api-token", "acme", "--email", "ada@acme.test")
    assert code == 1 and out == ""
    assert "ZENDESK_API_TOKEN" in one_error_line(err) and "no terminal" in err


# --- formatting ---------------------------------------------------------------------------------------------------

def test_a_table_aligns_columns_under_a_header_and_writes_values_for_people():
    text = table([{"id": 1, "name": "Ada", "groups": ["Support", "Billing"], "in_rotation": True},
                  {"id": 12345, "name": "Bob", "groups": [], "in_rotation": False}],
                 ["id", "name", "groups", "in_rotation"])
    assert text.splitlines() == [
        "ID     NAME  GROUPS            IN ROTATION",
        "1      Ada   Support, Billing  yes",
        "12345  Bob   -                 no",
    ]


# --- the agents view ------------------------------------------------------------------------------------------

ROSTERS = [
    Roster("10", "Support", (Member(1, "Ada Admin"), Member(2, "bob Agent"))),
    Roster("20", "Billing", (Member(2, "bob Agent"),)),
    Roster(ACCOUNT_WIDE, "All agents", (Member(1, "Ada Admin"), Member(2, "bob Agent"))),
]


def test_agents_are_listed_from_the_rosters_with_their_groups_then_the_excluded_ones():
    agents = list_agents(ROSTERS, excluded=[9, 8], names={9: "Ivy Agent"})

    assert [(a.id, a.name) for a in agents] == [(1, "Ada Admin"), (2, "bob Agent"), (9, "Ivy Agent"),
                                                (8, UNKNOWN_NAME)]
    by_id = {a.id: a for a in agents}
    assert by_id[2].groups == ("Support", "Billing") and by_id[2].in_rotation and by_id[2].eligible
    assert by_id[2].why_not is None
    assert (by_id[9].in_rotation, by_id[9].eligible, by_id[9].why_not, by_id[9].groups) == (False, False,
                                                                                            "excluded", ())
    assert {(a.availability, a.availability_source) for a in agents} == {("available", "none")}
    assert json.loads(json.dumps(by_id[1].as_dict()))["groups"] == ["Support"]


def test_unknown_agents_are_those_in_no_roster_and_not_already_excluded():
    assert unknown_agents([2, 77, 9, 77], ROSTERS, excluded=[9]) == [77]
    assert unknown_agents([1, 2], ROSTERS, excluded=[]) == []


# --- where to find it -------------------------------------------------------------------------------------------

def test_make_install_says_where_the_cli_is():
    # It is not on PATH: make install (which make test, run and demo run first) names it by its path.
    repo = Path(__file__).resolve().parents[2]
    dry_run = subprocess.run(["make", "-n", "install"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert dry_run.returncode == 0, dry_run.stderr
    assert "The operator CLI is .venv/bin/round-robin, e.g. .venv/bin/round-robin --local http://127.0.0.1:3000" \
        in dry_run.stdout
