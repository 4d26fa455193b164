"""Issue 10, connect at scale: an account of 5,000 agents in groups of 1,000 connects within the callback's budget
(counted in Zendesk pages, never in seconds), an import job on the maintenance queue finishes the import from the
page the callback reached, and the progress page shows the counts, then the result. The re-sync at that size, and
the import's shape: pages are streamed, one roster is stored at a time."""

from __future__ import annotations

import inspect
import re
import time
from functools import lru_cache
from typing import Any

import pytest

from round_robin import wiring
from round_robin.assignment.import_job import SUMMARY_ROSTERS, import_key
from round_robin.assignment.roster_import import import_rosters
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member, Roster
from round_robin.aws.queue import IMPORT, MaintenanceJob
from round_robin.connect.connections import Connections
from round_robin_local.sandbox.demo_data import seed_bulk
from tests.integration.flows import connect
from tests.integration.test_refresh_tokens_handler import received_jobs
from tests.integration.test_roster_import import client_for
from tests.support.lambda_env import LambdaContext, http_event, load_handler

AGENTS, GROUP_SIZE = 5000, 1000
DEMO_AGENTS = 6  # the demo account's agents who can take tickets (Support 3, Billing 3)
BUDGET_PAGES = 5  # CONNECT_IMPORT_SECONDS on a clock that moves one second per Zendesk request
LISTS = ("/api/v2/groups.json", "/api/v2/users.json", "/api/v2/group_memberships/assignable.json")
IMPORT_LINK = re.compile(r"import\?id=([A-Za-z0-9_-]{43})")


class ShrinkingContext(LambdaContext):
    """A Lambda context whose time left falls 20 s each time it is asked (once per page): an invocation reads a
    few pages, then leaves the rest to the next job, as a real one does near its timeout."""

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= 20_000
        return self.remaining_ms


def list_pages(zendesk) -> int:
    return sum(len(zendesk.calls("GET", path)) for path in LISTS)


@pytest.fixture
def big_account(aws_env, zendesk, monkeypatch):
    """acme with 5,000 more agents in five groups of 1,000; the connect's clock moves with Zendesk's requests."""
    return _bulk(zendesk, monkeypatch, AGENTS, GROUP_SIZE)


@pytest.fixture
def mid_account(aws_env, zendesk, monkeypatch):
    """acme with 300 more agents in three groups of 100 (still more pages than the callback's budget)."""
    return _bulk(zendesk, monkeypatch, 300, 100)


@pytest.fixture
def demo_account(aws_env, zendesk, monkeypatch):
    """acme as the demo has it: fewer pages than the callback's budget."""
    return _bulk(zendesk, monkeypatch, 0, 1)


def _bulk(zendesk, monkeypatch, agents: int, group_size: int):
    if agents:
        seed_bulk(zendesk.sandbox, zendesk.account(), agents, group_size)
    monkeypatch.setenv("CONNECT_IMPORT_SECONDS", str(BUDGET_PAGES))
    wiring.reset()
    started = time.time()

    def ticking() -> Connections:
        return Connections(tokens=wiring.tokens(), signing_secrets=wiring.signing_secrets(),
                           registry=wiring.registry(), rosters=wiring.rosters(), imports=wiring.imports(),
                           assignments=wiring.assignment_store(), queue=wiring.queue(),
                           jobs=wiring.maintenance_queue(), clock=lambda: started + len(zendesk.mock.calls))

    monkeypatch.setattr(wiring, "connections", lru_cache(maxsize=1)(ticking))
    return zendesk


def progress_page(handler, import_id: str) -> dict[str, Any]:
    return handler.lambda_handler(http_event("GET", "/oauth/import", query={"id": import_id}), LambdaContext())


def run_import_jobs(aws_env) -> int:
    """Consume the maintenance queue's import jobs as Lambda would, until none is left; how many ran."""
    handler, ran = load_handler("maintain_account"), 0
    while records := received_jobs(aws_env):
        assert all(MaintenanceJob.from_json(r["body"]).kind == IMPORT for r in records)
        for record in records:
            answer = handler.lambda_handler({"Records": [record]}, ShrinkingContext(remaining_ms=120_000))
            assert answer == {"batchItemFailures": []}
            ran += 1
    return ran


def test_a_5000_agent_account_connects_within_the_budget_and_a_job_finishes_the_import(big_account, aws_env):
    zendesk = big_account
    callback_handler = load_handler("oauth_callback")

    page, _ = connect(load_handler("oauth_start"), callback_handler, zendesk)

    # the callback answered after reading its budget of pages, out of the ~100 the account needs
    assert page["statusCode"] == 200, page["body"]
    assert list_pages(zendesk) == BUDGET_PAGES
    assert "acme.zendesk.com is connected by Ada Admin" in page["body"]
    assert "So far 0 agents and 7 groups imported" not in page["body"]  # it read agents too, not only groups
    assert '<meta http-equiv="refresh"' in page["body"]
    import_id = IMPORT_LINK.search(page["body"]).group(1)
    assert wiring.registry().get("acme").status == "connected"
    assert wiring.rosters().list("acme") == []  # stored by the job, once every page is read

    # the progress page shows the counts so far
    running = progress_page(callback_handler, import_id)
    assert running["statusCode"] == 200 and '<meta http-equiv="refresh"' in running["body"]
    so_far = re.search(r"So far ([\d,]+) agents and (\d+) groups", running["body"])
    assert so_far and 0 < int(so_far.group(1).replace(",", "")) < AGENTS and so_far.group(2) == "7"

    # the jobs go on from the page the callback reached: each list page is read once in all
    jobs = run_import_jobs(aws_env)
    assert jobs > 1  # a job that runs short of time queues the next
    users_pages = -(-(AGENTS + 10) // 100)  # the demo's 10 users (end user and light agent included) and the bulk
    assert len(zendesk.calls("GET", "/api/v2/users.json")) == users_pages

    rosters = {r.group_name: r for r in wiring.rosters().list("acme")}
    assert [len(rosters[f"Team {n}"].members) for n in range(1, 6)] == [GROUP_SIZE] * 5
    assert len(rosters["All agents"].members) == AGENTS + DEMO_AGENTS
    assert [m.name for m in rosters["Support"].members] == ["Ada Admin", "Ben Agent", "Cleo Agent"]

    done = progress_page(callback_handler, import_id)
    assert done["statusCode"] == 200 and '<meta http-equiv="refresh"' not in done["body"]
    assert "5,006 agents of acme.zendesk.com are in rotation, in 7 group(s)" in done["body"]
    assert "<td>Team 3</td><td>1000</td>" in done["body"]


def test_the_resync_at_5000_agents_changes_only_who_changed(big_account, aws_env):
    zendesk = big_account
    connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)
    run_import_jobs(aws_env)
    team2 = next(g["id"] for g in zendesk.account().groups.values() if g["name"] == "Team 2")
    leaver = next(u for u in zendesk.account().users.values() if u["name"] == "Agent 00007")
    leaver["active"] = False
    newcomer = zendesk.sandbox.add_user(zendesk.account(), "Agent Newcomer", "agent")
    zendesk.sandbox.add_membership(zendesk.account(), newcomer["id"], team2)

    report = wiring.maintainer().maintain(wiring.registry().get("acme"))

    # the leaver left Team 1 and the account-wide roster; the newcomer joined Team 2 and the account-wide one
    assert report.roster_changes == {"joined": 2, "left": 2, "groups": 7}
    rosters = {r.group_name: r for r in wiring.rosters().list("acme")}
    assert rosters["Team 2"].members[-1].name == "Agent Newcomer"  # newcomers join at the end
    assert len(rosters["All agents"].members) == AGENTS + DEMO_AGENTS


def test_the_progress_page_tells_nothing_for_an_id_it_does_not_know(mid_account, aws_env):
    handler = load_handler("oauth_callback")
    page, _ = connect(load_handler("oauth_start"), handler, mid_account)
    import_id = IMPORT_LINK.search(page["body"]).group(1)
    stored = {i["pk"]["S"] for i in aws_env.items() if i["pk"]["S"].startswith("IMPORT#")}

    answers = [progress_page(handler, other) for other in ("x" * 43, "short", import_id[:-1] + "?", "")]
    missing = handler.lambda_handler(http_event("GET", "/oauth/import"), LambdaContext())

    assert stored == {f"IMPORT#{import_key(import_id)}"}  # only the id's hash is kept
    assert {a["statusCode"] for a in [*answers, missing]} == {404}
    assert len({a["body"] for a in [*answers, missing]}) == 1 and "acme" not in missing["body"]
    assert import_id not in str(aws_env.items())


def test_a_zendesk_failure_in_an_import_job_shows_on_the_page_and_the_retry_goes_on(mid_account, aws_env):
    zendesk = mid_account
    handler = load_handler("oauth_callback")
    page, _ = connect(load_handler("oauth_start"), handler, zendesk)
    import_id = IMPORT_LINK.search(page["body"]).group(1)
    # the callback read the groups and the agents; the memberships fail (the client's three tries)
    zendesk.override("GET", r"/api/v2/group_memberships/assignable\.json$", status=503, times=3)

    (record,) = received_jobs(aws_env)
    failed = load_handler("maintain_account").lambda_handler({"Records": [record]}, LambdaContext(remaining_ms=120_000))

    assert failed["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    assert "Retrying after: ZendeskUnavailableError" in progress_page(handler, import_id)["body"]
    # SQS delivers the job again
    answer = load_handler("maintain_account").lambda_handler({"Records": [record]}, LambdaContext(remaining_ms=120_000))
    assert answer == {"batchItemFailures": []}
    assert "306 agents of acme.zendesk.com are in rotation" in progress_page(handler, import_id)["body"]


def test_the_import_streams_pages_and_stores_one_roster_at_a_time(aws_env, zendesk):
    client = client_for(zendesk)
    rosters = import_rosters(client)
    assert inspect.isgenerator(rosters) and not zendesk.calls("GET", "/api/v2/users.json")  # nothing read yet

    stored_when_asked: list[list[str]] = []

    def watched():
        for roster in rosters:
            stored_when_asked.append([r.group_id for r in wiring.rosters().list("acme")])
            yield roster

    synced = wiring.rosters().sync("acme", watched(), time.time())

    # each roster is asked for only once the one before it is stored
    assert stored_when_asked[0] == [] and len(stored_when_asked) == len(synced.rosters) == 3
    assert stored_when_asked[1] == [synced.rosters[0].group_id]
    assert stored_when_asked[2] == sorted(r.group_id for r in synced.rosters[:2])


def test_a_staged_page_holds_only_what_the_rosters_need(mid_account, aws_env):
    connect(load_handler("oauth_start"), load_handler("oauth_callback"), mid_account)
    run_import_jobs(aws_env)

    pages = [i for i in aws_env.items() if i["pk"]["S"].startswith("IMPORT#") and i["sk"]["S"].startswith("PAGE#")]
    (progress,) = [i for i in aws_env.items() if i["pk"]["S"].startswith("IMPORT#") and i["sk"]["S"] == "IMPORT"]

    assert all(len(p["rows"]["L"]) <= 100 for p in pages)  # one Zendesk page each
    assert {len(row["L"]) for p in pages for row in p["rows"]["L"]} == {2}  # [id, name] or [user, group]
    # the import's item holds counts and a short summary, never a list of the account's agents
    assert max(len(value.get("L", [])) for value in progress.values()) <= SUMMARY_ROSTERS


def test_sync_prunes_groups_gone_and_counts_who_left(aws_env):
    store = wiring.rosters()
    store.sync("acme", [Roster("1", "One", (Member(1, "a"), Member(2, "b"))), Roster(ACCOUNT_WIDE, "All", ())], 1.0)

    synced = store.sync("acme", iter([Roster(ACCOUNT_WIDE, "All", (Member(3, "c"),))]), 2.0)

    assert (synced.joined, synced.left) == (1, 2)
    assert [r.group_id for r in store.list("acme")] == [ACCOUNT_WIDE]


def test_an_import_the_callback_finishes_queues_no_job_and_its_page_lists_the_rosters(demo_account, aws_env):
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), demo_account)

    assert page["statusCode"] == 200 and "Rotation rosters" in page["body"] and "refresh" not in page["body"]
    assert received_jobs(aws_env) == []
    (progress,) = [i for i in aws_env.items() if i["pk"]["S"].startswith("IMPORT#") and i["sk"]["S"] == "IMPORT"]
    assert progress["status"]["S"] == "done" and progress["in_rotation"]["N"] == str(DEMO_AGENTS)


def test_an_import_job_naming_another_account_or_a_disconnected_one_does_nothing(mid_account, aws_env):
    connect(load_handler("oauth_start"), load_handler("oauth_callback"), mid_account)
    (record,) = received_jobs(aws_env)
    job = MaintenanceJob.from_json(record["body"])
    calls = len(mid_account.mock.calls)
    maintainer = wiring.maintainer()

    assert maintainer.continue_import(MaintenanceJob("globex", job.run_at, IMPORT, job.import_key)) is None
    wiring.registry().mark_needs_reconnect("acme", "invalid_grant", time.time())
    assert maintainer.continue_import(job).status == "running"  # left as it was

    assert len(mid_account.mock.calls) == calls and received_jobs(aws_env) == []
