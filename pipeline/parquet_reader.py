"""Reading back the Parquet files `pipeline.parquet` writes, with the standard library alone:
what compaction needs to merge the lake's landing objects into its days (pipeline.lake_compaction).

It reads the subset the writer writes (any number of row groups and v1 data pages, PLAIN
values, RLE or bit-packed levels, GZIP or no compression, the six column kinds) and refuses
anything else, and any damaged file, with a `ParquetError` that says what it found: a file
in the lake that this cannot read is set aside by compaction, never half read.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pipeline.parquet import (
    BOOLEAN,
    BYTE_ARRAY,
    DATA_PAGE,
    DECIMAL,
    EPOCH,
    GZIP,
    INT64,
    LIST,
    MAGIC,
    OPTIONAL,
    PLAIN,
    REPEATED,
    TIMESTAMP_MICROS,
    UTF8,
    Column,
    ParquetError,
)

_UNCOMPRESSED = 0
MAX_PAGE_BYTES = 256 * 1024 * 1024  # a day of 1,000 sites at 5 minutes is ~20 MB a column
_MAX_NESTING = 32  # Thrift structs inside structs: the footer needs 6; a deeper one is damage
Row = dict[str, Any]


def read_parquet(data: bytes) -> tuple[tuple[Column, ...], list[Row]]:
    """The columns and rows of a file `write_parquet` wrote: each row a dict from column
    name to value (None for null), values as the writer took them (Decimal, UTC datetime,
    list of texts...)."""
    if len(data) < 12 or data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ParquetError("not a Parquet file: the PAR1 marks are missing")
    (length,) = struct.unpack("<i", data[-8:-4])
    if not 0 < length <= len(data) - 12:
        raise ParquetError("damaged Parquet file: the footer's length is out of range")
    footer = data[-8 - length : -8]
    meta = _Thrift(footer).struct()
    columns, leaves = _columns(meta.structs(2))
    rows: list[Row] = []
    for group in meta.structs(4):
        count = group.int(3)
        chunks = group.structs(1)
        if len(chunks) != len(columns):
            raise ParquetError("damaged Parquet file: a row group does not hold every column")
        values = {
            column.name: _chunk(data, column, leaf, chunk.struct(3), count)
            for column, leaf, chunk in zip(columns, leaves, chunks, strict=True)
        }
        rows += [{name: column_values[i] for name, column_values in values.items()} for i in range(count)]
    if len(rows) != meta.int(3):
        raise ParquetError("damaged Parquet file: its row groups do not add up to its rows")
    return columns, rows


# --- the schema ---------------------------------------------------------------------------


def _columns(elements: list[_Fields]) -> tuple[tuple[Column, ...], list[_Fields]]:
    """The columns the schema describes, and the leaf element of each (for a list, its element)."""
    if not elements:
        raise ParquetError("damaged Parquet file: it has no schema")
    columns: list[Column] = []
    leaves: list[_Fields] = []
    i = 1
    while i < len(elements):
        element = elements[i]
        name = _text(element.bytes(4))
        optional = element.get(3) == OPTIONAL
        if element.get(5):  # a group: only the three-level list of texts is ours
            if element.get(6) != LIST or i + 2 >= len(elements):
                raise ParquetError(f"column {name}: a nested column this reader does not know")
            repeated, leaf = elements[i + 1], elements[i + 2]
            if repeated.get(3) != REPEATED or leaf.get(1) != BYTE_ARRAY or leaf.get(6) != UTF8:
                raise ParquetError(f"column {name}: only lists of texts are read")
            columns.append(Column(name, "strings", optional=optional))
            leaves.append(leaf)
            i += 3
            continue
        columns.append(_flat_column(name, optional, element))
        leaves.append(element)
        i += 1
    return tuple(columns), leaves


def _flat_column(name: str, optional: bool, element: _Fields) -> Column:
    physical, converted = element.get(1), element.get(6)
    if element.get(3) == REPEATED:
        raise ParquetError(f"column {name}: a repeated column this reader does not know")
    if physical == BYTE_ARRAY and converted == UTF8:
        return Column(name, "string", optional=optional)
    if physical == BOOLEAN:
        return Column(name, "bool", optional=optional)
    if physical == INT64 and converted == DECIMAL:
        return Column(name, "decimal", optional=optional, precision=element.int(8, 18), scale=element.int(7))
    if physical == INT64 and converted == TIMESTAMP_MICROS:
        return Column(name, "timestamp", optional=optional)
    if physical == INT64 and converted is None:
        return Column(name, "int", optional=optional)
    raise ParquetError(f"column {name}: physical type {physical} / converted type {converted} is not read here")


# --- one column chunk ---------------------------------------------------------------------


def _chunk(data: bytes, column: Column, leaf: _Fields, meta: _Fields, rows: int) -> list[Any]:
    if meta.get(11) is not None:
        raise ParquetError(f"column {column.name}: dictionary encoding is not read here")
    codec = meta.int(4)
    if codec not in (GZIP, _UNCOMPRESSED):
        raise ParquetError(f"column {column.name}: compression codec {codec} is not read here")
    is_list = column.kind == "strings"
    max_repetition = 1 if is_list else 0
    max_definition = (1 if column.optional else 0) + (1 if is_list else 0)
    repetition: list[int] = []
    definition: list[int] = []
    present: list[Any] = []
    position, wanted = meta.int(9), meta.int(5)
    entries = 0  # levels read: a row each, or for a list an element each (an empty list one)
    while entries < wanted:
        if not 4 <= position < len(data) - 8:
            raise ParquetError(f"column {column.name}: a page lies outside the file")
        reader = _Thrift(data, position)
        header = reader.struct()
        size = header.int(3, -1)
        body = data[reader.position : reader.position + size]
        if size < 0 or len(body) != size:
            raise ParquetError(f"column {column.name}: a page is cut short")
        position = reader.position + size
        page = header.struct(5)
        count = page.int(1)
        if header.get(1) != DATA_PAGE or page.get(2) != PLAIN:
            raise ParquetError(
                f"column {column.name}: page type {header.get(1)}, encoding {page.get(2)}: not read here"
            )
        if not 0 < count <= wanted - entries:
            raise ParquetError(f"column {column.name}: a page holds {count} values where {wanted - entries} are left")
        raw = _decompress(body, codec, header.int(2), column.name)
        offset = 0
        if max_repetition:
            page_repetition, offset = _levels(raw, offset, max_repetition, count, column.name)
            repetition += page_repetition
        if max_definition:
            page_definition, offset = _levels(raw, offset, max_definition, count, column.name)
        else:
            page_definition = [0] * count
        definition += page_definition
        present += _plain(column, leaf, raw, offset, sum(1 for d in page_definition if d == max_definition))
        entries += count
    values = _assemble(column, repetition, definition, present, max_definition)
    if len(values) != rows:
        raise ParquetError(f"column {column.name}: {len(values)} values for {rows} rows")
    return values


def _assemble(column: Column, repetition: list[int], definition: list[int], present: list[Any], top: int) -> list[Any]:
    values = iter(present)
    if column.kind != "strings":
        return [next(values) if d == top else None for d in definition]
    rows: list[Any] = []
    empty = top - 1  # the level of a list that is there but holds nothing
    for r, d in zip(repetition, definition, strict=True):
        if r == 0:
            rows.append([] if d >= empty else None)
        elif not rows or rows[-1] is None:
            raise ParquetError(f"column {column.name}: a list continues where none began")
        if d == top:
            rows[-1].append(next(values))
    return rows


def _decompress(body: bytes, codec: int, size: int, name: str) -> bytes:
    """A page's bytes, inflated to exactly the size its header gives and never past it."""
    if not 0 <= size <= MAX_PAGE_BYTES:
        raise ParquetError(f"column {name}: a page of {size} bytes is larger than this reader takes")
    if codec == _UNCOMPRESSED:
        raw = body
    else:
        try:
            raw = zlib.decompressobj(31).decompress(body, size + 1)
        except zlib.error as exc:
            raise ParquetError(f"column {name}: a page does not inflate ({exc})") from None
    if len(raw) != size:
        raise ParquetError(f"column {name}: a page inflates to {len(raw)} bytes, not the {size} its header gives")
    return raw


def _levels(raw: bytes, offset: int, max_level: int, count: int, name: str) -> tuple[list[int], int]:
    """`count` levels in the RLE/bit-packed hybrid, after their 4-byte length (page v1)."""
    if offset + 4 > len(raw):
        raise ParquetError(f"column {name}: a page's levels are cut short")
    (length,) = struct.unpack_from("<I", raw, offset)
    start, end = offset + 4, offset + 4 + length
    if end > len(raw):
        raise ParquetError(f"column {name}: a page's levels are cut short")
    width = max_level.bit_length()
    levels: list[int] = []
    position = start
    while len(levels) < count and position < end:
        header, position = _varint(raw, position, end)
        run = (header >> 1) * 8 if header & 1 else header >> 1
        if run > count - len(levels) + 7:
            raise ParquetError(f"column {name}: a page's levels run past its values")
        if header & 1:  # bit-packed: groups of eight values, `width` bits each
            groups = header >> 1
            packed = int.from_bytes(raw[position : position + groups * width], "little")
            position += groups * width
            levels += [(packed >> (i * width)) & ((1 << width) - 1) for i in range(groups * 8)]
        else:
            value = int.from_bytes(raw[position : position + (width + 7) // 8], "little")
            position += (width + 7) // 8
            levels += [value] * run
    if len(levels) < count or any(level > max_level for level in levels[:count]):
        raise ParquetError(f"column {name}: a page's levels do not match its values")
    return levels[:count], end


def _plain(column: Column, leaf: _Fields, raw: bytes, offset: int, count: int) -> list[Any]:
    physical = leaf.get(1)
    if physical == BYTE_ARRAY:
        texts = []
        for _ in range(count):
            if offset + 4 > len(raw):
                raise ParquetError(f"column {column.name}: a page's values are cut short")
            (length,) = struct.unpack_from("<I", raw, offset)
            value = raw[offset + 4 : offset + 4 + length]
            if len(value) != length:
                raise ParquetError(f"column {column.name}: a page's values are cut short")
            texts.append(_text(value, column.name))
            offset += 4 + length
        return texts
    if physical == BOOLEAN:
        packed = raw[offset : offset + (count + 7) // 8]
        if len(packed) * 8 < count:
            raise ParquetError(f"column {column.name}: a page's values are cut short")
        return [bool(packed[i // 8] >> (i % 8) & 1) for i in range(count)]
    if len(raw) - offset < 8 * count:
        raise ParquetError(f"column {column.name}: a page's values are cut short")
    numbers = struct.unpack_from(f"<{count}q", raw, offset)
    convert = _CONVERT[column.kind](column)
    return [convert(n) for n in numbers]


def _decimal(column: Column) -> Callable[[int], Decimal]:
    return lambda n: Decimal(n).scaleb(-column.scale)


def _timestamp(column: Column) -> Callable[[int], Any]:
    def convert(n: int) -> Any:
        try:
            return EPOCH + timedelta(microseconds=n)
        except OverflowError:
            raise ParquetError(f"column {column.name}: {n} µs is not a date") from None

    return convert


_CONVERT: dict[str, Callable[[Column], Callable[[int], Any]]] = {
    "int": lambda column: int,
    "decimal": _decimal,
    "timestamp": _timestamp,
}


def _text(value: bytes, name: str = "schema") -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ParquetError(f"column {name}: text that is not UTF-8") from None


def _varint(data: bytes, position: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= end or shift > 63:
            raise ParquetError("damaged Parquet file: a number runs past its end")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


# --- Thrift's compact protocol, read into {field id: value} --------------------------------


class _Fields(dict[int, Any]):
    """A Thrift struct's fields by id, read with the type the reader expects of each, so
    that a damaged file is a ParquetError where it goes wrong, not a TypeError later."""

    def int(self, fid: int, default: int = 0) -> int:
        return self._typed(fid, int, default)

    def bytes(self, fid: int) -> bytes:
        return self._typed(fid, bytes, b"")

    def struct(self, fid: int) -> _Fields:
        return self._typed(fid, _Fields, _Fields())

    def structs(self, fid: int) -> list[_Fields]:
        items = self._typed(fid, list, [])
        if not all(type(item) is _Fields for item in items):
            raise ParquetError(f"damaged Parquet file: metadata field {fid} is not a list of structs")
        return items

    def _typed(self, fid: int, kind: type, default: Any) -> Any:
        value = self.get(fid, default)
        if type(value) is not kind:
            raise ParquetError(f"damaged Parquet file: metadata field {fid} is not {kind.__name__}")
        return value


class _Thrift:
    def __init__(self, data: bytes, position: int = 0) -> None:
        self.data = data
        self.position = position
        self.depth = 0

    def struct(self) -> _Fields:
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise ParquetError("damaged Parquet file: metadata nested too deep")
        fields = _Fields()
        last = 0
        while True:
            byte = self._byte()
            if byte == 0:
                self.depth -= 1
                return fields
            delta, ftype = byte >> 4, byte & 0x0F
            fid = last + delta if delta else self._zigzag()
            fields[fid] = self._value(ftype)
            last = fid

    def _value(self, ftype: int) -> Any:
        if ftype in (1, 2):  # a boolean field's value is its type
            return ftype == 1
        if ftype == 3:
            return self._byte()
        if ftype in (4, 5, 6):
            return self._zigzag()
        if ftype == 7:
            value = self.data[self.position : self.position + 8]
            self.position += 8
            return struct.unpack("<d", value)[0] if len(value) == 8 else self._cut()
        if ftype == 8:
            length = self._varint()
            value = self.data[self.position : self.position + length]
            self.position += length
            return value if len(value) == length else self._cut()
        if ftype in (9, 10):
            header = self._byte()
            size = header >> 4 if header >> 4 != 15 else self._varint()
            element = header & 0x0F
            if size > len(self.data):
                self._cut()
            return [self._byte() == 1 if element in (1, 2) else self._value(element) for _ in range(size)]
        if ftype == 11:
            size = self._varint()
            if size == 0:
                return []
            types = self._byte()
            if size > len(self.data):
                self._cut()
            return [(self._value(types >> 4), self._value(types & 0x0F)) for _ in range(size)]  # no field is a map
        if ftype == 12:
            return self.struct()
        raise ParquetError(f"damaged Parquet file: unknown metadata type {ftype}")

    def _byte(self) -> int:
        if self.position >= len(self.data):
            self._cut()
        byte = self.data[self.position]
        self.position += 1
        return byte

    def _varint(self) -> int:
        value, self.position = _varint(self.data, self.position, len(self.data))
        return value

    def _zigzag(self) -> int:
        n = self._varint()
        return (n >> 1) ^ -(n & 1)

    def _cut(self) -> Any:
        raise ParquetError("damaged Parquet file: its metadata is cut short")
