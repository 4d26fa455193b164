"""The scheduled maintenance fanned out on the local stack: the dispatcher queues one job per connected account on
the maintenance queue and the maintain_account function, fed by the queue's event source, maintains every one."""

from __future__ import annotations

import json

from tests.e2e.browser import connect

ACCOUNTS = ("e2e-fan-a", "e2e-fan-b", "e2e-fan-c")


def test_a_scheduled_run_maintains_every_connected_account_of_the_stack(stack):
    # given three connected accounts, never maintained (no counts recorded on them yet)
    for subdomain in ACCOUNTS:
        stack.new_account(subdomain)
        assert connect(stack.url, subdomain).page.status_code == 200
    listed = stack.cli("accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    connected = {a["subdomain"] for a in json.loads(listed.stdout) if a["status"] == "connected"}
    assert set(ACCOUNTS) <= connected
    dynamodb, table = stack.aws("dynamodb"), stack.info["table"]
    items = dynamodb.scan(TableName=table, FilterExpression="attribute_exists(last_maintenance)")["Items"]
    assert not {i["pk"]["S"] for i in items} & {f"ACCOUNT#{s}" for s in ACCOUNTS}

    # when the schedule runs (no input: every account), answered once the maintenance queue is drained
    run = stack.maintain()

    # then every connected account of the stack had its job and its run, recorded on it
    assert set(run["dispatch"]["queued"]) == connected
    reports = {r["subdomain"]: r for r in run["accounts"]}
    for subdomain in ACCOUNTS:
        report = reports[subdomain]
        assert (report["status"], report["health"], report["errors"]) == ("connected", "ok", 0)
    assert all("swept" in reports[s] for s in connected)
    dead = stack.aws("sqs").get_queue_attributes(QueueUrl=stack.info["refs"]["MaintenanceDeadLetterQueue"],
                                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert dead["ApproximateNumberOfMessages"] == "0"
