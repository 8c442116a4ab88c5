from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pipeline.assessment import assess
from pipeline.formats import decode_rows
from pipeline.ops.simulation import ANOMALY_KINDS, encode, make_sites, simulate
from pipeline.validation import validate_rows

NOON = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


def test_same_seed_same_readings_and_labels():
    sites = make_sites(5)
    assert simulate(sites, NOON, 96, 0.05, seed=7) == simulate(sites, NOON, 96, 0.05, seed=7)
    assert simulate(sites, NOON, 96, 0.05, seed=7) != simulate(sites, NOON, 96, 0.05, seed=8)


def test_solar_sites_make_nothing_at_night_and_something_at_noon():
    [site] = [s for s in make_sites(3) if s.kind == "solar"][:1]
    day = simulate([site], NOON, 96, 0.0, seed=1).readings
    by_hour = {r["timestamp"][11:16]: r["energy_generated_kwh"] for r in day}
    local_midnight = f"{int((24 - float(site.longitude) / 15) % 24):02d}:00"
    assert by_hour[local_midnight] == 0
    assert max(by_hour.values()) > 0


def test_every_injected_kind_is_labelled_and_found_by_the_rules():
    sites = {s.site_id: s for s in make_sites(6)}
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    simulated = simulate(list(sites.values()), now, 96 * 4, 0.05, seed=3)
    assert {label.kind for label in simulated.labels} == set(ANOMALY_KINDS)
    readings = validate_rows(decode_rows("a.json", encode(simulated.readings))).readings
    assessment = assess(readings, sites, "raw/a.json", now)

    truth = {(lb.site_id, lb.timestamp, lb.kind) for lb in simulated.labels}
    found = {(r.site_id, r.timestamp, reason) for r in assessment.records for reason in r.anomaly_reasons}
    found |= {(g.site_id, g.first_missing, "missing_intervals") for g in assessment.gaps}
    assert found == truth


def test_overlapping_files_carry_the_same_readings():
    sites = make_sites(3)
    earlier = simulate(sites, NOON, 8, 0.2, seed=4).readings
    later = simulate(sites, NOON + timedelta(hours=1), 8, 0.2, seed=4).readings
    shared = {r["timestamp"] for r in earlier} & {r["timestamp"] for r in later}
    assert shared and [r for r in earlier if r["timestamp"] in shared] == [r for r in later if r["timestamp"] in shared]


def test_every_format_encodes_the_same_readings():
    simulated = simulate(make_sites(2), NOON, 4, 0.0, seed=1)
    decoded = {
        fmt: validate_rows(decode_rows(f"a.{fmt}", encode(simulated.readings, fmt))).readings
        for fmt in ("json", "jsonl", "csv")
    }
    assert decoded["json"] == decoded["jsonl"] == decoded["csv"]
    assert all(isinstance(r.energy_generated_kwh, Decimal) for r in decoded["csv"])
