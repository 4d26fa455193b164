"""The scheduled maintenance handler with EventBridge Scheduler's inputs (tests/events/scheduler_*.json)."""

from __future__ import annotations

from tests.support.lambda_env import LambdaContext, load_handler, sample_event

TIMEOUT_MS = 300_000  # the function's timeout in template.yaml


def test_the_schedule_without_input_maintains_every_connected_account(aws_env, account):
    handler = load_handler("refresh_tokens")

    result = handler.lambda_handler(sample_event("scheduler_maintenance"), LambdaContext(remaining_ms=TIMEOUT_MS))

    (report,) = result["accounts"]
    assert (report["subdomain"], report["status"], report["health"]) == ("acme", "connected", "ok")


def test_a_schedule_input_naming_other_accounts_leaves_this_one_alone(aws_env, account):
    event = {**sample_event("scheduler_maintenance_some_accounts"), "subdomains": ["globex"]}

    result = load_handler("refresh_tokens").lambda_handler(event, LambdaContext(remaining_ms=TIMEOUT_MS))

    assert result["accounts"] == []


def test_no_account_is_started_when_the_invocation_is_about_to_time_out(aws_env, account):
    result = load_handler("refresh_tokens").lambda_handler(sample_event("scheduler_maintenance"),
                                                           LambdaContext(remaining_ms=5_000))
    assert result["accounts"] == []
