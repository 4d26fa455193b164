"""The template's Lambda functions, loaded in-process from CodeUri/Handler and invoked as Lambda would."""

from __future__ import annotations

import importlib.util
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from round_robin_local.template import PSEUDO, ROOT, Resolver, function_properties, resources_of


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

    @classmethod
    def of(cls, method: str, path: str) -> Route:
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", regex)
        return cls(method.upper(), path, re.compile(f"^{regex}$"))


@dataclass
class LocalFunction:
    logical_id: str
    name: str  # the CodeUri folder name, e.g. oauth_start
    handler: Callable[[Any, Any], Any]
    timeout: float
    memory: int
    routes: list[Route]
    events: dict[str, dict[str, Any]]

    def invoke(self, event: Any) -> Any:
        context = LambdaContext(function_name=self.logical_id, memory_limit_in_mb=self.memory, timeout=self.timeout)
        return self.handler(event, context)


def function_environment(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """The union of every function's resolved environment variables (they must agree where they overlap)."""
    environment: dict[str, str] = {}
    for name in resources_of(template, "AWS::Serverless::Function"):
        variables = resolver.resolve(function_properties(template, name)["Environment"]["Variables"])
        for key, value in variables.items():
            if environment.setdefault(key, str(value)) != str(value):
                raise ValueError(f"functions disagree on {key}; the local stack runs them in one process")
    return environment


def load_functions(template: dict[str, Any]) -> dict[str, LocalFunction]:
    """Import every AWS::Serverless::Function's handler (call after the environment is set)."""
    functions: dict[str, LocalFunction] = {}
    for logical_id in resources_of(template, "AWS::Serverless::Function"):
        properties = function_properties(template, logical_id)
        code_dir = ROOT / properties["CodeUri"]
        module_name, handler_name = properties["Handler"].rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(f"lambda_{code_dir.name}_{module_name}",
                                                      code_dir / f"{module_name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        events = properties.get("Events", {})
        routes = [Route.of(e["Properties"]["Method"], e["Properties"]["Path"])
                  for e in events.values() if e["Type"] == "HttpApi"]
        functions[code_dir.name] = LocalFunction(
            logical_id=logical_id, name=code_dir.name, handler=getattr(module, handler_name),
            timeout=float(properties.get("Timeout", 3)), memory=int(properties.get("MemorySize", 128)),
            routes=routes, events=events,
        )
    return functions


def apply_environment(variables: dict[str, str]) -> None:
    os.environ.update(variables)
