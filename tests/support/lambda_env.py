"""Minimal API Gateway HTTP API (payload 2.0) events and a Lambda context for in-process handler tests."""

from __future__ import annotations

import base64
import importlib.util
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def http_event(method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | str | None = None,
               headers: dict[str, str] | None = None, path_parameters: dict[str, str] | None = None,
               base64_body: bool = False, route: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "accountId": "123456789012", "apiId": "test", "domainName": "rr.example.com", "domainPrefix": "rr",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()), "routeKey": f"{method} {route or path}", "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1795260000000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        if base64_body:
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw.decode()
    return event


def load_handler(function: str, module: str = "app") -> ModuleType:
    """Import functions/<function>/<module>.py afresh (module-level settings are read at import, as at cold start)."""
    path = ROOT / "functions" / function / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"test_{function}_app_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
