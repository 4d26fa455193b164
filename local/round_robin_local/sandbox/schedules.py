"""Business-hours schedules and their holidays (developer.zendesk.com/api-reference/ticketing/ticket-management/
schedules/).

- List Schedules, Create Schedule, List Holidays, Create Holiday: "Allowed For: Admins"; Show Schedule and Show
  Holiday: "Allowed For: Agents".
- `time_zone` is a Rails name such as "Pacific Time (US & Canada)" (time_zones.py).
- Intervals: `start_time` / `end_time` in "minutes since Sunday at midnight", in the schedule's time zone; an
  interval "Can't span calendar days"; "The API accepts a value of 0 or 10080 to represent midnight between
  Saturday and Sunday". A new schedule without intervals gets Monday to Friday, 09:00 to 17:00 (the Create
  Schedule example).
- Holidays: `start_date` / `end_date` ISO 8601 dates, inclusive ("Holidays can be a single day or multiple days in
  length"). "If you specify both a start_date and an end_date, holidays beginning between those dates are
  returned. If you specify neither, all holidays are returned."
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import (
    ApiError,
    body_of,
    invalid_endpoint,
    json_answer,
    no_access,
    not_found,
    record_invalid,
    to_int,
)
from round_robin_local.sandbox.time_zones import RAILS_TIME_ZONES

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

DAY, WEEK = 1440, 10080
WEEKDAYS_9_TO_5 = [{"start_time": day * DAY + 9 * 60, "end_time": day * DAY + 17 * 60} for day in range(1, 6)]


def create_schedule(sandbox: Sandbox, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    name = str(spec.get("name") or "").strip()
    if not name:
        raise record_invalid("Name: cannot be blank", "name")
    if spec.get("time_zone") not in RAILS_TIME_ZONES:
        raise record_invalid("Time zone: is not included in the list", "time_zone")
    intervals = _intervals(spec["intervals"]) if "intervals" in spec else [dict(i) for i in WEEKDAYS_9_TO_5]
    now = sandbox.clock.iso()
    schedule = {"id": sandbox.next_id(), "name": name, "time_zone": spec["time_zone"], "intervals": intervals,
                "created_at": now, "updated_at": now, "_holidays": {}}
    account.schedules[schedule["id"]] = schedule
    return _public(schedule)


def create_holiday(sandbox: Sandbox, schedule: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    name = str(spec.get("name") or "").strip()
    start, end = _date(spec.get("start_date"), "start_date"), _date(spec.get("end_date"), "end_date")
    if not name:
        raise record_invalid("Name: cannot be blank", "name")
    if end < start:
        raise record_invalid("End date: must not be before the start date", "end_date")
    holiday = {"id": sandbox.next_id(), "name": name, "start_date": start.isoformat(), "end_date": end.isoformat()}
    schedule["_holidays"][holiday["id"]] = holiday
    return holiday


def route(request: Request, sandbox: Sandbox, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
    """`/api/v2/business_hours/schedules/<rest>`."""
    admin, method = user["role"] == "admin", request.method
    if not rest and method in ("GET", "POST"):
        if not admin:
            raise no_access()
        if method == "GET":
            return json_answer({"schedules": [_public(s) for s in account.schedules.values()]})
        return json_answer({"schedule": create_schedule(sandbox, account, body_of(request, "schedule"))}, 201)
    schedule = account.schedules.get(to_int(rest[0]) or -1) if rest else None
    if schedule is None:
        raise not_found()
    match rest[1:], method:
        case [], "GET":
            return json_answer({"schedule": _public(schedule)})
        case ["holidays"], ("GET" | "POST") if not admin:
            raise no_access()
        case ["holidays"], "GET":
            return json_answer({"holidays": _holidays(request, schedule)})
        case ["holidays"], "POST":
            return json_answer({"holiday": create_holiday(sandbox, schedule, body_of(request, "holiday"))}, 201)
        case ["holidays", holiday_id], "GET":
            holiday = schedule["_holidays"].get(to_int(holiday_id) or -1)
            if holiday is None:
                raise not_found()
            return json_answer({"holiday": holiday})
    raise invalid_endpoint()


def _holidays(request: Request, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    holidays = sorted(schedule["_holidays"].values(), key=lambda h: (h["start_date"], h["id"]))
    after, before = request.args.get("start_date"), request.args.get("end_date")
    if after and before:
        low, high = _date(after, "start_date", 400), _date(before, "end_date", 400)
        holidays = [h for h in holidays if low <= date.fromisoformat(h["start_date"]) <= high]
    return holidays


def _intervals(value: Any) -> list[dict[str, int]]:
    if not isinstance(value, list):
        raise record_invalid("Intervals: must be an array", "intervals")
    intervals = []
    for item in value:
        start, end = to_int((item or {}).get("start_time")), to_int((item or {}).get("end_time"))
        if start is None or end is None or not 0 <= start < end <= WEEK or start // DAY != (end - 1) // DAY:
            raise record_invalid("Intervals: each is a start_time before its end_time, minutes since Sunday "
                                 "00:00 (0 to 10080), within one day", "intervals")
        intervals.append({"start_time": start, "end_time": end})
    intervals.sort(key=lambda i: i["start_time"])
    if any(a["end_time"] > b["start_time"] for a, b in zip(intervals, intervals[1:], strict=False)):
        raise record_invalid("Intervals: must not overlap", "intervals")
    return intervals


def _date(value: Any, name: str, status: int = 422) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        if status == 422:
            raise record_invalid(f"{name}: must be an ISO 8601 date (YYYY-MM-DD)", name) from None
        raise ApiError(status, {"error": "InvalidValue", "description": f"{name} must be YYYY-MM-DD"}) from None


def _public(schedule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schedule.items() if not k.startswith("_")}
