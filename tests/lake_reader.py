"""Read the data lake as an analyst's DuckDB does (`pipeline.ops.lake_sql`), and the records
as DynamoDB holds them, in one comparable form."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from pipeline.lake import COLUMNS, COMPACTED_TABLE, LANDING_TABLE, VIEW
from pipeline.ops import lake_cache
from pipeline.ops.lake_sql import local_connection
from pipeline.record_store import site_records
from pipeline.settings import Settings
from pipeline.timestamps import parse_utc

FIELDS = tuple(c.name for c in COLUMNS if c.name != "written_at")  # in the order `table_rows` gives


def lake_rows(settings: Settings, *, latest: bool = True) -> list[tuple]:
    """The lake's rows as the app's DuckDB sees them: the `records` view (each reading's
    newest version, wherever it is), or every version in both tables; sorted."""
    with tempfile.TemporaryDirectory() as into:
        connection = local_connection(settings, lake_cache.sync(settings, Path(into)))
        source = VIEW if latest else f"(SELECT * FROM {LANDING_TABLE} UNION ALL SELECT * FROM {COMPACTED_TABLE})"
        columns = ", ".join(f'"{f}"' for f in FIELDS)
        # (DuckDB's decimals and UTC datetimes compare equal to the pipeline's by value)
        return connection.sql(f'SELECT {columns} FROM {source} ORDER BY site_id, "timestamp", written_at').fetchall()


def table_rows(settings: Settings, site_ids: Iterable[str]) -> list[tuple]:
    """The same fields of every record DynamoDB holds for the sites, sorted."""
    found = []
    for site_id in sorted(site_ids):
        for r in site_records(settings, site_id):
            found.append(
                (
                    r.site_id,
                    parse_utc(r.timestamp),
                    r.energy_generated_kwh,
                    r.energy_consumed_kwh,
                    r.net_energy_kwh,
                    r.anomaly,
                    list(r.anomaly_reasons),
                    r.estimated,
                    r.estimate_method,
                    r.edited,
                    r.source_key or None,
                    parse_utc(r.processed_at) if r.processed_at else None,
                )
            )
    return found
