"""Batch mode's Zendesk job handling (zendesk/tickets.py): queueing an update_many job, following its status with
backoff up to a deadline, and reading each ticket's result; and the switch that hands tickets to batch mode."""

from __future__ import annotations

from typing import Any

import pytest

from round_robin.assignment.batch import BatchSwitch
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import StorageError
from round_robin.zendesk import tickets
from round_robin.zendesk.tickets import JobResult
from tests.support.logs import captured_logs


class Jobs:
    """A client whose job status moves through `statuses`, one per read; the clock moves only when slept."""

    base_url = "https://acme.zendesk.com"

    def __init__(self, *statuses: str, results: list[Any] | None = None) -> None:
        self.statuses = list(statuses)
        self.results = results
        self.now = 1000.0
        self.slept: list[float] = []
        self.puts: list[dict[str, Any]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def put(self, path: str, json: Any) -> dict[str, Any]:
        assert path == "/api/v2/tickets/update_many.json"
        self.puts.append(json)
        return {"job_status": {"id": "J1", "status": "queued", "total": len(json["tickets"])}}

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        assert path == "/api/v2/job_statuses/J1.json"
        status = self.statuses.pop(0)
        return {"job_status": {"id": "J1", "status": status,
                               "results": self.results if status == "completed" else None}}


def test_a_job_is_followed_with_growing_waits_until_it_completes():
    client = Jobs("queued", "working", "working", "completed", results=[])
    job, reads = tickets.follow_job(client, {"id": "J1", "status": "queued"}, 2000.0, clock=client.clock,
                                    sleep=client.sleep)
    assert (job["status"], reads) == ("completed", 4)
    assert client.slept == [0.5, 1.0, 2.0, 4.0]


def test_following_stops_before_the_deadline_with_the_last_status_read():
    client = Jobs(*["working"] * 50)
    job, reads = tickets.follow_job(client, {"id": "J1", "status": "queued"}, 1010.0, clock=client.clock,
                                    sleep=client.sleep)
    assert job["status"] == "working" and client.now <= 1010.0
    assert reads == len(client.slept) == 4  # 0.5 + 1 + 2 + 4 = 7.5 s; the next 4 s wait would pass the deadline


def test_a_job_already_done_is_not_read_again():
    client = Jobs()
    job, reads = tickets.follow_job(client, {"id": "J1", "status": "completed", "results": []}, 2000.0,
                                    clock=client.clock, sleep=client.sleep)
    assert reads == 0 and client.slept == []


def test_update_many_sends_the_batch_form_and_refuses_an_empty_or_oversized_job():
    client = Jobs()
    job = tickets.update_many(client, [{"id": 1, "assignee_id": 7}, {"id": 2, "assignee_id": 8}])
    assert job["id"] == "J1"
    assert client.puts == [{"tickets": [{"id": 1, "assignee_id": 7}, {"id": 2, "assignee_id": 8}]}]
    for size in (0, 101):
        with pytest.raises(ValueError, match="1 to 100"):
            tickets.update_many(client, [{"id": i} for i in range(size)])


def test_each_tickets_result_is_read_by_id_or_by_its_place():
    job = {"status": "completed", "results": [
        {"id": 1, "action": "update", "status": "Updated", "success": True},
        {"id": 2, "action": "update", "status": "Failed", "success": False, "error": "RecordInvalid",
         "details": "Assignee: is not a member of the group"},
        {"index": 2, "error": "UpdateConflict", "details": "Safe Update prevented the update"},
        {"id": "4", "status": "Updated"},
        {"id": 99, "success": True},  # not a ticket of this job
        "garbage",
    ]}
    found = tickets.job_results(job, [1, 2, 3, 4, 5])
    assert found == {
        1: JobResult(1, True),
        2: JobResult(2, False, "RecordInvalid", "Assignee: is not a member of the group"),
        3: JobResult(3, False, "UpdateConflict", "Safe Update prevented the update"),
        4: JobResult(4, True),
    }
    assert 5 not in found  # nothing said about it: the batch gives it to the single path


@pytest.mark.parametrize("job", [{"status": "failed", "results": None}, {"status": "killed"},
                                 {"status": "completed", "results": {"success": True}}])
def test_a_job_without_per_ticket_results_reports_no_ticket(job):
    assert tickets.job_results(job, [1, 2]) == {}


def request(subdomain: str = "acme", ticket_id: int = 1) -> AssignmentRequest:
    return AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="webhook", received_at=0.0)


def test_the_switch_sends_the_ticket_to_the_batch_queue_and_says_when_an_account_turns_batch_mode_on():
    sent: list[AssignmentRequest] = []
    now = [100.0]
    switch = BatchSwitch(sent.append, clock=lambda: now[0], window=60)
    with captured_logs() as logs:
        assert switch(request(ticket_id=1)) and switch(request(ticket_id=2))
        now[0] += 61
        assert switch(request(ticket_id=3))
    assert [r.ticket_id for r in sent] == [1, 2, 3]
    assert [line["message"] for line in logs.lines() if "batch mode" in line["message"]] == [
        "batch mode on for acme", "batch mode on for acme"]  # once, then again after a quiet minute


def test_the_switch_declines_when_the_batch_queue_refuses():
    def refuse(_request: AssignmentRequest) -> None:
        raise StorageError("queueing the tickets: throttled")

    assert BatchSwitch(refuse)(request()) is False
