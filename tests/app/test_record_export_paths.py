"""One export, two ways out: `python -m pipeline records` and the Records page's "Download
CSV" give the same bytes for the same stored records. GIVEN one site with a flagged
reading, an estimate and an analyst's correction, stored as the pipeline stores them; the
expected file is written out by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

from dashboard import data
from pipeline.ops.cli import main
from pipeline.record_store import existing_records, store_records
from pipeline.records import Record
from pipeline.settings import Settings

SITE = "north"
EDIT = {"by": "ana", "at": "2026-12-01T00:00:00Z", "action": "corrected", "reason": "meter swap"}
RECORDS = [
    Record(
        SITE, "2026-11-29T06:00:00Z", Decimal("-12.5"), Decimal("8.1"), Decimal("-20.6"),
        ("negative_generation", "spike_consumption"), "raw/2026/11/29/a.json", "2026-11-29T06:05:00Z",
    ),
    Record(
        SITE, "2026-11-29T06:15:00Z", Decimal("3.000001"), Decimal("1"), Decimal("2.000001"),
        (), "raw/2026/11/29/b.json", "2026-11-29T06:35:00Z", estimate_method="linear",
    ),
    Record(
        SITE, "2026-11-29T06:30:00Z", Decimal("4"), Decimal("1.5"), Decimal("2.5"),
        (), "raw/2026/11/29/b.json", "2026-11-29T06:35:00Z",
        original={"energy_generated_kwh": Decimal("40")}, edits=(EDIT,),
    ),
]  # fmt: skip
EXPECTED = (
    "site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,net_energy_kwh,anomaly,anomaly_reasons,"
    "source_key,processed_at,estimate_method,edited\n"
    "north,2026-11-29T06:00:00Z,-12.5,8.1,-20.6,True,negative_generation;spike_consumption,"
    "raw/2026/11/29/a.json,2026-11-29T06:05:00Z,,False\n"
    "north,2026-11-29T06:15:00Z,3.000001,1,2.000001,False,,raw/2026/11/29/b.json,2026-11-29T06:35:00Z,linear,False\n"
    "north,2026-11-29T06:30:00Z,4,1.5,2.5,False,,raw/2026/11/29/b.json,2026-11-29T06:35:00Z,,True\n"
)


def stored(settings: Settings) -> Settings:
    before = existing_records(settings, [r.key for r in RECORDS])
    store_records(settings, RECORDS, before, f"test-{datetime.now(UTC).timestamp()}", keep_edited=False)
    return settings


def test_the_cli_and_the_download_write_the_same_file(stack):
    settings = stored(stack)
    out = io.StringIO()
    assert main(["records", "--site", SITE], out=out) == 0
    assert out.getvalue() == EXPECTED
    download = data.record_csv(settings, SITE, "0000", "9999", False, data.data_version(settings))
    assert download == EXPECTED.encode()


def test_anomalies_only_is_the_same_file_both_ways(stack):
    settings = stored(stack)
    out = io.StringIO()
    assert main(["records", "--site", SITE, "--anomalies-only"], out=out) == 0
    header, flagged = EXPECTED.splitlines(keepends=True)[:2]
    assert out.getvalue() == header + flagged
    download = data.record_csv(settings, SITE, "0000", "9999", True, data.data_version(settings))
    assert download == (header + flagged).encode()
