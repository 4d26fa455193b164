"""The local stack's `POST /_local/invoke/<function>?drain=<queue>`: a scheduled function that fans out (the
maintenance dispatcher) answers once its queue's event source has delivered every message."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.test import Client

from round_robin_local.api import ApiGateway


class FakeFunction:
    name = "refresh_tokens"
    logical_id = "RefreshTokensFunction"
    routes: list[Any] = []

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    def invoke(self, event: Any) -> Any:
        self.steps.append("invoked")
        return {"queued": ["acme"], "event": event}


def gateway(steps: list[str], drained: bool | None) -> Client:
    def drain(queue: str, timeout: float) -> bool | None:
        steps.append(f"drain {queue} {timeout:g}")
        return drained
    return Client(ApiGateway({"RefreshTokensFunction": FakeFunction(steps)}, info=dict, drain=drain))


def test_the_answer_comes_once_the_named_queue_is_drained():
    steps: list[str] = []

    answer = gateway(steps, True).post("/_local/invoke/RefreshTokensFunction?drain=MaintenanceQueue&timeout=5",
                                       json={"subdomains": ["acme"]})

    assert answer.status_code == 200
    assert json.loads(answer.data) == {"queued": ["acme"], "event": {"subdomains": ["acme"]}}
    assert steps == ["drain MaintenanceQueue 0", "invoked", "drain MaintenanceQueue 5"]


def test_a_queue_not_drained_in_time_is_a_504_with_the_functions_answer():
    answer = gateway([], False).post("/_local/invoke/RefreshTokensFunction?drain=MaintenanceQueue&timeout=1")

    assert answer.status_code == 504
    assert json.loads(answer.data)["result"]["queued"] == ["acme"]


def test_a_queue_no_event_source_reads_is_refused_before_invoking():
    steps: list[str] = []

    answer = gateway(steps, None).post("/_local/invoke/RefreshTokensFunction?drain=NoSuchQueue")

    assert answer.status_code == 400 and "NoSuchQueue" in json.loads(answer.data)["message"]
    assert "invoked" not in steps


def test_a_timeout_that_is_not_a_number_is_refused():
    answer = gateway([], True).post("/_local/invoke/RefreshTokensFunction?drain=MaintenanceQueue&timeout=soon")

    assert answer.status_code == 400


def test_the_maintenance_dispatcher_drains_its_queue_by_default_so_invoking_it_runs_the_maintenance():
    steps: list[str] = []

    answer = gateway(steps, True).post("/_local/invoke/refresh_tokens")

    assert answer.status_code == 200
    assert steps == ["drain MaintenanceQueue 0", "invoked", "drain MaintenanceQueue 120"]


def test_drain_none_answers_as_soon_as_the_dispatcher_has_queued_the_jobs():
    steps: list[str] = []

    answer = gateway(steps, True).post("/_local/invoke/refresh_tokens?drain=none")

    assert answer.status_code == 200 and steps == ["invoked"]
