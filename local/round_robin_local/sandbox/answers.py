"""How the sandbox reads requests and answers them: JSON bodies, and the error bodies Zendesk gives.

Every resource raises `ApiError`; the app turns it into the answer (JSON, or plain text for a string body).
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json; charset=utf-8")


def error_answer(error: ApiError) -> Response:
    body = error.body
    return (json_answer(body, error.status, error.headers) if isinstance(body, dict)
            else Response(body, status=error.status, headers=error.headers, content_type="text/plain"))


def record_invalid(description: str, field: str = "base", error: str | None = None) -> ApiError:
    detail = {"description": description, **({"error": error} if error else {})}
    return ApiError(422, {"error": "RecordInvalid", "description": "Record validation errors",
                          "details": {field: [detail]}})


def forbidden() -> ApiError:
    """Zendesk's 403 for a token that lacks the scope (captured in Zendesk community post 6224176367002)."""
    return ApiError(403, {"error": {"title": "Forbidden",
                                    "message": "You do not have access to this page. Please contact the "
                                               "account owner of this help desk for further help."}})


def no_access() -> ApiError:
    """The 403 for a user whose role may not do this (an agent on an admin-only resource, an end user)."""
    return ApiError(403, {"error": "Forbidden", "description": "You do not have access to this page."})


def not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def invalid_endpoint() -> ApiError:
    """The 404 for a path or method the API does not have."""
    return ApiError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def method_not_allowed() -> ApiError:
    return ApiError(405, {"error": "MethodNotAllowed"})


def too_many_values(name: str) -> ApiError:
    return ApiError(400, {"error": "TooManyValues", "description": f"{name}: too many values (max 100)"})


def body_of(request: Request, key: str) -> dict[str, Any]:
    """The `{key: {...}}` object of a JSON request body, or 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ApiError(400, {"error": "InvalidValue", "description": f"the body must be {{\"{key}\": {{...}}}}"})
    return body[key]


def to_int(value: Any) -> int | None:
    """An integer parameter, or None when it is missing or not an integer."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
