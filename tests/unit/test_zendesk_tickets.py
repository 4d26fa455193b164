"""The ticket searches' queries (zendesk/tickets.py), on a fake client that answers one page."""

from __future__ import annotations

from typing import Any

import pytest

from round_robin.zendesk import tickets


class OnePage:
    """Answers every search with the given tickets and no next page; remembers the queries."""

    base_url = "https://acme.zendesk.com"

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self.found = found
        self.queries: list[str] = []

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        assert path == tickets.SEARCH
        self.queries.append(params["query"])
        return {"results": self.found, "next_page": None}


@pytest.mark.parametrize(("statuses", "query"), [
    (("new", "open"), "type:ticket status<pending"),
    (("open",), "type:ticket status>new status<pending"),
    (("new", "open", "pending", "hold"), "type:ticket status<solved"),
    (("open", "hold"), "type:ticket status>new status<solved"),
])
def test_the_counted_statuses_are_one_query_of_documented_operators(statuses, query):
    client = OnePage([])
    assert tickets.in_statuses(client, statuses, 5) == ([], True)
    assert client.queries == [query]


def test_statuses_between_the_counted_ones_are_dropped():
    client = OnePage([{"id": 1, "status": "open"}, {"id": 2, "status": "pending"}, {"id": 3, "status": "hold"}])
    found, complete = tickets.in_statuses(client, ("open", "hold"), 5)
    assert [t["id"] for t in found] == [1, 3] and complete


def test_no_counted_status_asks_nothing():
    client = OnePage([])
    assert tickets.in_statuses(client, ("solved",), 5) == ([], True)
    assert client.queries == []
