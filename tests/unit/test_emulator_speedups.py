"""The local stack's faster DynamoDB reads (round_robin_local/emulator_speedups.py) answer exactly what moto
answers: every Query shape the service uses (base table and index, sort-key conditions, both directions, limits,
start keys, ties, filters, projections), GetItem and BatchGetItem, binary values included."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

from round_robin_local import emulator_speedups
from tests.support.table import create_template_table


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(client, "T")
        rng = random.Random(5)
        for n in range(300):
            item = {"pk": {"S": f"ACCOUNT#{'acme' if n % 3 else 'other'}"}, "sk": {"S": f"TICKET#{n}"},
                    "n": {"N": str(n)}, "blob": {"B": bytes([n % 256, 0])}, "m": {"M": {"l": {"L": [{"S": "x"}]}}}}
            if n % 2:  # in the log, with ties in its sort key
                item.update({"gsi2pk": {"S": "LOG#acme"}, "gsi2sk": {"S": f"{rng.randrange(40):017.3f}"},
                             "logged": {"S": rng.choice(["assigned", "failed"])}})
            client.put_item(TableName="T", Item=item)
        for n in range(20):
            client.put_item(TableName="T", Item={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": f"AGENT#{n}"}})
        yield client


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """emulator_speedups.install(), undone after the test: every part of moto it replaces is put back."""
    from moto.dynamodb import models, responses  # noqa: PLC0415
    from moto.dynamodb.models import table as table_module  # noqa: PLC0415
    backend = models.DynamoDBBackend
    for owner, name in ((Table, "query"), (DynamoResult, "execute_result"), (Item, "project"), (Item, "size"),
                        (backend, "transact_write_items"), (models, "copy"), (table_module, "copy"),
                        (responses.DynamoHandler, "transact_write_items"), (backend, "put_item"),
                        (backend, "update_item"), (backend, "delete_item"), (backend, "batch_write_item"),
                        (backend, "create_table"), (backend, "delete_table"), (backend, "update_table"),
                        (Table, "put_item"), (Table, "delete_item")):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    emulator_speedups.install()


def pages(client: Any, **request: Any) -> list[dict[str, Any]]:
    """Every page of a Query, following LastEvaluatedKey."""
    answers = []
    while True:
        answer = client.query(TableName="T", **request)
        answer.pop("ResponseMetadata")
        answers.append(answer)
        if "LastEvaluatedKey" not in answer:
            return answers
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


QUERIES = [
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
     "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#acme"}, ":s": {"S": "AGENT#"}}},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)", "Limit": 7,
     "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#acme"}, ":s": {"S": "TICKET#1"}}},
    {"KeyConditionExpression": "pk = :p", "Limit": 13, "ScanIndexForward": False,
     "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#acme"}}},
    {"KeyConditionExpression": "pk = :p AND sk > :s", "Limit": 5,
     "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#other"}, ":s": {"S": "TICKET#2"}}},
    {"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :i AND gsi2sk BETWEEN :a AND :b", "Limit": 9,
     "ScanIndexForward": False,
     "ExpressionAttributeValues": {":i": {"S": "LOG#acme"}, ":a": {"S": f"{5:017.3f}"}, ":b": {"S": f"{30:017.3f}"}}},
    {"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :i", "Limit": 4, "FilterExpression": "logged = :o",
     "ExpressionAttributeValues": {":i": {"S": "LOG#acme"}, ":o": {"S": "failed"}}},
    {"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :i AND gsi2sk < :b", "Select": "COUNT",
     "ExpressionAttributeValues": {":i": {"S": "LOG#acme"}, ":b": {"S": f"{20:017.3f}"}}},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)", "ProjectionExpression": "#n, #b, m, sk, nothing",
     "ExpressionAttributeNames": {"#n": "n", "#b": "blob"}, "Limit": 6,
     "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#acme"}, ":s": {"S": "TICKET#1"}}},
    {"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :i", "Limit": 8, "FilterExpression": "logged = :o",
     "ProjectionExpression": "logged, m.l[0], n", "ScanIndexForward": False,  # a nested path: moto's own way
     "ExpressionAttributeValues": {":i": {"S": "LOG#acme"}, ":o": {"S": "failed"}}},
]


@pytest.mark.parametrize("request_", QUERIES)
def test_queries_answer_what_moto_answers(dynamodb, request_, monkeypatch):
    expected = pages(dynamodb, **request_)
    install(monkeypatch)
    assert getattr(Table.query, "_narrowed", False)

    assert pages(dynamodb, **request_) == expected
    assert len(expected) > 1 or "Limit" not in request_ or "Select" in request_


def test_reads_by_key_answer_what_moto_answers(dynamodb, monkeypatch):
    keys = [{"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": f"TICKET#{n}"}} for n in (1, 2, 4, 999)]

    def read() -> tuple[Any, Any]:
        item = dynamodb.get_item(TableName="T", Key=keys[0])["Item"]
        batch = dynamodb.batch_get_item(RequestItems={"T": {"Keys": keys}})["Responses"]["T"]
        some = dynamodb.get_item(TableName="T", Key=keys[1], ProjectionExpression="#b, m, n",
                               ExpressionAttributeNames={"#b": "blob"})["Item"]
        return item, sorted(batch, key=lambda i: i["sk"]["S"]), some

    expected = read()
    install(monkeypatch)

    assert read() == expected
    assert expected[0]["blob"] == {"B": bytes([1, 0])}


def _transactions(client: Any) -> list[Any]:
    """A passing and a failing transaction; what each answered and the whole table after each."""
    key = {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#1"}}
    passing = [
        {"Update": {"TableName": "T", "Key": key, "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": "T", "Item": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "NEW#1"}}}},
        {"Delete": {"TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "AGENT#3"}}}},
    ]
    failing = [  # every kind of write, then a condition that fails: nothing of it may stay
        {"Update": {"TableName": "T", "Key": key, "UpdateExpression": "SET n = :n, extra = :n",
                    "ExpressionAttributeValues": {":n": {"N": "77"}}}},
        {"Put": {"TableName": "T", "Item": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "NEW#2"}}}},
        {"Put": {"TableName": "T", "Item": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#4"}, "n": {"N": "0"}}}},
        {"Delete": {"TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "AGENT#4"}}}},
        {"ConditionCheck": {"TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "AGENT#5"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ]
    seen = []
    for transaction in (passing, failing):
        try:
            client.transact_write_items(TransactItems=transaction)
            seen.append("ok")
        except client.exceptions.TransactionCanceledException as error:
            seen.append(error.response["CancellationReasons"])
        seen.append(sorted((i["pk"]["S"], i["sk"]["S"], repr(sorted(i.items())))
                           for i in client.scan(TableName="T")["Items"]))
    return seen


def test_transactions_answer_what_moto_answers_without_copying_the_table(dynamodb, monkeypatch):
    start = dynamodb.scan(TableName="T")["Items"]
    expected = _transactions(dynamodb)
    assert expected[0] == "ok" and expected[2] != "ok"
    assert expected[3] == expected[1]  # the cancelled transaction left the table as it was
    for item in dynamodb.scan(TableName="T")["Items"]:  # the same table again
        dynamodb.delete_item(TableName="T", Key={"pk": item["pk"], "sk": item["sk"]})
    for item in start:
        dynamodb.put_item(TableName="T", Item=item)

    # moto copied the whole table before each transaction (a second at thousands of items): not any more
    monkeypatch.setattr(Table, "__deepcopy__", lambda self, memo: pytest.fail("the table was copied"), raising=False)
    install(monkeypatch)

    assert _transactions(dynamodb) == expected


def test_a_transaction_sent_again_with_its_token_is_applied_once_as_dynamodb_does(dynamodb, monkeypatch):
    # botocore sends the same ClientRequestToken when it retries a transaction whose answer timed out; DynamoDB
    # applies the call once and answers the retry with success (API_TransactWriteItems.html, ClientRequestToken)
    install(monkeypatch)
    claim = [{"Update": {"TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "NEW#1"}},
                         "UpdateExpression": "ADD n :one", "ConditionExpression": "attribute_not_exists(n)",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]

    dynamodb.transact_write_items(TransactItems=claim, ClientRequestToken="retry-1")
    dynamodb.transact_write_items(TransactItems=claim, ClientRequestToken="retry-1")  # the retry: success, no-op

    item = dynamodb.get_item(TableName="T", Key={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "NEW#1"}})["Item"]
    assert item["n"] == {"N": "1"}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):  # another call: its condition fails
        dynamodb.transact_write_items(TransactItems=claim, ClientRequestToken="another")
    with pytest.raises(dynamodb.exceptions.IdempotentParameterMismatchException):
        dynamodb.transact_write_items(TransactItems=claim[:0] + [{"ConditionCheck": {
            "TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "NEW#1"}},
            "ConditionExpression": "attribute_exists(n)"}}], ClientRequestToken="retry-1")


def _sqs_answers(sqs: Any) -> list[Any]:
    """Queue attributes asked in every way the stack asks, and what a receive returns, before and after a message
    passed its retention period."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415
    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", DelaySeconds=5 if n == 4 else 0)
    seen: list[Any] = []
    counts = [f"ApproximateNumberOfMessages{kind}" for kind in ("", "NotVisible", "Delayed")]
    for names in (counts[:1], counts, ["MessageRetentionPeriod", "VisibilityTimeout"], ["All"]):
        answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        seen.append({k: v for k, v in answer.items() if k not in ("CreatedTimestamp", "LastModifiedTimestamp")})
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=30)["Messages"]
    seen.append(sorted(m["Body"] for m in first))
    queue = sqs_backends["123456789012"]["us-east-1"].queues["q"]
    for message in queue._messages:  # the others were sent longer ago than the queue keeps messages
        if message.body in ("m2", "m3"):
            message.sent_timestamp -= 61_000
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    seen.append(sorted(m["Body"] for m in rest))
    seen.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]))
    seen[-1].pop("ResponseMetadata")
    with pytest.raises(sqs.exceptions.ClientError, match="InvalidAttributeName"):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    return seen


def test_the_queues_answer_what_moto_answers_without_rereading_every_message(monkeypatch):
    with mock_aws():
        expected = _sqs_answers(boto3.client("sqs", region_name="us-east-1"))
    assert expected[4] == ["m0", "m1"] and expected[5] == []  # the expired ones are not received

    from moto.sqs import models  # noqa: PLC0415
    for name in ("unix_time", "unix_time_millis"):
        monkeypatch.setattr(models, name, getattr(models, name))  # each undone after the test
    for name in ("get_queue_attributes", "is_message_valid_based_on_retention_period"):
        monkeypatch.setattr(models.SQSBackend, name, getattr(models.SQSBackend, name))
    emulator_speedups.install_queues()
    with mock_aws():
        assert _sqs_answers(boto3.client("sqs", region_name="us-east-1")) == expected

        # moto computed every attribute of the queue, each a walk over every message, once for each message received
        # and three times for each attribute asked: a receive now computes none, and a read of attributes one
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="counted")["QueueUrl"]
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        computed = []
        everything = models.Queue.attributes.fget
        monkeypatch.setattr(models.Queue, "attributes", property(lambda q: computed.append(q.name) or everything(q)))
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]) == 3
        assert computed == []
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "VisibilityTimeout"])
        assert computed == ["counted"]


def test_queries_answer_what_moto_answers_without_copying_each_item(dynamodb, monkeypatch):
    expected = [pages(dynamodb, **dict(request_)) for request_ in QUERIES]
    install(monkeypatch)
    # moto deep-copied every item a Query matched before filtering it (most of a filtered read's time); the answer
    # is only written out, so the items are shared, never copied
    monkeypatch.setattr(Item, "__deepcopy__", lambda self, memo: pytest.fail("an item was copied"), raising=False)

    assert [pages(dynamodb, **dict(request_)) for request_ in QUERIES] == expected


def _log_after_writes(client: Any) -> list[Any]:
    """The log index read, then read again after each kind of write moves entries in it or out of it."""
    request = {"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :i", "Limit": 6, "ScanIndexForward": False,
               "ExpressionAttributeValues": {":i": {"S": "LOG#acme"}}}
    key = {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#1"}}
    writes = [
        lambda: client.update_item(TableName="T", Key=key, UpdateExpression="SET gsi2sk = :late",
                                   ExpressionAttributeValues={":late": {"S": f"{99:017.3f}"}}),
        lambda: client.put_item(TableName="T", Item={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#900"},
                                                     "gsi2pk": {"S": "LOG#acme"}, "gsi2sk": {"S": f"{98:017.3f}"}}),
        lambda: client.delete_item(TableName="T", Key=key),
        lambda: client.transact_write_items(TransactItems=[{"Update": {
            "TableName": "T", "Key": {"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#900"}},
            "UpdateExpression": "REMOVE gsi2pk"}}]),
        lambda: client.batch_write_item(RequestItems={"T": [{"PutRequest": {"Item": {
            "pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "TICKET#901"}, "gsi2pk": {"S": "LOG#acme"},
            "gsi2sk": {"S": f"{97:017.3f}"}}}}]}),
    ]
    seen = [pages(client, **dict(request))]
    for write in writes:
        write()
        seen.append(pages(client, **dict(request)))
    return seen


def test_an_index_read_again_after_any_write_answers_what_moto_answers(dynamodb, monkeypatch):
    start = dynamodb.scan(TableName="T")["Items"]
    expected = _log_after_writes(dynamodb)
    assert len({repr(e) for e in expected}) == len(expected)  # each write changed what the index answers
    for item in dynamodb.scan(TableName="T")["Items"]:
        dynamodb.delete_item(TableName="T", Key={"pk": item["pk"], "sk": item["sk"]})
    for item in start:
        dynamodb.put_item(TableName="T", Item=item)
    install(monkeypatch)

    assert _log_after_writes(dynamodb) == expected
