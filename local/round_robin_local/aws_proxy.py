"""A pass-through proxy in front of the AWS emulator that counts the AWS calls the handlers make, by service
and operation, so the benchmark can report calls per assignment. The stack's own plumbing (provisioning,
the SQS event source) talks to the emulator directly and is not counted.

It also runs DynamoDB requests one at a time: DynamoDB applies each request atomically (a conditional write
or an ADD is never interleaved with another on the same item), but the emulator's threaded server does not
guarantee that, and the service's exactly-once logic depends on it."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import Counter
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# botocore adds `app/<AWS_SDK_UA_APP_ID>` to its User-Agent; the local stack sets it to each function's logical id.
_APP = re.compile(r"(?:^|\s)app/([A-Za-z0-9_.-]+)")
POOL_SIZE = 256
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class CountingProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.counts: Counter[str] = Counter()
        self.by_function: dict[str, Counter[str]] = {}
        # Per function, each call with what it was made on (`sqs:SendMessage@<queue name>`, `secretsmanager:
        # GetSecretValue@<secret id>`, `dynamodb:Query@index/<index name>`): what the function's IAM policy must
        # allow.
        self.resources: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self._dynamodb = threading.Lock()
        self._session = requests.Session()
        # Every execution environment's calls go through here at once: keep a connection per concurrent call (the
        # default pool of 10 opened and closed a connection for each call past ten), and skip the per-request
        # lookups of proxies and ~/.netrc meant for the internet.
        self._session.trust_env = False
        self._session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE))

    def resources_used(self, function: str) -> dict[str, int]:
        """One function's calls by `service:operation@resource` (see `resources`)."""
        with self._lock:
            return dict(self.resources.get(function, {}))

    def snapshot(self, function: str | None = None) -> dict[str, int]:
        """Calls so far by `service:operation`: every handler's, or one function's (by logical id)."""
        with self._lock:
            return dict(self.counts if function is None else self.by_function.get(function, {}))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/_stats":
            return Response(json.dumps(self.snapshot()), content_type="application/json")(environ, start_response)
        body = request.get_data()
        service = self._count(request, body)
        with self._dynamodb if service == "dynamodb" else contextlib.nullcontext():
            answer = self._session.request(
                request.method, f"{self.target}{request.full_path.rstrip('?')}", data=body,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"}, timeout=60,
            )
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=headers)(environ, start_response)

    def _count(self, request: Request, body: bytes) -> str:
        match = _SCOPE.search(request.headers.get("Authorization", ""))
        service = match.group(1) if match else "unknown"
        target = request.headers.get("X-Amz-Target", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
        else:
            operation = request.values.get("Action") or request.method
        if service == "dynamodb" and b'"IndexName"' in body:
            operation += "@index"  # IAM wants the index's own ARN for a query on it
        app = _APP.search(request.headers.get("User-Agent", ""))
        with self._lock:
            self.counts[f"{service}:{operation}"] += 1
            if app:
                self.by_function.setdefault(app.group(1), Counter())[f"{service}:{operation}"] += 1
                self.resources.setdefault(app.group(1), Counter())[_on(service, operation, request, body)] += 1
        return service


def _on(service: str, operation: str, request: Request, body: bytes) -> str:
    """`service:operation@resource` for the resources IAM scopes by name (queues, secrets, the table's indexes);
    the operation alone for the others (the one table, the one topic)."""
    try:
        fields = json.loads(body) if body.startswith(b"{") else {}
    except ValueError:
        fields = {}
    fields = fields if isinstance(fields, dict) else {}
    if service == "sqs":
        url = fields.get("QueueUrl") or request.values.get("QueueUrl") or ""
        return f"sqs:{operation}@{str(url).rstrip('/').rsplit('/', 1)[-1]}"
    if service == "dynamodb" and operation.endswith("@index"):  # each index is its own resource to IAM
        return f"dynamodb:{operation}/{fields.get('IndexName', '')}"
    if service == "dynamodb" and operation == "TransactWriteItems":  # IAM checks each item's own action
        kinds = {k for item in fields.get("TransactItems") or [] if isinstance(item, dict) for k in item}
        return f"dynamodb:{operation}@{'+'.join(sorted(kinds))}"
    if service == "secretsmanager":
        return f"secretsmanager:{operation}@{fields.get('SecretId') or fields.get('Name') or ''}"
    return f"{service}:{operation}"
