"""Parquet files written with the standard library alone: the format of the curated copy
of the records in S3 (the data lake), which Athena and DuckDB both read.

Why not pyarrow: the Lambda's package is `pipeline/` and tzdata, and its cold start is
that small package's imports; pyarrow would add tens of megabytes and hundreds of
milliseconds to every cold start for the few column types the lake needs (see
docs/lake.md for the measured figures). What this writes is the plain core of the format:
one row group, one data page (v1) per column, PLAIN values, GZIP pages, min/max
statistics, and these column kinds:

- `string`: UTF-8 text (BYTE_ARRAY, STRING);
- `bool`;
- `int`: 64-bit integers;
- `decimal`: exact decimals as scaled 64-bit integers (DECIMAL(precision, scale) on INT64,
  precision at most 18), so `Decimal("12.5")` at scale 6 is stored as 12500000;
- `timestamp`: UTC instants to the microsecond (INT64, TIMESTAMP(MICROS, UTC)), from
  `datetime` values with a time zone;
- `strings`: a list of UTF-8 texts (the three-level LIST: optional group, repeated group,
  required element), for reason codes.

Any column may be optional (null where a row has no value). The format's reference:
https://parquet.apache.org/docs/file-format/ and parquet.thrift.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MAGIC = b"PAR1"
CREATED_BY = "energy-pipeline parquet writer"
KINDS = ("string", "bool", "int", "decimal", "timestamp", "strings")
MAX_DECIMAL_PRECISION = 18  # digits an INT64 holds

# parquet.thrift's enums, as far as this writer (and `parquet_reader`, which reads what it writes) uses them
BOOLEAN, INT64, BYTE_ARRAY = 0, 2, 6  # Type
REQUIRED, OPTIONAL, REPEATED = 0, 1, 2  # FieldRepetitionType
UTF8, DECIMAL, LIST, TIMESTAMP_MICROS = 0, 5, 3, 10  # ConvertedType
PLAIN, RLE = 0, 3  # Encoding
GZIP = 2  # CompressionCodec
DATA_PAGE = 0  # PageType
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ParquetError(ValueError):
    """A value that does not fit its column: the rows are not written."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS
    optional: bool = True
    precision: int = MAX_DECIMAL_PRECISION  # decimals only
    scale: int = 0  # decimals only: digits after the point

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParquetError(f"column {self.name}: unknown kind {self.kind!r}")
        if self.kind == "decimal" and not 0 <= self.scale <= self.precision <= MAX_DECIMAL_PRECISION:
            raise ParquetError(f"column {self.name}: DECIMAL({self.precision}, {self.scale}) does not fit INT64")


def write_parquet(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The rows (each a mapping from column name to value, a missing name being null) as
    the bytes of one Parquet file."""
    out = bytearray(MAGIC)
    chunks = []
    for column in columns:
        offset = len(out)
        page, meta = _column_chunk(column, [row.get(column.name) for row in rows])
        out += page
        chunks.append((column, offset, meta))
    footer = _file_metadata(columns, len(rows), chunks)
    out += footer
    out += struct.pack("<i", len(footer))
    out += MAGIC
    return bytes(out)


# --- one column ------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChunkMeta:
    values: int  # entries in the page: rows, or list elements (an empty or null list counts one)
    uncompressed: int  # the page's header and data before compression
    compressed: int
    statistics: tuple[bytes, bytes] | None  # PLAIN min and max of the non-null values
    physical: int


def _column_chunk(column: Column, values: list[Any]) -> tuple[bytes, _ChunkMeta]:
    if column.kind == "strings":
        repetition, definition, present = _list_levels(column, values)
        levels = _levels(repetition, 1) + _levels(definition, 2 if column.optional else 1)
        entries = len(repetition)
    else:
        if not column.optional and any(v is None for v in values):
            raise ParquetError(f"column {column.name}: a required value is missing")
        present = [v for v in values if v is not None]
        levels = _levels([0 if v is None else 1 for v in values], 1) if column.optional else b""
        entries = len(values)
    data, stats = _plain(column, present)
    raw = levels + data
    compressed = _gzip(raw)
    header = _page_header(entries, len(raw), len(compressed))
    meta = _ChunkMeta(entries, len(header) + len(raw), len(header) + len(compressed), stats, _physical(column))
    return header + compressed, meta


def _plain(column: Column, present: list[Any]) -> tuple[bytes, tuple[bytes, bytes] | None]:
    """The non-null values PLAIN-encoded, and their min and max likewise (text compared as
    UTF-8 bytes, as readers do); each value converted once."""
    if column.kind in ("string", "strings"):
        if not all(isinstance(v, str) for v in present):
            bad = next(v for v in present if not isinstance(v, str))
            raise ParquetError(f"column {column.name}: {bad!r} is not text")
        texts = [v.encode() for v in present]
        data = b"".join(struct.pack("<I", len(t)) + t for t in texts)
        return data, ((min(texts), max(texts)) if texts else None)
    if column.kind == "bool":
        if not all(isinstance(v, bool) for v in present):
            bad = next(v for v in present if not isinstance(v, bool))
            raise ParquetError(f"column {column.name}: {bad!r} is not true or false")
        stats = (b"\x01" if min(present) else b"\x00", b"\x01" if max(present) else b"\x00") if present else None
        return _pack_bits(present), stats
    numbers = [_as_int64(column.kind, column, v) for v in present]
    data = struct.pack(f"<{len(numbers)}q", *numbers)
    return data, ((struct.pack("<q", min(numbers)), struct.pack("<q", max(numbers))) if numbers else None)


def _physical(column: Column) -> int:
    return {"string": BYTE_ARRAY, "strings": BYTE_ARRAY, "bool": BOOLEAN}.get(column.kind, INT64)


def _list_levels(column: Column, values: list[Any]) -> tuple[list[int], list[int], list[str]]:
    """Repetition and definition levels of a three-level list, and its elements in order."""
    repetition: list[int] = []
    definition: list[int] = []
    present: list[str] = []
    defined = 1 if column.optional else 0  # the level of a list that is there but empty
    for value in values:
        if value is None:
            if not column.optional:
                raise ParquetError(f"column {column.name}: a required list is missing")
            repetition.append(0)
            definition.append(0)
            continue
        items = list(value)
        if not items:
            repetition.append(0)
            definition.append(defined)
        for i, item in enumerate(items):
            if item is None:
                raise ParquetError(f"column {column.name}: a list element is null")
            repetition.append(0 if i == 0 else 1)
            definition.append(defined + 1)
            present.append(item)
    return repetition, definition, present


def _as_int64(kind: str, column: Column, value: Any) -> int:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
            raise ParquetError(f"column {column.name}: {value!r} is not a whole number")
        number = int(value)
    elif kind == "decimal":
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise ParquetError(f"column {column.name}: {value!r} is not an exact decimal")
        scaled = Decimal(value).scaleb(column.scale)
        if scaled != scaled.to_integral_value():
            raise ParquetError(f"column {column.name}: {value} has more than {column.scale} decimal places")
        number = int(scaled)
        if abs(number) >= 10**column.precision:
            raise ParquetError(f"column {column.name}: {value} has more than {column.precision} digits")
    else:  # timestamp
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ParquetError(f"column {column.name}: {value!r} is not a datetime with a time zone")
        delta = value - EPOCH
        number = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not -(2**63) <= number < 2**63:
        raise ParquetError(f"column {column.name}: {value!r} does not fit 64 bits")
    return number


def _levels(levels: Sequence[int], max_level: int) -> bytes:
    """Levels in the RLE/bit-packed hybrid (runs only), prefixed by their length (page v1)."""
    width = (max_level.bit_length() + 7) // 8
    out = bytearray()
    i = 0
    while i < len(levels):
        j = i
        while j < len(levels) and levels[j] == levels[i]:
            j += 1
        out += _varint((j - i) << 1) + levels[i].to_bytes(width, "little")
        i = j
    return struct.pack("<I", len(out)) + bytes(out)


def _pack_bits(bits: Sequence[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    return compressor.compress(data) + compressor.flush()


# --- Thrift's compact protocol, as far as the footer and page headers need it ---------------

_TRUE, _FALSE, _I32, _I64, _BINARY, _LIST_T, _STRUCT = 1, 2, 5, 6, 8, 9, 12
Field = tuple[int, int, Any]  # (field id, compact type, value)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _struct(fields: Iterable[Field | None]) -> bytes:
    out = bytearray()
    last = 0
    for field in fields:
        if field is None:
            continue
        fid, ftype, value = field
        delta = fid - last
        out.append((delta << 4) | ftype if 0 < delta <= 15 else ftype)
        if not 0 < delta <= 15:
            out += _zigzag(fid)
        out += _value(ftype, value)
        last = fid
    out.append(0)  # stop
    return bytes(out)


def _value(ftype: int, value: Any) -> bytes:
    if ftype in (_TRUE, _FALSE):  # a boolean field's value is its type
        return b""
    if ftype in (_I32, _I64):
        return _zigzag(value)
    if ftype == _BINARY:
        data = value.encode() if isinstance(value, str) else value
        return _varint(len(data)) + data
    if ftype == _STRUCT:
        return bytes(value)  # already encoded by _struct
    if ftype == _LIST_T:
        element_type, items = value
        header = bytes([(len(items) << 4) | element_type]) if len(items) < 15 else bytes([0xF0 | element_type])
        size = b"" if len(items) < 15 else _varint(len(items))
        return header + size + b"".join(_value(element_type, item) for item in items)
    raise ValueError(f"compact type {ftype}")


def _page_header(entries: int, uncompressed: int, compressed: int) -> bytes:
    data_page = _struct([(1, _I32, entries), (2, _I32, PLAIN), (3, _I32, RLE), (4, _I32, RLE)])
    return _struct([(1, _I32, DATA_PAGE), (2, _I32, uncompressed), (3, _I32, compressed), (5, _STRUCT, data_page)])


def _schema(columns: Sequence[Column]) -> list[bytes]:
    elements = [_struct([(4, _BINARY, "schema"), (5, _I32, len(columns))])]
    for column in columns:
        repetition = OPTIONAL if column.optional else REQUIRED
        if column.kind == "strings":
            elements += [
                _struct([(3, _I32, repetition), (4, _BINARY, column.name), (5, _I32, 1), (6, _I32, LIST)]),
                _struct([(3, _I32, REPEATED), (4, _BINARY, "list"), (5, _I32, 1)]),
                _struct([(1, _I32, BYTE_ARRAY), (3, _I32, REQUIRED), (4, _BINARY, "element"), (6, _I32, UTF8)]),
            ]
            continue
        fields: list[Field | None] = [
            (1, _I32, _physical(column)),
            (3, _I32, repetition),
            (4, _BINARY, column.name),
        ]
        converted = {"string": UTF8, "decimal": DECIMAL, "timestamp": TIMESTAMP_MICROS}.get(column.kind)
        if converted is not None:
            fields.append((6, _I32, converted))
        if column.kind == "decimal":
            fields += [(7, _I32, column.scale), (8, _I32, column.precision)]
        if column.kind == "timestamp":  # LogicalType TIMESTAMP(isAdjustedToUTC, MICROS)
            unit = _struct([(2, _STRUCT, _struct([]))])  # TimeUnit.MICROS
            timestamp = _struct([(1, _TRUE, None), (2, _STRUCT, unit)])  # isAdjustedToUTC
            fields.append((10, _STRUCT, _struct([(8, _STRUCT, timestamp)])))
        elements.append(_struct(fields))
    return elements


def _file_metadata(columns: Sequence[Column], rows: int, chunks: Sequence[tuple[Column, int, _ChunkMeta]]) -> bytes:
    encoded_chunks = []
    for column, offset, meta in chunks:
        path = [column.name, "list", "element"] if column.kind == "strings" else [column.name]
        statistics = None
        if meta.statistics is not None:
            low, high = meta.statistics
            statistics = (12, _STRUCT, _struct([(5, _BINARY, high), (6, _BINARY, low)]))  # max_value, min_value
        column_meta = _struct(
            [
                (1, _I32, meta.physical),
                (2, _LIST_T, (_I32, [PLAIN, RLE])),
                (3, _LIST_T, (_BINARY, path)),
                (4, _I32, GZIP),
                (5, _I64, meta.values),
                (6, _I64, meta.uncompressed),
                (7, _I64, meta.compressed),
                (9, _I64, offset),
                statistics,
            ]
        )
        encoded_chunks.append(_struct([(2, _I64, offset), (3, _STRUCT, column_meta)]))
    total = sum(meta.uncompressed for _, _, meta in chunks)
    row_group = _struct([(1, _LIST_T, (_STRUCT, encoded_chunks)), (2, _I64, total), (3, _I64, rows)])
    return _struct(
        [
            (1, _I32, 1),
            (2, _LIST_T, (_STRUCT, _schema(columns))),
            (3, _I64, rows),
            (4, _LIST_T, (_STRUCT, [row_group])),
            (6, _BINARY, CREATED_BY),
        ]
    )
