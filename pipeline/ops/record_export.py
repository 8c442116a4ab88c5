"""Stored records as CSV or JSON: the one export behind `python -m pipeline records` and the
app's "Download CSV" on the Records page, so both give the same file for the same records.

Choices, and why:
- Column names are the table's attribute names, `timestamp` among them (not
  `timestamp_utc`): the same names as the records' JSON, the DynamoDB items and the
  readings contract, so the first four columns are a readings file again. Every value ends
  in `Z`, which says UTC on its own.
- `anomaly_reasons` are joined by `;` (not `, `): a reason code never holds one, so the cell
  needs no quoting and a file split on commas still has one field per column.
- Numbers are written as stored (the Decimal's text), never through a float; booleans as
  `True`/`False`; nothing (a reading's `estimate_method`) as an empty cell, `null` in JSON.
- Rows come in the order given: the callers pass them oldest first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from pipeline.records import Record

EXPORT_COLUMNS = (
    "site_id",
    "timestamp",
    "energy_generated_kwh",
    "energy_consumed_kwh",
    "net_energy_kwh",
    "anomaly",
    "anomaly_reasons",
    "source_key",
    "processed_at",
    "estimate_method",  # "linear" or "profile" for an estimate (no meter reading), empty for a reading
    "edited",  # True when an analyst corrected the record or dismissed its anomaly (original kept)
)
FORMATS = ("csv", "json")
REASON_SEPARATOR = ";"


def export_rows(records: Iterable[Record]) -> Iterator[dict[str, object]]:
    """Each record as the export writes it, one at a time (a long selection is never held)."""
    for record in records:
        yield {column: _cell(getattr(record, column)) for column in EXPORT_COLUMNS}


def write_records(records: Iterable[Record], fmt: str, out: TextIO) -> None:
    """Write `records` to `out` as `fmt` (csv: streamed row by row; json: one array)."""
    if fmt == "json":
        print(json.dumps(list(export_rows(records)), indent=2), file=out)
        return
    if fmt != "csv":
        raise ValueError(f"no export format {fmt!r}: one of {', '.join(FORMATS)}")
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(records))


def records_csv(records: Iterable[Record]) -> bytes:
    """The CSV as bytes (UTF-8), for a download."""
    out = io.StringIO(newline="")
    write_records(records, "csv", out)
    return out.getvalue().encode()


def _cell(value: object) -> object:
    if value is None:  # an empty CSV cell, null in JSON
        return None
    if isinstance(value, tuple):
        return REASON_SEPARATOR.join(value)
    return str(value) if not isinstance(value, (bool, str)) else value
