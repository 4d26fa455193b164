"""The local HTTP API under a burst: an invocation waits for a free execution environment, and one whose HTTP
caller hung up meanwhile is not run (Lambda would have started another environment; nobody reads its answer)."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from werkzeug.test import Client

from round_robin_local import functions
from round_robin_local.api import ApiGateway, still_connected
from round_robin_local.functions import AbandonedError, FunctionSpec, LocalFunction, Route

DEADLINE = 10.0


def test_a_connected_idle_client_is_still_there():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert still_connected(ours)


def test_a_client_that_closed_its_end_is_gone():
    ours, theirs = socket.socketpair()
    theirs.close()
    with ours:
        assert not still_connected(ours)


def test_a_socket_closed_here_counts_as_gone():
    ours, theirs = socket.socketpair()
    ours.close()
    with theirs:
        assert not still_connected(ours)


@pytest.fixture
def one_environment(monkeypatch):
    """A function with one environment whose handler blocks until `release` is set (threads stand in for the
    spawned processes; the invocation logic under test is the same)."""
    release, started, calls = threading.Event(), threading.Event(), []

    def handler(event: Any, context: Any) -> Any:
        calls.append(event)
        started.set()
        assert release.wait(DEADLINE)
        return {"statusCode": 202, "body": "queued"}

    spec = FunctionSpec("WebhookFunction", ".", "webhook", "lambda_handler", 3.0, 128)
    monkeypatch.setattr(functions, "_handler", handler)
    monkeypatch.setattr(functions, "_spec", spec)
    function = LocalFunction("WebhookFunction", "assign_ticket", spec,
                             [Route.of("POST", "/webhooks/zendesk/{subdomain}")], {}, concurrency=1)
    function._pool = ThreadPoolExecutor(max_workers=1)  # type: ignore[assignment]
    function._free = threading.BoundedSemaphore(1)
    yield function, release, started, calls
    release.set()
    function._pool.shutdown(wait=True)


def test_an_invocation_whose_caller_hung_up_while_it_waited_is_not_run(one_environment):
    function, release, started, calls = one_environment
    with ThreadPoolExecutor(max_workers=2) as callers:
        first = callers.submit(function.invoke, "first", lambda: True)
        assert started.wait(DEADLINE)
        second = callers.submit(function.invoke, "second", lambda: False)  # its caller is gone by its turn
        release.set()
        assert first.result(DEADLINE)["statusCode"] == 202
        with pytest.raises(AbandonedError):
            second.result(DEADLINE)
    assert calls == ["first"]


def test_an_invocation_whose_caller_still_waits_runs_once_an_environment_is_free(one_environment):
    function, release, started, calls = one_environment
    with ThreadPoolExecutor(max_workers=2) as callers:
        first = callers.submit(function.invoke, "first", lambda: True)
        assert started.wait(DEADLINE)
        second = callers.submit(function.invoke, "second", lambda: True)
        release.set()
        assert [first.result(DEADLINE)["statusCode"], second.result(DEADLINE)["statusCode"]] == [202, 202]
    assert calls == ["first", "second"]


class Abandoning:
    name, logical_id = "assign_ticket", "WebhookFunction"
    routes = [Route.of("POST", "/webhooks/zendesk/{subdomain}")]

    def invoke(self, event: Any, wanted: Any = None) -> Any:
        raise AbandonedError(self.logical_id)


def test_the_gateway_answers_504_for_an_invocation_it_did_not_run():
    client = Client(ApiGateway({"WebhookFunction": Abandoning()}, info=dict))  # type: ignore[dict-item]

    answer = client.post("/webhooks/zendesk/acme", data=b"{}")

    assert answer.status_code == 504


def test_each_invocation_run_is_counted_with_its_handlers_cpu_time(monkeypatch):
    """The burst benchmark's cost of an acknowledgement: invocations run, and the CPU their handler used."""
    def handler(event: Any, context: Any) -> Any:
        if event == "fail":
            raise ValueError("bad")
        return sum(range(20_000))  # some CPU

    spec = FunctionSpec("WebhookFunction", ".", "webhook", "lambda_handler", 3.0, 128)
    monkeypatch.setattr(functions, "_handler", handler)
    monkeypatch.setattr(functions, "_spec", spec)
    function = LocalFunction("WebhookFunction", "assign_ticket", spec, [], {}, concurrency=1)
    function._pool = ThreadPoolExecutor(max_workers=1)  # type: ignore[assignment]
    function._free = threading.BoundedSemaphore(1)
    try:
        assert function.usage() == (0, 0.0)
        function.invoke("ok")
        with pytest.raises(functions.InvocationError):
            function.invoke("fail")
        runs, cpu = function.usage()
        assert runs == 2 and cpu > 0
        assert function.usage_since((1, cpu / 2)) == (1, cpu - cpu / 2)
    finally:
        function._pool.shutdown(wait=True)
