"""The Explore page's helpers without a stack: an answer's table keeps the engine's values,
its chart gets numbers and UTC times, the first chart offered, and the summary line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from dashboard import explore
from pipeline.ops.lake_queries import COMPLETENESS, DAILY_ENERGY
from pipeline.ops.lake_sql import Answer

DUCKDB = "DuckDB over a local copy of the lake"


def answer(columns: tuple[str, ...], rows: list[tuple], engine: str = DUCKDB, seconds: float = 0.25, **more) -> Answer:
    return Answer(columns, rows, engine, seconds, more.pop("truncated", False), **more)


DAYS = answer(
    ("site_id", "day", "net_kwh", "readings", "reasons"),
    [
        ("site-1", date(2026, 11, 29), Decimal("1.500000"), 4, ["negative_generation"]),
        ("site-2", date(2026, 11, 30), Decimal("-0.000001"), 2, []),
    ],
)


def test_the_table_keeps_the_engines_values():
    frame = explore.table_frame(DAYS)

    assert list(frame["net_kwh"]) == [Decimal("1.500000"), Decimal("-0.000001")]
    assert list(frame["day"]) == [date(2026, 11, 29), date(2026, 11, 30)]
    assert list(frame["reasons"]) == [["negative_generation"], []]


def test_columns_with_the_same_name_or_none_are_told_apart():
    assert explore.unique_names(("net", "net", "", "net (2)")) == ["net", "net (2)", "column 3", "net (2) (2)"]


def test_the_chart_reads_decimals_as_numbers_and_days_as_utc_midnights():
    frame = explore.table_frame(DAYS)

    assert explore.numeric_columns(frame) == ["net_kwh", "readings"]
    assert list(explore.chart_values(frame["net_kwh"])) == [1.5, -0.000001]
    assert list(explore.chart_values(frame["day"])) == [
        pd.Timestamp(datetime(2026, 11, 29, tzinfo=UTC)),
        pd.Timestamp(datetime(2026, 11, 30, tzinfo=UTC)),
    ]
    assert list(explore.chart_values(frame["reasons"])) == ["negative_generation", ""]


def test_the_first_chart_is_the_ready_querys_when_its_columns_are_there():
    frame = explore.table_frame(DAYS)

    assert explore.default_choice(frame, DAILY_ENERGY) == explore.ChartChoice("line", "day", "net_kwh", "site_id")
    # completeness's x and y are not among these columns: the first time against the first number
    assert explore.default_choice(frame, COMPLETENESS) == explore.ChartChoice("line", "day", "net_kwh")
    assert explore.default_choice(explore.table_frame(answer(("site_id",), [("site-1",)])), DAILY_ENERGY) is None


def test_a_column_name_with_dots_and_brackets_is_one_field():
    frame = pd.DataFrame({"a.b": ["x", "y"], "sum[kwh]": [Decimal(1), Decimal(2)]})

    spec = explore.chart(frame, explore.ChartChoice("bar", "a.b", "sum[kwh]")).to_dict()

    assert spec["encoding"]["x"]["field"] == "a\\.b" and spec["encoding"]["y"]["field"] == "sum\\[kwh\\]"


def test_the_summary_names_the_engine_athenas_scan_and_a_cut():
    assert explore.summary(DAYS) == f"**2 rows** in 0.25 s · {DUCKDB}"
    on_athena = answer(
        ("n",),
        [(1,)],
        engine="Athena, workgroup energy-lake",
        seconds=1.5,
        truncated=True,
        bytes_scanned=12_345_678,
        cost_usd=Decimal("0.00006500"),
    )
    assert explore.summary(on_athena) == (
        "**1 row** in 1.50 s · Athena, workgroup energy-lake · scanned 12.3 MB, $0.000065 · "
        "only the first row is shown: raise the row limit or narrow the query"
    )


def test_days_and_months_are_drawn_as_such_and_times_in_utc():
    def x_axis(values: list) -> dict:
        frame = pd.DataFrame({"t": values, "n": [1] * len(values)})
        return explore.chart(frame, explore.ChartChoice("line", "t", "n")).to_dict()["encoding"]["x"]

    assert x_axis([date(2026, 11, 29), date(2026, 11, 30)])["timeUnit"] == "utcyearmonthdate"
    assert x_axis([date(2026, 10, 1), date(2026, 11, 1)])["timeUnit"] == "utcyearmonth"
    hourly = x_axis([datetime(2026, 11, 29, 6, tzinfo=UTC), datetime(2026, 11, 29, 7, tzinfo=UTC)])
    assert "timeUnit" not in hourly and hourly["scale"] == {"type": "utc"} and hourly["title"] == "t (UTC)"
