import pytest

from round_robin.errors import SettingsError
from round_robin.settings import DEFAULT_URL_TEMPLATE, load_settings

BASE = {
    "TABLE_NAME": "t", "SECRET_PREFIX": "p/", "ZENDESK_CLIENT_ID": "rr",
    "ZENDESK_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c",
    "STATE_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
}


def test_defaults_and_base_url():
    settings = load_settings(BASE)
    assert settings.zendesk_url_template == DEFAULT_URL_TEMPLATE
    assert settings.zendesk_base_url("acme") == "https://acme.zendesk.com"
    assert settings.public_base_url is None and settings.marketplace is None


@pytest.mark.parametrize("missing", sorted(BASE))
def test_a_missing_variable_is_named(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)


@pytest.mark.parametrize("template", ["https://zendesk.com", "http://{subdomain}.zendesk.com", "ftp://{subdomain}.x"])
def test_a_bad_url_template_is_refused(template):
    with pytest.raises(SettingsError, match="ZENDESK_URL_TEMPLATE"):
        load_settings({**BASE, "ZENDESK_URL_TEMPLATE": template})


def test_plain_http_is_allowed_on_loopback_only():
    settings = load_settings({**BASE, "ZENDESK_URL_TEMPLATE": "http://127.0.0.1:4010/{subdomain}",
                              "PUBLIC_BASE_URL": "http://127.0.0.1:3000/"})
    assert settings.zendesk_base_url("acme") == "http://127.0.0.1:4010/acme"
    assert settings.public_base_url == "http://127.0.0.1:3000"
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        load_settings({**BASE, "PUBLIC_BASE_URL": "http://rr.example.com"})


def test_marketplace_headers_need_all_three_values():
    with pytest.raises(SettingsError, match="ZENDESK_MARKETPLACE_APP_ID"):
        load_settings({**BASE, "ZENDESK_MARKETPLACE_NAME": "RR", "ZENDESK_MARKETPLACE_ORGANIZATION_ID": "1"})
    settings = load_settings({**BASE, "ZENDESK_MARKETPLACE_NAME": "RR", "ZENDESK_MARKETPLACE_ORGANIZATION_ID": "1",
                              "ZENDESK_MARKETPLACE_APP_ID": "2"})
    assert settings.marketplace.as_headers() == {
        "X-Zendesk-Marketplace-Name": "RR", "X-Zendesk-Marketplace-Organization-Id": "1",
        "X-Zendesk-Marketplace-App-Id": "2",
    }


def test_the_events_queue_url_is_read_and_optional():
    assert load_settings(BASE).events_queue_url is None
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/rr-EventsQueue"
    assert load_settings({**BASE, "EVENTS_QUEUE_URL": f" {url} "}).events_queue_url == url


def test_a_function_that_needs_the_events_queue_fails_naming_the_variable(monkeypatch):
    from round_robin import wiring

    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EVENTS_QUEUE_URL", raising=False)
    wiring.reset()
    try:
        with pytest.raises(SettingsError, match="EVENTS_QUEUE_URL"):
            wiring.event_queue()
    finally:
        wiring.reset()


def test_the_pace_defaults_to_zendesks_100_updates_a_minute_and_takes_a_shorter_window():
    settings = load_settings(BASE)
    assert (settings.pace_ticket_updates, settings.pace_window) == (100, 60.0)
    shrunk = load_settings({**BASE, "PACE_TICKET_UPDATES": "7", "PACE_WINDOW_SECONDS": "3"})
    assert (shrunk.pace_ticket_updates, shrunk.pace_window) == (7, 3.0)


@pytest.mark.parametrize("name, value", [("PACE_TICKET_UPDATES", "0"), ("PACE_TICKET_UPDATES", "301"),
                                         ("PACE_TICKET_UPDATES", "9.5"), ("PACE_WINDOW_SECONDS", "0"),
                                         ("PACE_TICKET_UPDATES", "many")])
def test_a_pace_zendesk_would_refuse_is_refused(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**BASE, name: value})


def test_the_connect_import_budget_defaults_to_8_seconds_and_is_bounded():
    assert load_settings(BASE).connect_import_seconds == 8.0
    assert load_settings({**BASE, "CONNECT_IMPORT_SECONDS": "0"}).connect_import_seconds == 0.0
    for bad in ("25", "-1", "soon"):
        with pytest.raises(SettingsError, match="CONNECT_IMPORT_SECONDS"):
            load_settings({**BASE, "CONNECT_IMPORT_SECONDS": bad})


def test_batch_mode_takes_tickets_queued_longer_than_10_seconds_by_default_and_the_setting_is_bounded():
    assert load_settings(BASE).batch_after_seconds == 5.0
    assert load_settings({**BASE, "BATCH_AFTER_SECONDS": "30"}).batch_after_seconds == 30.0
    for bad in ("0", "901", "soon"):
        with pytest.raises(SettingsError, match="BATCH_AFTER_SECONDS"):
            load_settings({**BASE, "BATCH_AFTER_SECONDS": bad})
