"""Rollups recomputed from the records: the check behind `verify` and the mend behind
`rebuild-rollups`.

Records are the truth for what readings were stored; a rollup day item is a running sum of
the differences files made to them, so a lost or doubled update leaves it wrong for good.
Recomputing it from a site's records (one Query) puts it right. Missing intervals come from
gap detection, not from records, so each hour keeps the count it has.

`expected_days` and `differences` are pure. Rewriting day items races with processing,
which moves the same items under the site's lease: `rebuild_days` is for a caller that holds
it (a file taking over another file's abandoned try, see `site_claims`), `rebuild_site`
takes it itself (operators).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.dynamo import backoff, batch_write, marshal, query
from pipeline.record_store import site_records
from pipeline.records import Record
from pipeline.rollups import READING_MEASURES, contribution
from pipeline.settings import Settings
from pipeline.site_claims import SitesBusy, claimed, site_states
from pipeline.sites import site_items

TOKENS = ("change", "applied_changes")  # applied_changes: day items written before `change`
REBUILD_ATTEMPTS = 8  # ~5 s of waiting for a file of the site to be stored
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

    Streams: it keeps one small map per hour, never the records themselves. Measures that
    sum to zero are left out, as the files' deltas leave them out (items stay small).
    """
    days: dict[DayKey, Hours] = defaultdict(dict)
    for record in records:
        hours = days[(record.site_id, record.timestamp[:10])]
        totals = hours.setdefault(record.timestamp[11:13], {})
        for measure, value in contribution(record).items():
            totals[measure] = totals.get(measure, Decimal(0)) + value
    return {
        key: {hh: {m: v for m, v in totals.items() if v} for hh, totals in hours.items()} for key, hours in days.items()
    }


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
    missing_intervals as stored. The item no longer names the last change that moved it: it
    is no running sum of anybody's any more, so no retry may take its change to be in."""
    item = {k: v for k, v in (stored or {"site_id": site_id, "day": day}).items() if k not in TOKENS}
    old_hours = item.get("hours", {})
    hours: Hours = {hh: dict(measures) for hh, measures in expected.items()}
    for hh, measures in old_hours.items():
        missing = measures.get("missing_intervals")
        if missing:
            hours.setdefault(hh, {})["missing_intervals"] = Decimal(missing)
    item["hours"] = hours
    return item


def stored_days(
    settings: Settings, site_id: str, since: str | None = None, until: str | None = None
) -> dict[str, dict[str, Any]]:
    """A site's rollup day items from `since` to `until` (YYYY-MM-DD, None for open), by day: one Query."""
    request: dict[str, Any] = {
        "TableName": settings.rollup_table,
        "KeyConditionExpression": "site_id = :s AND #d BETWEEN :a AND :b",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": marshal({":s": site_id, ":a": since or "0000", ":b": until or "9999"}),
    }
    return {item["day"]: item for item in query(settings, **request)}


def site_start(since: str | None) -> str:
    """The first record timestamp a check from day `since` covers."""
    return f"{since}T00:00:00Z" if since else "0000"


def rebuild_site(settings: Settings, site_id: str, since: str | None = None) -> list[Difference]:
    """Recompute a site's rollup days from `since` (all when None) from its records while
    holding the site's lease, write the days that differ and return what changed.

    A try another file abandoned on the site is taken over: its days are rebuilt too.
    Raises `SitesBusy` when a file keeps the site for more than a few seconds.
    """
    token = f"rebuild-{uuid.uuid4().hex[:12]}"
    for attempt in range(REBUILD_ATTEMPTS):
        state = site_states(site_items(settings, [site_id]), [site_id], token)[site_id]
        try:
            with claimed(settings, {site_id: state.version}, {}, token):
                return _rebuild(settings, site_id, since, state.repair)
        except SitesBusy:
            if attempt == REBUILD_ATTEMPTS - 1:
                raise
            backoff(attempt)
    raise AssertionError("unreachable")


def rebuild_days(settings: Settings, site_id: str, days: Collection[str]) -> list[Difference]:
    """Recompute the site's rollup `days` from its records; the caller holds the site's lease."""
    return [change for day in sorted(set(days)) for change in _rebuild_range(settings, site_id, day, day)]


def _rebuild(settings: Settings, site_id: str, since: str | None, also: Collection[str]) -> list[Difference]:
    """Rewrite the days from `since` on, and the earlier days in `also`, that differ from the records."""
    earlier = sorted(day for day in set(also) if since is not None and day < since)
    return _rebuild_range(settings, site_id, since, None) + rebuild_days(settings, site_id, earlier)


def _rebuild_range(settings: Settings, site_id: str, since: str | None, until: str | None) -> list[Difference]:
    end = f"{until}T23:59:59Z" if until else "9999"
    expected = expected_days(site_records(settings, site_id, site_start(since), end))
    stored = stored_days(settings, site_id, since, until)
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
