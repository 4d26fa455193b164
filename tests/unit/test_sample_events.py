"""The sample events in tests/events/ are the shapes Lambda delivers (read with Powertools' own data classes)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, SQSEvent

from round_robin.aws.queue import AssignmentRequest
from tests.support.lambda_env import http_event, sample_event, sqs_event


def test_the_http_api_samples_are_payload_2_0_events():
    for name in ("http_api_request", "zendesk_webhook_delivery"):
        event = APIGatewayProxyEventV2(sample_event(name))
        assert event.version == "2.0" and event.request_context.http.method in ("GET", "POST")
        assert event.raw_path.startswith("/")


def test_built_http_events_keep_the_sample_shape_with_the_request_filled_in():
    event = APIGatewayProxyEventV2(http_event("POST", "/webhooks/zendesk/acme", body="{}",
                                              route="/webhooks/zendesk/{subdomain}",
                                              path_parameters={"subdomain": "acme"}))
    assert event.route_key == "POST /webhooks/zendesk/{subdomain}"
    assert event.path_parameters == {"subdomain": "acme"} and event.body == "{}"
    assert event.query_string_parameters in (None, {})


def test_the_sqs_sample_carries_an_assignment_request():
    (record,) = SQSEvent(sample_event("sqs_assignment_batch")).records
    request = AssignmentRequest.from_json(record.body)
    assert (request.subdomain, request.ticket_id) == ("acme", 17)
    assert record.attributes.approximate_receive_count == "1"


def test_built_sqs_events_set_the_body_and_the_receive_count():
    event = SQSEvent(sqs_event({"body": '{"x": 1}', "receive_count": 4}, {"body": "{}"}))
    first, second = event.records
    assert first.body == '{"x": 1}' and first.attributes.approximate_receive_count == "4"
    assert first.message_id != second.message_id


def test_the_scheduler_samples_are_what_the_maintenance_handler_reads():
    assert sample_event("scheduler_maintenance") == {}
    assert sample_event("scheduler_maintenance_some_accounts")["subdomains"] == ["acme"]
