"""The template's Lambda functions, run as Lambda runs them: each function has its own execution
environments (spawned processes), each handling one invocation at a time, with a cold start when it begins
(the handler module is imported then). Concurrency is the number of environments."""

from __future__ import annotations

import importlib.util
import io
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from round_robin_local.template import PSEUDO, ROOT, Resolver, function_properties, resources_of

DEFAULT_CONCURRENCY = 2
DEFAULT_ROUTE = "$default"  # API Gateway's catch-all route: requests no other route matches




@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout - (time.monotonic() - self._started)) * 1000))


@dataclass
class Route:
    method: str
    path: str  # as in the template, e.g. /webhooks/zendesk/{subdomain}
    pattern: re.Pattern[str]

    @property
    def precedence(self) -> tuple[int, int, int]:
        """API Gateway's order among matching routes: exact paths, then path variables, then greedy variables
        (`{proxy+}`), then `$default`; a route's own method before ANY (docs.aws.amazon.com/apigateway/latest/
        developerguide/http-api-develop-routes.html, "Routing API requests")."""
        if self.path == DEFAULT_ROUTE:
            return (3, 0, 0)
        return (2 if "+}" in self.path else 1 if "{" in self.path else 0, -self.path.count("/"),
                1 if self.method == "ANY" else 0)

    @classmethod
    def of(cls, method: str, path: str) -> Route:
        if path == DEFAULT_ROUTE:
            return cls(method.upper(), path, re.compile(r"^.*$"))
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", regex)
        return cls(method.upper(), path, re.compile(f"^{regex}$"))


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment needs to start (picklable)."""

    logical_id: str
    code_dir: str
    module: str
    handler: str
    timeout: float
    memory: int


class InvocationError(Exception):
    """The handler raised: Lambda reports it as a function error."""

    def __init__(self, error_type: str, message: str, trace: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.trace = trace


class AbandonedError(Exception):
    """The caller hung up while the invocation waited for an environment: it was not run."""


# -- inside an execution environment ---------------------------------------------------------------------

_handler: Any = None
_spec: FunctionSpec | None = None


def _cold_start(spec: FunctionSpec) -> None:
    global _handler, _spec
    # Ctrl-C reaches the whole process group: the stack stops its environments itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One write per line: every environment shares the stack's stdout, and with PYTHONUNBUFFERED (the e2e tests'
    # stacks) print() writes a line's text and its newline apart, so two environments' lines could run together.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=False)
    # botocore names the function in its User-Agent (`app/<id>`): the AWS proxy counts calls per function.
    os.environ["AWS_SDK_UA_APP_ID"] = spec.logical_id
    path = os.path.join(spec.code_dir, f"{spec.module}.py")
    module_spec = importlib.util.spec_from_file_location(f"lambda_{spec.logical_id}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    _handler = getattr(module, spec.handler)
    _spec = spec


def _run(event: Any) -> tuple[str, Any, float]:
    """The handler's outcome, its value, and the CPU seconds the invocation used in this environment."""
    assert _spec is not None
    context = LambdaContext(function_name=_spec.logical_id, memory_limit_in_mb=_spec.memory, timeout=_spec.timeout)
    started = time.process_time()
    try:
        return "ok", _handler(event, context), time.process_time() - started
    except Exception as exc:  # noqa: BLE001 - reported to the caller as Lambda reports a function error
        return "error", (type(exc).__name__, str(exc), traceback.format_exc()), time.process_time() - started


def _ready() -> bool:
    return _handler is not None


# -- in the stack -------------------------------------------------------------------------------------------

@dataclass
class LocalFunction:
    logical_id: str
    name: str  # the CodeUri folder name, e.g. oauth_start
    spec: FunctionSpec
    routes: list[Route]
    events: dict[str, dict[str, Any]]
    concurrency: int
    _pool: ProcessPoolExecutor | None = None
    _free: threading.BoundedSemaphore | None = None  # environments not running an invocation
    _usage: list[float] = field(default_factory=lambda: [0, 0.0])  # invocations run, their CPU seconds
    _usage_lock: threading.Lock = field(default_factory=threading.Lock)

    def usage(self) -> tuple[int, float]:
        """Invocations run so far and the CPU seconds their handlers used (in their environments; the stack's own
        work to invoke them is not counted): the burst benchmark's cost of one acknowledgement."""
        with self._usage_lock:
            return int(self._usage[0]), self._usage[1]

    def usage_since(self, before: tuple[int, float]) -> tuple[int, float]:
        """The invocations and their CPU seconds since `before`, an earlier `usage()`."""
        runs, cpu = self.usage()
        return runs - before[0], cpu - before[1]

    def start(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=self.concurrency, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_cold_start, initargs=(self.spec,))
        self._free = threading.BoundedSemaphore(self.concurrency)

    def warm(self) -> None:
        """Start every execution environment now (their cold starts), rather than on first use."""
        assert self._pool is not None
        for future in [self._pool.submit(_ready) for _ in range(self.concurrency)]:
            future.result(timeout=120)

    def invoke(self, event: Any, wanted: Callable[[], bool] | None = None) -> Any:
        """Invoke synchronously; raise InvocationError if the handler raised.

        While every environment is busy the invocation waits for one (Lambda would start another). `wanted` is
        asked once one is free: if the caller no longer wants the answer (an HTTP client that timed out and hung
        up), the invocation is not run (AbandonedError). Without this, a burst past the environments' pace filled
        them with invocations nobody waited for any more, while the callers' retries waited behind them.
        """
        assert self._pool is not None and self._free is not None
        with self._free:
            if wanted is not None and not wanted():
                raise AbandonedError(self.logical_id)
            outcome, value, cpu = self._pool.submit(_run, event).result(timeout=self.spec.timeout + 60)
        with self._usage_lock:
            self._usage[0] += 1
            self._usage[1] += cpu
        if outcome == "error":
            raise InvocationError(*value)
        return value

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def function_environment(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """The union of every function's resolved environment variables (they must agree where they overlap)."""
    environment: dict[str, str] = {}
    for name in resources_of(template, "AWS::Serverless::Function"):
        variables = resolver.resolve(function_properties(template, name)["Environment"]["Variables"])
        for key, value in variables.items():
            if environment.setdefault(key, str(value)) != str(value):
                raise ValueError(f"functions disagree on {key}; the local stack gives all one environment")
    return environment


def parse_concurrency(text: str) -> dict[str, int]:
    """LOCAL_CONCURRENCY, e.g. `AssignTicketFunction=4,WebhookFunction=3`: execution environments per function
    (by logical id or folder name); the others keep DEFAULT_CONCURRENCY."""
    concurrency: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if not name.strip() or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"LOCAL_CONCURRENCY: expected <function>=<number of environments>, got {item!r}")
        concurrency[name.strip()] = int(count)
    return concurrency


def load_functions(template: dict[str, Any], concurrency: dict[str, int] | None = None) -> dict[str, LocalFunction]:
    """Every AWS::Serverless::Function, keyed by logical id (start them after the environment is set)."""
    functions: dict[str, LocalFunction] = {}
    for logical_id in resources_of(template, "AWS::Serverless::Function"):
        properties = function_properties(template, logical_id)
        code_dir = ROOT / properties["CodeUri"]
        module_name, handler_name = properties["Handler"].rsplit(".", 1)
        events = properties.get("Events", {})
        routes = [Route.of(e["Properties"]["Method"], e["Properties"]["Path"])
                  for e in events.values() if e["Type"] == "HttpApi"]
        spec = FunctionSpec(logical_id, str(code_dir), module_name, handler_name,
                            float(properties.get("Timeout", 3)), int(properties.get("MemorySize", 128)))
        functions[logical_id] = LocalFunction(
            logical_id=logical_id, name=code_dir.name, spec=spec, routes=routes, events=events,
            concurrency=DEFAULT_CONCURRENCY,
        )
    for name, count in (concurrency or {}).items():
        function = find_function(functions, name)
        if function is None:
            raise ValueError(f"LOCAL_CONCURRENCY: no function {name!r} in template.yaml ({', '.join(functions)})")
        function.concurrency = count
    return functions


def find_function(functions: dict[str, LocalFunction], name: str) -> LocalFunction | None:
    """By logical id (`RefreshTokensFunction`) or by folder name when unambiguous (`refresh_tokens`)."""
    if name in functions:
        return functions[name]
    matches = [f for f in functions.values() if f.name == name]
    return matches[0] if len(matches) == 1 else None
