"""Estimates in the app's pure helpers (no Streamlit run, no AWS): totals, bars, the net
series, the Records table's kind and caption, and the CLI's export. Expectations are worked
out by hand in the comments."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from decimal import Decimal

import pandas as pd
import pytest

from dashboard import aggregate
from dashboard.data import record_kind
from dashboard.display import record_counts
from pipeline.ops.record_export import write_records
from pipeline.records import Record

COLUMNS = [
    "site_id",
    "hour",
    "generated_kwh",
    "consumed_kwh",
    "net_kwh",
    "self_supplied_kwh",
    "readings",
    "anomalies",
    "estimated_generated_kwh",
    "estimated_consumed_kwh",
    "estimated_readings",
]
# site-1 at 10:00 measured 10 kWh generated, 4 consumed (4 readings, 1 anomaly) and has two
# estimated intervals of 2 + 0.5 kWh in total; at 11:00 only estimates (6 gen, 1.5 cons, 4 of them).
# site-2 at 10:00 measured 1 generated, 6 consumed, no estimates.
FRAME = pd.DataFrame(
    [
        ("site-1", "2026-11-29T10:00:00Z", 10.0, 4.0, 6.0, 4.0, 4, 1, 2.0, 0.5, 2),
        ("site-1", "2026-11-29T11:00:00Z", 0.0, 0.0, 0.0, 0.0, 0, 0, 6.0, 1.5, 4),
        ("site-2", "2026-11-29T10:00:00Z", 1.0, 6.0, -5.0, 1.0, 4, 0, 0.0, 0.0, 0),
    ],
    columns=COLUMNS,
)


def test_totals_keep_measured_figures_and_carry_the_estimates_apart():
    totals = aggregate.totals(FRAME)
    assert (totals.generated_kwh, totals.consumed_kwh, totals.net_kwh) == (11.0, 10.0, 1.0)
    assert totals.readings == 8 and totals.anomaly_rate == pytest.approx(1 / 8)
    assert totals.self_sufficiency == pytest.approx(5 / 10)
    assert (totals.estimated_generated_kwh, totals.estimated_consumed_kwh, totals.estimated_readings) == (8.0, 2.0, 6)
    assert totals.estimated_generation_share == pytest.approx(8 / 19)  # 8 of 11 + 8
    assert totals.estimated_consumption_share == pytest.approx(2 / 12)  # 2 of 10 + 2


def test_a_frame_without_estimates_has_none():
    measured = FRAME.drop(columns=list(aggregate.ESTIMATED))
    totals = aggregate.totals(measured)
    assert not totals.estimated and totals.estimated_generation_share == 0.0
    assert aggregate.totals(measured.iloc[0:0]).estimated_generation_share is None


def test_bars_hold_a_measured_part_per_site_and_measure_and_an_estimated_one_only_where_there_is_one():
    parts = aggregate.energy_parts(aggregate.per_site(FRAME))
    rows = [(r.site_id, r.series, r.kwh, r.measured_kwh, r.estimated_kwh) for r in parts.itertuples()]
    assert rows == [
        ("site-1", "Generated", 10.0, 10.0, 8.0),
        ("site-1", "Generated (estimated)", 8.0, 10.0, 8.0),
        ("site-1", "Consumed", 4.0, 4.0, 2.0),
        ("site-1", "Consumed (estimated)", 2.0, 4.0, 2.0),
        ("site-2", "Generated", 1.0, 1.0, 0.0),
        ("site-2", "Consumed", 6.0, 6.0, 0.0),
    ]
    shares = parts.set_index(["site_id", "series"])["estimated_share"]
    assert shares[("site-1", "Generated (estimated)")] == pytest.approx(8 / 18)
    assert shares[("site-1", "Consumed")] == pytest.approx(2 / 6)
    assert shares[("site-2", "Consumed")] == 0.0


def test_net_series_adds_the_estimated_net_and_keeps_the_parts():
    series = aggregate.net_series(FRAME, "D", UTC)
    by_site = series.set_index("site_id")
    # site-1: measured 6, estimated (2 - 0.5) + (6 - 1.5) = 6, over 6 estimated intervals
    assert by_site.loc["site-1", ["net_kwh", "measured_net_kwh", "estimated_net_kwh"]].tolist() == [12.0, 6.0, 6.0]
    assert by_site.loc["site-1", "estimated_readings"] == 6
    assert by_site.loc["site-2", ["net_kwh", "estimated_readings"]].tolist() == [-5.0, 0]


def record(**fields: object) -> Record:
    base = {
        "site_id": "site-1",
        "timestamp": "2026-11-29T10:00:00Z",
        "energy_generated_kwh": Decimal("1.5"),
        "energy_consumed_kwh": Decimal("0.5"),
        "net_energy_kwh": Decimal("1.0"),
        "anomaly_reasons": (),
        "source_key": "raw/x.json",
        "processed_at": "2026-11-29T10:05:00Z",
    }
    return Record(**{**base, **fields})  # type: ignore[arg-type]


ORIGINAL = {"energy_generated_kwh": Decimal(9), "energy_consumed_kwh": Decimal(1), "anomaly_reasons": []}


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({}, "reading"),
        ({"estimate_method": "linear"}, "estimated (linear)"),
        ({"estimate_method": "profile"}, "estimated (profile)"),
        ({"original": ORIGINAL, "edits": ({"action": "corrected"},)}, "corrected"),
        ({"original": ORIGINAL, "edits": ({"action": "corrected"}, {"action": "false_positive"})}, "false positive"),
        (
            {"estimate_method": "profile", "original": ORIGINAL, "edits": ({"action": "corrected"},)},
            "corrected (estimated, profile)",
        ),
    ],
)
def test_each_record_says_what_it_is(fields, kind):
    assert record_kind(record(**fields)) == kind


def test_caption_counts_readings_estimates_anomalies_and_edits_apart():
    frame = pd.DataFrame(
        {
            "kind": ["reading", "reading", "corrected", "estimated (linear)", "estimated (profile)"],
            "anomaly": [True, False, False, False, True],  # the flagged estimate is no anomalous reading
            "edited": [False, False, True, False, False],
        }
    )
    assert record_counts(frame) == "**3 readings** · 2 estimated · 1 anomaly (33.3 %) · 1 edited"
    only_readings = frame.iloc[:2].assign(edited=False)
    assert record_counts(only_readings) == "**2 readings** · 1 anomaly (50.0 %)"


def test_cli_export_adds_estimate_method_and_edited_after_the_existing_columns():
    records = [
        record(),
        record(timestamp="2026-11-29T10:15:00Z", estimate_method="linear"),
        record(timestamp="2026-11-29T10:30:00Z", original=ORIGINAL, edits=({"action": "corrected"},)),
    ]
    out = io.StringIO()
    write_records(records, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == [
        "site_id",
        "timestamp",
        "energy_generated_kwh",
        "energy_consumed_kwh",
        "net_energy_kwh",
        "anomaly",
        "anomaly_reasons",
        "source_key",
        "processed_at",
        "estimate_method",
        "edited",
    ]
    assert rows[1] == ["site-1", "2026-11-29T10:00:00Z", "1.5", "0.5", "1.0", "False", "", "raw/x.json",
                       "2026-11-29T10:05:00Z", "", "False"]  # fmt: skip
    assert [row[-2:] for row in rows[2:]] == [["linear", "False"], ["", "True"]]
    out = io.StringIO()
    write_records(records[:2], "json", out)
    assert [(r["estimate_method"], r["edited"]) for r in json.loads(out.getvalue())] == [
        (None, False),
        ("linear", False),
    ]
