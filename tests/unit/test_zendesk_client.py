import pytest
import requests
import responses

from round_robin.errors import (
    ZendeskConflictError,
    ZendeskError,
    ZendeskForbiddenError,
    ZendeskNotFoundError,
    ZendeskRateLimitedError,
    ZendeskUnauthorizedError,
    ZendeskUnavailableError,
    ZendeskUnprocessableError,
)
from round_robin.zendesk import users
from round_robin.zendesk.client import EndpointLimit, RateLimits, ZendeskClient, new_session, rate_limits

BASE = "https://acme.zendesk.com"


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def make_client(max_retry_wait=0.0, extra_headers=None):
    sleeps = Sleeps()
    client = ZendeskClient(BASE, lambda: "Bearer tok", session=new_session(), extra_headers=extra_headers,
                           max_retry_wait=max_retry_wait, sleep=sleeps)
    return client, sleeps


@responses.activate
def test_cursor_pagination_follows_links_next_until_has_more_is_false():
    responses.get(f"{BASE}/api/v2/groups.json", json={
        "groups": [{"id": 1}], "meta": {"has_more": True, "after_cursor": "c1"},
        "links": {"next": f"{BASE}/api/v2/groups.json?page%5Bafter%5D=c1&page%5Bsize%5D=100"}},
        match=[responses.matchers.query_param_matcher({"page[size]": "100"})])
    responses.get(f"{BASE}/api/v2/groups.json", json={
        "groups": [{"id": 2}], "meta": {"has_more": False}, "links": {"next": None}},
        match=[responses.matchers.query_param_matcher({"page[after]": "c1", "page[size]": "100"})])
    client, _ = make_client()
    assert [g["id"] for g in users.groups(client)] == [1, 2]
    assert all(c.request.headers["Authorization"] == "Bearer tok" for c in responses.calls)


@responses.activate
def test_a_pagination_link_to_another_host_is_not_followed():
    responses.get(f"{BASE}/api/v2/groups.json", json={
        "groups": [], "meta": {"has_more": True}, "links": {"next": "https://evil.example/api/v2/groups.json"}})
    client, _ = make_client()
    with pytest.raises(ZendeskError, match="left the account"):
        list(users.groups(client))
    assert len(responses.calls) == 1


@responses.activate
def test_one_page_at_a_time_returns_the_link_to_the_next_so_a_list_can_be_read_across_invocations():
    next_link = f"{BASE}/api/v2/groups.json?page%5Bafter%5D=c1&page%5Bsize%5D=100"
    responses.get(f"{BASE}/api/v2/groups.json", json={
        "groups": [{"id": 1}], "meta": {"has_more": True}, "links": {"next": next_link}},
        match=[responses.matchers.query_param_matcher({"page[size]": "100"})])
    responses.get(f"{BASE}/api/v2/groups.json", json={"groups": [{"id": 2}], "meta": {"has_more": False}},
                  match=[responses.matchers.query_param_matcher({"page[after]": "c1", "page[size]": "100"})])
    client, _ = make_client()

    first, link = client.page(users.GROUPS.path, "groups", users.GROUPS.first_page())
    second, last = client.page(link, "groups")

    assert (first, link, second, last) == ([{"id": 1}], next_link, [{"id": 2}], None)


@responses.activate
def test_a_page_whose_next_link_leaves_the_account_is_refused():
    responses.get(f"{BASE}/api/v2/groups.json", json={
        "groups": [], "meta": {"has_more": True}, "links": {"next": "https://evil.example/api/v2/groups.json?x"}})
    client, _ = make_client()
    with pytest.raises(ZendeskError, match="left the account"):
        client.page(users.GROUPS.path, "groups")


@pytest.mark.parametrize("status", [429, 503])  # a 503 with Retry-After is honoured like a 429
@responses.activate
def test_a_short_retry_after_is_waited_out_within_the_budget(status):
    responses.get(f"{BASE}/api/v2/users/me.json", status=status, headers={"Retry-After": "2"})
    responses.get(f"{BASE}/api/v2/users/me.json", json={"user": {"id": 1}})
    client, sleeps = make_client(max_retry_wait=5)
    assert users.me(client) == {"id": 1}
    assert sleeps == [2.0]


@pytest.mark.parametrize("status", [429, 503])
@responses.activate
def test_a_retry_after_beyond_the_budget_is_raised_for_the_caller_to_reschedule(status):
    responses.put(f"{BASE}/api/v2/tickets/7.json", status=status, headers={"Retry-After": "45"})
    client, sleeps = make_client(max_retry_wait=5)
    with pytest.raises(ZendeskRateLimitedError) as caught:
        client.put("/api/v2/tickets/7.json", {"ticket": {}})
    assert (caught.value.retry_after, caught.value.status) == (45.0, status)
    assert sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_a_503_with_retry_after_on_a_create_is_retried_after_the_wait():
    # Retry-After says the request was not taken: unlike a bare 5xx, even a POST may be sent again
    responses.post(f"{BASE}/api/v2/webhooks", status=503, headers={"Retry-After": "1"})
    responses.post(f"{BASE}/api/v2/webhooks", status=201, json={"webhook": {"id": "w1"}})
    client, sleeps = make_client(max_retry_wait=5)
    assert client.post("/api/v2/webhooks", {"webhook": {"name": "x"}}) == {"webhook": {"id": "w1"}}
    assert sleeps == [1.0]


@responses.activate
def test_server_errors_on_reads_are_retried_with_backoff_then_raised():  # a 503 without Retry-After
    responses.get(f"{BASE}/api/v2/users/me.json", status=503)
    client, sleeps = make_client()
    with pytest.raises(ZendeskUnavailableError):
        users.me(client)
    assert len(responses.calls) == 3 and len(sleeps) == 2


@responses.activate
def test_a_server_error_on_create_is_not_retried():
    responses.post(f"{BASE}/api/v2/webhooks", status=500)
    client, _ = make_client()
    with pytest.raises(ZendeskUnavailableError):
        client.post("/api/v2/webhooks", {"webhook": {"name": "x"}})
    assert len(responses.calls) == 1


@responses.activate
def test_a_timeout_becomes_unavailable():
    responses.get(f"{BASE}/api/v2/users/me.json", body=requests.ReadTimeout("read timed out"))
    client, _ = make_client()
    with pytest.raises(ZendeskUnavailableError, match="ReadTimeout"):
        users.me(client)


@pytest.mark.parametrize("status, error", [
    (401, ZendeskUnauthorizedError), (403, ZendeskForbiddenError), (404, ZendeskNotFoundError),
    (409, ZendeskConflictError), (422, ZendeskUnprocessableError), (400, ZendeskError),
])
@responses.activate
def test_error_statuses_map_to_domain_errors(status, error):
    responses.put(f"{BASE}/api/v2/tickets/1.json", status=status,
                  json={"error": "RecordInvalid", "description": "Record validation errors"})
    client, _ = make_client()
    with pytest.raises(error) as caught:
        client.put("/api/v2/tickets/1.json", {"ticket": {}})
    assert caught.value.status == status
    assert "tok" not in str(caught.value)


@responses.activate
def test_assignable_memberships_are_read_with_cursor_pagination_for_the_account_and_for_one_group():
    page = {"group_memberships": [{"id": 5, "user_id": 10, "group_id": 2}], "meta": {"has_more": False},
            "links": {"next": None}}
    cursor = responses.matchers.query_param_matcher({"page[size]": "100"})
    responses.get(f"{BASE}/api/v2/group_memberships/assignable.json", json=page, match=[cursor])
    responses.get(f"{BASE}/api/v2/groups/2/memberships/assignable.json", json=page, match=[cursor])
    client, _ = make_client()
    assert [m["user_id"] for m in users.assignable_memberships(client)] == [10]
    assert [m["user_id"] for m in users.assignable_memberships_of_group(client, "2")] == [10]


@responses.activate
def test_marketplace_headers_are_sent_on_every_call():
    responses.get(f"{BASE}/api/v2/users/me.json", json={"user": {"id": 1}})
    client, _ = make_client(extra_headers={"X-Zendesk-Marketplace-Name": "RR"})
    users.me(client)
    assert responses.calls[0].request.headers["X-Zendesk-Marketplace-Name"] == "RR"


def test_rate_limit_headers_are_read_as_zendesk_documents_them():
    limits = rate_limits({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699", "ratelimit-reset": "41",
                          "zendesk-ratelimit-tickets-index": "total=100; remaining=99; resets=41",
                          "Retry-After": "12"})

    assert (limits.limit, limits.remaining, limits.reset, limits.retry_after) == (700, 699, 41.0, 12.0)
    assert limits.endpoints == {"tickets-index": EndpointLimit(total=100, remaining=99, resets=41.0)}
    assert not limits.nearly_spent(0.05) and rate_limits({"x-rate-limit": "700",
                                                          "x-rate-limit-remaining": "20"}).nearly_spent(0.05)


def test_the_ticketing_headers_stand_in_for_the_account_ones_and_malformed_values_count_as_absent():
    limits = rate_limits({"ratelimit-limit": "400", "ratelimit-remaining": "3", "Retry-After": "Wed, 21 Oct 2026",
                          "X-Rate-Limit": "-1", "zendesk-ratelimit-x": "total=lots"})
    assert (limits.limit, limits.remaining, limits.retry_after) == (400, 3, None)
    assert limits.endpoints == {"x": EndpointLimit(total=None, remaining=None, resets=None)}
    assert rate_limits({}) == RateLimits() and not RateLimits().nearly_spent(0.05)


@responses.activate
def test_the_client_keeps_the_latest_answers_rate_limits_a_429_included():
    responses.get(f"{BASE}/api/v2/users/me.json", json={"user": {"id": 1}},
                  headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "698"})
    responses.put(f"{BASE}/api/v2/tickets/7.json", status=429,
                  headers={"Retry-After": "30", "X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "0"})
    client, _ = make_client()

    users.me(client)
    assert client.last_limits.remaining == 698
    with pytest.raises(ZendeskRateLimitedError):
        client.put("/api/v2/tickets/7.json", {"ticket": {}})
    assert (client.last_limits.remaining, client.last_limits.retry_after) == (0, 30.0)
