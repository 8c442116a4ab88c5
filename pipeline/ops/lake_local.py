"""The data lake on the laptop: DuckDB over a local database kept in step with the lake.

Reading the lake's Parquet files at every query costs their GZIP pages at every query (6-8 s
for some ready queries over 3.5 M readings on 2 cores); DuckDB's own storage answers the same
in a fraction of that. So the files synced by `lake_cache` are loaded into `lake.duckdb`
beside them, incrementally: a file is loaded again only when its ETag changed, and its rows
leave when its object does (a landing object once compacted). `records` is kept there as a
table, each reading's newest row (`lake.records_view()`'s query), recomputed for the readings
a load touches: the view's joins cost a query 0.4 s each time it reads `records`. All in one
transaction, so a query never sees half a load. The database is a cache like the files:
deleted, or written by another DuckDB version, it is built again from them.

Queries get a read-only connection with no file access at all, UTC as the time zone and
the configuration locked. One process at a time loads and queries (a lock file), since
DuckDB lets only one process open a database it writes to.

DuckDB is imported here only: the Lambda never runs this, and the rest of `pipeline/` keeps
to the standard library and boto3.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline import lake
from pipeline.ops import lake_cache
from pipeline.settings import Settings

DATABASE = "lake.duckdb"
LOCK = "lake.lock"
KEY_COLUMN = "lake_key"  # the S3 key a row was loaded from, so its rows can leave with it
_TABLES = ((lake.LANDING_TABLE, lake.LANDING), (lake.COMPACTED_TABLE, lake.COMPACTED))


class LakeBusy(RuntimeError):
    """Another process held the local copy for longer than the query may wait."""


@contextlib.contextmanager
def connection(
    settings: Settings, cache_dir: Path | None = None, *, wait_seconds: float = 60
) -> Iterator[tuple[Any, lake_cache.Synced]]:
    """A read-only DuckDB connection to the lake's tables and `records` view, brought up to
    date first (and what the sync did); held exclusively until the block ends."""
    synced = lake_cache.sync(settings, cache_dir)
    with _exclusive(synced.root / LOCK, wait_seconds):
        database = synced.root / DATABASE
        _load(settings, synced, database)
        reader = _reader(database)
        try:
            yield reader, synced
        finally:
            reader.close()


def _reader(database: Path) -> Any:
    import duckdb

    reader = duckdb.connect(str(database), read_only=True, config={"enable_external_access": False})
    reader.execute("SET TimeZone = 'UTC'")  # a reading's date is its UTC date, as on Athena
    reader.execute("SET lock_configuration = true")
    return reader


def _load(settings: Settings, synced: lake_cache.Synced, database: Path) -> None:
    """Bring the database in step with the synced files; built again from them when it is
    damaged, from another DuckDB version, or of another shape (a column added since)."""
    import duckdb

    try:
        _update(settings, synced, database)
    except duckdb.Error:  # a cache: start it again from the files
        database.unlink(missing_ok=True)
        Path(f"{database}.wal").unlink(missing_ok=True)
        _update(settings, synced, database)


def _update(settings: Settings, synced: lake_cache.Synced, database: Path) -> None:
    """One transaction: the rows of files gone or changed out, those of new or changed files
    in, and the `records` table (each reading's newest row: the view's query, kept as a
    table so that queries do not pay for its joins) recomputed for the readings they touch."""
    import duckdb

    writer = duckdb.connect(str(database))
    try:
        writer.execute("SET TimeZone = 'UTC'")
        writer.execute("BEGIN TRANSACTION")
        writer.execute("CREATE TABLE IF NOT EXISTS loaded (key VARCHAR PRIMARY KEY, etag VARCHAR)")
        writer.execute("CREATE TABLE IF NOT EXISTS shape (records_sql VARCHAR)")
        for table, area in _TABLES:
            empty = (synced.area(settings, area) / lake_cache.EMPTY).as_posix()
            writer.execute(
                f"CREATE TABLE IF NOT EXISTS {table} AS "
                f"SELECT *, NULL::VARCHAR AS {KEY_COLUMN} FROM read_parquet('{_quoted(empty)}') WHERE false"
            )
        view = lake.records_view()
        rebuild = writer.execute("SELECT records_sql FROM shape").fetchall() != [(view,)]
        loaded = dict(writer.execute("SELECT key, etag FROM loaded").fetchall())
        stale = [key for key, etag in loaded.items() if synced.files.get(key) != etag]
        fresh = [key for key, etag in synced.files.items() if loaded.get(key) != etag]
        if not (stale or fresh or rebuild):
            writer.execute("ROLLBACK")
            return
        writer.execute('CREATE TEMP TABLE touched (site_id VARCHAR, "timestamp" TIMESTAMPTZ)')
        if stale:
            writer.execute("CREATE TEMP TABLE stale AS SELECT unnest($1::VARCHAR[]) AS key", [stale])
            for table, _ in _TABLES:
                writer.execute(
                    f'INSERT INTO touched SELECT site_id, "timestamp" FROM {table} '
                    f"WHERE {KEY_COLUMN} IN (SELECT key FROM stale)"
                )
                writer.execute(f"DELETE FROM {table} WHERE {KEY_COLUMN} IN (SELECT key FROM stale)")
            writer.execute("DELETE FROM loaded WHERE key IN (SELECT key FROM stale)")
        for table, area in _TABLES:
            prefix = f"{settings.lake_prefix}{area}/"
            paths = [(synced.root / key).as_posix() for key in fresh if key.startswith(prefix)]
            if paths:
                root = _quoted(synced.root.as_posix()) + "/"
                writer.execute(
                    f"CREATE OR REPLACE TEMP TABLE incoming AS SELECT * EXCLUDE (filename), "
                    f"replace(filename, '{root}', '') AS {KEY_COLUMN} FROM read_parquet($1, filename = true, "
                    "hive_partitioning = false, union_by_name = true)",
                    [paths],
                )
                writer.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                writer.execute('INSERT INTO touched SELECT site_id, "timestamp" FROM incoming')
        if fresh:
            writer.executemany("INSERT INTO loaded VALUES (?, ?)", [(key, synced.files[key]) for key in fresh])
        if rebuild:
            writer.execute(f"CREATE OR REPLACE TABLE {lake.VIEW} AS {view}")
            writer.execute("DELETE FROM shape")
            writer.execute("INSERT INTO shape VALUES ($1)", [view])
        else:
            _recompute(writer)
        writer.execute("COMMIT")
    finally:
        writer.close()


def _recompute(writer: Any) -> None:
    """The `records` rows of the touched readings, computed again from their rows alone."""
    writer.execute('CREATE TEMP TABLE readings AS SELECT DISTINCT site_id, "timestamp" FROM touched')
    same = 'USING (site_id, "timestamp")'
    for table, _ in _TABLES:
        writer.execute(f"CREATE TEMP TABLE touched_{table} AS SELECT t.* FROM {table} t SEMI JOIN readings {same}")
    writer.execute(
        f'DELETE FROM {lake.VIEW} r USING readings t WHERE r.site_id = t.site_id AND r."timestamp" = t."timestamp"'
    )
    rows = lake.records_view(f"touched_{lake.LANDING_TABLE}", f"touched_{lake.COMPACTED_TABLE}")
    writer.execute(f"INSERT INTO {lake.VIEW} {rows}")


@contextlib.contextmanager
def _exclusive(path: Path, wait_seconds: float) -> Iterator[None]:
    """Hold `path`'s lock (between processes and between threads alike: each holder opens the
    file anew), waiting at most `wait_seconds`."""
    import fcntl

    deadline = time.monotonic() + wait_seconds
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LakeBusy(
                        f"the lake's local copy stayed busy for {wait_seconds:g} s (another query or process)"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quoted(text: str) -> str:
    return text.replace("'", "''")
