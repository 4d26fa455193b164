"""Assigning new tickets end to end: tickets created in the sandbox, Zendesk's signed webhooks reach the local
stack's API, the queue feeds the worker, and every ticket is assigned exactly once, fairly."""

from collections import Counter, defaultdict

from tests.e2e.browser import connect
from tests.e2e.conftest import wait_for

DEADLINE = 90


def connected(stack, subdomain):
    stack.new_account(subdomain)
    assert connect(stack.url, subdomain).page.status_code == 200


def all_assigned(stack, subdomain, ticket_ids):
    def check():
        tickets = {t["id"]: t for t in stack.zendesk_account(subdomain)["tickets"]}
        return tickets if all(tickets[i]["assignee_id"] for i in ticket_ids) else None
    return wait_for(check, timeout=DEADLINE, what=f"{len(ticket_ids)} tickets of {subdomain} to be assigned")


def successful_puts(stack, subdomain):
    return Counter(r["path"] for r in stack.zendesk_requests(subdomain)
                   if r["method"] == "PUT" and r["path"].startswith("/api/v2/tickets/") and r["status"] == 200)


def batch_writes(stack, subdomain) -> Counter:
    """Tickets written by update_many jobs (batch mode), by id."""
    return Counter(result["id"] for job in stack.zendesk_account(subdomain)["jobs"]
                   for result in job.get("results") or [] if result.get("success"))


def assert_exactly_once_and_fair(stack, subdomain, tickets, ticket_ids):
    puts, jobs = successful_puts(stack, subdomain), batch_writes(stack, subdomain)
    assert all(puts[f"/api/v2/tickets/{i}.json"] + jobs[i] == 1 for i in ticket_ids), \
        "a ticket was written more than once"
    per_group = defaultdict(Counter)
    for i in ticket_ids:
        per_group[tickets[i]["group_id"]][tickets[i]["assignee_id"]] += 1
    for group, counts in per_group.items():
        assert len(counts) == 3, f"group {group}: not every agent got tickets: {counts}"
        assert max(counts.values()) - min(counts.values()) <= 1, f"group {group}: spread over 1: {counts}"


def test_new_tickets_are_assigned_once_each_with_spread_at_most_one(stack):
    connected(stack, "e2e-assign")
    ids = stack.create_tickets("e2e-assign", "Support", 10) + stack.create_tickets("e2e-assign", "Billing", 10)

    tickets = all_assigned(stack, "e2e-assign", ids)

    assert_exactly_once_and_fair(stack, "e2e-assign", tickets, ids)
    deliveries = stack.zendesk_account("e2e-assign")
    assert deliveries["tickets"] and all(t["status"] == "open" for t in tickets.values())


def test_duplicate_deliveries_assign_once(stack):
    connected(stack, "e2e-dupes")
    stack.sandbox_control("e2e-dupes", "delivery-faults", {"duplicate": 9})

    ids = stack.create_tickets("e2e-dupes", "Billing", 9)

    tickets = all_assigned(stack, "e2e-dupes", ids)
    assert_exactly_once_and_fair(stack, "e2e-dupes", tickets, ids)


def test_a_burst_past_the_ticket_update_limit_is_assigned_in_batch_mode_or_after_retry_after(stack):
    connected(stack, "e2e-burst")
    # Zendesk allows 100 ticket updates a minute; the sandbox is set to 4 per 3-second window to keep this short.
    stack.sandbox_control("e2e-burst", "limits", {"ticket_updates": 4, "window": 3})

    ids = stack.create_tickets("e2e-burst", "Support", 12)

    tickets = all_assigned(stack, "e2e-burst", ids)
    assert_exactly_once_and_fair(stack, "e2e-burst", tickets, ids)
    log = [r for r in stack.zendesk_requests("e2e-burst") if r["method"] == "PUT" and "update_many" not in r["path"]]
    limited = [r for r in log if r["status"] == 429]
    assert limited, "the burst never hit the rate limit"
    in_batches = batch_writes(stack, "e2e-burst")
    assert in_batches, "no rate-limited ticket was handed to batch mode"
    for hit in limited:  # then batch mode wrote the ticket, or its next attempt came after Zendesk's Retry-After
        ticket_id = int(hit["path"].rsplit("/", 1)[1].removesuffix(".json"))
        later = [r for r in log if r["path"] == hit["path"] and r["at"] > hit["at"]]
        assert in_batches[ticket_id] == 1 or (later and later[0]["at"] >= hit["at"] + float(hit["retry_after"]) - 0.5)
    # handed to batch mode or postponed as new queue messages (never a failure, never toward the dead-letter limit)
    assert "ticket handed to batch mode" in stack.log_text()
    assert "dead-letter queue" not in stack.log_text()


def test_tickets_are_assigned_despite_zendesk_server_errors(stack):
    connected(stack, "e2e-faults")
    stack.sandbox_control("e2e-faults", "faults", {"method": "PUT", "path": "/api/v2/tickets/", "status": 503,
                                                   "count": 4})

    ids = stack.create_tickets("e2e-faults", "Support", 6)

    tickets = all_assigned(stack, "e2e-faults", ids)
    assert_exactly_once_and_fair(stack, "e2e-faults", tickets, ids)
    assert any(r["status"] == 503 for r in stack.zendesk_requests("e2e-faults"))
