"""What availability input an operator (or Zendesk) can get wrong. Each message is one line, safe to print."""

from __future__ import annotations

from round_robin.errors import RoundRobinError


class InvalidInputError(RoundRobinError, ValueError):
    """Operator input the availability rules refuse; nothing is changed."""


class UnknownAgentError(InvalidInputError):
    """No such agent in the account."""

    def __init__(self, agent_id: object) -> None:
        super().__init__(f"unknown agent: {agent_id}")
        self.agent_id = agent_id


class UnknownTimeZoneError(InvalidInputError):
    """Not an IANA time zone (nor, where accepted, a Zendesk time-zone name)."""

    def __init__(self, name: object) -> None:
        super().__init__(f"unknown time zone: {str(name)[:80]!r}")
        self.name = name
