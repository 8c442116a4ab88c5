"""The lake's Parquet writer: what it writes, two independent readers (DuckDB, the engine
the app queries the lake with, and pyarrow, a strict one) read back to the last digit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.parquet import Column, ParquetError, write_parquet

COLUMNS = [
    Column("site_id", "string", optional=False),
    Column("timestamp", "timestamp", optional=False),
    Column("energy_generated_kwh", "decimal", precision=13, scale=6),
    Column("anomaly", "bool"),
    Column("anomaly_reasons", "strings"),
    Column("edits", "int"),
    Column("estimate_method", "string"),
]
T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
ROWS = [
    {
        "site_id": "site-1",
        "timestamp": T0,
        "energy_generated_kwh": Decimal("12.5"),
        "anomaly": False,
        "anomaly_reasons": [],
        "edits": 0,
    },
    {
        "site_id": "Wind farm Æbeltoft ☀",
        "timestamp": T0 + timedelta(microseconds=1),
        "energy_generated_kwh": Decimal("-999999.999999"),
        "anomaly": True,
        "anomaly_reasons": ["negative_generation", "spike_generation"],
        "edits": 2**63 - 1,
        "estimate_method": "linear",
    },
    {"site_id": "site-3", "timestamp": datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=2)))},
]


def written(tmp_path: Path, columns: list[Column], rows: list[dict]) -> str:
    path = tmp_path / "t.parquet"
    path.write_bytes(write_parquet(columns, rows))
    return str(path)


def expected(rows: list[dict], columns: list[Column]) -> list[tuple]:
    return [tuple(row.get(c.name) for c in columns) for row in rows]


def test_duckdb_reads_every_kind_back_exactly_with_nulls_and_empty_lists(tmp_path):
    path = written(tmp_path, COLUMNS, ROWS)

    found = duckdb.connect().sql(f"SELECT * FROM '{path}'").fetchall()

    assert found == expected(ROWS, COLUMNS)
    assert [type(value) for value in found[1][2:3]] == [Decimal], "decimals stay decimals"


def test_duckdb_sees_the_types_an_analyst_queries_with(tmp_path):
    path = written(tmp_path, COLUMNS, ROWS)

    types = dict(duckdb.connect().sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()[i][:2] for i in range(7))

    assert types == {
        "site_id": "VARCHAR",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "energy_generated_kwh": "DECIMAL(13,6)",
        "anomaly": "BOOLEAN",
        "anomaly_reasons": "VARCHAR[]",
        "edits": "BIGINT",
        "estimate_method": "VARCHAR",
    }


def test_pyarrow_reads_the_same_values_and_the_required_columns_as_not_null(tmp_path):
    table = pq.read_table(written(tmp_path, COLUMNS, ROWS))

    assert [tuple(row.values()) for row in table.to_pylist()] == expected(ROWS, COLUMNS)
    assert not table.schema.field("site_id").nullable and table.schema.field("anomaly").nullable
    assert str(table.schema.field("energy_generated_kwh").type) == "decimal128(13, 6)"


def test_min_and_max_statistics_let_readers_skip_a_file(tmp_path):
    path = written(tmp_path, COLUMNS, ROWS)

    stats = {
        row[0]: (row[1], row[2])
        for row in duckdb.connect()
        .sql(f"SELECT path_in_schema, stats_min_value, stats_max_value FROM parquet_metadata('{path}')")
        .fetchall()
    }

    assert stats["energy_generated_kwh"] == ("-999999.999999", "12.500000")
    assert stats["site_id"] == ("Wind farm Æbeltoft ☀", "site-3")


def test_many_rows_and_columns_survive_the_round_trip(tmp_path):
    rng = random.Random(7)
    columns = [Column(f"c{i}", "decimal", precision=18, scale=3) for i in range(20)]  # > 15: a long list header
    rows = [
        {c.name: (None if rng.random() < 0.1 else Decimal(rng.randint(-(10**15), 10**15)) / 1000) for c in columns}
        for _ in range(20_000)
    ]

    found = duckdb.connect().sql(f"SELECT * FROM '{written(tmp_path, columns, rows)}'").fetchall()

    assert found == expected(rows, columns)


def test_an_empty_file_has_the_columns_and_no_rows(tmp_path):
    path = written(tmp_path, COLUMNS, [])

    assert duckdb.connect().sql(f"SELECT count(*) FROM '{path}'").fetchall() == [(0,)]
    assert pq.read_table(path).column_names == [c.name for c in COLUMNS]


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        (Column("v", "decimal", precision=13, scale=6), Decimal("0.0000001"), "more than 6 decimal places"),
        (Column("v", "decimal", precision=13, scale=6), Decimal("10000000"), "more than 13 digits"),
        (Column("v", "decimal", precision=13, scale=6), 1.5, "not an exact decimal"),
        (Column("v", "timestamp"), datetime(2026, 11, 29), "not a datetime with a time zone"),
        (Column("v", "int"), 2**63, "does not fit 64 bits"),
        (Column("v", "string", optional=False), None, "a required value is missing"),
        (Column("v", "strings"), ["a", None], "a list element is null"),
        (Column("v", "bool"), 1, "not true or false"),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_refused_with_a_sentence(column, value, says):
    with pytest.raises(ParquetError, match=says):
        write_parquet([column], [{"v": value}])


def test_a_decimal_column_wider_than_64_bits_is_refused():
    with pytest.raises(ParquetError, match="does not fit INT64"):
        Column("v", "decimal", precision=19, scale=2)
