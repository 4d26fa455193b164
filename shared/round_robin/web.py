"""Helpers for the API Gateway edge (HTTP API, payload 2.0)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from round_robin.connect.pages import HEADERS
from round_robin.settings import Settings


def public_base_url(settings: Settings, domain_name: str) -> str:
    """PUBLIC_BASE_URL when set (custom domain, local stack), else the API's own https endpoint."""
    return settings.public_base_url or f"https://{domain_name}"


def html(status: int, body: str) -> Response:
    return Response(status_code=status, body=body, headers=dict(HEADERS))


def redirect(location: str) -> Response:
    return Response(
        status_code=302, body="",
        headers={"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
