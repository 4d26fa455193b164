from round_robin.assignment.import_job import STALLED_AFTER, ImportProgress
from round_robin.assignment.rotation import Member, Roster
from round_robin.connect.connections import ConnectionReport
from round_robin.connect.pages import connected_page, import_page, message_page


def test_names_from_zendesk_are_escaped():
    report = ConnectionReport("acme", "<b>Ada</b>", False, None,
                              [Roster("1", "<script>x</script>", (Member(1, "Ben & Co"),))], "created", "created")
    html = connected_page(report)
    assert "<script>x" not in html and "&lt;script&gt;" in html and "Ben &amp; Co" in html


def test_migrated_accounts_are_told_the_api_token_was_deleted():
    report = ConnectionReport("acme", "Ada", True, "api_token", [Roster("*", "All agents", ())], "updated", "unchanged")
    assert "API token was deleted" in connected_page(report)
    assert "reconnected" in connected_page(report)


def test_message_pages_escape_their_text():
    assert "&lt;img" in message_page("t", "<img src=x>")


def test_the_page_says_what_became_of_both_webhooks():
    report = ConnectionReport("acme", "Ada", True, None, [Roster("*", "All agents", ())], "unchanged", "unchanged",
                              events_webhook_action="created")
    html = connected_page(report)
    assert "Round Robin for Zendesk&rdquo;: unchanged" in html
    assert "Round Robin for Zendesk: events&rdquo; (agent statuses, changes to people and tickets): created" in html


def progress(**changes) -> ImportProgress:
    fields = {"subdomain": "acme", "status": "running", "phase": "users", "pages": 12, "agents": 1_100, "groups": 7,
              "memberships": 0, "started_at": 1_000, "updated_at": 1_060}
    return ImportProgress(**{**fields, **changes})


def test_a_connect_whose_import_goes_on_links_to_its_progress_and_reloads_there():
    report = ConnectionReport("acme", "Ada", False, None, [], "created", "created", import_id="I" * 43,
                              import_progress=progress())
    html = connected_page(report)
    assert '<meta http-equiv="refresh" content="3;url=import?id=' + "I" * 43 + '">' in html
    assert "So far 1,100 agents and 7 groups imported from acme.zendesk.com" in html
    assert "Rotation rosters" not in html


def test_a_running_import_shows_its_counts_and_reloads_itself():
    html = import_page(progress(error="ZendeskUnavailableError: <503>"), "I" * 43, now=1_100)
    assert "So far 1,100 agents and 7 groups imported" in html and '<meta http-equiv="refresh"' in html
    assert "Retrying after: ZendeskUnavailableError: &lt;503&gt;" in html


def test_a_finished_import_lists_its_groups_and_stops_reloading():
    done = progress(status="done", phase="build", rosters=(("Support <1>", 3), ("Team 1", 1000)), roster_count=60,
                    in_rotation=5_006, finished_at=1_200)
    html = import_page(done, "I" * 43, now=1_300)
    assert "refresh" not in html and "5,006 agents of acme.zendesk.com are in rotation, in 60 group(s)" in html
    assert "<td>Support &lt;1&gt;</td><td>3</td>" in html and "and 58 more group(s)" in html


def test_an_import_that_stopped_moving_says_what_happens_next_and_stops_reloading():
    html = import_page(progress(updated_at=1_000), "I" * 43, now=1_000 + STALLED_AFTER)
    assert "The agent import stopped" in html and "refresh" not in html
    assert "next scheduled maintenance imports its agents" in html
