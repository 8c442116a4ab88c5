from datetime import UTC, datetime
from decimal import Decimal

from pipeline.anomalies import detect
from pipeline.formats import decode_rows
from pipeline.simulation import ANOMALY_KINDS, encode, make_sites, simulate
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


def test_injected_anomalies_are_labelled_and_detected_by_the_rules():
    sites = {s.site_id: s for s in make_sites(6)}
    simulated = simulate(list(sites.values()), NOON, 200, 0.1, seed=3)
    assert {label.kind for label in simulated.labels} == set(ANOMALY_KINDS)
    readings = {(r.site_id, r.timestamp): r for r in validate_rows(decode_rows("a.json", encode(simulated.readings))).readings}
    for label in simulated.labels:
        assert label.kind in detect(readings[(label.site_id, label.timestamp)], sites[label.site_id])
    labelled = {(label.site_id, label.timestamp) for label in simulated.labels}
    false_alarms = [k for k, r in readings.items() if k not in labelled and detect(r, sites[r.site_id])]
    assert false_alarms == []


def test_every_format_encodes_the_same_readings():
    simulated = simulate(make_sites(2), NOON, 4, 0.0, seed=1)
    decoded = {fmt: validate_rows(decode_rows(f"a.{fmt}", encode(simulated.readings, fmt))).readings for fmt in ("json", "jsonl", "csv")}
    assert decoded["json"] == decoded["jsonl"] == decoded["csv"]
    assert all(isinstance(r.energy_generated_kwh, Decimal) for r in decoded["csv"])
