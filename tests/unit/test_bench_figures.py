"""The burst benchmark's and the roster sweep's figures, from what the sandbox and the AWS proxy recorded (pure)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from burst_bench import acknowledgement_floor, endpoint, percentile, spread, summarize  # noqa: E402
from roster_bench import assignment_writes, item_size, write_units  # noqa: E402


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/api/v2/tickets/12.json", "GET tickets/{id}"),
    ("PUT", "/api/v2/tickets/12", "PUT tickets/{id}"),
    ("PUT", "/api/v2/tickets/update_many.json", "PUT tickets/update_many"),
    ("GET", "/api/v2/tickets/show_many.json?ids=1,2", "GET tickets/show_many"),
    ("GET", "/api/v2/job_statuses/8b726e606741012ffc2d782bcb7848fe.json", "GET job_statuses/{id}"),
])
def test_endpoints_name_ids_alike(method, path, expected):
    assert endpoint(method, path) == expected


def test_percentiles_take_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, 0.0)


def test_the_spread_counts_members_who_got_nothing():
    assert spread(Counter({10: 2, 11: 1}), [10, 11, 12]) == 2
    assert spread(Counter({10: 1, 11: 1, 12: 1}), [10, 11, 12]) == 0


def trigger_delivery(ticket, attempts, answered_in, status="delivered"):
    return {"type": "conditional_ticket_events", "ticket_id": ticket, "attempts": attempts,
            "answered_in": answered_in, "status": status}


def assignment_changed(ticket):
    return {"type": "zen:event-type:ticket.agent_assignment_changed", "ticket_id": ticket, "attempts": [200],
            "answered_in": [0.01], "status": "delivered"}


def test_a_burst_is_summarized_per_ticket():
    log = [{"method": "GET", "path": "/api/v2/tickets/1.json", "status": 200},
           {"method": "PUT", "path": "/api/v2/tickets/1.json", "status": 429},
           {"method": "PUT", "path": "/api/v2/tickets/1.json", "status": 200},
           {"method": "PUT", "path": "/api/v2/tickets/update_many.json", "status": 200},
           {"method": "GET", "path": "/api/v2/job_statuses/abcdefabcdefabcdefabcdef.json", "status": 200},
           {"method": "PUT", "path": "/api/v2/tickets/update_many.json", "status": 429}]
    deliveries = [trigger_delivery(1, [202], [0.1]), trigger_delivery(2, ["timeout", 202], [12.0, 0.3]),
                  trigger_delivery(3, [202], [0.2]), trigger_delivery(99, [202], [5.0]),
                  assignment_changed(1), assignment_changed(2), assignment_changed(2), assignment_changed(3)]
    aws = {"AssignTicketFunction": Counter({"dynamodb:UpdateItem": 6, "dynamodb:BatchGetItem": 3}),
           "WebhookFunction": Counter({"sqs:SendMessage": 3}), "OAuthStartFunction": Counter()}

    figures = summarize(tickets=[1, 2, 3], window=20.0, started_at=100.0, finished_at=130.0, log=log,
                        deliveries=deliveries, assignees={1: 10, 2: 11, 3: 10}, members=[10, 11, 12],
                        aws_calls=aws, dead_letters=0)

    assert (figures["assigned"], figures["elapsed_s"], figures["zendesk_minutes"]) == (3, 30.0, 1.5)
    assert figures["zendesk_calls_per_ticket"] == 2.0
    assert figures["zendesk_calls_per_ticket_by_endpoint"] == {
        "GET job_statuses/{id}": 0.33, "GET tickets/{id}": 0.33, "PUT tickets/update_many": 0.67,
        "PUT tickets/{id}": 0.67}
    assert figures["429_per_ticket"] == 0.667
    assert figures["429_by_endpoint"] == {"PUT tickets/update_many": 1, "PUT tickets/{id}": 1}
    assert figures["aws_calls_per_ticket"] == {"AssignTicketFunction": {"dynamodb": 3.0},
                                               "WebhookFunction": {"sqs": 1.0}}
    assert (figures["dead_letters"], figures["alarm"], figures["spread"], figures["assigned_twice"]) == (0, False, 2, 1)
    assert (figures["deliveries"], figures["deliveries_acknowledged"], figures["delivery_attempts"],
            figures["delivery_timeouts"]) == (3, 3, 4, 1)
    assert figures["ack_ms"] == {"p50": 200.0, "p99": 12000.0, "max": 12000.0}


def test_a_burst_not_all_assigned_has_no_time_and_dead_letters_raise_the_alarm():
    figures = summarize(tickets=[1, 2], window=20.0, started_at=100.0, finished_at=None, log=[],
                        deliveries=[trigger_delivery(1, [202], [0.1]), trigger_delivery(2, ["timeout"] * 4,
                                                                                        [12.0] * 4, "failed")],
                        assignees={1: 10, 2: None}, members=[10, 11], aws_calls={}, dead_letters=1)

    assert (figures["assigned"], figures["elapsed_s"], figures["zendesk_minutes"]) == (1, None, None)
    assert (figures["alarm"], figures["deliveries_acknowledged"], figures["delivery_timeouts"]) == (True, 1, 4)


def test_the_acknowledgement_floor_spreads_the_receivers_cpu_over_the_cores():
    # 3,000 invocations used 15 s of CPU: 5 ms each; 1,000 simultaneous deliveries need 5 s of one core.
    assert acknowledgement_floor(1000, 3000, 15.0, 2) == {"receiver_invocations": 3000, "receiver_cpu_ms": 5.0,
                                                          "cores": 2, "ack_floor_ms": 2500.0}
    assert acknowledgement_floor(1000, 0, 0.0, 2)["ack_floor_ms"] == 0.0


def test_item_sizes_follow_dynamodbs_rules():
    item = {"pk": {"S": "ACCOUNT#a"},  # 2 + 9
            "n": {"N": "123"},  # 1 + (2 + 1)
            "m": {"M": {"k": {"BOOL": True}}},  # 1 + 3 + (1 + 1 + 1)
            "l": {"L": [{"S": "ab"}]}}  # 1 + 3 + (1 + 2)
    assert item_size(item) == 29
    assert item_size({"big": {"N": "1000"}, "small": {"N": "-12.5"}}) == (3 + 2) + (5 + 3)
    assert item_size({"é": {"S": "é"}}) == 4  # UTF-8 bytes


def test_write_units_are_per_started_kilobyte_and_double_in_a_transaction():
    assert [write_units(s, transactional=False) for s in (1, 1024, 1025)] == [1, 1, 2]
    assert write_units(100, transactional=True) == 2


def test_an_assignment_costs_two_ticket_updates_and_one_transaction_of_three_items():
    small = assignment_writes(rotation=100, agent=300, ticket=600)
    assert (small["write_units"], small["largest_write_bytes"], small["under_target"]) == (8, 600, True)
    assert not assignment_writes(rotation=100, agent=300, ticket=2100)["under_target"]
