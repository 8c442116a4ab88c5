"""Hourly per-site rollups: what the charts read instead of the raw readings.

A file changes a rollup only by the difference between the records it stores and the
records that were there before it, so a reading that arrives twice is counted once. Each
rollup remembers the tokens of the file versions whose difference it holds, so a message
redelivered after a partial failure cannot apply the same difference twice. Rollups are
read, added to and written back in batches, which is only right while no other file moves
them: callers hold the lease on the file's sites (`site_claims.claimed`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.anomalies import Gap
from pipeline.dynamo import batch_get, batch_write, marshal, query
from pipeline.records import Record
from pipeline.settings import Settings

READING_MEASURES = ("generated_kwh", "consumed_kwh", "net_kwh", "self_supplied_kwh", "readings", "anomalies")
MEASURES = (*READING_MEASURES, "missing_intervals")
RollupKey = tuple[str, str]
Delta = dict[str, Decimal]


@dataclass(frozen=True)
class Rollup:
    site_id: str
    hour: str
    generated_kwh: Decimal
    consumed_kwh: Decimal
    net_kwh: Decimal
    self_supplied_kwh: Decimal  # Σ min(generated, consumed): demand met on site
    readings: int
    anomalies: int
    missing_intervals: int = 0  # readings the site should have sent in this hour and did not

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Rollup:
        return cls(
            site_id=item["site_id"],
            hour=item["hour"],
            generated_kwh=item.get("generated_kwh", Decimal(0)),
            consumed_kwh=item.get("consumed_kwh", Decimal(0)),
            net_kwh=item.get("net_kwh", Decimal(0)),
            self_supplied_kwh=item.get("self_supplied_kwh", Decimal(0)),
            readings=int(item.get("readings", 0)),
            anomalies=int(item.get("anomalies", 0)),
            missing_intervals=int(item.get("missing_intervals", 0)),
        )


def hour_of(timestamp: str) -> str:
    return f"{timestamp[:13]}:00:00Z"


def contribution(record: Record) -> Delta:
    generated, consumed = record.energy_generated_kwh, record.energy_consumed_kwh
    return {
        "generated_kwh": generated,
        "consumed_kwh": consumed,
        "net_kwh": record.net_energy_kwh,
        "self_supplied_kwh": min(max(generated, Decimal(0)), max(consumed, Decimal(0))),
        "readings": Decimal(1),
        "anomalies": Decimal(1 if record.anomaly else 0),
    }


def deltas(changes: Iterable[tuple[Record | None, Record]]) -> dict[RollupKey, Delta]:
    """Net change per (site, hour) of replacing each old record (or nothing) by the new one."""
    totals: dict[RollupKey, Delta] = defaultdict(lambda: dict.fromkeys(READING_MEASURES, Decimal(0)))
    for old, new in changes:
        for record, sign in ((old, -1), (new, 1)):
            if record is None:
                continue
            total = totals[(record.site_id, hour_of(record.timestamp))]
            for measure, value in contribution(record).items():
                total[measure] += sign * value
    return {key: {m: v for m, v in delta.items() if v != 0} for key, delta in totals.items() if any(delta.values())}


def gap_deltas(gaps: Iterable[Gap]) -> dict[RollupKey, Delta]:
    """Missing intervals, counted in the hour where each gap starts."""
    totals: dict[RollupKey, Delta] = defaultdict(lambda: {"missing_intervals": Decimal(0)})
    for gap in gaps:
        totals[(gap.site_id, hour_of(gap.first_missing))]["missing_intervals"] += gap.missing
    return dict(totals)


def change_token(source_key: str, version: str) -> str:
    return hashlib.sha256(f"{source_key}\n{version}".encode()).hexdigest()[:20]


def apply_deltas(settings: Settings, changes: dict[RollupKey, Delta], token: str) -> int:
    """Add each delta once per token (the caller holds the sites' lease); returns how many
    rollups changed now."""
    keys = [{"site_id": site_id, "hour": hour} for site_id, hour in sorted(changes)]
    stored = {(item["site_id"], item["hour"]): item for item in batch_get(settings, settings.rollup_table, keys)}
    moved = []
    for key, delta in sorted(changes.items()):
        item = stored.get(key) or {"site_id": key[0], "hour": key[1]}
        applied = item.get("applied_changes", set())
        if token in applied:
            continue  # this file version's change is already in: a redelivery
        for measure, value in delta.items():
            item[measure] = item.get(measure, Decimal(0)) + value
        item["applied_changes"] = {*applied, token}
        moved.append(item)
    return batch_write(settings, settings.rollup_table, moved)


def site_rollups(settings: Settings, site_id: str, start_hour: str, end_hour: str) -> list[Rollup]:
    """A site's rollups with `start_hour <= hour <= end_hour`, oldest first."""
    items = query(
        settings,
        TableName=settings.rollup_table,
        KeyConditionExpression="site_id = :s AND #h BETWEEN :a AND :b",
        ProjectionExpression=", ".join(["site_id", "#h", *MEASURES]),
        ExpressionAttributeNames={"#h": "hour"},
        ExpressionAttributeValues=marshal({":s": site_id, ":a": start_hour, ":b": end_hour}),
    )
    return [Rollup.from_item(item) for item in items]
