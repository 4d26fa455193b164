"""Zendesk subdomain normalisation: `acme`, `acme.zendesk.com` and `https://acme.zendesk.com` all mean `acme`."""

from __future__ import annotations

import re

from round_robin.errors import InvalidSubdomainError

# A DNS label: letters, digits and inner hyphens, at most 63 characters (RFC 1035 section 2.3.1).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_SUFFIX = ".zendesk.com"
_SCHEME = "https://"
_MAX_INPUT = 100


def normalize_subdomain(raw: str | None) -> str:
    """Return the bare subdomain, or raise InvalidSubdomainError for anything that is not one."""
    if raw is None:
        raise InvalidSubdomainError("subdomain is required")
    value = raw.strip()
    if not value:
        raise InvalidSubdomainError("subdomain is required")
    if len(value) > _MAX_INPUT or not value.isascii():
        raise InvalidSubdomainError("subdomain must be a Zendesk subdomain such as 'acme'")
    value = value.lower()
    had_scheme = value.startswith(_SCHEME)
    if had_scheme:
        value = value[len(_SCHEME):]
    if value.endswith(_HOST_SUFFIX + "/"):
        value = value[:-1]
    if value.endswith(_HOST_SUFFIX):
        value = value[: -len(_HOST_SUFFIX)]
    elif had_scheme:
        raise InvalidSubdomainError("only https://<subdomain>.zendesk.com addresses are accepted")
    if not _LABEL.fullmatch(value):
        raise InvalidSubdomainError("subdomain must be a Zendesk subdomain such as 'acme'")
    return value
