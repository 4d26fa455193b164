"""The sandbox's update_many jobs as Zendesk documents them: a job status to follow (queued, working, completed),
per-ticket results, at most 30 jobs in flight, and no Update Ticket budget spent."""

from __future__ import annotations

import re
import time

from tests.sandbox.test_sandbox import api, create_ticket, token, zd  # noqa: F401 - fixtures

UPDATE_MANY = "/acme/api/v2/tickets/update_many.json"


def follow(client, headers, job):
    deadline = time.monotonic() + 10
    while job["status"] not in ("completed", "failed", "killed") and time.monotonic() < deadline:
        job = client.get(f"/acme/api/v2/job_statuses/{job['id']}.json", headers=headers).json["job_status"]
    return job


def test_a_job_reports_each_ticket_and_ends_completed_with_zendesks_message(api):  # noqa: F811
    _, client, headers, groups, users = api
    good = create_ticket(client, headers, group_id=groups["Billing"])
    not_member = create_ticket(client, headers, group_id=groups["Support"])
    answer = client.put(UPDATE_MANY, headers=headers, json={"tickets": [
        {"id": good["id"], "assignee_id": users["Eve Agent"]},
        {"id": not_member["id"], "assignee_id": users["Eve Agent"]},
        {"id": 999_999, "assignee_id": users["Eve Agent"]}]})
    queued = answer.json["job_status"]
    assert answer.status_code == 200
    assert set(queued) >= {"id", "url", "total", "progress", "status", "message", "results"}
    assert queued["total"] == 3 and queued["status"] in ("queued", "working", "completed")
    assert queued["url"].endswith(f"/api/v2/job_statuses/{queued['id']}.json")

    job = follow(client, headers, queued)

    assert (job["status"], job["progress"]) == ("completed", 3)
    assert re.fullmatch(r"Completed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000", job["message"])
    updated, refused, missing = job["results"]
    assert updated == {"action": "update", "id": good["id"], "status": "Updated", "success": True}
    assert (refused["id"], refused["success"], refused["status"]) == (not_member["id"], False, "Failed")
    assert refused["error"] == "RecordInvalid" and refused["details"]
    assert (missing["id"], missing["success"]) == (999_999, False)


def test_a_job_does_not_apply_safe_update_which_zendesk_documents_for_single_updates_only(api):  # noqa: F811
    sandbox, client, headers, groups, users = api
    ticket = create_ticket(client, headers, group_id=groups["Billing"])
    sandbox.clock.offset += 2
    client.put(f"/acme/api/v2/tickets/{ticket['id']}.json", headers=headers, json={"ticket": {"tags": ["moved"]}})

    job = follow(client, headers, client.put(UPDATE_MANY, headers=headers, json={"tickets": [
        {"id": ticket["id"], "assignee_id": users["Eve Agent"], "safe_update": True,
         "updated_stamp": ticket["updated_at"]}]}).json["job_status"])

    assert job["results"][0]["success"] is True
    assert sandbox.accounts["acme"].tickets[ticket["id"]]["assignee_id"] == users["Eve Agent"]


def test_thirty_jobs_may_be_in_flight_and_the_next_is_refused_with_retry_after(api):  # noqa: F811
    sandbox, client, headers, groups, users = api
    ticket = create_ticket(client, headers, group_id=groups["Billing"])
    body = {"tickets": [{"id": ticket["id"], "tags": ["x"]}]}
    with sandbox.lock:  # the jobs' worker threads wait for the lock: all thirty stay queued
        answers = [client.put(UPDATE_MANY, headers=headers, json=body) for _ in range(31)]
    assert [a.status_code for a in answers] == [200] * 30 + [429]
    assert answers[-1].json["error"] == "TooManyJobs" and int(answers[-1].headers["Retry-After"]) > 0


def test_update_many_spends_no_update_ticket_budget_and_refuses_more_than_100_tickets(api):  # noqa: F811
    sandbox, client, headers, groups, users = api
    account = sandbox.accounts["acme"]
    ids = [create_ticket(client, headers, group_id=groups["Billing"])["id"] for _ in range(3)]
    account.update_window.limit = 1
    job = follow(client, headers, client.put(UPDATE_MANY, headers=headers, json={"tickets": [
        {"id": i, "assignee_id": users["Eve Agent"]} for i in ids]}).json["job_status"])
    assert [r["success"] for r in job["results"]] == [True, True, True]
    assert client.put(f"/acme/api/v2/tickets/{ids[0]}.json", headers=headers,
                      json={"ticket": {"tags": ["one"]}}).status_code == 200  # the one single update allowed
    too_many = client.put(UPDATE_MANY, headers=headers, json={"tickets": [{"id": i} for i in range(101)]})
    assert too_many.status_code == 400
