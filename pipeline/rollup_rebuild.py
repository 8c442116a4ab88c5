"""Rollups recomputed from the records: the check behind `verify` and the mend behind
`rebuild-rollups`.

Records are the truth for what readings were stored; a rollup day item is a running sum of
the differences files made to them, so a lost or doubled update leaves it wrong for good.
Recomputing it from a site's records (one Query) puts it right. Missing intervals come from
gap detection, not from records, so each hour keeps the count it has.

`expected_days` and `differences` are pure; `rebuild_site` is the one write, per site, so
that whoever runs it can hold that site's lease around it (processing moves the same items).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.dynamo import batch_write, marshal, query
from pipeline.record_store import site_records
from pipeline.records import Record
from pipeline.rollups import READING_MEASURES, contribution
from pipeline.settings import Settings

Hours = dict[str, dict[str, Decimal]]  # "HH" -> measure -> value
DayKey = tuple[str, str]  # (site_id, YYYY-MM-DD)


@dataclass(frozen=True)
class Difference:
    site_id: str
    day: str
    hour: str  # "HH"
    measure: str
    stored: Decimal
    expected: Decimal


def expected_days(records: Iterable[Record]) -> dict[DayKey, Hours]:
    """The reading measures per (site, day) and hour that `records` add up to.

    Streams: it keeps one small map per hour, never the records themselves.
    """
    days: dict[DayKey, Hours] = defaultdict(dict)
    for record in records:
        hours = days[(record.site_id, record.timestamp[:10])]
        totals = hours.setdefault(record.timestamp[11:13], dict.fromkeys(READING_MEASURES, Decimal(0)))
        for measure, value in contribution(record).items():
            totals[measure] += value
    return dict(days)


def differences(site_id: str, day: str, stored: Mapping[str, Mapping[str, Any]], expected: Hours) -> list[Difference]:
    """Reading measures where the stored hours disagree with the expected ones; an absent
    hour or measure counts as zero, and missing_intervals are not compared."""
    found = []
    for hour in sorted(set(stored) | set(expected)):
        have, want = stored.get(hour, {}), expected.get(hour, {})
        for measure in READING_MEASURES:
            a, b = Decimal(have.get(measure, 0)), Decimal(want.get(measure, 0))
            if a != b:
                found.append(Difference(site_id, day, hour, measure, a, b))
    return found


def rebuilt_item(stored: Mapping[str, Any] | None, site_id: str, day: str, expected: Hours) -> dict[str, Any]:
    """The day item with its hours recomputed: reading measures from `expected`, each hour's
    missing_intervals as stored, every other attribute (the idempotency tokens) kept."""
    item = dict(stored or {"site_id": site_id, "day": day})
    old_hours = item.get("hours", {})
    hours: Hours = {hh: dict(measures) for hh, measures in expected.items()}
    for hh, measures in old_hours.items():
        missing = measures.get("missing_intervals")
        if missing:
            hours.setdefault(hh, {})["missing_intervals"] = Decimal(missing)
    item["hours"] = hours
    return item


def stored_days(settings: Settings, site_id: str, since: str | None = None) -> dict[str, dict[str, Any]]:
    """A site's rollup day items from `since` (YYYY-MM-DD, None for all), by day: one Query."""
    request: dict[str, Any] = {
        "TableName": settings.rollup_table,
        "KeyConditionExpression": "site_id = :s AND #d >= :a",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": marshal({":s": site_id, ":a": since or "0000"}),
    }
    return {item["day"]: item for item in query(settings, **request)}


def site_start(since: str | None) -> str:
    """The first record timestamp a check from day `since` covers."""
    return f"{since}T00:00:00Z" if since else "0000"


def rebuild_site(settings: Settings, site_id: str, since: str | None = None) -> list[Difference]:
    """Recompute a site's rollup days from its records, write the days that differ and
    return what changed (empty when every day was right).

    Not safe while a file of this site is being processed: hold the site's lease around it.
    """
    expected = expected_days(site_records(settings, site_id, site_start(since)))
    stored = stored_days(settings, site_id, since)
    changed: list[Difference] = []
    writes = []
    for day in sorted({d for _, d in expected} | set(stored)):
        hours = expected.get((site_id, day), {})
        found = differences(site_id, day, stored.get(day, {}).get("hours", {}), hours)
        if found:
            changed += found
            writes.append(rebuilt_item(stored.get(day), site_id, day, hours))
    batch_write(settings, settings.rollup_table, writes)
    return changed
