"""Minimal API Gateway HTTP API (payload 2.0) events and a Lambda context for in-process handler tests."""

from __future__ import annotations

import base64
import importlib.util
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 30_000  # the function's timeout left at the start of the invocation (the worker's 30 s)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sample_event(name: str) -> dict[str, Any]:
    """A sample Lambda event from tests/events/ (a fresh copy each time)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def http_event(method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | str | None = None,
               headers: dict[str, str] | None = None, path_parameters: dict[str, str] | None = None,
               base64_body: bool = False, route: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event, from the sample in tests/events/http_api_request.json."""
    event = sample_event("http_api_request")
    route_key = f"{method} {route or path}"
    event.update(routeKey=route_key, rawPath=path, rawQueryString=urlencode(query or {}),
                 headers={k.lower(): v for k, v in (headers or {}).items()}, isBase64Encoded=False)
    event["requestContext"].update(routeKey=route_key, requestId=str(uuid.uuid4()))
    event["requestContext"]["http"].update(method=method, path=path, userAgent="pytest")
    event.pop("queryStringParameters", None)
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


def sqs_event(*messages: dict[str, Any], queue_arn: str | None = None) -> dict[str, Any]:
    """An SQS event source batch, from tests/events/sqs_assignment_batch.json: each message is a dict with
    `body`, and optionally `messageId`, `receiptHandle` and `receive_count`."""
    (template,) = sample_event("sqs_assignment_batch")["Records"]
    records = []
    for message in messages:
        record = json.loads(json.dumps(template))
        record.update({k: v for k, v in message.items() if k in ("body", "messageId", "receiptHandle")})
        record["messageId"] = message.get("messageId") or str(uuid.uuid4())
        record["attributes"]["ApproximateReceiveCount"] = str(message.get("receive_count", 1))
        if queue_arn:
            record["eventSourceARN"] = queue_arn
        records.append(record)
    return {"Records": records}


def load_handler(function: str, module: str = "app") -> ModuleType:
    """Import functions/<function>/<module>.py afresh (module-level settings are read at import, as at cold start)."""
    path = ROOT / "functions" / function / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"test_{function}_app_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
