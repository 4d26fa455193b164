"""The Tickets API: create, show, show_many, update (safe updates, assignee rules) and update_many with its
job statuses. Every create and update runs the triggers (triggers.py), then sends its ticket events (events.py)."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import (
    ApiError,
    body_of,
    json_answer,
    method_not_allowed,
    not_found,
    record_invalid,
    to_int,
    too_many_values,
)
from round_robin_local.sandbox.deliveries import Dispatcher
from round_robin_local.sandbox.events import Events
from round_robin_local.sandbox.limits import take_ticket_update
from round_robin_local.sandbox.model import TICKET_STATUSES, Account, Sandbox
from round_robin_local.sandbox.triggers import run_triggers

MAX_JOBS_IN_FLIGHT = 30


def public(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as the API shows it, without the sandbox's own `_` fields."""
    return {k: v for k, v in ticket.items() if not k.startswith("_")}


class Tickets:
    def __init__(self, sandbox: Sandbox, dispatcher: Dispatcher, events: Events) -> None:
        self.sandbox = sandbox
        self.dispatcher = dispatcher
        self.events = events

    def route(self, request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
        """`/api/v2/tickets/<rest>`."""
        method = request.method
        if not rest and method == "POST":
            ticket = self.create(account, body_of(request, "ticket"), user["id"], channel="api")
            return json_answer({"ticket": ticket}, 201)
        if rest == ["show_many"] and method == "GET":
            ids = [to_int(i) for i in (request.args.get("ids") or "").split(",") if i.strip()]
            if len(ids) > 100:
                raise too_many_values("ids")
            return json_answer({"tickets": [account.tickets[i] for i in ids if i in account.tickets]})
        if rest == ["update_many"] and method == "PUT":
            return self.update_many(request, account, user)
        ticket = account.tickets.get(to_int(rest[0]) or -1) if len(rest) == 1 else None
        if ticket is None:
            raise not_found()
        if method == "GET":
            return json_answer({"ticket": ticket})
        if method == "PUT":
            take_ticket_update(self.sandbox, account)
            updated = self.update(account, ticket, body_of(request, "ticket"), user["id"])
            return json_answer({"ticket": updated, "audit": {"ticket_id": updated["id"], "author_id": user["id"]}})
        raise method_not_allowed()

    def create(self, account: Account, spec: dict[str, Any], author_id: int, *, channel: str) -> dict[str, Any]:
        """Create a ticket (API or the sandbox's page) and run the triggers on it."""
        group_id = to_int(spec.get("group_id"))
        if group_id is not None and group_id not in account.groups:
            raise record_invalid("Group: is invalid", "group_id")
        assignee_id = to_int(spec.get("assignee_id"))
        if assignee_id is not None:
            _check_assignee(account, assignee_id, group_id)
        status = spec.get("status") or ("open" if assignee_id else "new")
        if status not in TICKET_STATUSES:
            raise record_invalid("Status: is invalid", "status")
        now = self.sandbox.clock.iso()
        ticket_id = max(account.tickets, default=0) + 1
        comment = spec.get("comment") or {}
        ticket = {
            "id": ticket_id, "url": "", "subject": spec.get("subject") or "(no subject)",
            "description": comment.get("body") or spec.get("description") or "",
            "status": status, "priority": spec.get("priority"), "type": spec.get("type"),
            "requester_id": to_int(spec.get("requester_id")) or author_id, "submitter_id": author_id,
            "assignee_id": assignee_id, "group_id": group_id, "brand_id": 360000000001,
            "tags": sorted(set(spec.get("tags") or [])), "created_at": now, "updated_at": now,
            "via": {"channel": channel}, "_created_epoch": self.sandbox.clock.now(),
        }
        account.tickets[ticket_id] = ticket
        run_triggers(account, ticket, "Create", self.dispatcher)
        self.events.ticket_created(account, ticket, author_id)
        return public(ticket)

    def update(self, account: Account, ticket: dict[str, Any], changes: dict[str, Any], author_id: int) -> dict[str, Any]:
        """PUT semantics: safe_update with updated_stamp (409), validation (422), triggers on success."""
        if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
            raise ApiError(409, {"error": "UpdateConflict",
                                 "description": "Safe Update prevented the update due to outdated ticket data. "
                                                "Please fetch the latest ticket data and try again."})
        if ticket["status"] == "closed":
            raise record_invalid("Status: closed prevents ticket update", "status")
        before = dict(ticket)
        group_id = to_int(changes["group_id"]) if "group_id" in changes else ticket["group_id"]
        if group_id is not None and group_id not in account.groups:
            raise record_invalid("Group: is invalid", "group_id")
        if "assignee_id" in changes and changes["assignee_id"] is not None:
            assignee_id = to_int(changes["assignee_id"])
            _check_assignee(account, assignee_id, group_id)
            if group_id is None:
                group_id = account.users[assignee_id]["default_group_id"]
            ticket["assignee_id"] = assignee_id
            if ticket["status"] == "new" and "status" not in changes:
                ticket["status"] = "open"
        elif "assignee_id" in changes:
            ticket["assignee_id"] = None
        ticket["group_id"] = group_id
        if "status" in changes:
            if changes["status"] not in TICKET_STATUSES:
                raise record_invalid("Status: is invalid", "status")
            ticket["status"] = changes["status"]
        if "tags" in changes:
            ticket["tags"] = sorted(set(changes["tags"] or []))
        ticket["updated_at"] = self.sandbox.clock.iso()
        run_triggers(account, ticket, "Change", self.dispatcher)
        self.events.ticket_changed(account, before, ticket, author_id)
        return public(ticket)

    def update_many(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        """Queue the updates as a job (`/api/v2/job_statuses/<id>` follows it); at most 30 jobs in flight.

        Zendesk's rate-limits page (developer.zendesk.com/api-reference/introduction/rate-limits/, "Endpoint rate
        limits" and "Job limit") limits Update Ticket to 100 requests a minute and queued or running jobs to 30 an
        account; a bulk update is limited by the job limit (and the account's limit, counted by the app), not by
        Update Ticket's. Each ticket of the job still meets every rule of a single update (self.update)."""
        body = request.get_json(silent=True)
        updates = body.get("tickets") if isinstance(body, dict) else None
        if not isinstance(updates, list) or not updates:
            raise ApiError(400, {"error": "InvalidValue", "description": "tickets: an array of tickets is required"})
        if len(updates) > 100:
            raise too_many_values("tickets")
        in_flight = sum(1 for j in account.jobs.values() if j["status"] in ("queued", "working"))
        if in_flight >= MAX_JOBS_IN_FLIGHT:
            raise ApiError(429, {"error": "TooManyJobs", "description": "Too many jobs in flight"}, {"Retry-After": "10"})
        job_id = "V3-" + secrets.token_hex(16)
        job = {"id": job_id, "url": f"{request.host_url}{account.subdomain}/api/v2/job_statuses/{job_id}.json",
               "total": len(updates), "progress": 0, "status": "queued", "message": None, "results": None}
        account.jobs[job_id] = job
        threading.Thread(target=self._run_job, args=(account, job, updates, user["id"]), daemon=True).start()
        return json_answer({"job_status": dict(job)})

    def _run_job(self, account: Account, job: dict[str, Any], updates: list[dict[str, Any]], author_id: int) -> None:
        results = []
        with self.sandbox.lock:
            job["status"] = "working"
            for spec in updates:
                ticket = account.tickets.get(to_int(spec.get("id")) or -1)
                try:
                    if ticket is None:
                        raise not_found()
                    # Collision protection (safe_update with updated_stamp: a 409) is documented for the Update
                    # Ticket endpoint only ("Protecting against ticket update collisions", developer.zendesk.com/
                    # api-reference/ticketing/tickets/tickets/); "Update Many Tickets" does not mention it, so the
                    # sandbox takes the cautious reading: a job applies its changes without that check.
                    changes = {k: v for k, v in spec.items() if k not in ("id", "safe_update", "updated_stamp")}
                    self.update(account, ticket, changes, author_id)
                    results.append({"action": "update", "id": ticket["id"], "status": "Updated", "success": True})
                except ApiError as exc:
                    detail = exc.body if isinstance(exc.body, dict) else {"description": exc.body}
                    results.append({"action": "update", "id": spec.get("id"), "success": False,
                                    "status": "Failed", "error": detail.get("error"),
                                    "details": detail.get("description")})
                job["progress"] = len(results)
            # "message": "Completed at 2018-03-08 06:07:49 +0000", as in the job statuses reference's examples
            finished = datetime.fromtimestamp(self.sandbox.clock.now(), UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
            job.update(status="completed", results=results, message=f"Completed at {finished}")

    @staticmethod
    def job_status(account: Account, job_id: str) -> Response:
        job = account.jobs.get(job_id)
        if job is None:
            raise not_found()
        return json_answer({"job_status": job})


def _check_assignee(account: Account, assignee_id: int | None, group_id: int | None) -> None:
    # 422 RecordInvalid with `details.assignee`, as captured from Zendesk (facetoe/zenpy issue #628). A light
    # agent, chat-only agent or contributor "cannot be assigned tickets" (support.zendesk.com/hc/en-us/
    # articles/4408821536794: reassignment skips "light agents and agents lacking permissions required to be
    # assigned the tickets"), even in their own group.
    if assignee_id is None or not account.eligible_assignee(assignee_id):
        raise record_invalid("Assignee: is invalid", "assignee", "InvalidValue")
    if group_id is not None and not account.member_of(assignee_id, group_id):
        raise record_invalid("Assignee: is not a member of the group", "assignee")
