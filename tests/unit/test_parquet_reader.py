"""Reading back what the lake's writer writes (compaction merges landing objects with it):
every kind exactly, files other writers make in ways it does not read refused by name, and
a damaged file refused with a ParquetError, never another exception and never half read."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import parquet_reader
from pipeline.parquet import Column, ParquetError, write_parquet
from pipeline.parquet_reader import read_parquet
from tests.unit.test_parquet import COLUMNS, ROWS


def as_read(rows: list[dict], columns: list[Column]) -> list[dict]:
    """What the reader gives back: every column named, missing values None, times in UTC."""
    out = []
    for row in rows:
        value = {}
        for column in columns:
            v = row.get(column.name)
            value[column.name] = v.astimezone(UTC) if isinstance(v, datetime) else v
        out.append(value)
    return out


def test_every_kind_comes_back_exactly_with_nulls_and_empty_lists():
    columns, rows = read_parquet(write_parquet(COLUMNS, ROWS))

    assert list(columns) == COLUMNS, "names, kinds, optionality, precision and scale"
    assert rows == as_read(ROWS, COLUMNS)
    assert rows[0]["energy_generated_kwh"] == Decimal("12.5") and rows[0]["anomaly_reasons"] == []
    assert rows[2]["anomaly_reasons"] is None and rows[2]["timestamp"].tzinfo is UTC


def test_a_required_list_and_many_rows_survive():
    columns = [Column("id", "int", optional=False), Column("reasons", "strings", optional=False)]
    rng = random.Random(5)
    rows = [{"id": i, "reasons": [f"r{rng.randrange(9)}" for _ in range(rng.randrange(4))]} for i in range(20_000)]

    assert read_parquet(write_parquet(columns, rows))[1] == rows


def test_an_empty_file_has_its_columns_and_no_rows():
    columns, rows = read_parquet(write_parquet(COLUMNS, []))
    assert list(columns) == COLUMNS and rows == []


def test_pages_another_writer_encodes_in_ways_this_does_not_read_are_refused_by_name():
    table = pa.table({"site_id": ["a", "a", "b"] * 100})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, use_dictionary=True, compression="snappy")

    with pytest.raises(ParquetError, match=r"site_id: (dictionary encoding|compression codec)"):
        read_parquet(buffer.getvalue())


def test_plain_uncompressed_pages_from_another_writer_are_read():
    rows = [{"n": 1, "t": "x"}, {"n": None, "t": "ÿ"}]
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_pylist(rows), buffer, use_dictionary=False, compression="none", data_page_version="1.0"
    )

    assert read_parquet(buffer.getvalue())[1] == rows


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_file_is_refused_with_a_parquet_error_and_nothing_else(damage):
    good = write_parquet(COLUMNS, ROWS * 3)
    rng = random.Random(7)
    refused = 0
    for position in range(len(good)) if damage == "truncated" else [rng.randrange(len(good)) for _ in range(5_000)]:
        if damage == "truncated":
            data = good[:position]
        else:
            data = bytearray(good)
            data[position] ^= 1 << rng.randrange(8)
            data = bytes(data)
        try:
            read_parquet(data)
        except ParquetError:
            refused += 1
    if damage == "truncated":
        assert refused == len(good), "a file cut anywhere is refused, never read in part"
    else:
        assert refused > 2_500, "most single-bit flips are caught (gzip's CRC guards the pages)"


def test_a_file_that_claims_huge_pages_or_deep_metadata_is_refused_without_reading_it(monkeypatch):
    good = write_parquet([Column("x", "string")], [{"x": "y" * 100}])
    footer_length = int.from_bytes(good[-8:-4], "little")
    deep = b"PAR1" + b"\x1c" * 5_000 + b"\x00" + (5_001).to_bytes(4, "little") + b"PAR1"

    with pytest.raises(ParquetError, match="nested too deep"):
        read_parquet(deep)
    with pytest.raises(ParquetError):
        read_parquet(good[:4] + good[4 : -8 - footer_length] + b"\xff" * footer_length + good[-8:])
    # a page whose header claims more than the reader inflates is refused before inflating it
    monkeypatch.setattr(parquet_reader, "MAX_PAGE_BYTES", 50)
    with pytest.raises(ParquetError, match="larger than this reader takes"):
        read_parquet(good)


def test_times_before_1970_and_to_the_microsecond_come_back():
    column = Column("t", "timestamp", optional=False)
    times = [
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 12, 5, tzinfo=UTC) + timedelta(microseconds=1),
    ]

    assert [r["t"] for r in read_parquet(write_parquet([column], [{"t": t} for t in times]))[1]] == times
