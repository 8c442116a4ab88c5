"""Read the data lake as an analyst's DuckDB would, and the records as DynamoDB holds them,
in one comparable form."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb

from pipeline.aws import client
from pipeline.lake import COLUMNS, COMPACTED, LANDING, newest
from pipeline.record_store import site_records
from pipeline.settings import Settings
from pipeline.timestamps import parse_utc

FIELDS = tuple(c.name for c in COLUMNS if c.name != "written_at")  # in the order `table_rows` gives


def download(settings: Settings, into: Path) -> Path:
    """Every object of the lake's two tables (landing area, compacted days), under the same paths."""
    s3 = client(settings, "s3")
    for area in (LANDING, COMPACTED):
        prefix = f"{settings.lake_prefix}{area}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = into / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=settings.bucket, Key=obj["Key"])["Body"].read())
    return into


def lake_rows(settings: Settings, *, latest: bool = True) -> list[tuple]:
    """The lake's rows (each record's newest version, or every version), sorted."""
    with tempfile.TemporaryDirectory() as into:
        files = sorted(str(p) for p in download(settings, Path(into)).rglob("*.parquet"))
        if not files:
            return []
        table = f"read_parquet({files!r})"  # both the landing area's and the compacted days' files
        source = f"({newest(table)})" if latest else table
        columns = ", ".join(f'"{f}"' for f in FIELDS)
        # (DuckDB's decimals and UTC datetimes compare equal to the pipeline's by value)
        return duckdb.connect().sql(f'SELECT {columns} FROM {source} ORDER BY site_id, "timestamp"').fetchall()


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
