"""Keeping connections healthy, end to end: the scheduled function over the local stack, the operator's
command line, and migration from API tokens, against the sandbox."""

import json

from tests.e2e.browser import connect
from tests.e2e.conftest import wait_for


def test_a_ticket_whose_webhook_was_dropped_is_assigned_by_the_next_sweep_once(stack):
    stack.new_account("e2e-sweep")
    assert connect(stack.url, "e2e-sweep").page.status_code == 200
    stack.sandbox_control("e2e-sweep", "delivery-faults", {"drop": 1})
    (ticket_id,) = stack.create_tickets("e2e-sweep", "Support", 1)
    deliveries = stack.zendesk_account("e2e-sweep")
    assert not any(t["assignee_id"] for t in deliveries["tickets"])

    def swept():  # the sweep takes tickets older than SWEEP_MIN_AGE_SECONDS (2 s here)
        result = stack.maintain(["e2e-sweep"])
        return result["accounts"][0]["swept"] == 1 and result

    result = wait_for(swept, timeout=30, what="the sweep to queue the dropped ticket", interval=1)
    assert result["accounts"][0]["status"] == "connected"
    wait_for(lambda: all(t["assignee_id"] for t in stack.zendesk_account("e2e-sweep")["tickets"]), timeout=60,
             what="the swept ticket to be assigned")
    again = stack.maintain(["e2e-sweep"])
    assert again["accounts"][0]["swept"] == 0
    puts = [r for r in stack.zendesk_requests("e2e-sweep")
            if r["method"] == "PUT" and r["path"] == f"/api/v2/tickets/{ticket_id}.json" and r["status"] == 200]
    assert len(puts) == 1


def test_an_api_token_account_is_registered_and_migrated_by_command_then_nothing_more(stack):
    account = stack.new_account("e2e-migrate")
    ada = next(u for u in account["users"] if u["name"] == "Ada Admin")
    import requests

    token = requests.post(f"{stack.sandbox}/_sandbox/accounts/e2e-migrate/api-tokens", json={"user_id": ada["id"]},
                          timeout=10).json()["api_token"]

    registered = stack.cli("--json", "register-api-token", "e2e-migrate", "--email", ada["email"],
                           env={"ZENDESK_API_TOKEN": token})
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["auth"] == "api_token"
    assert token not in registered.stdout + registered.stderr

    ids = stack.create_tickets("e2e-migrate", "Billing", 2)  # assignment works on the API token
    wait_for(lambda: all(t["assignee_id"] for t in stack.zendesk_account("e2e-migrate")["tickets"] if t["id"] in ids),
             timeout=60, what="tickets of the API-token account to be assigned")

    first = stack.cli("--json", "migrate", "e2e-migrate")
    second = stack.cli("--json", "migrate", "e2e-migrate")
    assert first.returncode == 0 and json.loads(first.stdout)["changed"] is True, first.stderr
    assert second.returncode == 0 and json.loads(second.stdout)["changed"] is False

    listed = json.loads(stack.cli("--json", "accounts").stdout)
    row = next(r for r in listed if r["subdomain"] == "e2e-migrate")
    assert row["auth"] == "oauth" and row["status"] == "connected" and row["last_assignment"] != "-"

    ids = stack.create_tickets("e2e-migrate", "Support", 2)  # and on the OAuth token after the migration
    wait_for(lambda: all(t["assignee_id"] for t in stack.zendesk_account("e2e-migrate")["tickets"] if t["id"] in ids),
             timeout=60, what="tickets of the migrated account to be assigned")
    stored = json.loads(stack.aws("secretsmanager").get_secret_value(
        SecretId=f"{stack.info['secret_prefix']}e2e-migrate")["SecretString"])
    logs = stack.log_text()
    leaked = [name for name, value in (("API token", token), ("OAuth token", stored["tokens"]["access_token"]))
              if value in logs]
    assert leaked == []


def test_an_api_token_account_migrates_by_opening_the_connect_link(stack):
    account = stack.new_account("e2e-link")
    ada = next(u for u in account["users"] if u["name"] == "Ada Admin")
    import requests

    token = requests.post(f"{stack.sandbox}/_sandbox/accounts/e2e-link/api-tokens", json={"user_id": ada["id"]},
                          timeout=10).json()["api_token"]
    assert stack.cli("register-api-token", "e2e-link", "--email", ada["email"],
                     env={"ZENDESK_API_TOKEN": token}).returncode == 0

    page = connect(stack.url, "e2e-link").page
    assert page.status_code == 200 and "API token was deleted" in page.text
    again = connect(stack.url, "e2e-link").page
    assert again.status_code == 200 and "reconnected" in again.text
    zendesk = stack.zendesk_account("e2e-link")
    assert len(zendesk["webhooks"]) == 2 and len(zendesk["triggers"]) == 1  # trigger-connected, event-subscribed
    row = next(r for r in json.loads(stack.cli("--json", "accounts").stdout) if r["subdomain"] == "e2e-link")
    assert row["auth"] == "oauth"

