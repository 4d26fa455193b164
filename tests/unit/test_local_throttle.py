"""API Gateway's route throttling, as the template sets it and the local stack applies it: a token bucket per
route (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html). Zendesk retries a 429 only
when it carries a Retry-After under a minute, which API Gateway's does not, so a throttled delivery is lost until
the sweep: the webhook route must let a whole burst through."""

from __future__ import annotations

import copy
import json

import pytest
from werkzeug.test import Client

from round_robin_local.api import ApiGateway, Throttle
from round_robin_local.functions import FunctionSpec, LocalFunction, Route
from round_robin_local.template import Resolver, load_template

TEMPLATE = load_template()
WEBHOOK_ROUTE = "POST /webhooks/zendesk/{subdomain}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def template_throttle(clock: Clock, **parameters: str) -> Throttle:
    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}
    return Throttle.from_template(TEMPLATE, Resolver("test", {**defaults, **parameters}), clock=clock)


def test_the_template_lets_a_burst_of_a_thousand_deliveries_reach_the_webhook_at_once():
    throttle = template_throttle(Clock())

    admitted = sum(throttle.admit(WEBHOOK_ROUTE) for _ in range(2000))

    assert admitted >= 1000  # issue 10: 1,000 simultaneous deliveries, none answered 429


def test_the_other_routes_keep_the_apis_default_limits():
    throttle = template_throttle(Clock())

    assert sum(throttle.admit("GET /oauth/start") for _ in range(1000)) == 200  # DefaultRouteSettings' burst


def test_the_webhook_limits_are_parameters():
    throttle = template_throttle(Clock(), WebhookThrottleBurst="50", WebhookThrottleRate="10")

    assert sum(throttle.admit(WEBHOOK_ROUTE) for _ in range(100)) == 50


def test_a_bucket_refills_at_its_rate_up_to_its_burst():
    clock = Clock()
    throttle = Throttle({"GET /x": (10.0, 5)}, default=None, clock=clock)

    assert [throttle.admit("GET /x") for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.25  # 2.5 tokens
    assert [throttle.admit("GET /x") for _ in range(3)] == [True, True, False]
    clock.now += 60  # full again, never past the burst
    assert sum(throttle.admit("GET /x") for _ in range(10)) == 5
    assert all(throttle.admit("GET /unthrottled") for _ in range(100))  # no route settings, no default


def test_a_throttled_request_gets_api_gateways_429_and_never_reaches_the_function():
    calls = []
    spec = FunctionSpec("WebhookFunction", ".", "webhook", "lambda_handler", 3.0, 128)
    route = Route.of("POST", "/webhooks/zendesk/{subdomain}")
    function = LocalFunction("WebhookFunction", "assign_ticket", spec, [route], {}, concurrency=1)
    function.invoke = lambda event, wanted=None: calls.append(event) or {"statusCode": 202, "body": "queued"}
    gateway = ApiGateway({"WebhookFunction": function}, info=dict,
                         throttle=Throttle({WEBHOOK_ROUTE: (1.0, 2)}, default=None, clock=Clock()))
    client = Client(gateway)

    answers = [client.post("/webhooks/zendesk/acme", data=b"{}") for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert json.loads(answers[2].get_data()) == {"message": "Too Many Requests"}
    assert "Retry-After" not in answers[2].headers
    assert len(calls) == 2


def test_route_settings_for_a_route_the_template_lacks_fail_the_stack_as_they_fail_the_deploy():
    broken = copy.deepcopy(TEMPLATE)
    (api,) = [r for r in broken["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    api["Properties"]["RouteSettings"] = {"POST /webhooks/{subdomain}": {"ThrottlingBurstLimit": 5}}
    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}

    with pytest.raises(ValueError, match="POST /webhooks/{subdomain}"):
        Throttle.from_template(broken, Resolver("test", defaults))


def test_a_route_setting_left_out_is_the_defaults():
    partial = copy.deepcopy(TEMPLATE)
    (api,) = [r for r in partial["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    api["Properties"]["RouteSettings"] = {WEBHOOK_ROUTE: {"ThrottlingBurstLimit": 5}}  # the rate: the default's
    defaults = {name: str(p.get("Default", "")) for name, p in TEMPLATE["Parameters"].items()}
    clock = Clock()
    throttle = Throttle.from_template(partial, Resolver("test", defaults), clock=clock)

    assert sum(throttle.admit(WEBHOOK_ROUTE) for _ in range(10)) == 5
    clock.now += 0.015  # the default rate, 100 a second: one token and a half
    assert sum(throttle.admit(WEBHOOK_ROUTE) for _ in range(10)) == 1
