"""The data lake: a curated copy of every stored record in the raw bucket, in Parquet
(`pipeline.parquet`), for Athena and DuckDB (docs/lake.md).

Written ahead: every write of records to DynamoDB (`record_store.store_parts`: a group of
files, a big file's chunk, an analyst's edit) first puts what it is about to write as one
object under `curated/landing/written=YYYY-MM-DD/`, named so that no other write uses the
name. A failed PUT fails the try before anything is stored; a write that fails after it
leaves rows its retry writes again, later. So every record DynamoDB holds has its row in
the lake, and the lake's rows are versions: the record as DynamoDB holds it is the newest
row of its `(site_id, timestamp)` by `written_at` (`newest`, and the `records` view of
`records_view`). Re-processing a file adds newer rows, never loses older ones; compaction
(`pipeline.lake_compaction`) keeps only the newest, one object a reading day.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

from pipeline.aws import client
from pipeline.parquet import Column, write_parquet
from pipeline.records import Record
from pipeline.settings import Settings
from pipeline.timestamps import parse_utc

LANDING = "landing"  # one object per write, until compaction sorts rows into reading days
COMPACTED = "records"  # one object per reading day: curated/records/day=YYYY-MM-DD/records.parquet
CONTENT_TYPE = "application/vnd.apache.parquet"
COLUMNS = (
    Column("site_id", "string", optional=False),
    Column("timestamp", "timestamp", optional=False),
    Column("energy_generated_kwh", "decimal", optional=False, precision=13, scale=6),
    Column("energy_consumed_kwh", "decimal", optional=False, precision=13, scale=6),
    Column("net_energy_kwh", "decimal", optional=False, precision=14, scale=6),
    Column("anomaly", "bool", optional=False),
    Column("anomaly_reasons", "strings", optional=False),
    Column("estimated", "bool", optional=False),
    Column("estimate_method", "string"),
    Column("edited", "bool", optional=False),
    Column("source_key", "string"),
    Column("processed_at", "timestamp"),
    Column("written_at", "timestamp", optional=False),  # orders the versions of a record
)
# The lake's tables, as Athena's Glue catalog (terraform/lake.tf) and the local DuckDB both
# name them: the landing area's rows, the compacted days' rows, and the view of the records.
LANDING_TABLE = "records_landing"
COMPACTED_TABLE = "records_compacted"
VIEW = "records"


def newest(source: str) -> str:
    """The records as DynamoDB holds them, from the rows of `source` (a table, or a query in
    parentheses): the newest version of each reading. SQL that DuckDB and Athena both run."""
    fields = ", ".join(f'"{c.name}"' for c in COLUMNS)
    return (
        f"SELECT {fields} FROM (SELECT {fields}, row_number() OVER "
        f'(PARTITION BY site_id, "timestamp" ORDER BY written_at DESC) AS version_rank FROM {source}) '
        "WHERE version_rank = 1"
    )


def records_view(landing: str = LANDING_TABLE, compacted: str = COMPACTED_TABLE) -> str:
    """The `records` view's query: each reading's newest row, whether compaction has moved it
    out of the landing area yet or not. The compacted days hold each reading once, so only
    the landing rows need ranking; two anti-joins then keep a compacted row unless a newer
    landing row replaces it (2-3x faster than ranking every row: docs/lake.md)."""
    compacted_fields = ", ".join(f'c."{c.name}"' for c in COLUMNS)
    landing_fields = ", ".join(f'l."{c.name}"' for c in COLUMNS)
    same_reading = 'l.site_id = c.site_id AND l."timestamp" = c."timestamp"'
    return (
        f"SELECT {compacted_fields} FROM {compacted} c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {landing} l WHERE {same_reading} AND l.written_at > c.written_at) "
        f"UNION ALL SELECT {landing_fields} FROM ({newest(landing)}) l WHERE NOT EXISTS "
        f"(SELECT 1 FROM {compacted} c WHERE {same_reading} AND c.written_at >= l.written_at)"
    )


def row(record: Record, written_at: datetime) -> dict[str, object]:
    return {
        "site_id": record.site_id,
        "timestamp": parse_utc(record.timestamp),
        "energy_generated_kwh": record.energy_generated_kwh,
        "energy_consumed_kwh": record.energy_consumed_kwh,
        "net_energy_kwh": record.net_energy_kwh,
        "anomaly": record.anomaly,
        "anomaly_reasons": list(record.anomaly_reasons),
        "estimated": record.estimated,
        "estimate_method": record.estimate_method,
        "edited": record.edited,
        "source_key": record.source_key or None,
        "processed_at": parse_utc(record.processed_at) if record.processed_at else None,
        "written_at": written_at,
    }


def landing_key(settings: Settings, written_at: datetime) -> str:
    """Where one write's rows land: partitioned by the day they were written, under a name
    no other write uses."""
    name = f"part-{written_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
    return f"{settings.lake_prefix}{LANDING}/written={written_at:%Y-%m-%d}/{name}"


def compacted_key(settings: Settings, day: date) -> str:
    """The one object holding a reading day's records once compacted."""
    return f"{settings.lake_prefix}{COMPACTED}/day={day.isoformat()}/records.parquet"


def write_ahead(settings: Settings, records: Iterable[Record]) -> str | None:
    """Put the records about to be written as one object, whatever days they span (one PUT
    a write); its key, or None when there is nothing to write."""
    written_at = datetime.now(UTC)
    rows = [row(r, written_at) for r in records]
    if not rows:
        return None
    key = landing_key(settings, written_at)
    body = write_parquet(COLUMNS, rows)
    client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType=CONTENT_TYPE)
    return key
