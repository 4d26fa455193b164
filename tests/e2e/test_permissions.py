"""Least privilege, checked against what the functions really do: a workload through the local stack (connect,
tickets, Zendesk's events, operators' changes, waiting tickets, an absence, the maintenance run), then every AWS
call each function made (the local AWS proxy counts them per function) must be allowed by that function's IAM
policy in template.yaml. The local emulator does not enforce IAM, so without this a missing grant shows only once
deployed (as AccessDenied, a retried message, a dead letter)."""

from __future__ import annotations

import requests

from tests.e2e.browser import connect, sign_in
from tests.e2e.conftest import wait_for
from tests.unit.test_webhook_permissions import TOKENS, WEBHOOKS, grants

SUB = "e2e-iam"


def required(call: str, refs: dict[str, str]) -> set[tuple[str, str]]:
    """The (action, resource as written in the template) pairs one observed call needs."""
    operation, _, on = call.partition("@")
    service = operation.split(":", 1)[0]
    if service == "dynamodb":
        if operation == "dynamodb:TransactWriteItems":  # each item is checked as its own action
            return {(f"dynamodb:{kind}Item", "Table.Arn") for kind in on.split("+") if kind}
        return {(operation, f"${{Table.Arn}}/{on}" if on.startswith("index/") else "Table.Arn")}
    if service == "sqs":
        # IAM authorizes a batch call as its single form (sqs:SendMessage, sqs:DeleteMessage, ...)
        operation = operation.removesuffix("Batch")
        queue = next(name for name, url in refs.items() if url.rstrip("/").endswith("/" + on))
        return {(operation, f"{queue}.Arn")}
    if service == "secretsmanager":
        if "/accounts/" in on:
            return {(operation, TOKENS)}
        if "/webhooks/" in on:
            return {(operation, WEBHOOKS)}
        return {(operation, next(name for name, value in refs.items() if value == on))}
    if service == "sns":
        return {(operation, "AlertsTopic")}
    return {(operation, "?")}


def test_every_aws_call_each_function_makes_is_allowed_by_its_iam_policy(stack):
    # given a connected account with tickets flowing and every availability path exercised
    account = stack.new_account(SUB)
    people = {u["name"]: u["id"] for u in account["users"]}
    assert connect(stack.url, SUB).page.status_code == 200
    stack.create_tickets(SUB, "Support", 3)
    # a burst past the ticket-update limit: batch mode takes the rate-limited tickets (the batch worker's calls)
    stack.sandbox_control(SUB, "limits", {"ticket_updates": 2, "window": 3})
    burst = stack.create_tickets(SUB, "Support", 6)

    def burst_assigned():
        tickets = {t["id"]: t for t in stack.zendesk_account(SUB)["tickets"]}
        return all(tickets[i]["assignee_id"] for i in burst)
    wait_for(burst_assigned, timeout=90, what="the burst to be assigned")
    stack.sandbox_control(SUB, "limits", {"ticket_updates": 100, "window": 60})
    support = next(g["id"] for g in stack.zendesk_account(SUB)["groups"] if g["name"] == "Support")
    for args in (["settings", SUB, "--zendesk-status", "on", "--ooo-app", "on", "--reassign", "open"],
                 ["capacity", SUB, "--open", "5"],
                 ["hours", SUB, "set", "all-week", "--tz", "UTC", "--weekly", "mon-sun 00:00-24:00", "--groups",
                  str(support)]):
        result = stack.cli(*args)
        assert result.returncode == 0, result.stderr
    for name in ("Ada Admin", "Ben Agent", "Cleo Agent"):  # everyone away: new tickets wait
        stack.sandbox_control(SUB, f"agents/{people[name]}/status", {"status": "away"})
    waiting = stack.create_tickets(SUB, "Support", 4)
    # Ada back: one ticket a round; the maintenance run wakes them too, and asks for the next round
    stack.sandbox_control(SUB, f"agents/{people['Ada Admin']}/status", {"status": "online"})
    stack.maintain([SUB])
    stack.sandbox_control(SUB, f"agents/{people['Cleo Agent']}/status", {"status": "online"})

    def assigned():
        tickets = {t["id"]: t for t in stack.zendesk_account(SUB)["tickets"]}
        return all(tickets[i]["assignee_id"] for i in waiting)
    wait_for(assigned, timeout=90, what="the waiting tickets to be assigned")
    stack.sandbox_control(SUB, f"users/{people['Ben Agent']}", {"agent_ooo": True})  # out: his tickets move
    member = next(m for m in stack.zendesk_account(SUB)["group_memberships"]
                  if m["user_id"] == people["Cleo Agent"] and m["group_id"] == support)
    requests.delete(f"{stack.sandbox}/_sandbox/accounts/{SUB}/memberships/{member['id']}",
                    timeout=10).raise_for_status()
    assert stack.cli("availability", SUB, str(people["Ada Admin"]), "ooo", "--backup",
                     str(people["Ben Agent"])).returncode == 0
    stack.maintain([SUB])
    sqs, events_queue = stack.aws("sqs"), stack.info["refs"]["EventsQueue"]

    def events_applied():
        counts = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return all(v == "0" for v in counts.values())
    wait_for(events_applied, timeout=60, what="the events queue to be applied")
    # the admin console: sign in, save the switches, import agents, sign out; and Migrate to OAuth
    console = sign_in(stack.url, SUB)
    switches = {"zendesk_status": "on", "ooo_app": "on", "reassign": "open", "open_cap": "5", "daily_cap": "",
                "counted_statuses": "new", "waiting_alert_minutes": "30", "status_map": "online=available"}
    for path, form in (("/admin/settings", switches), ("/admin/import", {}), ("/admin/signout", {})):
        assert console.post(path, form).status_code == 200
    token_account = stack.new_account(f"{SUB}-token")
    ada = next(u for u in token_account["users"] if u["name"] == "Ada Admin")
    token = requests.post(f"{stack.sandbox}/_sandbox/accounts/{SUB}-token/api-tokens", json={"user_id": ada["id"]},
                          timeout=10).json()["api_token"]
    assert stack.cli("register-api-token", f"{SUB}-token", "--email", ada["email"],
                     env={"ZENDESK_API_TOKEN": token}).returncode == 0
    assert "Migrated to OAuth" in sign_in(stack.url, f"{SUB}-token").post("/admin/migrate", {}).text

    # then every call of every function was one its policy allows
    info = requests.get(f"{stack.url}/_local/health", timeout=10).json()
    refs, used = info["refs"], info["aws_calls_by_function"]
    assert used["AssignTicketFunction"] and used["ZendeskEventsFunction"] and used["RefreshTokensFunction"]
    assert used["MaintainAccountFunction"] and used["AssignBatchFunction"] and used["AdminConsoleFunction"]
    missing = {function: sorted({need for call in calls for need in required(call, refs)} - grants(function))
               for function, calls in used.items()}
    assert {f: m for f, m in missing.items() if m} == {}
