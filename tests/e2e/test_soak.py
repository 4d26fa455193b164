"""Soak: two simulated hours on 5-minute access tokens, over a local stack of its own with 4 warm workers.

The service runs on real time. Each step is one token lifetime for Zendesk: the sandbox expires every access
token (POST /_sandbox/accounts/<sub>/expire-tokens), so Zendesk refuses them before the expiry the service
recorded, the fault that used to disconnect accounts. (Its clock is not advanced instead: it also stamps the
webhooks' signatures, which the service rightly refuses beyond its 5-minute replay window.) Each step brings a
batch of tickets; every other step the schedule runs (the 10-minute `refresh_tokens`) and rotates the pair
first. Some steps expire the tokens early once more: right after the schedule's rotation (so warm workers hold
a token two rotations old and Zendesk refuses the stored one too), or mid-step. One step reconnects the account
before the schedule runs, so warm workers still hold a revoked token. It must end with every ticket
assigned once, nothing parked, no broken connection, no alert, and one refresh grant per rotation (no
`invalid_grant`: nobody ever spent a refresh token twice).

Run it alone and see its figures:

    .venv/bin/python -m pytest tests/e2e/test_soak.py -s -q
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import requests

from tests.e2e.browser import connect
from tests.e2e.conftest import Stack, running_stack, wait_for

SUBDOMAIN = "soak"
WORKERS = 4
TOKEN_LIFETIME = 300  # seconds: the shortest access token Zendesk issues
STEPS = 24  # of one token lifetime each: 2 simulated hours
TICKETS_PER_STEP = 5
EXPIRED_AFTER_SCHEDULE = {4, 12, 20}  # Zendesk refuses the token the schedule has just stored
EXPIRED_MID_STEP = {7, 15, 23}  # Zendesk refuses the tokens once more, after a batch
RECONNECT_AT = 12  # before that step's schedule run
TICKETS_AFTER_EARLY_EXPIRY = 3
DEADLINE = 60  # seconds for one batch to be assigned


@pytest.fixture(scope="module")
def soak_stack(tmp_path_factory: pytest.TempPathFactory):
    settings = {"LOCAL_CONCURRENCY": f"AssignTicketFunction={WORKERS}",
                "ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS": str(TOKEN_LIFETIME),
                "SWEEP_MIN_AGE_SECONDS": "3600"}  # tickets are the webhooks' to assign here, not the sweep's
    with running_stack(tmp_path_factory.mktemp("soak") / "stack.log", **settings) as started:
        yield started


def operators_inbox(stack: Stack) -> str:
    """An SQS queue subscribed to the alerts topic, as an operator's pager would be."""
    sqs = stack.aws("sqs")
    url = sqs.create_queue(QueueName="soak-operators")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.aws("sns").subscribe(TopicArn=stack.info["environment"]["ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return url


def alerts(stack: Stack, inbox: str) -> list[dict[str, Any]]:
    answer = stack.aws("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def expire_access_tokens(stack: Stack) -> None:
    """Zendesk refuses every access token issued so far, whatever the expiry the service recorded."""
    requests.post(f"{stack.sandbox}/_sandbox/accounts/{SUBDOMAIN}/expire-tokens", timeout=10).raise_for_status()


def token_requests(stack: Stack) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.sandbox}/_sandbox/accounts/{SUBDOMAIN}/token-requests", timeout=10)
    return answer.json()["token_requests"]


def assigned_batch(stack: Stack, count: int, group: str) -> list[int]:
    ids = stack.create_tickets(SUBDOMAIN, group, count)

    def done():
        tickets = {t["id"]: t for t in stack.zendesk_account(SUBDOMAIN)["tickets"]}
        return all(tickets[i]["assignee_id"] for i in ids)

    wait_for(done, timeout=DEADLINE, what=f"a batch of {count} tickets to be assigned")
    return ids


def parked_records(stack: Stack) -> list[dict[str, Any]]:
    pages = stack.aws("dynamodb").get_paginator("scan").paginate(
        TableName=stack.info["table"], FilterExpression="#s = :parked",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":parked": {"S": "parked"}})
    return [item for page in pages for item in page["Items"]]


def test_two_simulated_hours_on_five_minute_tokens_keep_the_connection_with_one_grant_per_rotation(soak_stack):
    stack = soak_stack
    assert stack.info["concurrency"]["AssignTicketFunction"] >= WORKERS
    stack.new_account(SUBDOMAIN)
    assert connect(stack.url, SUBDOMAIN).page.status_code == 200
    inbox = operators_inbox(stack)
    # Zendesk's per-minute limits are not under test here (e2e test_assignment.py covers them).
    stack.sandbox_control(SUBDOMAIN, "limits", {"ticket_updates": 10_000, "account": 10_000})
    ticket_ids: list[int] = []
    expected_grants = 0
    schedule_runs = 0

    for step in range(STEPS):
        expire_access_tokens(stack)  # a token lifetime has passed, for Zendesk
        if step == RECONNECT_AT:  # the old pair is revoked; warm workers still hold its access token
            assert connect(stack.url, SUBDOMAIN).page.status_code == 200
        if step % 2 == 0:  # the schedule, every 10 simulated minutes, rotates the pair before the workers
            result = stack.maintain([SUBDOMAIN])
            assert result["accounts"][0]["status"] == "connected", result
            schedule_runs += 1
        expected_grants += 1  # the schedule's, or the one that the workers' 401s caused
        if step in EXPIRED_AFTER_SCHEDULE:
            expire_access_tokens(stack)
            expected_grants += 1  # the workers' 401s on the stored token cause one more
        ticket_ids += assigned_batch(stack, TICKETS_PER_STEP, "Support" if step % 2 else "Billing")
        if step in EXPIRED_MID_STEP:
            expire_access_tokens(stack)
            expected_grants += 1
            ticket_ids += assigned_batch(stack, TICKETS_AFTER_EARLY_EXPIRY, "Support")

    log = stack.zendesk_requests(SUBDOMAIN)
    writes = Counter(r["path"] for r in log if r["method"] == "PUT" and r["status"] == 200)
    grants = Counter((r["grant_type"], r["status"], r["error"]) for r in token_requests(stack))
    figures = {
        "simulated_minutes": STEPS * TOKEN_LIFETIME // 60,
        "access_token_lifetime_s": TOKEN_LIFETIME,
        "assignment_workers": stack.info["concurrency"]["AssignTicketFunction"],
        "tickets": len(ticket_ids),
        "assigned_once": sum(writes[f"/api/v2/tickets/{i}.json"] == 1 for i in ticket_ids),
        "schedule_runs": schedule_runs,
        "early_expiries": len(EXPIRED_AFTER_SCHEDULE) + len(EXPIRED_MID_STEP),
        "reconnects": 1,
        "refresh_grants": grants[("refresh_token", 200, None)],
        "expected_rotations": expected_grants,
        "invalid_grant": sum(n for (_, _, error), n in grants.items() if error == "invalid_grant"),
        "code_grants": grants[("authorization_code", 200, None)],
        "api_401s": sum(r["status"] == 401 for r in log),
        "parked": len(parked_records(stack)),
        "connection_broken": stack.log_text().count('"ConnectionBroken"'),
        "alerts": len(alerts(stack, inbox)),
        "status": next(r for r in json.loads(stack.cli("--json", "accounts").stdout)
                       if r["subdomain"] == SUBDOMAIN)["status"],
    }
    print("\nsoak figures:", json.dumps(figures))

    tickets = STEPS * TICKETS_PER_STEP + len(EXPIRED_MID_STEP) * TICKETS_AFTER_EARLY_EXPIRY
    assert figures["assigned_once"] == figures["tickets"] == tickets
    assert figures["parked"] == 0 and figures["connection_broken"] == 0 and figures["alerts"] == 0
    assert figures["status"] == "connected"
    assert figures["refresh_grants"] == expected_grants and figures["invalid_grant"] == 0
    assert figures["code_grants"] == 2  # the first connection and the reconnect
    assert figures["api_401s"] > 0  # the fault did happen
