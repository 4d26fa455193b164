"""The trigger body's time placeholders render as Zendesk documents them: ISO 8601 to the minute."""

from round_robin_local.sandbox.triggers import render


def test_time_placeholders_render_to_the_minute(acme):
    ticket = {"id": 7, "created_at": "2026-12-06T23:19:13Z", "updated_at": "2026-12-06T23:20:59Z"}

    rendered = render("{{ticket.created_at_with_timestamp}} {{ticket.updated_at_with_timestamp}}", ticket,
                      acme.account)

    assert rendered == "2026-12-06T23:19Z 2026-12-06T23:20Z"


def test_a_missing_time_renders_empty(acme):
    assert render("[{{ticket.updated_at_with_timestamp}}]", {"id": 7}, acme.account) == "[]"
