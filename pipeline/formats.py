"""Raw file bytes -> rows, for every format the contract accepts.

A file is JSON (an array of readings, as the original system wrote, or one reading),
JSON Lines, or CSV with a header, each optionally gzipped. The format comes from the key's
suffix and, where that says nothing, from the content. A row that cannot be decoded stays a
row (with an error) so that it is quarantined beside its good neighbours; only a file with
no usable structure at all raises `UnreadableFile`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from decimal import Decimal

FIELDS = ("site_id", "timestamp", "energy_generated_kwh", "energy_consumed_kwh")
GZIP_MAGIC = b"\x1f\x8b"


class UnreadableFile(Exception):
    """The file as a whole cannot be read; `reason` is a stable code for the quarantine."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class NonFinite:
    """A JSON `NaN`/`Infinity` literal, kept as text so validation can name it."""

    text: str


@dataclass(frozen=True)
class RawRow:
    number: int
    value: object
    error: str | None = None


def decode_rows(key: str, body: bytes) -> list[RawRow]:
    name = key.lower()
    if name.endswith(".gz") or body.startswith(GZIP_MAGIC):
        body = _gunzip(body)
        name = name.removesuffix(".gz")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("not_utf8", f"byte {exc.start} is not UTF-8") from None
    if not text.strip():
        raise UnreadableFile("empty_file", "the file holds no readings")
    if name.endswith((".jsonl", ".ndjson")):
        rows = _json_lines(text)
    elif name.endswith(".csv"):
        rows = _csv(text)
    elif name.endswith(".json") or text.lstrip().startswith(("[", "{")):
        rows = _json(text)
    else:
        rows = _csv(text)
    if not rows:
        raise UnreadableFile("empty_file", "the file holds no readings")
    return rows


def _gunzip(body: bytes) -> bytes:
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile("not_gzip", f"cannot decompress: {exc}") from None


def _loads(text: str) -> object:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=NonFinite)


def _json(text: str) -> list[RawRow]:
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].lstrip().startswith("{"):
            return _json_lines(text)
        raise UnreadableFile("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(document, dict):
        return [RawRow(1, document)]
    if isinstance(document, list):
        return [RawRow(i, value) for i, value in enumerate(document, start=1)]
    raise UnreadableFile("unexpected_json", "the top level must be an array of readings or one reading")


def _json_lines(text: str) -> list[RawRow]:
    rows = []
    lines = (line for line in text.splitlines() if line.strip())
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(RawRow(number, _loads(line)))
        except json.JSONDecodeError:
            rows.append(RawRow(number, line, error="row_not_json"))
    return rows


def _csv(text: str) -> list[RawRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise UnreadableFile("csv_missing_columns", f"the header lacks {', '.join(missing)}")
    reader.fieldnames = header
    rows = []
    for number, row in enumerate(reader, start=1):
        if None in row or any(row.get(f) is None for f in FIELDS):
            rows.append(RawRow(number, {k: v for k, v in row.items() if k is not None}, error="row_malformed"))
        else:
            rows.append(RawRow(number, {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}))
    return rows
