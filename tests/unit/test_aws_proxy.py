"""The local stack's AWS proxy counts each function's calls by the `app/<id>` botocore puts in its User-Agent."""

import responses
from werkzeug.test import Client

from round_robin_local.aws_proxy import CountingProxy

TARGET = "http://emulator.invalid:5000"
SIGNED = "AWS4-HMAC-SHA256 Credential=local/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host"


def _call(proxy: CountingProxy, user_agent: str, operation: str) -> None:
    Client(proxy).post("/", data=b"{}", headers={"Authorization": SIGNED, "User-Agent": user_agent,
                                                  "X-Amz-Target": f"DynamoDB_20120810.{operation}"})


@responses.activate
def test_calls_are_counted_in_total_and_per_function():
    responses.add(responses.POST, f"{TARGET}/", json={})
    proxy = CountingProxy(TARGET)

    _call(proxy, "Boto3/1.44 md/Botocore#1.44 app/AssignTicketFunction cfg/retry-mode#legacy", "GetItem")
    _call(proxy, "Boto3/1.44 md/Botocore#1.44 app/AssignTicketFunction", "GetItem")
    _call(proxy, "Boto3/1.44 md/Botocore#1.44 app/ZendeskEventsFunction", "UpdateItem")
    _call(proxy, "Boto3/1.44 md/Botocore#1.44", "Query")  # no app id: only in the total

    assert proxy.snapshot() == {"dynamodb:GetItem": 2, "dynamodb:UpdateItem": 1, "dynamodb:Query": 1}
    assert proxy.snapshot("AssignTicketFunction") == {"dynamodb:GetItem": 2}
    assert proxy.snapshot("ZendeskEventsFunction") == {"dynamodb:UpdateItem": 1}
    assert proxy.snapshot("RefreshTokensFunction") == {}


@responses.activate
def test_a_query_on_an_index_is_recorded_with_the_index_it_read_each_being_its_own_iam_resource():
    responses.add(responses.POST, f"{TARGET}/", json={})
    proxy = CountingProxy(TARGET)
    agent = "Boto3/1.44 md/Botocore#1.44 app/MaintainAccountFunction"

    for body in (b'{"TableName": "t", "IndexName": "gsi1"}', b'{"TableName": "t", "IndexName": "gsi2"}',
                 b'{"TableName": "t"}'):
        Client(proxy).post("/", data=body, headers={"Authorization": SIGNED, "User-Agent": agent,
                                                     "X-Amz-Target": "DynamoDB_20120810.Query"})

    assert proxy.resources_used("MaintainAccountFunction") == {
        "dynamodb:Query@index/gsi1": 1, "dynamodb:Query@index/gsi2": 1, "dynamodb:Query": 1}
    assert proxy.snapshot("MaintainAccountFunction") == {"dynamodb:Query@index": 2, "dynamodb:Query": 1}
