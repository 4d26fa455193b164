"""Handlers in-process: AWS through moto (`mock_aws`), Zendesk through the project's sandbox via `responses`.

The table is created from the schema in template.yaml, so a drift between code and template fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import responses
from moto import mock_aws

from round_robin import wiring
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.integration.flows import seed_connected_account
from tests.support.table import create_template_table
from tests.support.zendesk import URL_TEMPLATE, FakeZendesk, start_fake_zendesk

TABLE = "rr-test"
PREFIX = "rr-test/accounts/"
WEBHOOK_PREFIX = "rr-test/webhooks/"
PUBLIC_BASE_URL = "https://rr.example.com"


@dataclass
class Aws:
    dynamodb: Any
    secretsmanager: Any
    table: str
    state_key: str
    sqs: Any
    queue_url: str
    operator_inbox: str
    events_queue_url: str = ""
    maintenance_queue_url: str = ""

    def notifications(self) -> list[dict[str, Any]]:
        """What the operators received on the alerts topic."""
        answer = self.sqs.receive_message(QueueUrl=self.operator_inbox, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def queued(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def take_queued(self) -> list[dict[str, Any]]:
        """Receive the queued assignment requests and delete them, as the worker does once it has handled them."""
        taken: list[dict[str, Any]] = []
        while answer := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in answer:
                taken.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def queued_events(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10,
                                          VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.table)["Items"]

    def account_secrets(self) -> list[str]:
        names = [s["Name"] for s in self.secretsmanager.list_secrets()["SecretList"]]
        return [n for n in names if n.startswith(PREFIX)]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        secretsmanager = boto3.client("secretsmanager", region_name="us-east-1")
        create_template_table(dynamodb, TABLE)
        client_secret = secretsmanager.create_secret(Name="zendesk-client", SecretString=DEFAULT_CLIENT_SECRET)
        client_secret_arn = client_secret["ARN"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="rr-test-assignments")["QueueUrl"]
        events_queue_url = sqs.create_queue(QueueName="rr-test-events")["QueueUrl"]
        maintenance_queue_url = sqs.create_queue(QueueName="rr-test-maintenance")["QueueUrl"]
        sns = boto3.client("sns", region_name="us-east-1")
        topic_arn = sns.create_topic(Name="rr-test-alerts")["TopicArn"]
        inbox_url = sqs.create_queue(QueueName="rr-test-operators")["QueueUrl"]  # an operator subscribed
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        state_key = "k" * 64
        state_key_arn = secretsmanager.create_secret(Name="state-key", SecretString=state_key)["ARN"]
        for name, value in {
            "TABLE_NAME": TABLE,
            "SECRET_PREFIX": PREFIX,
            "WEBHOOK_SECRET_PREFIX": WEBHOOK_PREFIX,
            "ZENDESK_URL_TEMPLATE": URL_TEMPLATE,
            "ZENDESK_CLIENT_ID": DEFAULT_CLIENT_ID,
            "ZENDESK_CLIENT_SECRET_ARN": client_secret_arn,
            "STATE_KEY_SECRET_ARN": state_key_arn,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "QUEUE_URL": queue_url,
            "EVENTS_QUEUE_URL": events_queue_url,
            "MAINTENANCE_QUEUE_URL": maintenance_queue_url,
            "ALERTS_TOPIC_ARN": topic_arn,
        }.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        yield Aws(dynamodb, secretsmanager, TABLE, state_key, sqs, queue_url, inbox_url, events_queue_url,
                  maintenance_queue_url)
        wiring.reset()


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield start_fake_zendesk(mock, redirect_uri=f"{PUBLIC_BASE_URL}/oauth/callback")


@pytest.fixture
def account(aws_env, zendesk):
    """A connected sandbox account `acme`: what the OAuth callback makes, seeded without replaying the browser's
    part (the full flow is tested in test_oauth_start.py and test_oauth_callback.py)."""
    seed_connected_account(zendesk)
    wiring.reset()  # as a fresh worker would start
    sandbox_account = zendesk.account()
    return {
        "zendesk": zendesk,
        "model": sandbox_account,
        "groups": {g["name"]: g["id"] for g in sandbox_account.groups.values()},
        "users": {u["name"]: u["id"] for u in sandbox_account.users.values()},
        **_webhook(aws_env),
    }


def _webhook(aws_env) -> dict[str, str]:
    """acme's two webhooks (trigger-connected, event-subscribed): ids and signing secrets, from the store the
    webhook receiver reads."""
    value = json.loads(aws_env.secretsmanager.get_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    account = wiring.registry().get("acme")
    assert account is not None and account.webhook_id and account.events_webhook_id
    assert set(value) == {account.webhook_id, account.events_webhook_id}
    return {"webhook_id": account.webhook_id, "secret": value[account.webhook_id],
            "events_webhook_id": account.events_webhook_id, "events_secret": value[account.events_webhook_id]}
