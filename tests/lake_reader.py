"""Read the data lake as an analyst's DuckDB does (`pipeline.ops.lake_local`), and the records
as DynamoDB holds them, in one comparable form."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from bench.lake_answers import record_row
from pipeline.lake import COLUMNS, COMPACTED_TABLE, LANDING_TABLE, VIEW
from pipeline.ops import lake_local
from pipeline.record_store import site_records
from pipeline.settings import Settings

FIELDS = tuple(c.name for c in COLUMNS if c.name != "written_at")  # in the order `table_rows` gives


def lake_rows(settings: Settings, *, latest: bool = True) -> list[tuple]:
    """The lake's rows as the app's DuckDB sees them: the `records` view (each reading's
    newest version, wherever it is), or every version in both tables; sorted."""
    with tempfile.TemporaryDirectory() as into, lake_local.connection(settings, Path(into)) as (connection, _):
        source = VIEW if latest else f"(SELECT * FROM {LANDING_TABLE} UNION ALL SELECT * FROM {COMPACTED_TABLE})"
        columns = ", ".join(f'"{f}"' for f in FIELDS)
        # (DuckDB's decimals and UTC datetimes compare equal to the pipeline's by value)
        return connection.sql(f'SELECT {columns} FROM {source} ORDER BY site_id, "timestamp", written_at').fetchall()


def table_rows(settings: Settings, site_ids: Iterable[str]) -> list[tuple]:
    """The same fields of every record DynamoDB holds for the sites, sorted."""
    return [record_row(r) for site_id in sorted(site_ids) for r in site_records(settings, site_id)]
