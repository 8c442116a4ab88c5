"""Every record the pipeline can store fits the lake's columns: a value that did not would
fail every try of its file (the lake is written ahead of the records) and end in the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.lake import COLUMNS, row
from pipeline.parquet import write_parquet
from pipeline.records import Record
from pipeline.validation import KWH_PLACES, MAX_ABS_KWH

WRITTEN = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def test_the_largest_and_finest_values_validation_accepts_come_back_exactly(tmp_path: Path):
    finest = KWH_PLACES  # 0.000001
    largest = MAX_ABS_KWH - finest  # 999,999.999999: every digit the columns must hold
    records = [
        Record("a", "2026-11-29T06:00:00Z", MAX_ABS_KWH, -MAX_ABS_KWH, 2 * MAX_ABS_KWH, ("spike",), "raw/a", ""),
        Record("a", "2026-11-29T06:15:00Z", -largest, largest, -2 * largest, (), "raw/a", "2026-11-29T07:00:00Z"),
        Record("a", "2026-11-29T06:30:00Z", finest, 0 * finest, finest, (), "", "2026-11-29T07:00:00Z", "linear"),
    ]
    path = tmp_path / "limits.parquet"
    path.write_bytes(write_parquet(COLUMNS, [row(r, WRITTEN) for r in records]))

    found = (
        duckdb.connect()
        .sql(
            f"SELECT energy_generated_kwh, energy_consumed_kwh, net_energy_kwh, estimate_method, source_key, "
            f"processed_at FROM '{path}' ORDER BY timestamp"
        )
        .fetchall()
    )

    assert [row[:3] for row in found] == [
        (r.energy_generated_kwh, r.energy_consumed_kwh, r.net_energy_kwh) for r in records
    ]
    assert [row[3:5] for row in found] == [(None, "raw/a"), (None, "raw/a"), ("linear", None)]
    assert found[0][5] is None, "a record without a processing time (an old item) has none in the lake"
