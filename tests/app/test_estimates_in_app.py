"""Estimates and analysts' edits as the app shows them: apart from the meter's readings.

GIVEN one site, "north", with four readings processed the normal way in one hour (one of
them anomalous) and two estimates stored for the hour before it; the expected numbers are
worked out by hand below.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from dashboard import data
from dashboard.display import ANOMALY_STYLE, ESTIMATE_STYLE
from pipeline import raw_files
from pipeline.record_store import existing_records, store_records
from pipeline.records import Record
from pipeline.settings import Settings
from tests.app.test_page_live import chart

LIVE, RECORDS = "pages/live.py", "pages/records.py"
SITE = "north"

# The hour of the readings (H) and of the estimates (H-1), both well inside the last 24 h.
HOUR = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
BEFORE = HOUR - timedelta(hours=1)
# (minute, generated, consumed): gen 4 - 1 + 6 + 3 = 12 kWh, cons 1 + 2 + 2 + 3 = 8 kWh, net 4 kWh;
# the -1 kWh reading is flagged negative_generation (1 anomaly in 4 readings).
READINGS = ((0, 4, 1), (15, -1, 2), (30, 6, 2), (45, 3, 3))
# (minute, generated, consumed, method): estimated gen 4 kWh, cons 2 kWh, net 2 kWh.
ESTIMATES = ((30, 2, 1, "linear"), (45, 2, 1, "profile"))
# Estimated shares of measured + estimated energy: 4 / (12 + 4) and 2 / (8 + 2).
GENERATION_SHARE, CONSUMPTION_SHARE = "25.0 %", "20.0 %"


def stamp(hour: datetime, minute: int) -> str:
    return (hour + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(timestamp: str, gen: float, cons: float, **fields: object) -> Record:
    generated, consumed = Decimal(str(gen)), Decimal(str(cons))
    options = {"anomaly_reasons": (), "source_key": "test", "processed_at": "2026-12-01T00:00:00Z", **fields}
    return Record(SITE, timestamp, generated, consumed, generated - consumed, **options)  # type: ignore[arg-type]


def store(settings: Settings, records: list[Record], *, keep_edited: bool = True) -> None:
    """Store records as the pipeline does, rollups moved by exactly what changed."""
    before = existing_records(settings, [r.key for r in records])
    token = f"test-{datetime.now(UTC).timestamp()}"
    store_records(settings, records, before, token, keep_edited=keep_edited)


@pytest.fixture
def mixed(measured: Settings) -> Settings:
    stack = measured
    store(stack, [record(stamp(BEFORE, m), g, c, estimate_method=how) for m, g, c, how in ESTIMATES])
    return stack


@pytest.fixture
def edited(mixed: Settings) -> Settings:
    """AND an analyst corrected the 30-minute reading and dismissed the anomaly of the 15-minute one."""
    stored = existing_records(mixed, [(SITE, stamp(HOUR, 30)), (SITE, stamp(HOUR, 15))])
    corrected, dismissed = stored[(SITE, stamp(HOUR, 30))], stored[(SITE, stamp(HOUR, 15))]
    edit = {"by": "ana", "at": "2026-12-01T00:00:00Z", "reason": "test"}
    store(
        mixed,
        [
            record(corrected.timestamp, 6, 2.5, original=corrected.values(), edits=({**edit, "action": "corrected"},)),
            record(
                dismissed.timestamp, -1, 2, original=dismissed.values(), edits=({**edit, "action": "false_positive"},)
            ),
        ],
        keep_edited=False,
    )
    return mixed


# --- Live ----------------------------------------------------------------------------------


def test_kpis_stay_measured_and_say_the_estimated_share(mixed, open_page, text):
    at = open_page(LIVE)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Generated"], metrics["Consumed"], metrics["Net"]) == ("12.0 kWh", "8.0 kWh", "4.0 kWh")
    assert metrics["Anomaly rate"] == "25.00 %", "1 anomaly in 4 readings: estimates are no readings"
    shown = text(at)
    assert f"Plus 4.0 kWh estimated ({GENERATION_SHARE} of generation)" in shown
    assert f"Plus 2.0 kWh estimated ({CONSUMPTION_SHARE} of consumption)" in shown
    assert "4 readings and 2 estimates at 1 site" in shown
    generated = next(m for m in at.metric if m.label == "Generated")
    assert "estimates of missing intervals are not included" in generated.proto.help


@pytest.fixture
def measured(stack: Settings, process: Callable[[], None]) -> Settings:
    """Only the four readings, no gap between them: nothing to estimate."""
    rows = [
        {"site_id": SITE, "timestamp": stamp(HOUR, m), "energy_generated_kwh": g, "energy_consumed_kwh": c}
        for m, g, c in READINGS
    ]
    raw_files.upload(stack, f"raw/{HOUR:%Y/%m/%d}/north.json", json.dumps(rows).encode())
    process()
    return stack


def test_no_word_about_estimates_without_any(measured, open_page, text):
    at = open_page(LIVE)
    assert "estimate" not in text(at).lower()
    assert all("estimate" not in m.proto.help for m in at.metric)
    bars = chart(at, "Generated vs consumed")
    assert {row["series"] for row in bars["rows"]} == {"Generated", "Consumed"}


def test_bars_stack_the_estimated_part_on_the_measured_one(mixed, open_page):
    at = open_page(LIVE)
    spec = chart(at, "Generated vs consumed")
    bars = {(row["measure"], row["part"]): row for row in spec["rows"]}
    assert {key: row["kwh"] for key, row in bars.items()} == {
        ("Generated", "measured"): 12.0,
        ("Generated", "estimated"): 4.0,
        ("Consumed", "measured"): 8.0,
        ("Consumed", "estimated"): 2.0,
    }
    assert bars[("Generated", "estimated")]["series"] == "Generated (estimated)"
    assert bars[("Generated", "measured")]["estimated_share"] == pytest.approx(0.25)
    assert bars[("Consumed", "estimated")]["estimated_share"] == pytest.approx(0.2)
    legend = spec["encoding"]["color"]["scale"]["domain"]
    assert legend == ["Generated", "Generated (estimated)", "Consumed", "Consumed (estimated)"]
    tooltips = {t["title"] for t in spec["encoding"]["tooltip"]}
    assert {"Measured (kWh)", "Estimated (kWh)", "Estimated share"} <= tooltips


def test_net_line_includes_estimates_and_rings_them(mixed, open_page):
    at = open_page(LIVE)
    spec = chart(at, "Net energy over time")
    assert "including estimates" in json.dumps(spec["title"])
    points = sorted(spec["rows"], key=lambda row: row["time"])
    assert [(p["net_kwh"], p["measured_net_kwh"], p["estimated_net_kwh"]) for p in points] == [
        (2.0, 0.0, 2.0),  # the estimated hour: 4 - 2
        (4.0, 4.0, 0.0),  # the measured hour: 12 - 8
    ]
    rings = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "point"]
    assert len(rings) == 1, "the buckets with estimates are ringed"


# --- Records -------------------------------------------------------------------------------


LOOKS = {"anomaly": ANOMALY_STYLE.split(";")[0], "estimate": ESTIMATE_STYLE.split(";")[0]}


def shown_styles(at) -> dict[str, set[int]]:
    """Row numbers of the shown table per style, read from Styler's CSS."""
    css = at.dataframe[0].proto.arrow_data.styler.styles
    found: dict[str, set[int]] = {"anomaly": set(), "estimate": set()}
    for rule in css.split("}"):
        selectors, _, body = rule.partition("{")
        style = next((name for name, look in LOOKS.items() if look in body), None)
        if style:
            for part in selectors.split(","):
                if "_row" in part:
                    found[style].add(int(part.split("_row")[1].split("_")[0]))
    return found


def counts_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("**"))


def test_records_say_each_rows_kind_and_count_estimates_apart(mixed, open_page, text):
    at = open_page(RECORDS, site=SITE)
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["reading"] * 4 + ["estimated (profile)", "estimated (linear)"]
    assert "**4 readings** · 2 estimated · 1 anomaly (25.0 %) ·" in counts_caption(at)
    styles = shown_styles(at)
    assert styles == {"anomaly": {2}, "estimate": {4, 5}}, "the -1 kWh reading is red, the estimates grey"


def test_edited_records_are_named_by_their_last_edit(edited, open_page):
    at = open_page(RECORDS, site=SITE)
    table = at.dataframe[0].value
    assert list(table["kind"]) == [
        "reading",
        "corrected",
        "false positive",
        "reading",
        "estimated (profile)",
        "estimated (linear)",
    ]
    caption = counts_caption(at)
    assert caption.startswith("**4 readings** · 2 estimated · 0 anomalies (0.0 %) · 2 edited ·")


def test_anomalies_only_never_shows_an_estimate(mixed, open_page):
    """Even an estimate that carries a reason (say its interval is at night) is no anomalous reading."""
    store(mixed, [record(stamp(BEFORE, 15), 1, 1, estimate_method="profile", anomaly_reasons=("solar_at_night",))])
    at = open_page(RECORDS, site=SITE)
    at.toggle(key="records_anomalies").set_value(True).run()
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["reading"]
    assert list(table["generated_kwh"]) == [-1.0]


def test_csv_keeps_every_column_and_adds_the_estimate_method_and_edited_flag(edited):
    version = data.data_version(edited)
    csv = pd.read_csv(io.BytesIO(data.record_csv(edited, SITE, "0000", "9999", False, version)), keep_default_na=False)
    assert {"timestamp", "anomaly_reasons", "estimate_method", "edited"} <= set(
        csv.columns
    )  # the header: test_record_export
    rows = {row["timestamp"]: (row["estimate_method"], row["edited"]) for row in csv.to_dict("records")}
    assert rows == {
        stamp(HOUR, 45): ("", False),
        stamp(HOUR, 30): ("", True),
        stamp(HOUR, 15): ("", True),
        stamp(HOUR, 0): ("", False),
        stamp(BEFORE, 45): ("profile", False),
        stamp(BEFORE, 30): ("linear", False),
    }


# --- Other pages ---------------------------------------------------------------------------


def test_sites_page_counts_readings_not_estimates(mixed):
    window = data.site_window(mixed, (SITE,), 24, data.data_version(mixed))
    assert int(window.loc[SITE, "readings"]) == 4
    assert int(window.loc[SITE, "anomalies"]) == 1


def test_operations_recent_anomalies_are_readings_only(mixed):
    store(mixed, [record(stamp(BEFORE, 15), 1, 1, estimate_method="profile", anomaly_reasons=("solar_at_night",))])
    recent = data.recent_anomaly_frame(mixed, 100, data.data_version(mixed))
    assert list(zip(recent["timestamp"], recent["reasons"], strict=True)) == [(stamp(HOUR, 15), "negative_generation")]
