"""The Zendesk sandbox behaves as ../docs (Zendesk's documentation) says, independently of the service."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.app import SandboxApp
from round_robin_local.sandbox.deliveries import sign
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from round_robin_local.sandbox.triggers import render
from round_robin_local.serving import LoopbackServer

REDIRECT = "http://127.0.0.1:3000/oauth/callback"
VERIFIER = "v" * 43


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def zd():
    sandbox = Sandbox(auto_approve=True)
    sandbox.create_account("acme")
    app = SandboxApp(sandbox)
    yield sandbox, app, Client(app)
    app.dispatcher.shutdown()


def authorize(client, **extra):
    params = {"response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT,
              "scope": "read tickets:write webhooks:write triggers:write", "state": "s1",
              "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256", **extra}
    answer = client.get("/acme/oauth/authorizations/new", query_string=params)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def exchange(client, code, verifier=VERIFIER, **extra):
    body = {"grant_type": "authorization_code", "code": code, "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "redirect_uri": REDIRECT, "code_verifier": verifier, **extra}
    return client.post("/acme/oauth/tokens", json=body)


def token(client, **extra):
    answer = exchange(client, authorize(client)["code"], **extra)
    assert answer.status_code == 200
    return answer.json


def auth(access_token):
    return {"Authorization": f"Bearer {access_token}"}


# -- OAuth ---------------------------------------------------------------------------------------------

def test_code_exchange_returns_tokens_with_default_lifetimes(zd):
    _, _, client = zd
    tokens = token(client, expires_in=1800)  # expires_in is answered only when asked for (test_sandbox_tokens.py)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == pytest.approx(1800, abs=2)
    assert tokens["refresh_token_expires_in"] == pytest.approx(30 * 86400, abs=2)


def test_codes_are_single_use_and_need_the_right_verifier(zd):
    _, _, client = zd
    code = authorize(client)["code"]
    assert exchange(client, code, verifier="w" * 43).json["error"] == "invalid_grant"
    assert exchange(client, code).status_code == 400  # spent by the failed attempt
    code = authorize(client)["code"]
    assert exchange(client, code).status_code == 200
    assert exchange(client, code).json["error"] == "invalid_grant"


def test_codes_expire_after_120_seconds(zd):
    sandbox, _, client = zd
    code = authorize(client)["code"]
    sandbox.clock.offset += 121
    assert exchange(client, code).json["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(zd):
    _, _, client = zd
    answer = exchange(client, authorize(client)["code"], client_secret="nope")
    assert answer.status_code == 401 and answer.json["error"] == "invalid_client"


def test_refresh_rotates_and_deletes_the_previous_access_and_refresh_tokens(zd):
    _, _, client = zd
    first = token(client)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
               "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    second = client.post("/acme/oauth/tokens", json=refresh)
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/acme/api/v2/users/me.json", headers=auth(first["access_token"])).status_code == 401
    assert client.post("/acme/oauth/tokens", json=refresh).json["error"] == "invalid_grant"
    assert client.get("/acme/api/v2/users/me.json", headers=auth(second.json["access_token"])).status_code == 200


def test_access_tokens_expire_after_the_requested_lifetime(zd):
    sandbox, _, client = zd
    short = token(client, expires_in=300)  # the 5-minute minimum (bounds: test_sandbox_tokens.py)
    assert short["expires_in"] == pytest.approx(300, abs=2)
    sandbox.clock.offset += 301
    assert client.get("/acme/api/v2/users/me.json", headers=auth(short["access_token"])).status_code == 401


def test_denied_consent_redirects_with_access_denied(zd):
    sandbox, _, client = zd
    sandbox.auto_approve = False
    page = client.get("/acme/oauth/authorizations/new", query_string={
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read",
        "state": "s2"})
    assert page.status_code == 200 and "Allow" in page.get_data(as_text=True)
    answer = client.post("/acme/oauth/authorizations/new", data={
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read",
        "state": "s2", "decision": "deny"})
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s2"]


def test_an_unregistered_redirect_uri_is_refused_without_redirect(zd):
    _, _, client = zd
    answer = client.get("/acme/oauth/authorizations/new", query_string={
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": "https://evil.example/cb",
        "scope": "read"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_scopes_are_enforced(zd):
    _, _, client = zd
    reader = exchange(client, authorize(client, scope="read")["code"]).json
    answer = client.post("/acme/api/v2/webhooks", headers=auth(reader["access_token"]), json={"webhook": {}})
    assert answer.status_code == 403


def test_a_token_is_issued_for_an_unknown_scope_and_every_call_with_it_is_forbidden(zd):
    _, _, client = zd
    query = authorize(client, scope="read groups:read")  # there is no groups scope
    assert "error" not in query
    answer = exchange(client, query["code"])
    assert answer.status_code == 200 and answer.json["scope"] == "read groups:read"
    for path in ("/acme/api/v2/users/me.json", "/acme/api/v2/groups.json", "/acme/api/v2/oauth/tokens/current.json"):
        forbidden = client.get(path, headers=auth(answer.json["access_token"]))
        assert forbidden.status_code == 403, path
        assert forbidden.json["error"]["title"] == "Forbidden"


def test_api_tokens_work_with_basic_auth(zd):
    sandbox, _, client = zd
    account = sandbox.accounts["acme"]
    ada = next(u for u in account.users.values() if u["name"] == "Ada Admin")
    account.api_tokens["api-token-1"] = ada["id"]
    basic = base64.b64encode(f"{ada['email']}/token:api-token-1".encode()).decode()
    assert client.get("/acme/api/v2/users/me.json", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = base64.b64encode(f"{ada['email']}/token:nope".encode()).decode()
    assert client.get("/acme/api/v2/users/me.json", headers={"Authorization": f"Basic {wrong}"}).status_code == 401


def _token_id(client, access_token):
    return client.get("/acme/api/v2/oauth/tokens/current.json", headers=auth(access_token)).json["token"]["id"]


def test_revoking_a_token_needs_the_broad_write_scope(zd):
    # Zendesk: a token with only resource scopes cannot revoke through the API (community post 4627188332186)
    _, _, client = zd
    narrow = token(client)["access_token"]  # read tickets:write webhooks:write triggers:write

    answer = client.delete(f"/acme/api/v2/oauth/tokens/{_token_id(client, narrow)}.json", headers=auth(narrow))

    assert answer.status_code == 403
    assert answer.json["error"]["title"] == "Forbidden"
    assert client.get("/acme/api/v2/users/me.json", headers=auth(narrow)).status_code == 200  # still valid


def test_a_token_with_write_revokes_by_id_and_is_then_refused(zd):
    _, _, client = zd
    broad = exchange(client, authorize(client, scope="read write")["code"]).json["access_token"]

    answer = client.delete(f"/acme/api/v2/oauth/tokens/{_token_id(client, broad)}.json", headers=auth(broad))

    assert answer.status_code == 204
    assert client.get("/acme/api/v2/users/me.json", headers=auth(broad)).status_code == 401


def test_an_api_token_revokes_an_oauth_token_by_id(zd):
    sandbox, _, client = zd
    account = sandbox.accounts["acme"]
    ada = next(u for u in account.users.values() if u["name"] == "Ada Admin")
    account.api_tokens["api-token-1"] = ada["id"]
    basic = {"Authorization": "Basic " + base64.b64encode(f"{ada['email']}/token:api-token-1".encode()).decode()}
    narrow = token(client)["access_token"]

    answer = client.delete(f"/acme/api/v2/oauth/tokens/{_token_id(client, narrow)}.json", headers=basic)

    assert answer.status_code == 204
    assert client.get("/acme/api/v2/users/me.json", headers=auth(narrow)).status_code == 401


def test_deleting_current_json_needs_write_and_answers_204_without_revoking(zd):
    _, _, client = zd
    narrow = token(client)["access_token"]
    broad = exchange(client, authorize(client, scope="read write")["code"]).json["access_token"]

    assert client.delete("/acme/api/v2/oauth/tokens/current.json", headers=auth(narrow)).status_code == 403
    assert client.delete("/acme/api/v2/oauth/tokens/current.json", headers=auth(broad)).status_code == 204
    assert client.get("/acme/api/v2/users/me.json", headers=auth(broad)).status_code == 200  # as reported


# -- lists -----------------------------------------------------------------------------------------------

def test_cursor_pagination_visits_every_record_once(zd):
    _, _, client = zd
    access = token(client)["access_token"]
    seen, url, query = [], "/acme/api/v2/users.json", {"page[size]": "2", "role[]": ["agent", "admin"]}
    while True:
        page = client.get(url, query_string=query, headers=auth(access)).json
        seen += [u["id"] for u in page["users"]]
        if not page["meta"]["has_more"]:
            break
        parts = urlsplit(page["links"]["next"])
        url, query = parts.path, parts.query
    assert len(seen) == len(set(seen)) == 9  # every agent and admin (the light agent too), the end user left out


def test_users_carry_role_type_null_for_a_plain_agent_and_1_for_a_light_agent(api):
    _, client, headers, _, users = api
    ben = client.get(f"/acme/api/v2/users/{users['Ben Agent']}.json", headers=headers).json["user"]
    lena = client.get(f"/acme/api/v2/users/{users['Lena Light']}.json", headers=headers).json["user"]
    assert (ben["role"], ben["role_type"]) == ("agent", None)
    assert (lena["role"], lena["role_type"]) == ("agent", 1)


def test_show_many_users_returns_the_requested_users_and_refuses_more_than_100_ids(api):
    _, client, headers, _, users = api
    wanted = sorted([users["Ben Agent"], users["Lena Light"]])
    answer = client.get("/acme/api/v2/users/show_many.json", headers=headers,
                        query_string={"ids": ",".join(map(str, [*wanted, 99]))})
    assert answer.status_code == 200 and sorted(u["id"] for u in answer.json["users"]) == wanted
    too_many = client.get("/acme/api/v2/users/show_many.json", headers=headers,
                          query_string={"ids": ",".join(str(i) for i in range(1, 102))})
    assert too_many.status_code == 400


def listed(client, headers, path):
    """Every record of a cursor-paginated list of memberships, one per page to exercise the cursor."""
    found, url, query = [], path, {"page[size]": "1"}
    while True:
        page = client.get(url, query_string=query, headers=headers)
        assert page.status_code == 200, page.json
        found += page.json["group_memberships"]
        if not page.json["meta"]["has_more"]:
            return found
        parts = urlsplit(page.json["links"]["next"])
        url, query = parts.path, parts.query


def test_assignable_memberships_leave_out_light_agents_and_people_who_cannot_take_tickets(api):
    sandbox, client, headers, groups, users = api
    account = sandbox.accounts["acme"]
    names = {u["id"]: u["name"] for u in account.users.values()}
    everyone = {(names[m["user_id"]], m["group_id"]) for m in account.memberships.values()}
    assignable = {(names[m["user_id"]], m["group_id"])
                  for m in listed(client, headers, "/acme/api/v2/group_memberships/assignable.json")}
    assert everyone - assignable == {("Lena Light", groups["Support"]), ("Finn Suspended", groups["Support"]),
                                     ("Gus Inactive", groups["Support"])}
    support = listed(client, headers, f"/acme/api/v2/groups/{groups['Support']}/memberships/assignable.json")
    assert sorted(names[m["user_id"]] for m in support) == ["Ada Admin", "Ben Agent", "Cleo Agent"]
    assert {"id", "user_id", "group_id", "default", "created_at", "updated_at", "url"} <= set(support[0])


def test_a_users_group_memberships_are_listed_by_user_assignable_or_not_and_an_unknown_user_is_404(api):
    sandbox, client, headers, groups, users = api
    lena = listed(client, headers, f"/acme/api/v2/users/{users['Lena Light']}/group_memberships.json")
    assert [(m["user_id"], m["group_id"]) for m in lena] == [(users["Lena Light"], groups["Support"])]
    assert listed(client, headers, f"/acme/api/v2/users/{users['Hana Customer']}/group_memberships.json") == []
    assert client.get("/acme/api/v2/users/999999/group_memberships.json", headers=headers).status_code == 404


# -- tickets ---------------------------------------------------------------------------------------------

@pytest.fixture
def api(zd):
    sandbox, app, client = zd
    access = token(client)["access_token"]
    account = sandbox.accounts["acme"]
    groups = {g["name"]: g["id"] for g in account.groups.values()}
    users = {u["name"]: u["id"] for u in account.users.values()}
    return sandbox, client, auth(access), groups, users


def create_ticket(client, headers, **fields):
    answer = client.post("/acme/api/v2/tickets.json", headers=headers, json={"ticket": {"subject": "Hi", **fields}})
    assert answer.status_code == 201, answer.json
    return answer.json["ticket"]


def test_safe_update_with_a_stale_stamp_is_409(api):
    sandbox, client, headers, groups, users = api
    ticket = create_ticket(client, headers, group_id=groups["Support"])
    sandbox.clock.offset += 2
    client.put(f"/acme/api/v2/tickets/{ticket['id']}.json", headers=headers, json={"ticket": {"status": "open"}})
    answer = client.put(f"/acme/api/v2/tickets/{ticket['id']}.json", headers=headers, json={"ticket": {
        "assignee_id": users["Ben Agent"], "safe_update": True, "updated_stamp": ticket["updated_at"]}})
    assert answer.status_code == 409


def put_ticket(client, headers, ticket, **changes):
    return client.put(f"/acme/api/v2/tickets/{ticket['id']}", headers=headers, json={"ticket": changes})


def assignee_error(answer) -> str:
    """The description Zendesk's 422 RecordInvalid gives for the assignee."""
    assert answer.status_code == 422 and answer.json["error"] == "RecordInvalid"
    return answer.json["details"]["assignee"][0]["description"]


def test_an_assignee_outside_the_group_is_422_and_a_closed_ticket_cannot_change(api):
    _, client, headers, groups, users = api
    ticket = create_ticket(client, headers, group_id=groups["Support"])
    outsider = put_ticket(client, headers, ticket, assignee_id=users["Dev Agent"])
    assert assignee_error(outsider) == "Assignee: is not a member of the group"
    put_ticket(client, headers, ticket, status="closed")
    assert put_ticket(client, headers, ticket, assignee_id=users["Ben Agent"]).status_code == 422


def test_a_light_agent_cannot_be_assigned_a_ticket_even_in_their_own_group(api):
    _, client, headers, groups, users = api
    ticket = create_ticket(client, headers, group_id=groups["Support"])
    assert assignee_error(put_ticket(client, headers, ticket, assignee_id=users["Lena Light"])) == \
        "Assignee: is invalid"
    refused = client.post("/acme/api/v2/tickets.json", headers=headers, json={"ticket": {
        "subject": "Hi", "group_id": groups["Support"], "assignee_id": users["Lena Light"]}})
    assert refused.status_code == 422
    assert client.get(f"/acme/api/v2/tickets/{ticket['id']}", headers=headers).json["ticket"]["assignee_id"] is None


def test_ticket_updates_are_rate_limited_with_retry_after(api):
    sandbox, client, headers, groups, users = api
    sandbox.accounts["acme"].update_window.limit = 3
    ticket = create_ticket(client, headers)
    statuses = [client.put(f"/acme/api/v2/tickets/{ticket['id']}", headers=headers,
                           json={"ticket": {"tags": [str(i)]}}) for i in range(4)]
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
    # Zendesk documents no header for this limit: the 429 carries the account-wide ones, as every answer does
    # (developer.zendesk.com/api-reference/introduction/rate-limits/#monitoring-your-request-activity)
    for answer in statuses:
        assert answer.headers["X-Rate-Limit"] == answer.headers["ratelimit-limit"] == "700"
        assert answer.headers["X-Rate-Limit-Remaining"] == answer.headers["ratelimit-remaining"]
        assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
    assert int(statuses[-1].headers["X-Rate-Limit-Remaining"]) > 0
    sandbox.clock.offset += 61
    assert client.put(f"/acme/api/v2/tickets/{ticket['id']}", headers=headers,
                      json={"ticket": {"tags": ["x"]}}).status_code == 200


def test_the_account_rate_limit_answers_429_with_headers(api):
    sandbox, client, headers, *_ = api
    sandbox.accounts["acme"].account_window.limit = 2
    codes = [client.get("/acme/api/v2/users/me.json", headers=headers) for _ in range(3)]
    assert [c.status_code for c in codes] == [200, 200, 429]
    assert codes[-1].headers["X-Rate-Limit"] == "2" and "Retry-After" in codes[-1].headers


def test_update_many_runs_as_a_job_with_per_ticket_results(api):
    _, client, headers, groups, users = api
    good = create_ticket(client, headers, group_id=groups["Billing"])
    bad = create_ticket(client, headers, group_id=groups["Support"])
    job = client.put("/acme/api/v2/tickets/update_many.json", headers=headers, json={"tickets": [
        {"id": good["id"], "assignee_id": users["Eve Agent"]}, {"id": bad["id"], "assignee_id": users["Eve Agent"]}],
    }).json["job_status"]
    deadline = time.monotonic() + 10
    while job["status"] != "completed" and time.monotonic() < deadline:
        job = client.get(f"/acme/api/v2/job_statuses/{job['id']}.json", headers=headers).json["job_status"]
    assert job["status"] == "completed"
    assert [(r["id"], r["success"]) for r in job["results"]] == [(good["id"], True), (bad["id"], False)]


def test_search_finds_unassigned_open_work(api):
    _, client, headers, groups, users = api
    waiting = create_ticket(client, headers, group_id=groups["Support"])
    create_ticket(client, headers, group_id=groups["Support"], assignee_id=users["Ben Agent"])
    solved = create_ticket(client, headers)
    client.put(f"/acme/api/v2/tickets/{solved['id']}", headers=headers, json={"ticket": {"status": "solved"}})
    found = client.get("/acme/api/v2/search.json", headers=headers,
                       query_string={"query": "type:ticket status<solved assignee:none"}).json
    assert [r["id"] for r in found["results"]] == [waiting["id"]]


def test_search_finds_an_agents_tickets_by_id_and_status(api):
    _, client, headers, groups, users = api
    ben = users["Ben Agent"]
    new = create_ticket(client, headers, group_id=groups["Support"], assignee_id=ben, status="new")
    opened = create_ticket(client, headers, group_id=groups["Support"], assignee_id=ben)
    create_ticket(client, headers, group_id=groups["Support"], assignee_id=ben, status="pending")
    create_ticket(client, headers, group_id=groups["Support"], assignee_id=users["Cleo Agent"], status="new")

    def found(terms: str) -> list[int]:
        answer = client.get("/acme/api/v2/search.json", headers=headers, query_string={"query": terms}).json
        return sorted(r["id"] for r in answer["results"])

    assert found(f"type:ticket assignee:{ben} status:new") == [new["id"]]
    assert found(f"type:ticket assignee:{ben} status<pending") == [new["id"], opened["id"]]


def many_tickets(zd, count: int) -> list[int]:
    """`count` unassigned tickets created one second apart (straight into the model: no rate limit)."""
    sandbox, app, _ = zd
    account = sandbox.accounts["acme"]
    customer = next(u["id"] for u in account.users.values() if u["role"] == "end-user")
    ids = []
    with sandbox.lock:
        for _ in range(count):
            sandbox.clock.offset += 1
            ids.append(app.create_ticket(account, {"subject": "x"}, customer, channel="web")["id"])
    return ids


def search(client, headers, **params):
    return client.get("/acme/api/v2/search.json", headers=headers,
                      query_string={"query": "type:ticket status<solved assignee:none", **params})


def test_search_pages_100_results_at_a_time_and_counts_them_all(zd, api):
    _, client, headers, *_ = api
    created = many_tickets(zd, 250)

    first = search(client, headers).json
    seen, page, pages = [], first, 0
    while page is not None:
        pages += 1
        seen += [r["id"] for r in page["results"]]
        next_page = page["next_page"]
        page = client.get(next_page, headers=headers).json if next_page else None

    assert first["count"] == 250 and len(first["results"]) == 100 and first["previous_page"] is None
    assert pages == 3 and sorted(seen) == created


def test_search_returns_at_most_1000_results_and_a_page_past_them_is_422(zd, api):
    _, client, headers, *_ = api
    many_tickets(zd, 1001)

    tenth = search(client, headers, page=10)
    past = search(client, headers, page=11)
    past_by_size = search(client, headers, page=21, per_page=50)

    assert tenth.status_code == 200 and len(tenth.json["results"]) == 100
    assert tenth.json["count"] == 1001  # the real count, though only 1,000 can be read
    assert search(client, headers, page=20, per_page=50).status_code == 200
    for answer in (past, past_by_size):
        assert answer.status_code == 422
        assert answer.json == {"error": "invalid",
                               "description": "Invalid search: Requested response size was greater than "
                                              "Search Response Limits"}
    assert search(client, headers, per_page=500).json["results"].__len__() == 100  # at most 100 a page


def test_search_sorts_by_creation_time_and_narrows_by_created_after(zd, api):
    sandbox, client, headers, *_ = api
    created = many_tickets(zd, 5)
    newest_first = search(client, headers, sort_by="created_at").json["results"]  # sort_order defaults to desc
    oldest_first = search(client, headers, sort_by="created_at", sort_order="asc").json["results"]
    after = sandbox.accounts["acme"].tickets[created[2]]["created_at"]
    narrowed = client.get("/acme/api/v2/search.json", headers=headers, query_string={
        "query": f"type:ticket assignee:none created>{after}", "sort_by": "created_at", "sort_order": "asc"}).json

    assert [r["id"] for r in newest_first] == created[::-1]
    assert [r["id"] for r in oldest_first] == created
    assert [r["id"] for r in narrowed["results"]] == created[3:]


def test_search_with_a_page_that_is_not_a_number_is_400(api):
    _, client, headers, *_ = api
    answer = search(client, headers, page="two")
    assert answer.status_code == 400 and "page must be an integer" in answer.json["error"]["message"]


def test_injected_faults_answer_the_given_status_a_given_number_of_times(api):
    _, client, headers, *_ = api
    client.post("/_sandbox/accounts/acme/faults", json={"method": "GET", "path": "/api/v2/users/me", "status": 503,
                                                         "count": 2})
    codes = [client.get("/acme/api/v2/users/me.json", headers=headers).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


# -- webhooks and triggers -------------------------------------------------------------------------------

def test_signature_matches_zendesks_documented_test_vector():
    body = b'{"event_type": "foo.bar","data": {"key": "value"}}'
    assert sign("dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==", "1531420618", body) == \
        "qtmu3iClLKujnujOBkwe7yjI34o5CzsLD04Uy4LbE2A="


def test_placeholders_render_as_text_and_empty_when_missing(zd):
    sandbox, _, _ = zd
    ticket = {"id": 7, "group_id": None, "assignee_id": None, "status": "new", "tags": ["a", "b"]}
    rendered = render('{"id":"{{ticket.id}}","g":"{{ticket.group.id}}","s":"{{ticket.status}}","x":"{{ticket.nope}}"}',
                      ticket, sandbox.accounts["acme"])
    assert json.loads(rendered) == {"id": "7", "g": "", "s": "New", "x": ""}


def test_a_matching_trigger_delivers_a_signed_webhook(api):
    sandbox, client, headers, groups, _ = api
    received = []
    arrived = threading.Event()

    def receiver(environ, start_response):
        request = Request(environ)
        received.append((dict(request.headers), request.get_data()))
        arrived.set()
        return Response("ok")(environ, start_response)

    server = LoopbackServer(receiver)
    server.start()
    try:
        webhook = client.post("/acme/api/v2/webhooks", headers=headers, json={"webhook": {
            "name": "hook", "status": "active", "endpoint": f"{server.url}/hook", "http_method": "POST",
            "request_format": "json", "subscriptions": ["conditional_ticket_events"]}}).json["webhook"]
        secret = client.get(f"/acme/api/v2/webhooks/{webhook['id']}/signing_secret",
                            headers=headers).json["signing_secret"]["secret"]
        trigger = client.post("/acme/api/v2/triggers.json", headers=headers, json={"trigger": {
            "title": "new", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                                                   {"field": "assignee_id", "operator": "is", "value": ""}]},
            "actions": [{"field": "notification_webhook",
                         "value": [webhook["id"], '{"ticket_id":"{{ticket.id}}"}']}]}})
        assert trigger.status_code == 201
        ticket = create_ticket(client, headers, group_id=groups["Support"])
        assert arrived.wait(10), "no delivery within 10 s"
    finally:
        server.stop()

    (request_headers, body) = received[0]
    assert json.loads(body) == {"ticket_id": str(ticket["id"])}
    timestamp = request_headers["X-Zendesk-Webhook-Signature-Timestamp"]
    assert request_headers["X-Zendesk-Webhook-Signature"] == sign(secret, timestamp, body)
    assert request_headers["X-Zendesk-Webhook-Id"] == webhook["id"]
    assert request_headers["X-Zendesk-Webhook-Invocation-Id"]


def test_resetting_a_signing_secret_answers_201_with_the_new_secret(api):
    _, client, headers, *_ = api
    webhook = client.post("/acme/api/v2/webhooks", headers=headers, json={"webhook": {
        "name": "hook", "status": "active", "endpoint": "https://example.com/hook", "http_method": "POST",
        "request_format": "json", "subscriptions": ["conditional_ticket_events"]}}).json["webhook"]
    path = f"/acme/api/v2/webhooks/{webhook['id']}/signing_secret"
    before = client.get(path, headers=headers).json["signing_secret"]["secret"]
    reset = client.post(path, headers=headers)
    assert reset.status_code == 201 and reset.json["signing_secret"]["algorithm"] == "SHA256"
    assert reset.json["signing_secret"]["secret"] != before
    assert client.get(path, headers=headers).json["signing_secret"]["secret"] == reset.json["signing_secret"]["secret"]


def test_a_trigger_with_an_unknown_condition_is_refused(api):
    _, client, headers, *_ = api
    answer = client.post("/acme/api/v2/triggers.json", headers=headers, json={"trigger": {
        "title": "x", "conditions": {"all": [{"field": "nonsense", "operator": "is", "value": "1"}]},
        "actions": [{"field": "status", "value": "open"}]}})
    assert answer.status_code == 422


def test_bulk_agents_come_in_groups_of_the_size_asked_each_agent_in_one_group_as_their_default(acme):
    assert acme.control("POST", "bulk-agents", {"agents": 250, "group_size": 100}, status=201) == {
        "agents": 250, "groups": 3}

    teams = {g["id"]: g["name"] for g in acme.account.groups.values() if g["name"].startswith("Team ")}
    members = [m for m in acme.account.memberships.values() if m["group_id"] in teams]
    sizes = sorted(sum(1 for m in members if m["group_id"] == gid) for gid in teams)
    assert sorted(teams.values()) == ["Team 1", "Team 2", "Team 3"] and sizes == [50, 100, 100]
    assert all(m["default"] and acme.account.users[m["user_id"]]["default_group_id"] == m["group_id"]
               for m in members)
    listed = acme.client.get("/acme/api/v2/group_memberships/assignable.json", query_string={"page[size]": "100"},
                             headers=acme.admin)
    assert listed.status_code == 200 and listed.json["meta"]["has_more"] is True


@pytest.mark.parametrize("body", [{}, {"agents": 0}, {"agents": "many"}, {"agents": 5, "group_size": 0}])
def test_a_bulk_of_agents_needs_a_positive_count_and_group_size(acme, body):
    before = len(acme.account.users)
    acme.control("POST", "bulk-agents", body, status=400)
    assert len(acme.account.users) == before
