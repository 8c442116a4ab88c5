"""Analysts' edits on the embedded stack: a correction or a false-positive mark moves the
rollups by exactly its change, survives reprocessing without a new alert, keeps the
original values, and a failure half-way is repaired by the next claim of the site."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pipeline import raw_files, record_store, site_claims
from pipeline.dynamo import unpack
from pipeline.ops.alert_history import delivered_alerts
from pipeline.ops.record_edits import EditRefused, NoSuchReading, correct, dismiss, edited_records, get_record
from pipeline.ops.verify import verify
from pipeline.processing import process_object
from pipeline.record_store import recent_anomalies, site_records
from pipeline.rollup_rebuild import rebuild_site
from pipeline.rollups import site_rollups
from pipeline.sites import site_items

KEY = "raw/2026/11/29/readings.json"
FLAGGED = "2026-11-29T06:00:00Z"  # generates -5 kWh: flagged
PLAIN = "2026-11-29T06:15:00Z"
LATER = datetime.now(UTC) + timedelta(hours=1)  # past the settle time of every file uploaded here


def reading(ts, gen=12.5, cons=8.1, site="site-1"):
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


ROWS = [reading(FLAGGED, gen=-5, cons=2), reading(PLAIN), reading("2026-11-29T07:00:00Z")]


@pytest.fixture
def processed(settings, runner):
    """GIVEN one processed file of site-1: three readings, the one at 06:00 flagged (it alerted)."""
    raw_files.upload(settings, KEY, json.dumps(ROWS).encode())
    runner.drain(timeout=60)
    assert get_record(settings, "site-1", FLAGGED).anomaly_reasons
    return settings


def hour_06(settings):
    [rollup] = site_rollups(settings, "site-1", "2026-11-29T06:00:00Z", "2026-11-29T06:00:00Z")
    return rollup


def agree(settings) -> None:
    """THEN the rollups are what the records add up to, as verify and a rebuild see them."""
    report = verify(settings, now=LATER)
    assert report.ok, report.findings
    assert rebuild_site(settings, "site-1") == []


def test_a_correction_moves_the_rollup_by_exactly_the_change(processed):
    settings = processed
    before = hour_06(settings)
    record = correct(settings, "site-1", PLAIN, by="ana", why="meter swapped", generated="20")
    after = hour_06(settings)
    assert after.generated_kwh - before.generated_kwh == Decimal("7.5")
    assert after.net_kwh - before.net_kwh == Decimal("7.5")
    assert after.consumed_kwh == before.consumed_kwh and after.readings == before.readings == 2
    assert after.anomalies == before.anomalies == 1
    stored = get_record(settings, "site-1", PLAIN, consistent=True)
    assert stored == record
    assert (stored.energy_generated_kwh, stored.energy_consumed_kwh, stored.net_energy_kwh) == (
        Decimal(20),
        Decimal("8.1"),
        Decimal("11.9"),
    )
    agree(settings)


def test_correcting_a_flagged_reading_clears_it_from_the_anomaly_count(processed):
    settings = processed
    before = hour_06(settings)
    correct(settings, "site-1", FLAGGED, by="ana", why="sign flipped by the logger", generated="5")
    after = hour_06(settings)
    assert (before.anomalies, after.anomalies) == (1, 0)
    assert after.generated_kwh - before.generated_kwh == Decimal(10)
    stored = get_record(settings, "site-1", FLAGGED, consistent=True)
    assert stored.anomaly_reasons == ()
    assert stored.edits[0]["old"]["anomaly_reasons"] == list(stored.original["anomaly_reasons"]) != []
    agree(settings)


def test_a_false_positive_leaves_the_anomaly_list_and_the_count_but_keeps_its_values(processed):
    settings = processed
    assert [r.timestamp for r in recent_anomalies(settings)] == [FLAGGED]
    before = hour_06(settings)
    record = dismiss(settings, "site-1", FLAGGED, by="ana", why="battery test, planned")
    assert recent_anomalies(settings) == []
    after = hour_06(settings)
    assert (before.anomalies, after.anomalies) == (1, 0)
    assert (after.generated_kwh, after.readings) == (before.generated_kwh, before.readings)
    assert record.energy_generated_kwh == Decimal(-5) and record.anomaly_reasons == ()
    assert record.edits[-1]["action"] == "false_positive"
    assert [r.timestamp for r in site_records(settings, "site-1", anomalies_only=True)] == []
    agree(settings)


def test_reprocessing_the_file_keeps_the_edit_and_sends_no_new_alert(processed, runner):
    settings = processed
    alerts = len(delivered_alerts(settings))
    assert alerts == 1
    dismiss(settings, "site-1", FLAGGED, by="ana", why="planned test")
    corrected = correct(settings, "site-1", PLAIN, by="ana", why="typo", consumed="9")
    process_object(settings, KEY)  # replay
    raw_files.upload(settings, KEY, json.dumps(ROWS).encode())  # the same file again, through the handler
    runner.drain(timeout=60)
    assert get_record(settings, "site-1", PLAIN, consistent=True) == corrected
    flagged = get_record(settings, "site-1", FLAGGED, consistent=True)
    assert flagged.anomaly_reasons == () and len(flagged.edits) == 1
    assert len(delivered_alerts(settings)) == alerts
    assert recent_anomalies(settings) == []
    agree(settings)


def test_the_original_values_stay_across_two_edits(processed):
    settings = processed
    correct(settings, "site-1", PLAIN, by="ana", why="first look", generated="13")
    record = correct(settings, "site-1", PLAIN, by="bo", why="second look", generated="14", consumed="7")
    assert record.original == {
        "energy_generated_kwh": Decimal("12.5"),
        "energy_consumed_kwh": Decimal("8.1"),
        "anomaly_reasons": [],
    }
    assert [(e["by"], e["old"]["energy_generated_kwh"], e["new"]["energy_generated_kwh"]) for e in record.edits] == [
        ("ana", Decimal("12.5"), Decimal(13)),
        ("bo", Decimal(13), Decimal(14)),
    ]
    assert [r.timestamp for r in edited_records(settings, "site-1")] == [PLAIN]
    agree(settings)


def test_refusals_change_nothing_and_leave_the_site_free(processed):
    settings = processed
    with pytest.raises(NoSuchReading, match="no stored reading at 2026-11-29T06:05:00Z"):
        correct(settings, "site-1", "2026-11-29T06:05:00", by="ana", why="x", generated="1")
    with pytest.raises(EditRefused, match="not flagged"):
        dismiss(settings, "site-1", PLAIN, by="ana", why="x")
    with pytest.raises(EditRefused, match="beyond"):
        correct(settings, "site-1", PLAIN, by="ana", why="x", generated="2000000")
    assert list(edited_records(settings, "site-1")) == []
    assert "lease" not in site_items(settings, ["site-1"])["site-1"]


def test_a_failure_after_the_rollup_moved_is_repaired_by_the_next_file(processed, runner, monkeypatch):
    settings = processed
    real = record_store.batch_write

    def failing(settings_, table, items):
        if table == settings_.table:
            raise ConnectionError("the process lost its network before writing the record")
        return real(settings_, table, items)

    monkeypatch.setattr(record_store, "batch_write", failing)
    with pytest.raises(ConnectionError):
        correct(settings, "site-1", PLAIN, by="ana", why="meter swapped", generated="20")
    monkeypatch.setattr(record_store, "batch_write", real)
    assert get_record(settings, "site-1", PLAIN, consistent=True).energy_generated_kwh == Decimal("12.5")
    assert [f.check for f in verify(settings, now=LATER).findings] == ["rollups"], "moved, the record not written"
    site = site_items(settings, ["site-1"])["site-1"]
    assert "lease" not in site and unpack(site["inflight"])["days"] == ["2026-11-29"], "free, marked for repair"

    # WHEN the next file of the site is processed
    later = [reading("2026-11-29T08:00:00Z")]
    raw_files.upload(settings, "raw/2026/11/29/later.json", json.dumps(later).encode())
    runner.drain(timeout=60)
    assert "inflight" not in site_items(settings, ["site-1"])["site-1"]
    agree(settings)
    # and the edit can be made again
    correct(settings, "site-1", PLAIN, by="ana", why="meter swapped", generated="20")
    assert hour_06(settings).generated_kwh == Decimal(15)  # -5 + 20
    agree(settings)


def test_an_edit_waits_for_a_file_holding_the_site_and_says_so_when_it_keeps_it(processed):
    settings = processed
    with site_claims.claimed(settings, {"site-1": site_version(settings)}, {}, "a-file-being-stored"):
        with pytest.raises(site_claims.SitesBusy, match="Site site-1 is being stored by a file; try the edit again"):
            correct(settings, "site-1", PLAIN, by="ana", why="meter swapped", generated="20")
        assert not get_record(settings, "site-1", PLAIN, consistent=True).edited

    release = threading.Timer(0.5, lambda: held.__exit__(None, None, None))
    held = site_claims.claimed(settings, {"site-1": site_version(settings)}, {}, "another-file")
    held.__enter__()
    release.start()
    record = correct(settings, "site-1", PLAIN, by="ana", why="meter swapped", generated="20")
    release.join()
    assert record.energy_generated_kwh == Decimal(20)
    agree(settings)


def site_version(settings) -> int:
    return int(site_items(settings, ["site-1"])["site-1"].get("history_version", 0))
