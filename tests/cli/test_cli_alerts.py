"""`python -m pipeline alerts`: list the open episodes, acknowledge or snooze one."""

import csv
import io
import json
from decimal import Decimal

import pytest

from pipeline import raw_files
from pipeline.ops.alert_history import delivered_alerts
from pipeline.sites import Site, put_sites


def faulty_file(settings, runner, name: str, hours: range) -> None:
    rows = [
        {"site_id": "site-1", "timestamp": f"2026-11-29T{h:02d}:00:00Z", "energy_generated_kwh": -(1 + h % 3),
         "energy_consumed_kwh": 1 + h % 2}
        for h in hours
    ]  # fmt: skip
    raw_files.upload(settings, f"raw/2026/11/29/{name}", json.dumps(rows).encode())
    runner.drain(timeout=60)


def listed(cli) -> list[dict]:
    code, out = cli("alerts", "list")
    assert code == 0
    return list(csv.DictReader(io.StringIO(out)))


def test_list_ack_and_snooze(cli, settings, runner):
    # with a capacity, -1..-3 kWh an hour is far beyond standby (a site of unknown capacity
    # would learn its first negatives as its standby draw: docs/checks.md)
    put_sites(settings, [Site("site-1", kind="solar", interval_minutes=60, capacity_kw=Decimal(10))])
    faulty_file(settings, runner, "a.json", range(0, 2))
    [row] = listed(cli)
    assert (row["site_id"], row["rule"], row["state"], row["since"], row["count"]) == (
        "site-1", "negative_generation", "active", "2026-11-29T00:00:00Z", "2",
    )  # fmt: skip

    code, out = cli("alerts", "snooze", "site-1", "negative_generation", "--until", "2026-11-29T09:00:00+01:00")
    assert code == 0 and out == "site-1 negative_generation: snoozed until 2026-11-29T08:00:00Z\n"
    faulty_file(settings, runner, "b.json", range(2, 8))  # 07:00 is past the reminder time, before the snooze ends
    assert len(delivered_alerts(settings)) == 1, "snoozed: no reminder"
    faulty_file(settings, runner, "c.json", range(8, 9))
    assert len(delivered_alerts(settings)) == 2, "the snooze ended by itself: a reminder"
    assert listed(cli)[0]["state"] == "active"

    code, out = cli("alerts", "ack", "site-1", "negative_generation")
    assert code == 0 and "acknowledged by arn:aws:" in out, "the AWS caller identity is recorded"
    code, out = cli("alerts", "ack", "site-1", "negative_generation", "--by", "Ana")
    [row] = listed(cli)
    assert (row["state"], row["acknowledged_by"]) == ("acknowledged", "Ana") and row["acknowledged_at"]
    faulty_file(settings, runner, "d.json", range(9, 20))
    assert len(delivered_alerts(settings)) == 2, "acknowledged: no reminder"


def test_marking_an_episode_that_is_not_open_says_so(cli, capsys, settings):
    assert listed(cli) == []
    code, _ = cli("alerts", "ack", "site-9", "negative_generation")
    assert code == 1
    assert capsys.readouterr().err == (
        "error: site site-9 has no open negative_generation episode (it resolved, or never started)\n"
    )


def test_a_snooze_time_that_is_not_a_time_is_refused(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("alerts", "snooze", "site-1", "negative_generation", "--until", "tomorrow")
    assert exited.value.code == 2
    assert "'tomorrow' is not an ISO 8601 time" in capsys.readouterr().err
