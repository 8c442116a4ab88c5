"""Compacting the data lake: the landing area's many small objects (one a write) merged into
one object a reading day, `curated/records/day=YYYY-MM-DD/records.parquet`, keeping only
each reading's newest row; scans then read a few large files instead of many small ones.

Run hourly on AWS (the compaction function, terraform/lake.tf) and on demand locally
(`python -m pipeline lake compact`). Nothing is lost and nothing counted twice, whenever it
stops and however many run at once:

- a day is written before the landing objects merged into it are deleted, so a stop in
  between leaves rows in both places, which the next run merges again to the same result
  (and the `records` view, newest row of each reading, shows them once meanwhile);
- a day is written only if it is still the version this run read (S3's conditional PUT:
  If-Match its ETag, or If-None-Match for a new day); when another run wrote it meanwhile,
  this one reads it again and merges again;
- an object that is not the lake's Parquet is moved aside to `curated/unreadable/` with
  its reason logged and reported, never half merged and never left to stop every run.

Memory is bounded by a batch (at most `BATCH_OBJECTS` landing objects and about
`BATCH_ROWS` rows) and one day's records at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from logging import ERROR
from typing import Any

from pipeline import lake
from pipeline.aws import client, error_code
from pipeline.logs import log
from pipeline.parquet import ParquetError, write_parquet
from pipeline.parquet_reader import read_parquet
from pipeline.settings import Settings

BATCH_OBJECTS = 1_000  # landing objects merged before their days are written (one DeleteObjects)
BATCH_ROWS = 200_000  # ... or fewer, once their rows add up to this
MAX_OBJECT_BYTES = 256 * 1024 * 1024  # a landing object holds one write; larger is not ours
CONFLICT_TRIES = 5  # writes of a day another run keeps changing under this one
UNREADABLE = "unreadable"
_CONFLICTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
Row = dict[str, Any]
Reading = tuple[str, datetime]


class CompactionError(RuntimeError):
    """Compaction could not finish; what it wrote stays consistent and the next run resumes."""


@dataclass
class Compaction:
    """What a run did, for its log line and the operator."""

    landing_objects: int = 0  # merged into their days and deleted
    rows_read: int = 0
    days_written: int = 0
    superseded: int = 0  # older versions of readings left out
    conflicts: int = 0  # days another run wrote meanwhile, read and merged again
    set_aside: list[str] = field(default_factory=list)  # "key: reason" of unreadable objects
    stopped_early: bool = False  # out of time: the next run goes on from what is left

    def summary(self) -> str:
        text = (
            f"{_count(self.landing_objects, 'landing object')} ({_count(self.rows_read, 'row')}) merged into "
            f"{_count(self.days_written, 'day')}; {_count(self.superseded, 'older version')} left out"
        )
        if self.conflicts:
            text += f"; {_count(self.conflicts, 'day')} merged again after another run wrote it"
        if self.set_aside:
            text += f"; {_count(len(self.set_aside), 'unreadable object')} moved to {UNREADABLE}/"
        if self.stopped_early:
            text += "; stopped for time, the rest waits for the next run"
        return text


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def compact(
    settings: Settings,
    *,
    seconds_left: Callable[[], float] = lambda: math.inf,
    reserve_seconds: float = 0,
    batch_objects: int = BATCH_OBJECTS,
    batch_rows: int = BATCH_ROWS,
) -> Compaction:
    """Merge every landing object (oldest first) into its readings' days, batch by batch;
    stop between batches once fewer than `reserve_seconds` are left."""
    s3 = client(settings, "s3")
    report = Compaction()
    batch = _Batch()
    for obj in _landing_objects(s3, settings):
        rows = _read_landing(s3, settings, obj, report)
        if rows is None:
            continue
        batch.add(obj["Key"], rows)
        report.rows_read += len(rows)
        if len(batch.keys) >= batch_objects or batch.rows >= batch_rows:
            _write(s3, settings, batch, report)
            batch = _Batch()
            if seconds_left() < reserve_seconds:
                report.stopped_early = True
                break
    _write(s3, settings, batch, report)
    log(
        "lake_compacted", **{k: v for k, v in vars(report).items() if k != "set_aside"}, set_aside=len(report.set_aside)
    )
    return report


class _Batch:
    """Landing objects read and their rows by reading day, the newest row of each reading."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.rows = 0
        self.days: dict[date, dict[Reading, Row]] = {}
        self.superseded = 0

    def add(self, key: str, rows: list[Row]) -> None:
        self.keys.append(key)
        self.rows += len(rows)
        for row in rows:
            self.superseded += _keep_newest(self.days.setdefault(row["timestamp"].date(), {}), row)


def _keep_newest(day: dict[Reading, Row], row: Row) -> int:
    """Keep `row` if it is its reading's newest version so far; 1 when a version is left out."""
    reading = (row["site_id"], row["timestamp"])
    kept = day.get(reading)
    if kept is None:
        day[reading] = row
        return 0
    if row["written_at"] > kept["written_at"]:
        day[reading] = row
    return 1


def _landing_objects(s3: Any, settings: Settings) -> Iterator[dict[str, Any]]:
    """Landing objects in key order: by the day written, then the time in their names."""
    prefix = f"{settings.lake_prefix}{lake.LANDING}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _read_landing(s3: Any, settings: Settings, obj: dict[str, Any], report: Compaction) -> list[Row] | None:
    """A landing object's rows; None when another run took it, or it was set aside."""
    key = obj["Key"]
    if obj.get("Size", 0) > MAX_OBJECT_BYTES:
        _set_aside(s3, settings, key, f"{obj['Size']:,} bytes, more than one write ever puts", report)
        return None
    obj = _get(s3, settings, key)
    if obj is None:
        return None  # merged and deleted by another run since the listing
    try:
        return _lake_rows(read_parquet(obj["Body"].read()))
    except ParquetError as exc:
        _set_aside(s3, settings, key, str(exc), report)
        return None


def _lake_rows(read: tuple[tuple[Any, ...], list[Row]]) -> list[Row]:
    """The rows, if their file has the lake's columns (names and kinds; an optional one may
    be missing, as in a file written before it was added)."""
    columns, rows = read
    found = {c.name: c for c in columns}
    for column in lake.COLUMNS:
        if column.name not in found:
            if not column.optional:
                raise ParquetError(f"column {column.name} is missing")
        elif (found[column.name].kind, found[column.name].scale) != (column.kind, column.scale):
            raise ParquetError(f"column {column.name} is {found[column.name].kind}, not the lake's {column.kind}")
    return rows


def _write(s3: Any, settings: Settings, batch: _Batch, report: Compaction) -> None:
    """The batch's days written, then its landing objects deleted."""
    for day in sorted(batch.days):
        report.superseded += _merge_day(s3, settings, day, batch.days[day], report)
        report.days_written += 1
    report.superseded += batch.superseded
    _delete(s3, settings, batch.keys)
    report.landing_objects += len(batch.keys)


def _merge_day(s3: Any, settings: Settings, day: date, rows: dict[Reading, Row], report: Compaction) -> int:
    """Write the day with `rows` merged in, if nobody wrote it since it was read; the number
    of versions left out."""
    key = lake.compacted_key(settings, day)
    for _ in range(CONFLICT_TRIES):
        merged, etag = _read_day(s3, settings, key, report)
        superseded = sum(_keep_newest(merged, row) for row in rows.values())
        body = write_parquet(lake.COLUMNS, sorted(merged.values(), key=lambda r: (r["site_id"], r["timestamp"])))
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType=lake.CONTENT_TYPE, **condition)
            return superseded
        except Exception as exc:
            if error_code(exc) not in _CONFLICTS:
                raise
            report.conflicts += 1
    raise CompactionError(f"day {day}: other runs kept writing it; {CONFLICT_TRIES} tries merged in vain")


def _read_day(s3: Any, settings: Settings, key: str, report: Compaction) -> tuple[dict[Reading, Row], str | None]:
    """A compacted day's records by reading, and the ETag of the version read (None: no day
    yet, or it was unreadable and has been set aside)."""
    obj = _get(s3, settings, key)
    if obj is None:
        return {}, None
    try:
        rows = _lake_rows(read_parquet(obj["Body"].read()))
    except ParquetError as exc:
        _set_aside(s3, settings, key, str(exc), report)
        return {}, None
    return {(r["site_id"], r["timestamp"]): r for r in rows}, obj["ETag"]


def _get(s3: Any, settings: Settings, key: str) -> dict[str, Any] | None:
    """The object, or None when there is none (the role may list the bucket: a 404, not a 403)."""
    try:
        return s3.get_object(Bucket=settings.bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise


def _set_aside(s3: Any, settings: Settings, key: str, reason: str, report: Compaction) -> None:
    """Move an object compaction cannot read out of the lake's tables, keeping it for a person."""
    target = f"{settings.lake_prefix}{UNREADABLE}/{key.removeprefix(settings.lake_prefix)}"
    s3.copy_object(Bucket=settings.bucket, Key=target, CopySource={"Bucket": settings.bucket, "Key": key})
    s3.delete_object(Bucket=settings.bucket, Key=key)
    report.set_aside.append(f"{key}: {reason}")
    log("lake_object_set_aside", level=ERROR, key=key, moved_to=target, reason=reason)


def _delete(s3: Any, settings: Settings, keys: list[str]) -> None:
    for start in range(0, len(keys), 1_000):  # DeleteObjects takes at most 1,000 keys
        chunk = keys[start : start + 1_000]
        answer = s3.delete_objects(
            Bucket=settings.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        if errors := answer.get("Errors"):
            first = errors[0]
            raise CompactionError(
                f"{len(errors)} merged landing objects not deleted ({first.get('Key')}: {first.get('Code')}); "
                "the next run merges them again to the same result"
            )
