"""The local SQS event source gathers batches as Lambda's poller does: ten messages a receive, more receives for a
BatchSize over 10 until BatchSize or the end of MaximumBatchingWindowInSeconds (SQS through moto)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from round_robin_local.event_sources import SqsEventSource


class Recorder:
    """Stands in for the local function: records each invocation's records and reports no failure."""

    logical_id = "AssignBatchFunction"
    concurrency = 1

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []

    def invoke(self, event: dict) -> dict:
        self.batches.append(event["Records"])
        return {"batchItemFailures": []}


def source(sqs, url: str, batch_size: int, window: float) -> tuple[SqsEventSource, Recorder]:
    function = Recorder()
    made = SqsEventSource(function, url, "arn:aws:sqs:us-east-1:123456789012:q", batch_size,  # type: ignore[arg-type]
                          "http://127.0.0.1:1", 1, window)
    made._sqs = sqs  # the moto client instead of the local endpoint
    return made, function


def test_a_batch_over_ten_is_gathered_from_several_receives_and_delivered_once():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for start in range(0, 35, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                          for i in range(start, min(start + 10, 35))])
        poller, function = source(sqs, url, batch_size=100, window=1.0)

        messages = poller._gather()
        poller._deliver(messages)

        assert sorted(int(m["Body"]) for m in messages) == list(range(35))
        assert [len(batch) for batch in function.batches] == [35]
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                      "ApproximateNumberOfMessagesNotVisible"])
        assert set(left["Attributes"].values()) == {"0"}  # every delivered message deleted (ten a call)


def test_gathering_stops_at_batch_size_and_without_a_window_takes_one_receive():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for start in range(0, 30, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                          for i in range(start, start + 10)])
        assert len(source(sqs, url, batch_size=15, window=5.0)[0]._gather()) == 15
        # no window: one receive (ten at most), though 15 more wait and BatchSize is 20
        assert len(source(sqs, url, batch_size=20, window=0.0)[0]._gather()) == 10
