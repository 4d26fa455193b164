"""The local HTTP API: what API Gateway (HTTP API, payload format 2.0) does in front of the handlers."""

from __future__ import annotations

import base64
import json
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.functions import (
    DEFAULT_ROUTE,
    AbandonedError,
    InvocationError,
    LocalFunction,
    Route,
    find_function,
)
from round_robin_local.template import Resolver, resources_of

log = logging.getLogger("round_robin_local.api")
# The queue a scheduled function fans its work out to, drained before `/_local/invoke` answers (see `invoke`).
DEFAULT_DRAIN = {"RefreshTokensFunction": "MaintenanceQueue"}

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request size limit
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def _is_text(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith(_TEXT_TYPES) or base.endswith("+json") or base.endswith("+xml")


def route_key(route: Route) -> str:
    """API Gateway's route key: `POST /webhooks/zendesk/{subdomain}`, or `$default`."""
    return route.path if route.path == DEFAULT_ROUTE else f"{route.method} {route.path}"


def build_event(request: Request, route: Route, path_parameters: dict[str, str], body: bytes) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event for `request` matched to `route`."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for key, value in request.args.items(multi=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    key = route_key(route)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if request.cookies:
        event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items(multi=True)]
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        if _is_text(request.content_type or ""):
            event["body"] = body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def to_response(result: Any) -> Response:
    """Lambda's answer to an HTTP response, as API Gateway's payload 2.0 rules describe."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        response = Response(raw, status=int(result["statusCode"]))
        response.headers.clear()
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(key, str(value))
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
        return response
    # Without a statusCode, API Gateway infers 200 and a JSON body.
    text = result if isinstance(result, str) else json.dumps(result)
    return Response(text, status=200, content_type="application/json")


def still_connected(client: socket.socket) -> bool:
    """Whether the HTTP client is still there: its socket has not been closed by the other end (readable with
    nothing to read). A client sends nothing more while it waits for the answer to its one request."""
    try:
        poller = select.poll()  # not select.select: it fails on descriptors past 1,023, common in a burst
        poller.register(client, select.POLLIN)
        events = poller.poll(0)
        if not events:
            return True
        if events[0][1] & (select.POLLERR | select.POLLNVAL):
            return False
        return client.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):  # reset, or already closed here (no descriptor)
        return False


class Throttle:
    """API Gateway's route throttling (an HTTP API stage's DefaultRouteSettings and RouteSettings): each route has
    a token bucket of `burst` tokens refilled at `rate` a second; a request that finds it empty is answered 429
    `{"message": "Too Many Requests"}` without invoking anything (docs.aws.amazon.com/apigateway/latest/
    developerguide/http-api-throttling.html, "Route-level throttling"). Keyed by route key, e.g.
    `POST /webhooks/zendesk/{subdomain}`; a route without settings and without a default is not throttled."""

    def __init__(self, routes: dict[str, tuple[float, int]], default: tuple[float, int] | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = routes
        self._default = default
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # route key: [tokens, when last refilled]
        self._lock = threading.Lock()

    @classmethod
    def from_template(cls, template: dict[str, Any], resolver: Resolver,
                      clock: Callable[[], float] = time.monotonic) -> Throttle:
        """The limits of the template's HTTP API (there is one)."""
        (api,) = resources_of(template, "AWS::Serverless::HttpApi").values()
        properties = api.get("Properties", {})
        default = resolver.resolve(properties.get("DefaultRouteSettings") or {})

        def limits(settings: dict[str, Any]) -> tuple[float, int] | None:
            # A route's setting left out is the default's (the stage's); no limit at all: not throttled
            settings = {**default, **resolver.resolve(settings)}
            if "ThrottlingRateLimit" not in settings or "ThrottlingBurstLimit" not in settings:
                return None
            return float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"])
        routes = {route_key(Route.of(e["Properties"]["Method"], e["Properties"]["Path"]))
                  for function in resources_of(template, "AWS::Serverless::Function").values()
                  for e in function["Properties"].get("Events", {}).values() if e["Type"] == "HttpApi"}
        settings = properties.get("RouteSettings") or {}
        unknown = sorted(set(settings) - routes)
        if unknown:  # CloudFormation fails the deploy: "Unable to find Route by key ... within the RouteSettings"
            raise ValueError(f"template.yaml: RouteSettings for routes that do not exist: {', '.join(unknown)}")
        per_route = {key: limit for key, value in settings.items() if (limit := limits(value)) is not None}
        return cls(per_route, limits({}), clock)

    def admit(self, route_key: str) -> bool:
        """Take a token of the route's bucket: False (throttled) if there is none."""
        limit = self._limits.get(route_key, self._default)
        if limit is None:
            return True
        rate, burst = limit
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(route_key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - then) * rate)
            admitted = tokens >= 1
            self._buckets[route_key] = [tokens - 1 if admitted else tokens, now]
        return admitted


THROTTLED = json.dumps({"message": "Too Many Requests"})


class ApiGateway:
    """Routes requests to the template's functions; `/_local/...` serves the local stack's own controls."""

    def __init__(self, functions: dict[str, LocalFunction], info: Any,
                 drain: Callable[[str, float], bool | None] | None = None, throttle: Throttle | None = None) -> None:
        self.functions = functions
        self.throttle = throttle
        self.info = info  # a callable returning the stack's description
        # drain(queue logical id, timeout): True once that queue's event source has delivered every message,
        # False on timeout, None if no event source reads that queue
        self.drain = drain
        self.routes = sorted(((route, fn) for fn in functions.values() for route in fn.routes),
                             key=lambda pair: pair[0].precedence)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_PAYLOAD
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path == "/_local/health":
            return Response(json.dumps(self.info()), content_type="application/json")
        if request.path.startswith("/_local/invoke/") and request.method == "POST":
            return self.invoke(request, request.path[len("/_local/invoke/"):])
        for route, function in self.routes:
            match = route.pattern.match(request.path)
            if match and route.method in (request.method, "ANY"):
                if self.throttle is not None and not self.throttle.admit(route_key(route)):
                    return Response(THROTTLED, status=429, content_type="application/json")
                event = build_event(request, route, match.groupdict(), request.get_data())
                return self.call(function, event, request.environ.get("werkzeug.socket"))
        return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")

    def call(self, function: LocalFunction, event: dict[str, Any], client: socket.socket | None = None) -> Response:
        try:
            return to_response(function.invoke(event, None if client is None else lambda: still_connected(client)))
        except AbandonedError:  # nobody reads this answer
            log.info("%s not invoked: the caller hung up while it waited for an environment", function.logical_id)
            return Response(json.dumps({"message": "Gateway Timeout"}), status=504, content_type="application/json")
        except InvocationError as exc:  # a crashed Lambda is a bare 500 to the caller, as in API Gateway
            log.error("function %s failed: %s\n%s", function.logical_id, exc, exc.trace)
            return Response(json.dumps({"message": "Internal Server Error"}), status=500,
                            content_type="application/json")

    def invoke(self, request: Request, name: str) -> Response:
        function = find_function(self.functions, name)
        if function is None:
            known = sorted({f.name for f in self.functions.values()} | set(self.functions))
            return Response(json.dumps({"message": f"no function {name!r}", "functions": known}),
                            status=404, content_type="application/json")
        event = request.get_json(silent=True) or {}
        # ?drain=<queue>: answer only once the messages the invocation queued there have been handled (a scheduled
        # function that fans out, such as the maintenance dispatcher), so that a caller sees the work done. The
        # dispatcher drains its queue by default: `/_local/invoke/refresh_tokens` runs the maintenance, as it did
        # before the fan-out (../shared/CONTRACT.md); `?drain=none` answers at once.
        queue = request.args.get("drain", DEFAULT_DRAIN.get(function.logical_id))
        if queue == "none":
            queue = None
        try:
            timeout = float(request.args.get("timeout", "120"))
        except ValueError:
            return Response(json.dumps({"message": "timeout must be a number of seconds"}), status=400,
                            content_type="application/json")
        if queue is not None and (self.drain is None or self.drain(queue, 0) is None):
            return Response(json.dumps({"message": f"no event source reads a queue {queue!r}"}), status=400,
                            content_type="application/json")
        try:
            result = function.invoke(event)
        except InvocationError as exc:  # reported to the caller as Lambda's Invoke API does
            log.error("function %s failed: %s\n%s", function.logical_id, exc, exc.trace)
            return Response(json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}), status=500,
                            content_type="application/json")
        if queue is not None and self.drain is not None and not self.drain(queue, timeout):
            return Response(json.dumps({"message": f"{queue} not drained within {timeout:g} s", "result": result},
                                       default=str), status=504, content_type="application/json")
        return Response(json.dumps(result, default=str), content_type="application/json")
