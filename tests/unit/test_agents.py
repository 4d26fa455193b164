import pytest
from botocore.exceptions import ClientError

from round_robin.assignment.agents import AgentRecord, AgentStore, CountChange
from round_robin.errors import StorageError


class CancellingDynamo:
    """Answers every TransactWriteItems with TransactionCanceledException and these reason codes."""

    def __init__(self, *codes: str) -> None:
        self.codes = codes

    def transact_write_items(self, **_):
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                           "CancellationReasons": [{"Code": c} for c in self.codes]}, "TransactWriteItems")


@pytest.mark.parametrize("codes", [("None", "ConditionalCheckFailed", "None"), ("TransactionConflict", "None")])
def test_a_cancelled_transaction_reports_each_items_reason_when_it_can_be_retried(codes):
    store = AgentStore("t", CancellingDynamo(*codes))
    assert store.transact([], "testing", conflicts_ok=True) == [c if c != "None" else "" for c in codes]


@pytest.mark.parametrize("codes, ok", [(("ConditionalCheckFailed",), False), (("ThrottlingError",), True)])
def test_other_cancellations_and_unexpected_conditions_are_storage_errors(codes, ok):
    with pytest.raises(StorageError, match="TransactionCanceledException"):
        AgentStore("t", CancellingDynamo(*codes)).transact([], "testing", conflicts_ok=ok)


def test_the_capped_increment_checks_the_version_read_and_each_count_under_its_cap():
    agent = AgentRecord(7, "G", open_count=2, daily_count=1, daily_date="2026-11-18", version=3)
    update = CountChange("t", "acme").take(agent, "2026-11-18", is_open=True, caps=(5, 4))["Update"]
    assert update["UpdateExpression"] == "SET #id = :id ADD open_count :one, daily_count :one"
    assert update["ConditionExpression"] == ("daily_date = :day AND #version = :version AND "
                                             "(attribute_not_exists(open_count) OR open_count < :open_cap) AND "
                                             "daily_count < :daily_cap")


def test_the_first_ticket_of_a_new_day_restarts_the_daily_count():
    agent = AgentRecord(7, "G", daily_count=9, daily_date="2026-11-17")
    update = CountChange("t", "acme").take(agent, "2026-11-18", is_open=True, caps=(None, 4))["Update"]
    assert update["UpdateExpression"] == "SET #id = :id, daily_count = :one, daily_date = :day ADD open_count :one"
    assert "daily_count <" not in update["ConditionExpression"]  # one ticket today is under any cap above 0
