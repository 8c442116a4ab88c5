"""Standby draw and sentinels on the embedded AWS, through the real S3 -> SQS -> runner path:
what is flagged, and what the stored rollups (the dashboard's totals) add up."""

import json
from decimal import Decimal

from pipeline import raw_files
from pipeline.record_store import site_records
from pipeline.rollups import site_rollups
from pipeline.sites import Site, put_sites

# A 5 kW rooftop inverter reporting every 5 minutes, at night (Vienna, late November).
ROOF = Site(
    "roof", kind="solar", capacity_kw=Decimal(5), interval_minutes=5, latitude=Decimal(48), longitude=Decimal(16)
)
STANDBY = [-0.004, -0.004, -0.004, -0.004, -0.004, -0.002, -0.006, -0.01, -0.003, -0.008]  # Σ -0.049
HOUSE = [0.31, 0.29, 0.33, 0.3, 0.28, 0.32, 0.3, 0.31, 0.29, 0.3]  # Σ 3.03


def reading(site, ts, gen, cons):
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


def test_standby_is_normal_and_sentinels_are_flagged_and_kept_out_of_the_rollups(settings, runner):
    # GIVEN a registered rooftop and a logger nobody registered
    put_sites(settings, [ROOF])
    night = [
        reading("roof", f"2026-11-28T20:{5 * i:02d}:00Z", gen, cons)
        for i, (gen, cons) in enumerate(zip(STANDBY, HOUSE, strict=True))
    ]
    night += [reading("roof", "2026-11-28T20:50:00Z", -0.5, 0.27), reading("roof", "2026-11-28T20:55:00Z", -9999, 0.3)]
    logger = [
        reading("logger", "2026-11-29T06:00:00Z", 1.0, 2.0),
        reading("logger", "2026-11-29T06:15:00Z", 65535, 2.0),  # "no data" in generation
        reading("logger", "2026-11-29T06:30:00Z", 1.0, -32768),  # "no data" in consumption
        reading("logger", "2026-11-29T06:45:00Z", 2.0, 1.0),
    ]

    # WHEN the file goes through the pipeline
    raw_files.upload(settings, "raw/2026/11/29/meters.json", json.dumps(night + logger).encode())
    runner.drain(timeout=60)

    # THEN only the real fault and the sentinels are anomalies, each with one reason
    flagged = {
        (r.site_id, r.timestamp): r.anomaly_reasons
        for site in ("roof", "logger")
        for r in site_records(settings, site, anomalies_only=True)
    }
    assert flagged == {
        ("roof", "2026-11-28T20:50:00Z"): ("negative_generation",),
        ("roof", "2026-11-28T20:55:00Z"): ("sentinel_value",),
        ("logger", "2026-11-29T06:15:00Z"): ("sentinel_value",),
        ("logger", "2026-11-29T06:30:00Z"): ("sentinel_value",),
    }
    # AND the totals hold every real reading's energy and no sentinel's
    [roof] = site_rollups(settings, "roof", "0", "9")
    assert (roof.readings, roof.anomalies) == (12, 2)
    assert (roof.generated_kwh, roof.consumed_kwh, roof.net_kwh) == (
        Decimal("-0.549"),
        Decimal("3.3"),
        Decimal("-3.849"),
    )
    [hour] = site_rollups(settings, "logger", "0", "9")
    assert (hour.readings, hour.anomalies) == (4, 2)
    assert (hour.generated_kwh, hour.consumed_kwh, hour.net_kwh, hour.self_supplied_kwh) == (3, 3, 0, 2)
