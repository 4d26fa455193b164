"""Lambda's event source mappings, locally: SQS queues polled and delivered to their function in batches.

As Lambda's SQS poller does: long-poll up to BatchSize messages (ten a receive, SQS's most; more receives, for a
BatchSize over 10, until BatchSize or until MaximumBatchingWindowInSeconds has passed since the first message),
invoke the function with them, delete the ones it did not report in `batchItemFailures` (ReportBatchItemFailures). Failed messages come back after their
visibility timeout (which the function may change), and the queue's redrive policy moves a message to its
dead-letter queue after maxReceiveCount receives. One poller per execution environment of the function, at
most the mapping's ScalingConfig.MaximumConcurrency (Lambda never runs more batches of one queue at once).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

import boto3

from round_robin_local.functions import InvocationError, LocalFunction
from round_robin_local.template import PSEUDO, Resolver

log = logging.getLogger("round_robin_local.event_sources")
SQS_RECEIVE_MOST = 10  # messages one ReceiveMessage (or DeleteMessageBatch) takes
MAX_BATCH_SIZE = 10_000  # Lambda's most for a standard queue (over 10 needs a batching window)
MAX_BATCHING_WINDOW = 300.0  # Lambda's MaximumBatchingWindowInSeconds range is 0 to 300


class SqsEventSource:
    def __init__(self, function: LocalFunction, queue_url: str, queue_arn: str, batch_size: int,
                 endpoint_url: str, max_concurrency: int | None = None, batching_window: float = 0.0) -> None:
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(MAX_BATCH_SIZE, batch_size))
        self.batching_window = max(0.0, min(MAX_BATCHING_WINDOW, batching_window))
        self._sqs = boto3.client("sqs", region_name=PSEUDO["AWS::Region"], endpoint_url=endpoint_url)
        self._stop = threading.Event()
        self.pollers = min(function.concurrency, max_concurrency or function.concurrency)
        self._threads = [threading.Thread(target=self._poll, name=f"sqs-{function.logical_id}-{i}", daemon=True)
                         for i in range(self.pollers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:  # each finishes its long poll (1 s at most) and the batch it delivers
            thread.join(timeout=10)

    def wait_until_drained(self, timeout: float) -> bool:
        """Wait until the queue holds no message, visible, in flight or delayed (every batch delivered and its
        successes deleted); False if it still does after `timeout` seconds."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        deadline = time.monotonic() + timeout
        while True:
            counts = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
            if all(int(counts.get(name, 0)) == 0 for name in names):
                return True
            if time.monotonic() > deadline or self._stop.wait(0.1):  # polled, bounded by the deadline
                return False

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._gather()
            except Exception:  # noqa: BLE001 - the emulator going away at shutdown
                if not self._stop.is_set():
                    log.exception("polling %s failed", self.queue_url)
                    self._stop.wait(1)
                continue
            if not messages:
                continue
            try:
                self._deliver(messages)
            except Exception:  # noqa: BLE001 - the function or the emulator stopping under a batch at shutdown
                if not self._stop.is_set():
                    raise
                log.debug("a batch of %s was cut short by the shutdown; SQS redelivers it", self.queue_url)

    def _gather(self) -> list[dict[str, Any]]:
        """One batch: the first receive's messages, then more until BatchSize or the batching window's end."""
        messages = self._receive(min(SQS_RECEIVE_MOST, self.batch_size), 1)
        if not messages:
            return messages
        window_ends = time.monotonic() + self.batching_window
        while len(messages) < self.batch_size and not self._stop.is_set():
            left = window_ends - time.monotonic()
            if left <= 0:
                break
            more = self._receive(min(SQS_RECEIVE_MOST, self.batch_size - len(messages)), min(1, int(left)))
            if not more:
                self._stop.wait(min(left, 0.05))  # a short poll found nothing: the window is not over yet
            messages += more
        return messages

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        answer = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=wait,
                                           AttributeNames=["All"], MessageAttributeNames=["All"])
        return list(answer.get("Messages", []))

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self.function.invoke(event) or {}
        except InvocationError as exc:
            log.error("%s failed on a batch of %d; the messages will be retried: %s\n%s",
                      self.function.logical_id, len(messages), exc, exc.trace)
            return
        failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages) if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_RECEIVE_MOST):  # DeleteMessageBatch takes ten entries
            self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=done[start:start + SQS_RECEIVE_MOST])

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": PSEUDO["AWS::Region"],
        }


def sqs_event_sources(functions: dict[str, LocalFunction], resolver: Resolver,
                      endpoint_url: str) -> list[SqsEventSource]:
    sources = []
    for function in functions.values():
        for event in function.events.values():
            if event["Type"] != "SQS":
                continue
            properties = resolver.resolve(event["Properties"])
            arn = properties["Queue"]
            url = next(url for name, url in resolver.refs.items() if resolver.attributes.get((name, "Arn")) == arn)
            maximum = (properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
            sources.append(SqsEventSource(function, url, arn, int(properties.get("BatchSize", 10)), endpoint_url,
                                          int(maximum) if maximum else None,
                                          float(properties.get("MaximumBatchingWindowInSeconds", 0))))
    return sources


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours)\)")


class ScheduleSource:
    """An EventBridge Scheduler schedule (`rate(...)` expressions): invokes its function on that rate."""

    def __init__(self, function: LocalFunction, expression: str, payload: Any) -> None:
        match = _RATE.fullmatch(expression.strip())
        if not match:
            raise ValueError(f"the local stack runs rate(...) schedules only, not {expression!r}")
        self.function = function
        self.period = int(match.group(1)) * (3600 if match.group(2).startswith("hour") else 60)
        self.payload = payload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{function.logical_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.function.invoke(self.payload)
            except InvocationError as exc:
                log.error("scheduled %s failed: %s\n%s", self.function.logical_id, exc, exc.trace)


def schedule_sources(functions: dict[str, LocalFunction], resolver: Resolver) -> list[ScheduleSource]:
    sources = []
    for function in functions.values():
        for event in function.events.values():
            if event["Type"] in ("ScheduleV2", "Schedule"):
                properties = resolver.resolve(event["Properties"])
                payload = json.loads(properties["Input"]) if properties.get("Input") else {}
                sources.append(ScheduleSource(function, properties["ScheduleExpression"], payload))
    return sources
