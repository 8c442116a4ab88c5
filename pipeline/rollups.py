"""Per-site rollups by hour: what the charts read instead of the raw readings.

One item per site and UTC day (`energy_rollups`, key `site_id` + `day`) holds that day's
hours in a map, `hours["06"] = {generated_kwh, consumed_kwh, ...}`: a chart over a week
reads 8 items per site, over 90 days 91, and a file touching a day rewrites one item.

A file changes a rollup only by the difference between the records it stores and the
records that were there before it, so a reading that arrives twice is counted once. Day
items are read, added to and written back in batches, which is only right while no other
file moves them: callers hold the lease on the file's sites (`site_claims.claimed`).

Each day item names the last file version that moved it (`change`, one token: the item
does not grow with uploads). A file's retry that resumes its own unfinished try (the
site's in-flight record is still its own, see `site_claims`) skips the days that already
name it; its records are written only after all its days moved, so those days hold the
whole difference. Any other writer finds no unfinished try of its own and adds its
difference whatever the token says. `rollup_rebuild` recomputes days from the records, for
a file that takes over another's abandoned try and for operators.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pipeline.anomalies import Gap
from pipeline.dynamo import batch_get, batch_write, marshal, query
from pipeline.records import Record
from pipeline.settings import Settings

READING_MEASURES = (
    "generated_kwh",
    "consumed_kwh",
    "net_kwh",
    "self_supplied_kwh",
    "readings",
    "anomalies",
    "estimated_generated_kwh",
    "estimated_consumed_kwh",
    "estimated_readings",
)
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
    estimated_generated_kwh: Decimal = Decimal(0)  # estimates of the missing intervals, apart from readings
    estimated_consumed_kwh: Decimal = Decimal(0)
    estimated_readings: int = 0

    @classmethod
    def from_measures(cls, site_id: str, hour: str, measures: Mapping[str, Any]) -> Rollup:
        return cls(
            site_id=site_id,
            hour=hour,
            generated_kwh=measures.get("generated_kwh", Decimal(0)),
            consumed_kwh=measures.get("consumed_kwh", Decimal(0)),
            net_kwh=measures.get("net_kwh", Decimal(0)),
            self_supplied_kwh=measures.get("self_supplied_kwh", Decimal(0)),
            readings=int(measures.get("readings", 0)),
            anomalies=int(measures.get("anomalies", 0)),
            missing_intervals=int(measures.get("missing_intervals", 0)),
            estimated_generated_kwh=measures.get("estimated_generated_kwh", Decimal(0)),
            estimated_consumed_kwh=measures.get("estimated_consumed_kwh", Decimal(0)),
            estimated_readings=int(measures.get("estimated_readings", 0)),
        )


def hour_of(timestamp: str) -> str:
    return f"{timestamp[:13]}:00:00Z"


def day_of(hour: str) -> str:
    return hour[:10]


def contribution(record: Record) -> Delta:
    """What one record adds to its hour. A sentinel reading counts as a reading (and an
    anomaly) but adds no energy to either column, so that net and self-sufficiency still
    compare the same intervals. An estimate is no reading: it adds to the estimated measures
    only, so that a chart can tell how much of an hour's energy no meter measured."""
    if record.estimated:
        return {
            "estimated_generated_kwh": record.energy_generated_kwh,
            "estimated_consumed_kwh": record.energy_consumed_kwh,
            "estimated_readings": Decimal(1),
        }
    if not record.holds_energy:
        return {"readings": Decimal(1), "anomalies": Decimal(1)}
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


def add_to_day(
    item: Mapping[str, Any] | None,
    site_id: str,
    day: str,
    hour_deltas: Mapping[str, Delta],
    token: str,
    *,
    resuming: bool = False,
) -> dict[str, Any] | None:
    """The day's item with each hour's delta added by the file version `token`, or None
    when a resumed try finds its change already in."""
    item = item or {"site_id": site_id, "day": day}
    if resuming and item.get("change") == token:
        return None
    hours = {hh: dict(measures) for hh, measures in item.get("hours", {}).items()}
    for hour, delta in hour_deltas.items():
        totals = hours.setdefault(hour[11:13], {})
        for measure, value in delta.items():
            totals[measure] = totals.get(measure, Decimal(0)) + value
    kept = {k: v for k, v in item.items() if k not in {"applied_changes", "change"}}  # applied_changes: older items
    return {**kept, "hours": hours, "change": token}


def by_day(changes: Mapping[RollupKey, Delta]) -> dict[tuple[str, str], dict[str, Delta]]:
    """Hourly deltas grouped by the (site, day) item they belong to."""
    grouped: dict[tuple[str, str], dict[str, Delta]] = defaultdict(dict)
    for (site_id, hour), delta in changes.items():
        grouped[(site_id, day_of(hour))][hour] = delta
    return dict(grouped)


def apply_deltas(
    settings: Settings, changes: Mapping[RollupKey, Delta], token: str, *, resuming: Collection[str] = ()
) -> None:
    """Add each delta for the file version `token` (the caller holds the sites' lease);
    on the sites in `resuming`, days that already hold this token's change are skipped."""
    days = by_day(changes)
    keys = [{"site_id": site_id, "day": day} for site_id, day in sorted(days)]
    stored = {(item["site_id"], item["day"]): item for item in batch_get(settings, settings.rollup_table, keys)}
    moved = [add_to_day(stored.get(key), *key, days[key], token, resuming=key[0] in resuming) for key in sorted(days)]
    batch_write(settings, settings.rollup_table, [item for item in moved if item is not None])


def site_rollups(settings: Settings, site_id: str, start_hour: str, end_hour: str) -> list[Rollup]:
    """A site's hourly rollups with `start_hour <= hour <= end_hour`, oldest first.

    Reads the day items newest first, at most one per day of the range: a Query stops
    there on DynamoDB anyway, and moto, which walks a site's items until the limit, stops
    early too.
    """
    request: dict[str, Any] = {
        "TableName": settings.rollup_table,
        "KeyConditionExpression": "site_id = :s AND #d BETWEEN :a AND :b",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": marshal({":s": site_id, ":a": day_of(start_hour), ":b": day_of(end_hour)}),
        "ScanIndexForward": False,
    }
    days = _days_in(start_hour, end_hour)
    if days is not None:
        request["PaginationConfig"] = {"MaxItems": days, "PageSize": days}
    found = []
    for item in query(settings, **request):
        for hh, measures in sorted(item.get("hours", {}).items(), reverse=True):
            hour = f"{item['day']}T{hh}:00:00Z"
            if start_hour <= hour <= end_hour:
                found.append(Rollup.from_measures(site_id, hour, measures))
    return found[::-1]


def _days_in(start_hour: str, end_hour: str) -> int | None:
    """How many days `start_hour`..`end_hour` touch; None for open bounds such as "0".."9"."""
    try:
        days = (date.fromisoformat(day_of(end_hour)) - date.fromisoformat(day_of(start_hour))).days + 1
    except ValueError:
        return None
    return max(days, 1)
