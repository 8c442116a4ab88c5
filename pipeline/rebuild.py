"""Rollups recomputed from the stored records, for days whose running sums cannot be trusted.

Processing moves rollups by differences; a file that takes over another file's abandoned
try (see `site_claims`) and operators (`python -m pipeline rebuild-rollups`) recompute
whole days from the records instead. Callers hold the site's lease.
"""

from __future__ import annotations

from collections.abc import Collection

from pipeline.dynamo import batch_get, batch_write
from pipeline.record_store import site_records
from pipeline.rollups import day_items_from_records, measures_of
from pipeline.settings import Settings


def rebuild_days(settings: Settings, site_id: str, days: Collection[str]) -> list[str]:
    """Recompute the site's rollup `days` from its stored records (the caller holds the
    site's lease); returns the days whose item changed."""
    if not days:
        return []
    records = [
        r for day in sorted(days) for r in site_records(settings, site_id, f"{day}T00:00:00Z", f"{day}T23:59:59Z")
    ]
    keys = [{"site_id": site_id, "day": day} for day in sorted(days)]
    stored = {item["day"]: item for item in batch_get(settings, settings.rollup_table, keys)}
    wanted = day_items_from_records(site_id, records, stored)
    changed = [day for day in sorted(days) if measures_of(wanted.get(day)) != measures_of(stored.get(day))]
    batch_write(
        settings,
        settings.rollup_table,
        [wanted.get(day, {"site_id": site_id, "day": day, "hours": {}}) for day in changed],
    )
    return changed
