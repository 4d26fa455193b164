"""Event-subscribed webhooks as Zendesk documents them: the event types a webhook may subscribe to, the signed
payload of each event the service uses when its state changes, and who receives what."""

from __future__ import annotations

import pytest

from round_robin_local.sandbox.deliveries import sign

USER_TYPES = [f"zen:event-type:user.{name}" for name in (
    "active_changed", "suspended_changed", "role_changed", "custom_role_changed", "deleted",
    "group_membership_created", "group_membership_deleted", "custom_field_changed", "time_zone_changed")]
AGENT_TYPES = ["zen:event-type:agent.unified_state_changed", "zen:event-type:agent.state_changed"]
TICKET_TYPES = [f"zen:event-type:ticket.{name}" for name in (
    "created", "status_changed", "agent_assignment_changed", "group_assignment_changed")]
EVERYTHING = USER_TYPES + AGENT_TYPES + TICKET_TYPES


def new_webhook(acme, **overrides):
    return acme.client.post("/acme/api/v2/webhooks", headers=acme.admin, json={"webhook": {
        "name": "events", "status": "active", "endpoint": "https://example.com/hook", "http_method": "POST",
        "request_format": "json", "subscriptions": EVERYTHING, **overrides}})


def refusal(answer) -> str:
    assert answer.status_code == 422 and answer.json["error"] == "RecordInvalid", answer.json
    return answer.json["details"]["subscriptions" if "subscriptions" in answer.json["details"] else "http_method"][0][
        "description"]


# -- subscribing ---------------------------------------------------------------------------------------------

def test_a_webhook_subscribes_to_many_documented_event_types_at_once(acme):
    answer = new_webhook(acme)
    assert answer.status_code == 201
    assert answer.json["webhook"]["subscriptions"] == EVERYTHING


@pytest.mark.parametrize("subscriptions, reason", [
    (["zen:event-type:ticket.assignment_changed"], "unknown event types: zen:event-type:ticket.assignment_changed"),
    (["zen:event-type:user.active_changed", "conditional_ticket_events"], "cannot be combined"),
    ("zen:event-type:user.active_changed", "non-empty array"),  # a string, not an array
])
def test_unknown_or_mixed_subscriptions_are_422(acme, subscriptions, reason):
    assert reason in refusal(new_webhook(acme, subscriptions=subscriptions))


def test_an_event_subscribed_webhook_must_post_json(acme):
    assert "POST and json" in refusal(new_webhook(acme, http_method="PUT"))
    assert "POST and json" in refusal(new_webhook(acme, request_format="form_encoded"))


def test_a_webhook_cannot_change_its_connection_method(acme):
    webhook = new_webhook(acme).json["webhook"]
    answer = acme.client.patch(f"/acme/api/v2/webhooks/{webhook['id']}", headers=acme.admin,
                               json={"webhook": {"subscriptions": ["conditional_ticket_events"]}})
    assert "trigger-connected and event-subscribed" in answer.json["details"]["subscriptions"][0]["description"]


def test_a_trigger_cannot_notify_an_event_subscribed_webhook(acme):
    webhook = new_webhook(acme).json["webhook"]
    answer = acme.client.post("/acme/api/v2/triggers.json", headers=acme.admin, json={"trigger": {
        "title": "t", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
        "actions": [{"field": "notification_webhook", "value": [webhook["id"], "{}"]}]}})
    assert answer.status_code == 422


# -- the envelope and its signature ----------------------------------------------------------------------

def test_a_user_event_is_signed_like_trigger_deliveries_with_the_documented_envelope(acme, receiver):
    webhook = acme.webhook(receiver.url, USER_TYPES)
    ben = acme.users["Ben Agent"]

    acme.control("POST", f"users/{ben}", {"active": False})

    (delivery,) = receiver.wait_for("zen:event-type:user.active_changed")
    headers, payload = delivery.headers, delivery.body
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    assert headers["X-Zendesk-Webhook-Signature"] == sign(acme.secret(webhook), timestamp, delivery.raw)
    assert headers["X-Zendesk-Webhook-Id"] == webhook["id"]
    assert headers["X-Zendesk-Account-Id"] == str(acme.account.id) and headers["X-Zendesk-Webhook-Invocation-Id"]
    assert payload["account_id"] == acme.account.id and payload["zendesk_event_version"] == "2022-06-20"
    assert payload["subject"] == f"zen:user:{ben}" and payload["time"].endswith("Z") and payload["id"]
    assert payload["detail"] == {
        "created_at": acme.account.users[ben]["created_at"], "email": acme.account.users[ben]["email"],
        "external_id": "", "default_group_id": str(acme.groups["Support"]), "id": str(ben), "organization_id": "0",
        "role": "agent", "updated_at": acme.account.users[ben]["updated_at"]}
    assert payload["event"] == {"current": False, "previous": True}


# -- each user event, when its state changes -------------------------------------------------------------

def put_user(acme, name, changes, as_user="Ada Admin"):
    answer = acme.client.put(f"/acme/api/v2/users/{acme.users[name]}.json", headers=acme.as_user(as_user),
                             json={"user": changes})
    assert answer.status_code == 200, answer.json
    return answer.json["user"]


def test_suspending_an_agent_is_user_suspended_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    put_user(acme, "Cleo Agent", {"suspended": True})
    (delivery,) = receiver.wait_for("zen:event-type:user.suspended_changed")
    assert delivery.body["event"] == {"current": True, "previous": False}


def test_making_an_agent_admin_is_user_role_changed_and_custom_role_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    user = put_user(acme, "Dev Agent", {"role": "admin"})
    (role,) = receiver.wait_for("zen:event-type:user.role_changed")
    (custom,) = receiver.wait_for("zen:event-type:user.custom_role_changed")
    assert role.body["event"] == {"current": "admin", "previous": "agent"}
    assert role.body["detail"]["role"] == "admin"
    assert (user["role_type"], custom.body["event"]) == (4, {"current": str(user["custom_role_id"]), "previous": "0"})


def test_making_an_agent_a_light_agent_keeps_role_agent_and_is_user_custom_role_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    acme.control("POST", f"users/{acme.users['Eve Agent']}", {"role_type": 1})
    (delivery,) = receiver.wait_for("zen:event-type:user.custom_role_changed")
    eve = acme.account.users[acme.users["Eve Agent"]]
    assert (eve["role"], eve["role_type"]) == ("agent", 1)
    assert delivery.body["event"] == {"current": str(eve["custom_role_id"]), "previous": "0"}
    assert receiver.of_type("zen:event-type:user.role_changed") == []


def test_the_out_of_office_app_setting_agent_ooo_is_user_custom_field_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    user = put_user(acme, "Ben Agent", {"user_fields": {"agent_ooo": True}}, as_user="Ben Agent")  # their own
    (delivery,) = receiver.wait_for("zen:event-type:user.custom_field_changed")
    field = next(f for f in acme.account.user_fields.values() if f["key"] == "agent_ooo")
    assert user["user_fields"] == {"agent_ooo": True}
    assert delivery.body["event"] == {"custom_field": {"id": str(field["id"]), "title": "Agent Out?",
                                                       "field_type": "checkbox"}, "current": True, "previous": False}


def test_a_new_time_zone_is_user_time_zone_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    user = put_user(acme, "Ben Agent", {"time_zone": "London"})
    (delivery,) = receiver.wait_for("zen:event-type:user.time_zone_changed")
    assert (user["time_zone"], user["iana_time_zone"]) == ("London", "Europe/London")
    assert delivery.body["event"] == {"current": "London", "previous": "Eastern Time (US & Canada)"}


def test_deleting_a_user_is_user_deleted_after_active_changed(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    answer = acme.client.delete(f"/acme/api/v2/users/{acme.users['Ivy Agent']}.json", headers=acme.admin)
    assert answer.status_code == 200 and answer.json["user"]["active"] is False
    (deleted,) = receiver.wait_for("zen:event-type:user.deleted")
    receiver.wait_for("zen:event-type:user.active_changed")
    assert deleted.body["subject"] == f"zen:user:{acme.users['Ivy Agent']}" and deleted.body["event"] == {}


def test_group_memberships_created_and_deleted_through_the_api_are_events_with_the_group_id(acme, receiver):
    acme.webhook(receiver.url, USER_TYPES)
    created = acme.client.post("/acme/api/v2/group_memberships.json", headers=acme.admin, json={
        "group_membership": {"user_id": acme.users["Ben Agent"], "group_id": acme.groups["Billing"]}})
    assert created.status_code == 201
    deleted = acme.client.delete(f"/acme/api/v2/group_memberships/{created.json['group_membership']['id']}.json",
                                 headers=acme.admin)
    assert deleted.status_code == 204
    for kind in ("created", "deleted"):
        (delivery,) = receiver.wait_for(f"zen:event-type:user.group_membership_{kind}")
        assert delivery.body["event"] == {"group": {"id": str(acme.groups["Billing"])}}
        assert delivery.body["subject"] == f"zen:user:{acme.users['Ben Agent']}"


# -- agent availability events ----------------------------------------------------------------------------

def test_a_new_unified_status_is_agent_unified_state_changed_then_one_state_changed_per_channel(acme, receiver):
    acme.webhook(receiver.url, AGENT_TYPES)
    ben = acme.users["Ben Agent"]

    acme.control("POST", f"agents/{ben}/status", {"status": 4})  # Away: every channel offline
    acme.control("POST", f"agents/{ben}/status", {"status": "online"})

    # deliveries run in parallel and may arrive in any order, as Zendesk's may: order them by version
    first, second = sorted(receiver.wait_for("zen:event-type:agent.unified_state_changed", 2),
                           key=lambda d: int(d.body["detail"]["version"]))
    channels = receiver.wait_for("zen:event-type:agent.state_changed", 6)
    assert first.body["subject"] == f"zen:agent:{ben}" and first.body["zendesk_event_version"] == "2022-11-06"
    assert first.body["detail"] == {"account_id": str(acme.account.id), "agent_id": str(ben), "version": "2"}
    assert second.body["detail"]["version"] == "3"  # one more at every change
    event = first.body["event"]
    assert event["new_unified_state"] == {"id": "4", "name": "away", "reason": "AGENT_STATUS_SWITCHER"}
    assert (event["previous_unified_state"]["id"], event["previous_unified_state"]["name"]) == ("3", "online")
    changes = sorted((c.body["event"]["channel"], c.body["event"]["previous_state"], c.body["event"]["new_state"])
                     for c in channels)
    assert changes == sorted([(c, "online", "offline") for c in ("messaging", "support", "talk")]
                             + [(c, "offline", "online") for c in ("messaging", "support", "talk")])


# -- ticket events ------------------------------------------------------------------------------------------

def test_ticket_events_follow_creation_and_the_services_puts_and_update_many_jobs(acme, receiver):
    acme.webhook(receiver.url, TICKET_TYPES)
    created = acme.client.post("/acme/api/v2/tickets.json", headers=acme.admin, json={"ticket": {
        "subject": "Hi", "group_id": acme.groups["Support"], "priority": "low"}}).json["ticket"]
    (creation,) = receiver.wait_for("zen:event-type:ticket.created")
    assert creation.body["subject"] == f"zen:ticket:{created['id']}" and creation.body["event"] == {}
    assert creation.body["detail"]["status"] == "NEW" and creation.body["detail"]["priority"] == "LOW"
    assert creation.body["detail"]["group_id"] == str(acme.groups["Support"])

    assert acme.client.put(f"/acme/api/v2/tickets/{created['id']}", headers=acme.admin, json={"ticket": {
        "assignee_id": acme.users["Ben Agent"]}}).status_code == 200
    (assigned,) = receiver.wait_for("zen:event-type:ticket.agent_assignment_changed")
    (opened,) = receiver.wait_for("zen:event-type:ticket.status_changed")
    assert assigned.body["event"]["current"] == str(acme.users["Ben Agent"])
    assert assigned.body["event"]["previous"] is None
    assert (opened.body["event"]["current"], opened.body["event"]["previous"]) == ("OPEN", "NEW")
    assert assigned.body["event"]["meta"]["sequence"]["id"] == opened.body["event"]["meta"]["sequence"]["id"]

    job = acme.client.put("/acme/api/v2/tickets/update_many.json", headers=acme.admin, json={"tickets": [
        {"id": created["id"], "group_id": acme.groups["Billing"], "assignee_id": acme.users["Eve Agent"]}]})
    assert job.status_code == 200
    (regrouped,) = receiver.wait_for("zen:event-type:ticket.group_assignment_changed")
    assert regrouped.body["event"]["current"] == str(acme.groups["Billing"])
    assert receiver.wait_for("zen:event-type:ticket.agent_assignment_changed", 2)[1].body["event"]["current"] == \
        str(acme.users["Eve Agent"])


# -- who receives what -------------------------------------------------------------------------------------

def test_each_webhook_gets_only_its_types_and_a_trigger_connected_webhook_never_gets_events(acme, receiver):
    users_only = acme.webhook(receiver.url, ["zen:event-type:user.active_changed"])
    tickets_only = acme.webhook(receiver.url, ["zen:event-type:ticket.created"])
    paused = acme.webhook(receiver.url, ["zen:event-type:ticket.created"], status="inactive")
    triggered = acme.webhook(receiver.url, ["conditional_ticket_events"])
    assert acme.client.post("/acme/api/v2/triggers.json", headers=acme.admin, json={"trigger": {
        "title": "t", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
        "actions": [{"field": "notification_webhook", "value": [triggered["id"], '{"id":"{{ticket.id}}"}']}]},
    }).status_code == 201

    acme.client.post("/acme/api/v2/tickets.json", headers=acme.admin, json={"ticket": {"subject": "Hi"}})
    acme.control("POST", f"users/{acme.users['Ben Agent']}", {"active": False})
    acme.control("POST", f"users/{acme.users['Ben Agent']}", {"suspended": True})  # nobody subscribed

    log = acme.control("GET", "deliveries")["deliveries"]
    assert sorted((d["webhook_id"], d["type"]) for d in log) == sorted([
        (users_only["id"], "zen:event-type:user.active_changed"),
        (tickets_only["id"], "zen:event-type:ticket.created"),
        (triggered["id"], "conditional_ticket_events")])
    assert paused["id"] not in {d["webhook_id"] for d in log}
    only_events = acme.control("GET", "deliveries?type=zen:event-type:ticket.created")["deliveries"]
    assert [d["webhook_id"] for d in only_events] == [tickets_only["id"]]


def test_an_event_delivery_is_retried_as_zendesk_retries_webhooks(acme, receiver):
    acme.webhook(receiver.url, ["zen:event-type:user.active_changed"])
    receiver.answers.append((503, {"Retry-After": "0"}))  # Retry-After under 60 s: retried

    acme.control("POST", f"users/{acme.users['Ben Agent']}", {"active": False})

    first, again = receiver.wait_for("zen:event-type:user.active_changed", 2)
    assert first.raw == again.raw
    assert first.headers["X-Zendesk-Webhook-Invocation-Id"] == again.headers["X-Zendesk-Webhook-Invocation-Id"]
