"""Raw file bytes -> rows, for every format the contract accepts, in bounded memory.

A file is JSON (an array of readings, as the original system wrote, or one reading),
JSON Lines, or CSV with a header, each optionally gzipped. The format comes from the key's
suffix and, where that says nothing, from the content. A row that cannot be decoded stays a
row (with an error) so that it is quarantined beside its good neighbours; only a file with
no usable structure at all raises `UnreadableFile`.

Files arrive as an iterable of byte chunks and are decoded as a stream (gunzip, UTF-8, then
one row at a time), so memory is bounded by `Limits`, never by the file: a gzip bomb stops at
the decompressed-size or compression-ratio limit, a row longer or deeper than allowed becomes
a row error and is skipped by a scanner that does not hold it. `UnreadableFile` can therefore
be raised at any point of the iteration: a caller that must not store rows of an unreadable
file makes a first pass with `scan_rows` (or `check_readable`) and stores on a second one.

A file gzipped twice is not unpacked recursively: after one layer, content that is still
gzip is refused whole as `compressed_twice`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain

FIELDS = ("site_id", "timestamp", "energy_generated_kwh", "energy_consumed_kwh")
GZIP_MAGIC = b"\x1f\x8b"
KB = 1024
MB = 1024 * KB
INFLATE_BLOCK = 256 * KB  # most bytes one zlib call may produce, so a bomb never lands in memory at once
PREFIX_CHARS = 200  # what a skipped row keeps of itself for the quarantine

# Stable codes and the sentence a person reads for them.
REASONS = {
    "not_utf8": "it is not UTF-8 text",
    "not_gzip": "it is not valid gzip",
    "compressed_twice": "it is compressed more than once (only one gzip layer is unpacked)",
    "empty_file": "it holds no readings",
    "invalid_json": "it is not valid JSON",
    "unexpected_json": "its top level is neither an array of readings nor one reading",
    "csv_missing_columns": "its CSV header lacks a needed column",
    "csv_invalid": "it is not valid CSV",
    "header_too_many_columns": "its CSV header has more columns than allowed",
    "object_too_large": "it is larger than the largest file accepted",
    "decompressed_too_large": "it inflates past the largest decompressed size accepted",
    "compression_ratio_too_high": "it inflates far more than real readings do (a likely gzip bomb)",
    "row_not_json": "a line is not JSON",
    "row_malformed": "a CSV row does not match the header",
    "row_too_long": "a row is longer than allowed",
    "row_too_deep": "a row is nested deeper than allowed",
    "row_too_many_columns": "a row has more columns or keys than allowed",
}


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
    size: int = field(default=0, compare=False)  # characters of the row as read (0 where unknown)


@dataclass(frozen=True)
class Limits:
    """What one file may cost. Real readings files sit far below every default.

    The ratio is only enforced past `ratio_floor_bytes` decompressed, so a small file of
    identical readings (which gzip squeezes a thousandfold) still passes. Row length is
    counted in characters of the decoded text.
    """

    max_object_bytes: int = 512 * MB
    max_decompressed_bytes: int = 1024 * MB
    max_ratio: int = 100
    ratio_floor_bytes: int = 16 * MB
    max_row_bytes: int = 64 * KB
    max_columns: int = 64
    max_depth: int = 32


_EXACT = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal, parse_constant=NonFinite)
_FAST = json.JSONDecoder()  # for a pass that only checks: Decimal construction is most of the decode cost
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")
_STRUCTURE = re.compile(r'[\[\]{}",]')
_IN_STRING = re.compile(r'["\\]')
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def iter_rows(key: str, chunks: Iterable[bytes], limits: Limits = Limits()) -> Iterator[RawRow]:
    """Every row of the file, decoded as the chunks arrive."""
    return _rows(key, chunks, limits, _EXACT)


def scan_rows(key: str, chunks: Iterable[bytes], limits: Limits = Limits()) -> Iterator[RawRow]:
    """Every row, for a pass that only checks: the same rows, errors and sizes as `iter_rows`,
    but numbers parsed as floats (Decimal construction is most of the decode cost)."""
    return _rows(key, chunks, limits, _FAST)


def check_readable(key: str, chunks: Iterable[bytes], limits: Limits = Limits()) -> int:
    """How many rows the file has; raises `UnreadableFile` as `iter_rows` would.

    Floats save only ~10% (bench/parse.py: 3.3 s against 3.7 s for 1.5M readings): decoding
    is C-fast either way, so the first pass costs about as much as the second.
    """
    return sum(1 for _ in scan_rows(key, chunks, limits))


def decode_rows(key: str, body: bytes, limits: Limits = Limits()) -> list[RawRow]:
    """The rows of a file already in memory (kept for callers that hold small bodies)."""
    return list(iter_rows(key, _slices(body), limits))


def iter_text(key: str, chunks: Iterable[bytes], limits: Limits = Limits(), errors: str = "strict") -> Iterator[str]:
    """The file as text, unzipped when gzipped, within the byte limits (for previews)."""
    _, data = _unpacked(key, chunks, limits)
    return _utf8(data, errors)


def _slices(body: bytes, size: int = MB) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start : start + size])


def _rows(key: str, chunks: Iterable[bytes], limits: Limits, decoder: json.JSONDecoder) -> Iterator[RawRow]:
    name, data = _unpacked(key, chunks, limits)
    text = _Text(_utf8(data))
    text.skip_whitespace()
    first = text.peek()
    if not first:
        raise UnreadableFile("empty_file", "the file holds no readings")
    if name.endswith((".jsonl", ".ndjson")):
        rows = _json_lines(text, limits, decoder)
    elif name.endswith(".csv"):
        rows = _csv(text, limits)
    elif name.endswith(".json") or first in "[{":
        rows = _json(text, limits, decoder)
    else:
        rows = _csv(text, limits)
    count = 0
    for row in rows:
        count += 1
        yield row
    if not count:
        raise UnreadableFile("empty_file", "the file holds no readings")


# --- bytes ------------------------------------------------------------------------------


def _unpacked(key: str, chunks: Iterable[bytes], limits: Limits) -> tuple[str, Iterator[bytes]]:
    """(the key without `.gz`, the file's bytes with at most one gzip layer removed)."""
    name = key.lower()
    head, data = _peek(_counted(chunks, limits), len(GZIP_MAGIC))
    if not (name.endswith(".gz") or head.startswith(GZIP_MAGIC)):
        return name, data
    head, data = _peek(_gunzip(data, limits), len(GZIP_MAGIC))
    if head.startswith(GZIP_MAGIC):
        raise UnreadableFile("compressed_twice", "the file is gzip inside gzip; upload it compressed once")
    return name.removesuffix(".gz"), data


def _counted(chunks: Iterable[bytes], limits: Limits) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limits.max_object_bytes:
            raise UnreadableFile("object_too_large", f"more than {limits.max_object_bytes:,} bytes")
        if chunk:
            yield bytes(chunk)


def _peek(chunks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first `size` bytes (fewer at the end) and the whole stream again."""
    taken: list[bytes] = []
    for chunk in chunks:
        taken.append(chunk)
        if sum(map(len, taken)) >= size:
            break
    head = b"".join(taken)
    return head[:size], chain([head] if head else [], chunks)


def _gunzip(chunks: Iterator[bytes], limits: Limits) -> Iterator[bytes]:
    """Inflate gzip members one after another, refusing a bomb before it fills memory.

    `fed` counts the compressed bytes zlib actually consumed, so the ratio is exact however
    large the chunks are, and each call produces at most `INFLATE_BLOCK` bytes.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = produced = 0
    for chunk in chunks:
        data, flushing = chunk, False
        while data or flushing:
            if inflater.eof:  # a next member, or the zero padding some tools append
                if not data.strip(b"\0"):
                    break
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = inflater.decompress(data, INFLATE_BLOCK)
            except zlib.error as exc:
                raise UnreadableFile("not_gzip", f"cannot decompress: {exc}") from None
            rest = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            fed += len(data) - len(rest)
            data, flushing = rest, len(out) == INFLATE_BLOCK and not inflater.eof
            if out:
                produced += len(out)
                _check_inflation(produced, fed, limits)
                yield out
    if fed and not inflater.eof:
        raise UnreadableFile("not_gzip", "cannot decompress: the compressed stream is cut short")


def _check_inflation(produced: int, fed: int, limits: Limits) -> None:
    if produced > limits.max_decompressed_bytes:
        raise UnreadableFile("decompressed_too_large", f"inflates past {limits.max_decompressed_bytes:,} bytes")
    if produced > limits.ratio_floor_bytes and produced > limits.max_ratio * fed:
        raise UnreadableFile(
            "compression_ratio_too_high",
            f"{fed:,} compressed bytes inflate to more than {produced:,} (over {limits.max_ratio}x)",
        )


def _utf8(chunks: Iterable[bytes], errors: str = "strict") -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors)
    seen = 0
    try:
        for chunk in chunks:
            text = decoder.decode(chunk)
            seen += len(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise UnreadableFile("not_utf8", f"byte {seen + exc.start} is not UTF-8") from None
    if tail:
        yield tail


# --- text buffer ------------------------------------------------------------------------


class _Text:
    """A window on the decoded text: what is not consumed yet, refilled piece by piece."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.buf = ""
        self.pos = 0
        self.offset = 0  # characters dropped before `buf`, for error positions
        self.eof = False

    def more(self) -> bool:
        """Append the next piece; False at the end of the file."""
        for piece in self._pieces:
            self.offset += self.pos
            self.buf = self.buf[self.pos :] + piece
            self.pos = 0
            return True
        self.eof = True
        return False

    def drop(self) -> None:
        """Forget everything up to the end of the buffer (a skipped row)."""
        self.offset += len(self.buf)
        self.buf = ""
        self.pos = 0

    def available(self) -> int:
        return len(self.buf) - self.pos

    def peek(self) -> str:
        if self.pos >= len(self.buf) and not self.more():
            return ""
        return self.buf[self.pos]

    def skip_whitespace(self) -> None:
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self.more():
                return

    def expect_end(self) -> None:
        """Only whitespace may follow the document."""
        self.skip_whitespace()
        if self.peek():
            raise UnreadableFile("invalid_json", f"extra data at character {self.offset + self.pos}")


# --- JSON -------------------------------------------------------------------------------


def _json(text: _Text, limits: Limits, decoder: json.JSONDecoder) -> Iterator[RawRow]:
    """An array streamed element by element; else one document, or JSON Lines in disguise."""
    if text.peek() == "[":
        yield from _json_array(text, limits, decoder)
        return
    if text.peek() == "{" and _first_line_is_json(text, limits, decoder):
        yield from _json_lines(text, limits, decoder)
        return
    row = _element(text, 1, limits, decoder)
    text.expect_end()
    if row.error is None and not isinstance(row.value, dict):
        raise UnreadableFile("unexpected_json", "the top level must be an array of readings or one reading")
    yield row


def _first_line_is_json(text: _Text, limits: Limits, decoder: json.JSONDecoder) -> bool:
    """A file whose first line is a whole JSON value is JSON Lines (one line = one reading)."""
    while (end := text.buf.find("\n", text.pos)) < 0:
        if text.available() > limits.max_row_bytes or not text.more():
            break
    line = text.buf[text.pos : len(text.buf) if end < 0 else end]
    if len(line) > limits.max_row_bytes or _too_deep(line, 0, len(line), limits):
        return False
    try:
        decoder.decode(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _json_array(text: _Text, limits: Limits, decoder: json.JSONDecoder) -> Iterator[RawRow]:
    """Elements one by one; the common case (a whole, small, shallow element) stays on a fast path."""
    text.pos += 1
    text.skip_whitespace()
    if text.peek() == "]":
        text.pos += 1
        text.expect_end()
        return
    scan = decoder.scan_once  # what raw_decode calls, without its exception translation
    max_row, max_depth, max_columns = limits.max_row_bytes, limits.max_depth, limits.max_columns
    number = 0
    while True:
        number += 1
        buf, start = text.buf, text.pos
        try:
            value, end = scan(buf, start)
        except (StopIteration, json.JSONDecodeError, RecursionError):
            end = -1
        if (
            0 < end < len(buf)
            and end - start <= max_row
            and buf.count("{", start, end) + buf.count("[", start, end) <= max_depth
            and not (type(value) is dict and len(value) > max_columns)
        ):
            text.pos = end
            yield RawRow(number, value, size=end - start)
        else:
            yield _element(text, number, limits, decoder)
        separator = _SEPARATOR.match(text.buf, text.pos)
        if separator and separator.end() < len(text.buf):
            text.pos = separator.end()
            continue
        text.skip_whitespace()
        after = text.peek()
        if after == ",":
            text.pos += 1
            text.skip_whitespace()
        elif after == "]":
            text.pos += 1
            text.expect_end()
            return
        elif not after:
            raise UnreadableFile("invalid_json", "the array is not closed")
        else:
            raise UnreadableFile("invalid_json", f"expecting ',' or ']' at character {text.offset + text.pos}")


def _element(text: _Text, number: int, limits: Limits, decoder: json.JSONDecoder) -> RawRow:
    """Decode one value at the cursor, refilling (doubling) until it is whole or too long."""
    while True:
        try:
            value, end = decoder.raw_decode(text.buf, text.pos)
        except RecursionError:
            return _skip(text, number, limits)
        except json.JSONDecodeError as exc:
            have = text.available()
            if have > limits.max_row_bytes:
                return _skip(text, number, limits, exc)
            while text.available() < 2 * have + KB and text.more():
                pass
            if text.available() == have:
                raise UnreadableFile("invalid_json", f"{exc.msg} at character {text.offset + exc.pos}") from None
            continue
        if end == len(text.buf) and text.more():  # a number cut by the chunk boundary decodes short
            continue
        break
    start, text.pos = text.pos, end
    if end - start > limits.max_row_bytes:
        return RawRow(number, _prefix(text.buf, start), error="row_too_long")
    if _too_deep(text.buf, start, end, limits):
        return RawRow(number, _prefix(text.buf, start), error="row_too_deep")
    if isinstance(value, dict) and len(value) > limits.max_columns:
        return RawRow(number, _prefix(text.buf, start), error="row_too_many_columns")
    return RawRow(number, value, size=end - start)


def _skip(text: _Text, number: int, limits: Limits, error: json.JSONDecodeError | None = None) -> RawRow:
    """Pass over a row too long or too deep to decode, holding only its first characters."""
    prefix = _prefix(text.buf, text.pos)
    length, deepest, closed = _scan_value(text)
    if not closed:
        raise UnreadableFile("invalid_json", "a value is not closed before the end of the file")
    if deepest > limits.max_depth:
        return RawRow(number, prefix, error="row_too_deep")
    if length > limits.max_row_bytes:
        return RawRow(number, prefix, error="row_too_long")
    detail = error.msg if error else "cannot be decoded"
    raise UnreadableFile("invalid_json", f"{detail} in row {number}")


def _scan_value(text: _Text) -> tuple[int, int, bool]:
    """(length, deepest nesting, whether it ended) of the value at the cursor, consuming it.

    A value ends at a ',' or a closing bracket at its own level, or at the end of the file
    when nothing is left open; the buffer is dropped as the scan goes, so nothing is held.
    """
    depth = deepest = length = 0
    in_string = escaped = False
    while True:
        buf, i, n = text.buf, text.pos, len(text.buf)
        done = False
        while i < n:
            if escaped:
                escaped, i = False, i + 1
            elif in_string:
                match = _IN_STRING.search(buf, i)
                if match is None:
                    i = n
                else:
                    i = match.end()
                    in_string, escaped = match.group() != '"', match.group() == "\\"
            else:
                match = _STRUCTURE.search(buf, i)
                if match is None:
                    i = n
                    continue
                char, j = match.group(), match.start()
                if char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                    deepest = max(deepest, depth)
                elif depth == 0:  # ',' or the enclosing array's ']' ends the value
                    i, done = j, True
                    break
                elif char != ",":
                    depth -= 1
                i = j + 1
        length += i - text.pos
        text.pos = i
        if done:
            return length, deepest, True
        text.drop()
        if not text.more():
            return length, deepest, depth == 0 and not in_string


def _too_deep(buf: str, start: int, end: int, limits: Limits) -> bool:
    """Nesting past the limit; counting brackets first keeps the common case C-fast."""
    if buf.count("{", start, end) + buf.count("[", start, end) <= limits.max_depth:
        return False
    depth = 0
    for token in _TOKENS.finditer(buf, start, end):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limits.max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _prefix(buf: str, start: int) -> str:
    return buf[start : start + PREFIX_CHARS] + "…"


def _json_lines(text: _Text, limits: Limits, decoder: json.JSONDecoder) -> Iterator[RawRow]:
    number = 0
    for line in _lines(text, limits):
        if not isinstance(line, _Long) and not line.strip():
            continue
        number += 1
        if isinstance(line, _Long):
            yield RawRow(number, str(line), error="row_too_deep" if line.deep else "row_too_long")
            continue
        if _too_deep(line, 0, len(line), limits):
            yield RawRow(number, _prefix(line, 0), error="row_too_deep")
            continue
        try:
            value = decoder.decode(line)
        except RecursionError:
            yield RawRow(number, _prefix(line, 0), error="row_too_deep")
            continue
        except json.JSONDecodeError:
            yield RawRow(number, line.strip(), error="row_not_json", size=len(line))
            continue
        if isinstance(value, dict) and len(value) > limits.max_columns:
            yield RawRow(number, _prefix(line, 0), error="row_too_many_columns")
        else:
            yield RawRow(number, value, size=len(line))


class _Long(str):
    """The start of a line too long to keep; `deep` when that start alone nests past the limit."""

    deep = False


def _long(buf: str, start: int, end: int, limits: Limits) -> _Long:
    line = _Long(_prefix(buf, start))
    line.deep = _too_deep(buf, start, end, limits)
    return line


def _lines(text: _Text, limits: Limits) -> Iterator[str]:
    """Lines without their '\\n'; a line past the row limit comes as a `_Long` prefix, skipped unheld."""
    scanned = 0  # characters after the cursor known to hold no newline
    while True:
        end = text.buf.find("\n", text.pos + scanned)
        if end >= 0:
            line = text.buf[text.pos : end]
            text.pos, scanned = end + 1, 0
            yield _long(line, 0, len(line), limits) if len(line) > limits.max_row_bytes else line
            continue
        scanned = text.available()
        if scanned > limits.max_row_bytes:
            prefix = _long(text.buf, text.pos, len(text.buf), limits)
            text.drop()
            while text.more():
                end = text.buf.find("\n")
                if end >= 0:
                    text.pos = end + 1
                    break
                text.drop()
            scanned = 0
            yield prefix
            continue
        if not text.more():
            if text.available():
                line = text.buf[text.pos :]
                text.pos = len(text.buf)
                yield _long(line, 0, len(line), limits) if len(line) > limits.max_row_bytes else line
            return


# --- CSV --------------------------------------------------------------------------------

_TOO_LONG = "\0row_too_long\0"


def _csv(text: _Text, limits: Limits) -> Iterator[RawRow]:
    # The csv module's field limit is process-wide; every caller here sets the same bound.
    csv.field_size_limit(limits.max_row_bytes)
    lines = (_TOO_LONG + "\n" if isinstance(line, _Long) else line + "\n" for line in _lines(text, limits))
    reader = csv.reader(lines, skipinitialspace=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        if len(header) > limits.max_columns:
            raise UnreadableFile("header_too_many_columns", f"{len(header):,} columns (at most {limits.max_columns})")
        missing = [f for f in FIELDS if f not in header]
        if missing:
            raise UnreadableFile("csv_missing_columns", f"the header lacks {', '.join(missing)}")
        number = 0
        for cells in reader:
            if not cells:
                continue
            number += 1
            yield _csv_row(number, header, cells, limits)
    except csv.Error as exc:
        raise UnreadableFile("csv_invalid", f"{exc} (line {reader.line_num})") from None


def _csv_row(number: int, header: list[str], cells: list[str], limits: Limits) -> RawRow:
    if cells == [_TOO_LONG]:
        return RawRow(number, {}, error="row_too_long")
    if len(cells) > limits.max_columns:
        return RawRow(number, ",".join(cells)[:PREFIX_CHARS] + "…", error="row_too_many_columns")
    row: dict[str, str | None] = dict(zip(header, cells, strict=False))
    for name in header[len(cells) :]:
        row[name] = None
    size = sum(len(cell) for cell in cells)
    if len(cells) > len(header) or any(row.get(f) is None for f in FIELDS):
        return RawRow(number, row, error="row_malformed", size=size)
    return RawRow(number, {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}, size=size)
