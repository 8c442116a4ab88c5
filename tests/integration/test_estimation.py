"""Estimates for missing intervals on the embedded AWS, through the real S3 -> SQS -> runner path:
what is stored as an estimate, what the rollups count apart, and what a late reading replaces."""

import json
from decimal import Decimal

from pipeline import processing, raw_files
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.verify import verify
from pipeline.record_store import site_records
from pipeline.rollups import site_rollups
from pipeline.sites import Site, put_sites

METER = Site("meter", kind="consumer", capacity_kw=Decimal(40), interval_minutes=15)


def reading(ts: str, gen: float, cons: float) -> dict:
    return {
        "site_id": "meter",
        "timestamp": f"2026-11-29T{ts}:00Z",
        "energy_generated_kwh": gen,
        "energy_consumed_kwh": cons,
    }


def stored(settings) -> dict:
    return {
        r.timestamp[11:16]: (r.energy_generated_kwh, r.energy_consumed_kwh, r.estimate_method)
        for r in site_records(settings, "meter")
    }


def hour_ten(settings):
    [ten] = [r for r in site_rollups(settings, "meter", "0", "9") if r.hour.startswith("2026-11-29T10")]
    return ten


def no_findings(settings) -> list:
    return [f"{f.check} {f.subject}: {f.problem}" for f in verify(settings, settle_seconds=0).findings]


def test_a_short_gap_is_stored_as_linear_estimates_and_a_late_reading_replaces_one(settings, runner):
    # GIVEN a registered meter that reads every 15 minutes
    put_sites(settings, [METER])

    # WHEN a file skips 10:15, 10:30 and 10:45
    raw_files.upload(
        settings, "raw/2026/11/29/a.json", json.dumps([reading("10:00", 2, 1), reading("11:00", 6, 3)]).encode()
    )
    runner.drain(timeout=60)

    # THEN the three intervals hold estimates on the line from (2, 1) to (6, 3), marked as such
    assert stored(settings) == {
        "10:00": (Decimal(2), Decimal(1), None),
        "10:15": (Decimal(3), Decimal("1.5"), "linear"),
        "10:30": (Decimal(4), Decimal(2), "linear"),
        "10:45": (Decimal(5), Decimal("2.5"), "linear"),
        "11:00": (Decimal(6), Decimal(3), None),
    }
    # AND the hour's rollup counts the measured and the estimated energy apart
    ten = hour_ten(settings)
    assert (ten.generated_kwh, ten.consumed_kwh, ten.readings) == (Decimal(2), Decimal(1), 1)
    assert (ten.estimated_generated_kwh, ten.estimated_consumed_kwh, ten.estimated_readings) == (
        Decimal(12),
        Decimal(6),
        3,
    )
    assert ten.missing_intervals == 3  # estimated, and still missing
    outcome = file_outcomes(settings, ["raw/2026/11/29/a.json"])["raw/2026/11/29/a.json"]
    assert (outcome.readings, outcome.written, outcome.estimated) == (2, 2, 3)
    assert no_findings(settings) == []

    # WHEN the meter's 10:30 reading arrives late
    raw_files.upload(settings, "raw/2026/11/29/late.json", json.dumps([reading("10:30", 4.5, 2)]).encode())
    runner.drain(timeout=60)

    # THEN it replaces the estimate, and the rollup moves it from estimated to measured
    assert stored(settings)["10:30"] == (Decimal("4.5"), Decimal(2), None)
    ten = hour_ten(settings)
    assert (ten.generated_kwh, ten.readings, ten.estimated_generated_kwh, ten.estimated_readings) == (
        Decimal("6.5"),
        2,
        Decimal(8),
        2,
    )
    assert no_findings(settings) == []

    # WHEN every file is processed again
    before = (stored(settings), site_rollups(settings, "meter", "0", "9"))
    for key in ("raw/2026/11/29/a.json", "raw/2026/11/29/late.json"):
        processing.process_object(settings, key)

    # THEN nothing changes: no estimate comes back over the late reading, nothing is counted twice
    assert (stored(settings), site_rollups(settings, "meter", "0", "9")) == before


def test_an_estimate_never_replaces_a_reading_stored_in_the_gap(settings, monkeypatch):
    # GIVEN a meter whose 10:30 reading came in the future as the pipeline saw it (a clock ahead)
    put_sites(settings, [METER])
    monkeypatch.setattr(processing, "now_iso", lambda: "2026-11-29T10:05:00Z")
    raw_files.upload(
        settings, "raw/2026/11/29/a.json", json.dumps([reading("10:00", 2, 1), reading("10:30", 9, 9)]).encode()
    )
    processing.process_object(settings, "raw/2026/11/29/a.json")
    assert stored(settings)["10:30"] == (Decimal(9), Decimal(9), None)  # stored, flagged future_timestamp

    # WHEN the 11:00 reading arrives in time, after a gap the series rules see from 10:00
    monkeypatch.setattr(processing, "now_iso", lambda: "2026-11-29T11:05:00Z")
    raw_files.upload(settings, "raw/2026/11/29/b.json", json.dumps([reading("11:00", 6, 3)]).encode())
    processing.process_object(settings, "raw/2026/11/29/b.json")

    # THEN 10:15 and 10:45 are estimated, and the stored 10:30 reading is left as it came
    found = stored(settings)
    assert found["10:30"] == (Decimal(9), Decimal(9), None)
    assert (found["10:15"][2], found["10:45"][2]) == ("linear", "linear")
    assert no_findings(settings) == []
