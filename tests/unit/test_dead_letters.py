"""Which dead letters need nobody any more (assignment/dead_letters.py): assigned or skipped tickets; a
reassignment only once its record says it was taken from that agent."""

import pytest

from round_robin.assignment.dead_letters import is_done
from round_robin.aws.queue import AssignmentRequest

NEW = AssignmentRequest("acme", 5, "webhook", 0.0)
REASSIGNMENT = AssignmentRequest("acme", 5, "absence", 0.0, reassign_from=7)


@pytest.mark.parametrize(("request_", "record", "done"), [
    (NEW, {"status": "assigned"}, True),
    (NEW, {"status": "skipped"}, True),
    (NEW, {"status": "waiting"}, False),
    (NEW, {"status": "parked"}, False),
    (NEW, {"status": "pending"}, False),
    (NEW, {"status": "in_progress"}, False),
    (NEW, None, False),
    (REASSIGNMENT, {"status": "assigned"}, False),  # assigned before the reassignment was asked for
    (REASSIGNMENT, {"status": "assigned", "reassigned_from": 7}, True),
    (REASSIGNMENT, {"status": "assigned", "reassigned_from": 8}, False),
    (REASSIGNMENT, {"status": "skipped", "reassigned_from": 7}, True),
    # taken from agent 7 once, then given back to them: a later absence may need this very reassignment
    (REASSIGNMENT, {"status": "assigned", "reassigned_from": 7, "counted_agent_id": 7}, False),
])
def test_a_dead_letter_is_done_only_when_its_ticket_needs_nothing_more(request_, record, done):
    assert is_done(request_, record) is done
