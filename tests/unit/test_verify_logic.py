"""The pure middle of verify and rebuild-rollups: records in, expected rollups, differences
and findings out, no AWS."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pipeline.file_outcomes import FileOutcome
from pipeline.ops.verify import (
    Finding,
    Report,
    alert_findings,
    file_state,
    ledger_findings,
    render,
)
from pipeline.raw_files import RawObject
from pipeline.records import derive
from pipeline.rollup_rebuild import differences, expected_days, rebuilt_item
from pipeline.validation import Reading

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def record(ts, gen, cons, reasons=(), site="site-1", key="raw/a.json"):
    return derive(Reading(site, ts, Decimal(gen), Decimal(cons)), reasons, key, "2026-11-29T12:00:00Z")


def test_expected_days_sum_the_records_per_site_day_and_hour():
    days = expected_days(
        [
            record("2026-11-29T06:00:00Z", "3", "5", ("x",)),
            record("2026-11-29T06:15:00Z", "4", "1"),
            record("2026-11-30T00:00:00Z", "1", "1", site="site-2"),
        ]
    )
    assert set(days) == {("site-1", "2026-11-29"), ("site-2", "2026-11-30")}
    six = days[("site-1", "2026-11-29")]["06"]
    assert six == {
        "generated_kwh": Decimal(7),
        "consumed_kwh": Decimal(6),
        "net_kwh": Decimal(1),
        "self_supplied_kwh": Decimal(4),  # min(3, 5) + min(4, 1)
        "readings": Decimal(2),
        "anomalies": Decimal(1),
    }


def test_differences_ignore_missing_intervals_and_treat_absent_as_zero():
    expected = expected_days([record("2026-11-29T06:00:00Z", "3", "1")])[("site-1", "2026-11-29")]
    stored = {"06": {**expected["06"], "missing_intervals": Decimal(2)}, "07": {"missing_intervals": Decimal(4)}}
    assert differences("site-1", "2026-11-29", stored, expected) == []
    stored["06"] = {**stored["06"], "readings": Decimal(2)}
    [diff] = differences("site-1", "2026-11-29", stored, expected)
    assert (diff.hour, diff.measure, diff.stored, diff.expected) == ("06", "readings", Decimal(2), Decimal(1))
    assert [d.hour for d in differences("site-1", "2026-11-29", {}, expected)] == ["06"] * 5  # anomalies 0 = 0


def test_a_rebuilt_item_keeps_missing_intervals_drops_stale_hours_and_change_tokens():
    expected = expected_days([record("2026-11-29T06:00:00Z", "3", "1")])[("site-1", "2026-11-29")]
    stored = {
        "site_id": "site-1",
        "day": "2026-11-29",
        "applied_changes": {"t1"},
        "change": "t2",
        "hours": {"06": {"readings": Decimal(9), "missing_intervals": Decimal(1)}, "08": {"readings": Decimal(1)}},
    }
    item = rebuilt_item(stored, "site-1", "2026-11-29", expected)
    assert "applied_changes" not in item and "change" not in item, "a rebuilt day is nobody's running sum"
    assert set(item["hours"]) == {"06"}
    assert item["hours"]["06"]["readings"] == 1 and item["hours"]["06"]["missing_intervals"] == 1
    assert stored["hours"]["06"]["readings"] == 9, "the stored item is not changed in place"


def obj(key="raw/2026/11/29/a.json", etag="v1", age=timedelta(hours=1)):
    return RawObject(key, 10, NOW - age, etag)


def outcome(status="processed", version="v1", readings=2, key="raw/2026/11/29/a.json"):
    return FileOutcome(source_key=key, version=version, status=status, processed_at="x", readings=readings)


def test_file_state():
    assert file_state(obj(), outcome(), False, False, NOW, 300) == "ok"
    assert file_state(obj(), outcome("quarantined"), False, False, NOW, 300) == "ok"
    assert file_state(obj(), None, True, False, NOW, 300) == "dead"
    assert file_state(obj(age=timedelta(seconds=10)), None, False, False, NOW, 300) == "pending"
    assert file_state(obj(), None, False, True, NOW, 300) == "pending", "the queue still holds messages"
    assert "no outcome" in file_state(obj(), None, False, False, NOW, 300)
    assert "older version" in file_state(obj(etag="v2"), outcome(), False, False, NOW, 300)


def test_ledger_findings():
    outcomes = {"a": outcome(key="a"), "q": outcome("quarantined", key="q"), "p": outcome("partial", key="p")}
    found = ledger_findings({"a": 3, "p": 2, "q": 1, "gone": 1}, outcomes)
    assert {f.subject: f.problem for f in found} == {
        "a": "3 records name this file, which stored only 2 readings",
        "q": "1 record names this file, whose outcome is quarantined",
        "gone": "1 record names this file, which has no outcome",
    }
    assert [f.subject for f in ledger_findings({"big": 40}, {}, pending={"big"})] == [], "still being stored"


def test_alert_findings_count_the_same_text_per_file():
    deliveries = [("a", "text"), ("a", "text"), ("a", "other version"), ("b", "text")]
    assert alert_findings(deliveries) == [Finding("alerts", "a", "the same alert was delivered 2 times")]


def test_a_report_round_trips_and_renders_plain_text():
    report = Report(
        "2026-11-29T12:00:00Z",
        "2026-11-01",
        (Finding("rollups", "site-1 2026-11-29", "**bold** <b>x</b>"),),
        {"raw_files": 2},
        ("raw/k",),
    )
    assert Report.from_dict(report.to_dict()) == report and report.to_dict()["ok"] is False
    text = render(report)
    assert "PROBLEMS FOUND" in text and "site-1 2026-11-29: **bold** <b>x</b>" in text and "2 raw files" in text
    assert "OK" in render(Report("2026-11-29T12:00:00Z", None))


def test_a_file_that_changed_an_episode_and_has_no_alert_recorded_is_a_finding():
    from dataclasses import replace

    from pipeline.ops.verify import unsent_alert_findings

    quiet, lost = outcome(key="quiet"), replace(outcome(key="lost"), anomalies=3, episode_changes=1)
    sent = replace(outcome(key="sent"), anomalies=2, episode_changes=1, alert_message_id="m-1")
    gaps = replace(outcome(key="gaps"), missing_intervals=4, episode_changes=2)
    # anomalies that only continue an open episode: the file has no alert of its own
    continuing = replace(outcome(key="continuing"), anomalies=5)
    found = unsent_alert_findings([quiet, lost, sent, gaps, continuing])
    assert [(f.check, f.subject) for f in found] == [("alerts", "gaps"), ("alerts", "lost")]
    assert "1 alert episode changes but no alert is recorded as sent" in found[1].problem
