"""What processing keeps on a site's item (its history, the try in flight) is packed into
one binary attribute each; items written before that, with both as maps, are read as well."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from pipeline import raw_files
from pipeline.anomalies import History
from pipeline.aws import client
from pipeline.dynamo import marshal, unpack
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.simulation import make_sites
from pipeline.record_store import site_records
from pipeline.rollups import site_rollups
from pipeline.sites import list_registry, put_sites, site_items

DAY = "2026-11-29"


def reading(ts: str) -> dict:
    return {"site_id": "site-1", "timestamp": f"{DAY}T{ts}:00Z", "energy_generated_kwh": 1.5, "energy_consumed_kwh": 2}


def upload(settings, name: str, *times: str) -> str:
    key = f"raw/2026/11/29/{name}.json"
    raw_files.upload(settings, key, json.dumps([reading(t) for t in times]).encode())
    return key


def set_legacy_state(settings, **state) -> None:
    """Write site-1's state as the pipeline wrote it before packing: plain maps."""
    names = {f"#a{i}": k for i, k in enumerate(state)}
    client(settings, "dynamodb").update_item(
        TableName=settings.sites_table,
        Key=marshal({"site_id": "site-1"}),
        UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(state))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=marshal({f":a{i}": v for i, v in enumerate(state.values())}),
    )


def test_a_sites_state_is_packed_and_read_back_exactly(settings, runner):
    put_sites(settings, make_sites(1))
    upload(settings, "first", "06:00", "06:15")
    runner.drain()

    item = site_items(settings, ["site-1"])["site-1"]
    history = History.from_item(unpack(item["history"]))
    assert not isinstance(item["history"], dict), "one binary attribute, not a map"
    assert history.last_timestamp == f"{DAY}T06:15:00Z"
    assert history.consumed == (Decimal("2"), Decimal("2")), "exact decimals"
    [(_, activity)] = list_registry(settings, time.time())
    assert activity.last_reading == f"{DAY}T06:15:00Z", "the Sites page's last reading"


def test_a_history_written_before_packing_is_judged_against(settings, runner):
    put_sites(settings, make_sites(1))
    set_legacy_state(settings, history=History(last_timestamp=f"{DAY}T06:00:00Z").to_item(), history_version=3)
    [(_, activity)] = list_registry(settings, time.time())
    assert activity.last_reading == f"{DAY}T06:00:00Z"

    key = upload(settings, "after-a-gap", "06:45")
    runner.drain()

    outcome = file_outcomes(settings, [key])[key]
    assert outcome.missing_intervals == 2, "06:15 and 06:30, measured from the old history's last reading"
    assert unpack(site_items(settings, ["site-1"])["site-1"]["history"])["last_timestamp"] == f"{DAY}T06:45:00Z"


def test_a_try_in_flight_written_before_packing_is_taken_over_and_its_days_repaired(settings, runner):
    put_sites(settings, make_sites(1))
    upload(settings, "first", "06:00")
    runner.drain()
    # as an abandoned try leaves it: the rollup moved, the record not written, the lease run out
    client(settings, "dynamodb").delete_item(
        TableName=settings.table, Key=marshal({"site_id": "site-1", "timestamp": f"{DAY}T06:00:00Z"})
    )
    history = unpack(site_items(settings, ["site-1"])["site-1"]["history"])
    inflight = {"token": "raw/abandoned.json#1", "history": history, "processed_at": f"{DAY}T07:00:00Z"}
    set_legacy_state(
        settings,
        inflight={**inflight, "days": [DAY], "repair": [], "episodes": {"open": {}}},
        lease="raw/abandoned.json#1",
        lease_until=int(time.time()) - 60,
    )

    upload(settings, "next", "06:15")
    runner.drain()

    assert [r.timestamp for r in site_records(settings, "site-1")] == [f"{DAY}T06:15:00Z"]
    assert sum(r.readings for r in site_rollups(settings, "site-1", "0", "9")) == 1, "rebuilt from the records"
    assert not {"lease", "inflight"} & site_items(settings, ["site-1"])["site-1"].keys()
