"""The maintenance and assignment queues' batched sends: SQS takes at most 10 entries a call and may refuse some
of them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from round_robin.aws.queue import IMPORT, MAINTAIN, AssignmentQueue, AssignmentRequest, MaintenanceJob, MaintenanceQueue
from round_robin.errors import StorageError


class FakeSqs:
    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = dict(refuse or {})  # subdomain -> how many more times SQS refuses its entry

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(Entries)
        failed = []
        for entry in Entries:
            subdomain = json.loads(entry["MessageBody"])["subdomain"]
            if self.refuse.get(subdomain, 0) > 0:
                self.refuse[subdomain] -= 1
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
        return {"Successful": [], "Failed": failed}


def jobs(count: int) -> list[MaintenanceJob]:
    return [MaintenanceJob(f"account{i}", 1_000.0) for i in range(count)]


def test_jobs_are_sent_ten_a_call():
    sqs = FakeSqs()

    assert MaintenanceQueue(sqs, "url").send_all(jobs(25)) == []

    assert [len(call) for call in sqs.calls] == [10, 10, 5]
    sent = [MaintenanceJob.from_json(e["MessageBody"]) for call in sqs.calls for e in call]
    assert sent == jobs(25)


def test_an_entry_refused_once_is_sent_again_and_one_refused_twice_is_reported():
    sqs = FakeSqs(refuse={"account3": 1, "account7": 2})

    assert MaintenanceQueue(sqs, "url").send_all(jobs(10)) == ["account7"]

    assert [len(call) for call in sqs.calls] == [10, 2]


# -- the assignment queue's batched sends (the sweep, a wake, an absence) ---------------------------------------

def requests_for(count: int) -> list[AssignmentRequest]:
    return [AssignmentRequest(f"account{i}", 100 + i, "sweep", 1_000.0) for i in range(count)]


def test_tickets_are_queued_ten_a_call():
    sqs = FakeSqs()

    AssignmentQueue(sqs, "url").send_all(requests_for(21))

    assert [len(call) for call in sqs.calls] == [10, 10, 1]
    assert [AssignmentRequest.from_json(e["MessageBody"]) for call in sqs.calls for e in call] == requests_for(21)


def test_a_ticket_sqs_refuses_twice_fails_the_call_naming_how_many():
    sqs = FakeSqs(refuse={"account2": 1, "account4": 2})

    with pytest.raises(StorageError, match="SQS refused 1 of 5"):
        AssignmentQueue(sqs, "url").send_all(requests_for(5))

    assert [len(call) for call in sqs.calls] == [5, 2]  # the other four are queued


def test_an_import_job_carries_its_kind_and_the_imports_key():
    job = MaintenanceJob("acme", 1_000.0, kind=IMPORT, import_key="a" * 64)
    assert MaintenanceJob.from_json(job.to_json()) == job


def test_a_job_queued_before_jobs_had_a_kind_is_a_maintenance_job():
    assert MaintenanceJob.from_json('{"subdomain": "acme", "run_at": 5}') == MaintenanceJob("acme", 5.0, MAINTAIN)


@pytest.mark.parametrize("body", [
    '{"subdomain": "acme", "run_at": 5, "kind": "import"}',
    '{"subdomain": "acme", "run_at": 5, "kind": "import", "import_key": "the raw id, not its hash"}',
    '{"subdomain": "acme", "run_at": 5, "kind": "explode"}',
])
def test_an_import_job_without_a_key_or_an_unknown_kind_is_refused(body):
    with pytest.raises(ValueError):
        MaintenanceJob.from_json(body)
