"""Business-hours schedules and their holidays, read for `round-robin hours <sub> import`.

developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/: List Schedules
(GET /api/v2/business_hours/schedules, "Allowed For: Admins", every schedule in one answer), Show Schedule
(GET .../schedules/{id}, 404 when there is none) and List Holidays for a Schedule (GET .../schedules/{id}/holidays,
every holiday when neither start_date nor end_date is given).
"""

from __future__ import annotations

from typing import Any

from round_robin.zendesk.client import ZendeskClient

SCHEDULES = "/api/v2/business_hours/schedules"


def schedules(client: ZendeskClient) -> list[dict[str, Any]]:
    """Every business-hours schedule of the account."""
    return list(client.get(f"{SCHEDULES}.json").get("schedules", []))


def schedule(client: ZendeskClient, schedule_id: int) -> dict[str, Any]:
    """One schedule (ZendeskNotFoundError when the account has none with that id)."""
    return dict(client.get(f"{SCHEDULES}/{schedule_id}.json")["schedule"])


def holidays(client: ZendeskClient, schedule_id: int) -> list[dict[str, Any]]:
    """Every holiday of a schedule."""
    return list(client.get(f"{SCHEDULES}/{schedule_id}/holidays.json").get("holidays", []))
