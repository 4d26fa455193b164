"""Domain errors. Each adapter translates its library's errors into these, in one place.

Messages never carry tokens, codes, state values or secrets: they end up in logs and pages.
"""

from __future__ import annotations


class RoundRobinError(Exception):
    """Base of every error this service raises on purpose."""


class SettingsError(RoundRobinError):
    """An environment variable is missing or invalid; raised at cold start."""


class InvalidSubdomainError(RoundRobinError):
    """The value given is not a Zendesk subdomain."""


class StateError(RoundRobinError):
    """The OAuth `state` is missing, unknown, expired or already used."""


class StateReplayedError(StateError):
    """The state was used moments ago: the same approval arrived twice (a double click on Allow)."""

    def __init__(self, subdomain: str, used_at: float, purpose: str = "connect") -> None:
        super().__init__("this sign-in link was already used")
        self.subdomain = subdomain
        self.used_at = used_at
        self.purpose = purpose  # connect/states.py: CONNECT or SIGN_IN

    @property
    def signs_in(self) -> bool:
        """The state was a console sign-in's (connect/states.py SIGN_IN), not a connect's."""
        return self.purpose == "signin"


class OAuthError(RoundRobinError):
    """The token endpoint refused a request (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str = "", status: int | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


class OAuthUnavailableError(RoundRobinError):
    """The token endpoint could not be reached or answered with a server error."""


class ZendeskError(RoundRobinError):
    """Zendesk answered an API call with an error status."""

    def __init__(self, message: str, status: int | None = None, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class ZendeskUnauthorizedError(ZendeskError):
    """401: the token is expired, revoked or invalid. `credential` is the fingerprint of the Authorization value
    Zendesk refused (round_robin.accounts.credentials.credential_fingerprint), never the value itself."""

    def __init__(self, message: str, status: int | None = 401, *, credential: str = "", **kwargs) -> None:
        super().__init__(message, status, **kwargs)
        self.credential = credential


class ZendeskForbiddenError(ZendeskError):
    """403: the token lacks a scope or the user lacks a role."""


class ZendeskNotFoundError(ZendeskError):
    """404: no such resource."""


class ZendeskConflictError(ZendeskError):
    """409: a `safe_update` lost the race (the ticket changed since `updated_stamp`)."""


class ZendeskUnprocessableError(ZendeskError):
    """422: Zendesk refused the change (e.g. the assignee is not in the ticket's group)."""


class ZendeskRateLimitedError(ZendeskError):
    """429 (over a rate limit) or 503 with Retry-After; `retry_after` is Zendesk's Retry-After in seconds."""

    def __init__(self, message: str, retry_after: float, status: int = 429, **kwargs) -> None:
        super().__init__(message, status, **kwargs)
        self.retry_after = retry_after


class ZendeskUnavailableError(ZendeskError):
    """5xx, a timeout or a connection failure, after the client's own retries."""


class NotAdminError(RoundRobinError):
    """The person who approved the connection is not a Zendesk admin."""

    def __init__(self, user_name: str, role: str) -> None:
        super().__init__(f"the approving user has role {role!r}, not admin")
        self.user_name = user_name
        self.role = role


class SignInRefusedError(RoundRobinError):
    """The person who signed in to the console is not an admin of the account (console/signin.py)."""

    def __init__(self, subdomain: str, user_name: str, role: str) -> None:
        super().__init__(f"the signed-in user has role {role!r}, not admin")
        self.subdomain = subdomain
        self.user_name = user_name
        self.role = role


class SignInBrowserError(RoundRobinError):
    """A sign-in answer arrived in a browser other than the one that started the sign-in (login CSRF)."""

    def __init__(self, subdomain: str) -> None:
        super().__init__("this sign-in was started in another browser")
        self.subdomain = subdomain


class StorageError(RoundRobinError):
    """DynamoDB or Secrets Manager failed (throttled or unavailable) after retries."""


class AccountNotFoundError(RoundRobinError):
    """No connected account is registered under this subdomain."""


class NotConnectedError(AccountNotFoundError):
    """A console sign-in to an account this service does not serve: it has to be connected first."""

    def __init__(self, subdomain: str) -> None:
        super().__init__(f"{subdomain}.zendesk.com is not connected to Round Robin")
        self.subdomain = subdomain


class ConnectionBrokenError(RoundRobinError):
    """Zendesk no longer accepts the account's credentials: an admin must reconnect."""

    def __init__(self, subdomain: str, reason: str) -> None:
        super().__init__(f"the connection of {subdomain} is broken ({reason})")
        self.subdomain = subdomain
        self.reason = reason
