"""Analysts' SQL over the data lake, read-only and time-limited: on AWS by Athena (in the
stack's workgroup, which caps the bytes a query may scan), locally by DuckDB over a copy of
the lake kept in step with it (`lake_local`). Both see the same three tables (`records`, the view of
every reading as DynamoDB holds it; `records_landing`; `records_compacted`).

Read-only twice over: a statement is refused here unless it is one query (SELECT, WITH,
VALUES, DESCRIBE, SHOW) with no word that changes data or settings outside its strings and
comments; then DuckDB's own parser must call it a SELECT, and DuckDB answers from a
read-only database with no file access and its configuration locked (`lake_local`); on
Athena the analysts' IAM policy grants no catalog or S3 writes (terraform/lake.tf).

DuckDB is imported only when a query runs locally: the Lambda never runs this module, and
the rest of `pipeline/` keeps to the standard library and boto3.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.aws import client
from pipeline.ops import lake_local
from pipeline.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MAX_ROWS = 10_000
ATHENA_USD_PER_TB = Decimal(5)  # us-east-1, SQL queries
ATHENA_MINIMUM_BYTES = 10 * 1_000_000  # Athena bills at least 10 MB a query
_READING = frozenset({"select", "with", "values", "describe", "show", "from"})
# words that write, change settings or reach outside the lake, wherever they stand in a query
_WRITING = frozenset(
    {
        *("insert", "update", "delete", "merge", "upsert", "create", "drop", "alter", "truncate"),
        *("copy", "attach", "detach", "use", "install", "load", "set", "reset", "pragma", "call"),
        *("grant", "revoke", "vacuum", "analyze", "export", "import", "unload", "msck", "optimize"),
        *("refresh", "checkpoint", "prepare", "execute", "deallocate", "begin", "commit", "rollback"),
        "comment",
    }
)
_TOKEN = re.compile(r"""--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|;|\S""", re.S)


class QueryRefused(ValueError):
    """The statement would change something, or is not one query: it is not run."""


class QueryFailed(RuntimeError):
    """The engine could not run the query (its message says why), or it ran out of time."""


@dataclass(frozen=True)
class Answer:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    engine: str
    seconds: float
    truncated: bool  # more rows than the limit: only the first are here
    bytes_scanned: int | None = None  # Athena only
    cost_usd: Decimal | None = None  # Athena only: what the scan is billed
    note: str = ""  # e.g. what the local copy's sync did

    def summary(self) -> str:
        rows = f"{len(self.rows):,}{'+' if self.truncated else ''} rows in {self.seconds:.2f} s ({self.engine})"
        if self.bytes_scanned is not None and self.cost_usd is not None:
            rows += f"; scanned {self.bytes_scanned / 1e6:,.1f} MB, ${self.cost_usd:.6f}"
        return rows

    def csv(self) -> str:
        """The rows under a header, as `python -m pipeline sql` prints them and the Explore page
        downloads them (one writer, so the two files are the same): decimals to their last
        digit, dates and times in ISO 8601, lists (the reasons) as JSON, nulls empty."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([_csv_value(v) for v in row] for row in self.rows)
        return out.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value)
    return "" if value is None else value


def read_only(sql: str) -> str:
    """The one read-only statement `sql` holds, without a trailing semicolon; QueryRefused
    with a sentence otherwise."""
    tokens = _TOKEN.findall(sql)
    words = [t for t in tokens if not t.startswith(("--", "/*"))]
    while words and words[-1] == ";":
        words.pop()
    if not words:
        raise QueryRefused("there is no query to run")
    if ";" in words:
        raise QueryRefused("one statement at a time: remove everything after the first ';'")
    first = words[0].lower()
    if first not in _READING:
        raise QueryRefused(f"only queries are run here (SELECT, WITH, VALUES, DESCRIBE, SHOW), not {words[0].upper()}")
    writing = sorted({w.lower() for w in words if w.lower() in _WRITING})
    if writing:
        raise QueryRefused(
            f"{', '.join(w.upper() for w in writing)} would change data or settings: queries here are read-only "
            '(a column of that name can be written in double quotes, e.g. "set")'
        )
    return sql.strip().rstrip(";").strip()


def run(
    settings: Settings,
    sql: str,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    max_rows: int = DEFAULT_MAX_ROWS,
    cache_dir: Path | None = None,
) -> Answer:
    """Run one read-only query over the lake: Athena on AWS, DuckDB on the embedded stack."""
    statement = read_only(sql)
    if settings.backend == "aws":
        return _athena(settings, statement, timeout_seconds, max_rows)
    return _duckdb(settings, statement, timeout_seconds, max_rows, cache_dir)


def athena_cost(bytes_scanned: int) -> Decimal:
    """What Athena bills for a scan: $5 a TB, at least 10 MB, rounded up to the megabyte."""
    billed = max(bytes_scanned, ATHENA_MINIMUM_BYTES)
    megabytes = -(-billed // 1_000_000)
    return Decimal(megabytes) * 1_000_000 * ATHENA_USD_PER_TB / Decimal(10**12)


# --- locally: DuckDB over the synced copy --------------------------------------------------


def _duckdb(
    settings: Settings, statement: str, timeout_seconds: float, max_rows: int, cache_dir: Path | None
) -> Answer:
    import duckdb

    started = time.monotonic()
    try:
        kinds = {s.type for s in duckdb.extract_statements(statement)}
    except duckdb.Error as exc:
        raise QueryFailed(_first_line(exc)) from None
    if kinds != {duckdb.StatementType.SELECT}:
        raise QueryRefused(f"only queries are run here, not {', '.join(sorted(k.name for k in kinds))}")
    try:
        with lake_local.connection(settings, cache_dir, wait_seconds=timeout_seconds) as (connection, synced):
            left = timeout_seconds - (time.monotonic() - started)
            timer = threading.Timer(max(0.0, left), connection.interrupt)
            timer.start()
            try:
                cursor = connection.execute(statement)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = cursor.fetchmany(max_rows + 1)
            finally:
                timer.cancel()
    except duckdb.InterruptException:
        raise QueryFailed(f"stopped after {timeout_seconds:g} s, the time limit") from None
    except duckdb.Error as exc:
        raise QueryFailed(_first_line(exc)) from None
    except lake_local.LakeBusy as exc:
        raise QueryFailed(str(exc)) from None
    return Answer(
        columns,
        rows[:max_rows],
        "DuckDB over a local copy of the lake",
        time.monotonic() - started,
        truncated=len(rows) > max_rows,
        note=synced.summary(),
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --- on AWS: Athena ---------------------------------------------------------------------------

_ATHENA_VALUES = {
    "boolean": lambda v: v == "true",
    "tinyint": int,
    "smallint": int,
    "integer": int,
    "bigint": int,
    "double": float,
    "real": float,
    "float": float,
    "decimal": Decimal,
    "date": date.fromisoformat,
    "timestamp": lambda v: datetime.fromisoformat(v),
}


def _athena(settings: Settings, statement: str, timeout_seconds: float, max_rows: int) -> Answer:
    athena = client(settings, "athena")
    started = time.monotonic()
    execution_id = athena.start_query_execution(
        QueryString=statement,
        WorkGroup=settings.athena_workgroup,
        QueryExecutionContext={"Database": settings.lake_database},
    )["QueryExecutionId"]
    pause = 0.2
    while True:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = execution["Status"].get("StateChangeReason") or state.lower()
            raise QueryFailed(f"Athena: {reason}")
        if time.monotonic() - started > timeout_seconds:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise QueryFailed(f"stopped after {timeout_seconds:g} s, the time limit (Athena query {execution_id})")
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)
    columns, rows, truncated = _athena_rows(athena, execution_id, max_rows)
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    return Answer(
        columns,
        rows,
        f"Athena, workgroup {settings.athena_workgroup}",
        time.monotonic() - started,
        truncated=truncated,
        bytes_scanned=scanned,
        cost_usd=athena_cost(scanned),
        note=f"query {execution_id}",
    )


def _athena_rows(athena: Any, execution_id: str, max_rows: int) -> tuple[tuple[str, ...], list[tuple[Any, ...]], bool]:
    columns: tuple[str, ...] = ()
    convert: list[Any] = []
    rows: list[tuple[Any, ...]] = []
    header = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        result = page["ResultSet"]
        if not columns:
            info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = tuple(c["Name"] for c in info)
            convert = [_ATHENA_VALUES.get(c.get("Type", "varchar").split("(")[0], str) for c in info]
        for row in result.get("Rows", []):
            values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
            if header:  # a SELECT's first row repeats the column names
                header = False
                if tuple(values) == columns:
                    continue
            if len(rows) == max_rows:
                return columns, rows, True
            rows.append(tuple(None if v is None else f(v) for f, v in zip(convert, values, strict=False)))
    return columns, rows, False
