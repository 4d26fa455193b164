from round_robin.assignment.rotation import Member, Roster
from round_robin.connect.connections import ConnectionReport
from round_robin.connect.pages import connected_page, message_page


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
