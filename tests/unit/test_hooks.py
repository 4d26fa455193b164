"""The project's webhooks and trigger (zendesk/hooks.py) against a small in-memory Zendesk that keeps Zendesk's
rules: a webhook's connection method cannot change, and a webhook a trigger uses cannot be deleted."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from round_robin.errors import ZendeskNotFoundError, ZendeskUnprocessableError
from round_robin.zendesk.event_types import SUBSCRIBED, TICKET_CREATED
from round_robin.zendesk.hooks import (
    EVENTS_WEBHOOK_NAME,
    TRIGGER_TITLE,
    WEBHOOK_NAME,
    ensure_events_webhook,
    ensure_hooks,
    events_webhook_definition,
    remove_duplicates,
    trigger_definition,
    webhook_definition,
)

ENDPOINT = "https://rr.example/webhooks/zendesk/acme"


class FakeZendesk:
    """The calls hooks.py makes: webhooks (list with name_contains, create, update, delete, signing secret)
    and triggers (list, create, update, delete)."""

    def __init__(self) -> None:
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def add_webhook(self, spec: dict[str, Any]) -> str:
        webhook_id = f"01WH{next(self._ids):04d}"
        created_at = f"2026-01-01T00:00:{len(self.webhooks):02d}Z"
        self.webhooks[webhook_id] = {**spec, "id": webhook_id, "created_at": created_at}
        return webhook_id

    def add_trigger(self, spec: dict[str, Any]) -> str:
        trigger_id = str(next(self._ids))
        self.triggers[trigger_id] = {**spec, "id": int(trigger_id)}
        return trigger_id

    def paginate(self, path: str, key: str, params: dict[str, Any] | None = None):
        self.calls.append(("LIST", path))
        if key == "webhooks":
            contains = (params or {}).get("filter[name_contains]", "").lower()
            return [dict(w) for w in self.webhooks.values() if contains in w["name"].lower()]
        return [dict(t) for t in self.triggers.values()]

    def get(self, path: str) -> dict[str, Any]:
        self.calls.append(("GET", path))
        webhook_id = path.split("/")[4]
        return {"signing_secret": {"algorithm": "SHA256", "secret": f"secret-of-{webhook_id}"}}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("POST", path))
        if "webhook" in body:
            return {"webhook": self.webhooks[self.add_webhook(body["webhook"])]}
        return {"trigger": self.triggers[self.add_trigger(body["trigger"])]}

    def put(self, path: str, body: dict[str, Any]) -> None:
        self.calls.append(("PUT", path))
        resource_id = path.split("/")[4].removesuffix(".json")
        if "webhook" in body:
            before = self.webhooks[resource_id]
            if _event_subscribed(before) != _event_subscribed(body["webhook"]):
                raise ZendeskUnprocessableError("cannot change the connection method")
            self.webhooks[resource_id] = {**before, **body["webhook"]}
        else:
            self.triggers[resource_id] = {**body["trigger"], "id": int(resource_id)}

    def delete(self, path: str) -> None:
        self.calls.append(("DELETE", path))
        resource_id = path.split("/")[4].removesuffix(".json")
        if "/webhooks/" in path:
            if resource_id not in self.webhooks:
                raise ZendeskNotFoundError("gone")
            if any(a["value"][0] == resource_id for t in self.triggers.values() for a in t["actions"]):
                raise ZendeskUnprocessableError("in use")
            del self.webhooks[resource_id]
        else:
            self.triggers.pop(resource_id, None)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [w for w in self.webhooks.values() if w["name"] == name]

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("POST", "PUT", "DELETE")]


def _event_subscribed(webhook: dict[str, Any]) -> bool:
    return "conditional_ticket_events" not in webhook["subscriptions"]


@pytest.fixture
def zendesk() -> FakeZendesk:
    return FakeZendesk()


def test_a_first_connect_creates_a_trigger_connected_and_an_event_subscribed_webhook(zendesk):
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)

    (trigger_webhook,) = zendesk.named(WEBHOOK_NAME)
    (events,) = zendesk.named(EVENTS_WEBHOOK_NAME)
    assert trigger_webhook["subscriptions"] == ["conditional_ticket_events"]
    assert events["id"] == hooks.events_webhook_id and hooks.events_webhook_action == "created"
    assert (events["endpoint"], events["http_method"], events["request_format"]) == (ENDPOINT, "POST", "json")
    assert sorted(events["subscriptions"]) == sorted(SUBSCRIBED)
    assert TICKET_CREATED not in events["subscriptions"]  # the trigger announces new tickets already
    assert "zen:event-type:user.custom_field_changed" in events["subscriptions"]  # the Out of Office app's field
    assert hooks.events_signing_secret == f"secret-of-{events['id']}"
    assert hooks.signing_secret == f"secret-of-{trigger_webhook['id']}"


def test_the_signing_secrets_are_not_in_the_repr(zendesk):
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)
    assert "secret-of" not in repr(hooks)


def test_a_reconnect_changes_nothing_when_everything_is_as_wanted(zendesk):
    first = ensure_hooks(zendesk, ENDPOINT, None, None)
    zendesk.calls.clear()

    again = ensure_hooks(zendesk, ENDPOINT, first.webhook_id, first.trigger_id,
                         first.events_webhook_id)

    assert (again.webhook_id, again.trigger_id, again.events_webhook_id) == \
        (first.webhook_id, first.trigger_id, first.events_webhook_id)
    assert again.events_webhook_action == "unchanged" and zendesk.writes() == []
    assert [c for c in zendesk.calls if c == ("LIST", "/api/v2/webhooks")] == [("LIST", "/api/v2/webhooks")]


def test_subscriptions_in_another_order_are_not_a_change(zendesk):
    events_id = zendesk.add_webhook({**events_webhook_definition(ENDPOINT),
                                     "subscriptions": list(reversed(SUBSCRIBED))})
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None, events_id)
    assert hooks.events_webhook_action == "unchanged"


@pytest.mark.parametrize("change", [
    {"endpoint": "https://old.example/webhooks/zendesk/acme"},
    {"subscriptions": ["zen:event-type:user.deleted"]},
    {"status": "inactive"},
])
def test_a_reconnect_updates_the_events_webhook_in_place(zendesk, change):
    events_id = zendesk.add_webhook({**events_webhook_definition(ENDPOINT), **change})

    hooks = ensure_hooks(zendesk, ENDPOINT, None, None, events_id)

    assert (hooks.events_webhook_id, hooks.events_webhook_action) == (events_id, "updated")
    assert zendesk.webhooks[events_id]["endpoint"] == ENDPOINT
    assert sorted(zendesk.webhooks[events_id]["subscriptions"]) == sorted(SUBSCRIBED)
    assert zendesk.webhooks[events_id]["status"] == "active"


def test_copies_of_the_events_webhook_are_deleted_and_the_known_one_kept(zendesk):
    older = zendesk.add_webhook(events_webhook_definition(ENDPOINT))
    known = zendesk.add_webhook(events_webhook_definition(ENDPOINT))
    newer = zendesk.add_webhook(events_webhook_definition(ENDPOINT))

    hooks = ensure_hooks(zendesk, ENDPOINT, None, None, known)

    assert hooks.events_webhook_id == known
    assert set(zendesk.webhooks) & {older, known, newer} == {known}
    assert hooks.removed == 2


def test_names_are_compared_exactly_though_the_filter_matches_both(zendesk):
    customer = zendesk.add_webhook({**events_webhook_definition("https://other.example/"),
                                    "name": f"{EVENTS_WEBHOOK_NAME} (customer's copy)"})

    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)

    assert customer in zendesk.webhooks and hooks.events_webhook_id != customer
    assert len(zendesk.named(WEBHOOK_NAME)) == 1 and len(zendesk.named(EVENTS_WEBHOOK_NAME)) == 1


def test_a_webhook_of_our_name_with_the_other_connection_method_is_never_updated_into_it(zendesk):
    # Zendesk refuses to change a webhook's connection method: such a webhook cannot become ours
    wrong = zendesk.add_webhook({**webhook_definition(ENDPOINT), "name": EVENTS_WEBHOOK_NAME})

    hooks = ensure_hooks(zendesk, ENDPOINT, None, None, wrong)

    assert hooks.events_webhook_id != wrong
    assert _event_subscribed(zendesk.webhooks[hooks.events_webhook_id])


def test_the_maintenance_adds_the_events_webhook_at_the_trigger_webhooks_endpoint(zendesk):
    webhook_id = zendesk.add_webhook(webhook_definition("https://rr.example/webhooks/zendesk/acme"))

    events = ensure_events_webhook(zendesk, webhook_id)

    assert events is not None and events.action == "created"
    assert zendesk.webhooks[events.webhook_id]["endpoint"] == "https://rr.example/webhooks/zendesk/acme"
    # run again (the id was not recorded, say): the one made is adopted, not a second one made
    again = ensure_events_webhook(zendesk, webhook_id)
    assert again is not None and (again.webhook_id, again.action) == (events.webhook_id, "unchanged")
    assert len(zendesk.named(EVENTS_WEBHOOK_NAME)) == 1


def test_the_maintenance_adds_nothing_when_the_trigger_webhook_is_gone(zendesk):
    assert ensure_events_webhook(zendesk, "01GONE") is None
    assert zendesk.webhooks == {}


def test_the_repair_deletes_copies_of_both_webhooks_and_keeps_the_known_ones(zendesk):
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)
    copy = zendesk.add_webhook(webhook_definition(ENDPOINT))
    events_copy = zendesk.add_webhook(events_webhook_definition(ENDPOINT))

    removed = remove_duplicates(zendesk, hooks.webhook_id, hooks.trigger_id,
                                hooks.events_webhook_id)

    assert removed == 2
    assert set(zendesk.webhooks) == {hooks.webhook_id, hooks.events_webhook_id}
    assert copy not in zendesk.webhooks and events_copy not in zendesk.webhooks


def test_the_repair_leaves_the_events_webhooks_alone_when_the_account_knows_none(zendesk):
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)
    zendesk.add_webhook(events_webhook_definition(ENDPOINT))

    assert remove_duplicates(zendesk, hooks.webhook_id, hooks.trigger_id) == 0
    assert len(zendesk.named(EVENTS_WEBHOOK_NAME)) == 2


def test_the_trigger_still_points_at_the_trigger_webhook(zendesk):
    hooks = ensure_hooks(zendesk, ENDPOINT, None, None)
    (trigger,) = [t for t in zendesk.triggers.values() if t["title"] == TRIGGER_TITLE]
    assert trigger["actions"] == trigger_definition(hooks.webhook_id)["actions"]
