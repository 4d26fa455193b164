"""`round-robin hours acme import` against the sandbox's business-hours API (through `responses`): Zendesk's
schedules and holidays as the sandbox serves them become stored hours the selection uses."""

from __future__ import annotations

from round_robin import wiring
from round_robin_cli import main
from round_robin_local.sandbox.schedules import create_holiday, create_schedule


def test_the_sandboxs_schedules_are_imported_with_iana_zones_and_holidays(aws_env, account, capsys):
    zendesk, model = account["zendesk"], account["model"]
    with zendesk.sandbox.lock:
        tokyo = create_schedule(zendesk.sandbox, model, {"name": "Asia", "time_zone": "Tokyo"})  # default: 9 to 5
        create_holiday(zendesk.sandbox, model.schedules[tokyo["id"]],
                       {"name": "New Year", "start_date": "2027-01-01", "end_date": "2027-01-03"})
    support = str(account["groups"]["Support"])

    code = main(["hours", "acme", "import", "--only", str(tokyo["id"]), "--groups", support])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asia,) = wiring.policies().get("acme")[1]
    assert (asia.id, asia.name, asia.time_zone) == (f"zendesk:{tokyo['id']}", "Asia", "Asia/Tokyo")
    assert asia.intervals == tuple((d * 1440 + 540, d * 1440 + 1020) for d in range(1, 6))
    assert asia.holidays == (("2027-01-01", "2027-01-03"),) and asia.group_ids == (support,)
    assert len(zendesk.calls("GET", "/business_hours/schedules")) == 2  # the schedule, its holidays


def test_a_schedule_the_sandbox_does_not_have_stores_nothing(aws_env, account, capsys):
    code = main(["hours", "acme", "import", "--only", "123456"])

    captured = capsys.readouterr()
    assert code == 1 and captured.err.strip() == "round-robin: acme has no Zendesk schedule 123456; nothing changed"
    assert wiring.policies().get("acme")[1] == ()
