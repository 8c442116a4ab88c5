"""The one records export (CLI `records` and the app's CSV download): the expected files are
written out by hand."""

import io
import json
from decimal import Decimal

import pytest

from pipeline.ops.record_export import records_csv, write_records
from pipeline.records import Record

EDIT = {"by": "ana", "at": "2026-12-01T00:00:00Z", "action": "corrected", "reason": "meter swap"}
RECORDS = [
    Record(
        "north", "2026-11-29T06:00:00Z", Decimal("-12.5"), Decimal("8.1"), Decimal("-20.6"),
        ("negative_generation", "spike_consumption"), "raw/2026/11/29/a.json", "2026-11-29T06:05:00Z",
    ),
    Record(
        "north", "2026-11-29T06:15:00Z", Decimal("3.000001"), Decimal("1"), Decimal("2.000001"),
        (), "raw/2026/11/29/b.json", "2026-11-29T06:35:00Z", estimate_method="linear",
    ),
    Record(
        "north", "2026-11-29T06:30:00Z", Decimal("4"), Decimal("1.5"), Decimal("2.5"),
        (), "raw/2026/11/29/b.json", "2026-11-29T06:35:00Z",
        original={"energy_generated_kwh": Decimal("40")}, edits=(EDIT,),
    ),
]  # fmt: skip

EXPECTED_CSV = """\
site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,net_energy_kwh,anomaly,anomaly_reasons,source_key,processed_at,estimate_method,edited
north,2026-11-29T06:00:00Z,-12.5,8.1,-20.6,True,negative_generation;spike_consumption,raw/2026/11/29/a.json,2026-11-29T06:05:00Z,,False
north,2026-11-29T06:15:00Z,3.000001,1,2.000001,False,,raw/2026/11/29/b.json,2026-11-29T06:35:00Z,linear,False
north,2026-11-29T06:30:00Z,4,1.5,2.5,False,,raw/2026/11/29/b.json,2026-11-29T06:35:00Z,,True
"""


def test_csv_names_the_columns_as_stored_joins_reasons_with_semicolons_and_keeps_exact_numbers():
    out = io.StringIO()
    write_records(RECORDS, "csv", out)
    assert out.getvalue() == EXPECTED_CSV
    assert records_csv(RECORDS) == EXPECTED_CSV.encode()


def test_an_empty_selection_is_the_header_alone():
    assert records_csv([]) == EXPECTED_CSV.splitlines(keepends=True)[0].encode()


def test_json_holds_the_same_cells_with_null_for_nothing():
    out = io.StringIO()
    write_records(RECORDS[:2], "json", out)
    assert json.loads(out.getvalue()) == [
        {
            "site_id": "north",
            "timestamp": "2026-11-29T06:00:00Z",
            "energy_generated_kwh": "-12.5",
            "energy_consumed_kwh": "8.1",
            "net_energy_kwh": "-20.6",
            "anomaly": True,
            "anomaly_reasons": "negative_generation;spike_consumption",
            "source_key": "raw/2026/11/29/a.json",
            "processed_at": "2026-11-29T06:05:00Z",
            "estimate_method": None,
            "edited": False,
        },
        {
            "site_id": "north",
            "timestamp": "2026-11-29T06:15:00Z",
            "energy_generated_kwh": "3.000001",
            "energy_consumed_kwh": "1",
            "net_energy_kwh": "2.000001",
            "anomaly": False,
            "anomaly_reasons": "",
            "source_key": "raw/2026/11/29/b.json",
            "processed_at": "2026-11-29T06:35:00Z",
            "estimate_method": "linear",
            "edited": False,
        },
    ]


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="xml"):
        write_records(RECORDS, "xml", io.StringIO())
