"""Records page: a site's records by key Query, anomalies highlighted, paged, deep-linked."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard import data
from dashboard.display import ANOMALY_STYLE
from pipeline import raw_files
from pipeline.ops.simulated_uploads import upload_simulated
from pipeline.record_store import site_records

RECORDS = "pages/records.py"


def table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def highlighted_rows(at) -> int:
    """How many rows of the shown table carry the anomaly style (counted from Styler's CSS)."""
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    background = ANOMALY_STYLE.split(";")[0].split(":")[1].strip()
    rows = set()
    for rule in styles.split("}"):
        if background in rule:
            rows.update(part.strip().split("_col")[0] for part in rule.split("{")[0].split(",") if "_row" in part)
    return len(rows)


def end_of_today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT23:59:59Z")


def shown_by_default(settings) -> int:
    """site-1's records up to the end of today (UTC in AppTest): the simulator leaves gaps
    and dates a few anomalous readings in the future."""
    return len(list(site_records(settings, "site-1", end=end_of_today())))


def test_empty_stack_says_what_to_do(open_page, text):
    at = open_page(RECORDS)
    assert "No data yet" in text(at)
    assert not at.dataframe


def test_site_from_the_query_string(seeded, open_page):
    at = open_page(RECORDS, site="site-2")
    assert at.selectbox(key="records_site").value == "site-2"
    shown = table(at)
    assert list(shown.columns) == [
        "timestamp",
        "kind",
        "generated_kwh",
        "consumed_kwh",
        "net_kwh",
        "anomaly",
        "reasons",
    ]
    assert len(shown) > 0
    assert shown["timestamp"].is_monotonic_decreasing, "newest first"


def test_picking_a_site_updates_the_link(seeded, open_page):
    at = open_page(RECORDS)
    assert at.query_params["site"] == "site-1"
    at.selectbox(key="records_site").set_value("site-3").run()
    assert at.query_params["site"] == "site-3"


def test_unknown_site_in_the_link_falls_back_with_a_warning(seeded, open_page, text):
    at = open_page(RECORDS, site="nowhere-9")
    assert "There is no site called “nowhere-9”; showing site-1 instead." in text(at)
    assert at.selectbox(key="records_site").value == "site-1"


@pytest.fixture
def flagged(seeded, stack, process) -> None:
    """AND two recent site-1 readings that the original rules flag: which anomalies the
    simulator places depends on the time of day, so the test does not rely on them."""
    now = datetime.now(UTC)
    quarter = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    rows = [
        {"site_id": "site-1", "timestamp": f"{quarter - timedelta(minutes=m):%Y-%m-%dT%H:%M:%SZ}", **energies}
        for m, energies in (
            (15, {"energy_generated_kwh": -1, "energy_consumed_kwh": 2}),
            (30, {"energy_generated_kwh": 3, "energy_consumed_kwh": -2}),
        )
    ]
    raw_files.upload(stack, f"raw/{now:%Y/%m/%d}/flagged.json", json.dumps(rows).encode())
    process()


def test_anomaly_rows_are_highlighted_and_only_they(flagged, open_page):
    at = open_page(RECORDS)
    shown = table(at)
    anomalies = int(shown["anomaly"].sum())
    assert anomalies > 0
    assert highlighted_rows(at) == anomalies
    flagged = shown[shown["anomaly"]]
    assert (flagged["reasons"] != "").all()


def test_anomalies_only(flagged, open_page):
    at = open_page(RECORDS)
    everything = len(table(at))
    at.toggle(key="records_anomalies").set_value(True).run()
    shown = table(at)
    assert 0 < len(shown) < everything
    assert shown["anomaly"].all()
    assert highlighted_rows(at) == len(shown)


def test_days_outside_the_data_explain_themselves(seeded, open_page, text):
    at = open_page(RECORDS)
    long_ago = datetime.now(UTC).date() - timedelta(days=400)
    at.date_input(key="records_days").set_value((long_ago, long_ago + timedelta(days=1))).run()
    assert "No readings for site-1 from" in text(at)


def test_large_selection_is_paged_and_styled_per_page(stack, process, open_page):
    upload_simulated(stack, sites=1, readings_per_site=250, anomaly_rate=0.1, seed=3)
    process()
    stored = shown_by_default(stack)
    assert 200 < stored <= 250
    at = open_page(RECORDS)
    assert len(table(at)) == 100, "one page of rows"
    first_page = table(at)["timestamp"].iloc[0]
    pager = at.get("pagination")[0]
    assert pager.num_pages == 3
    pager.set_value(3).run()
    assert len(table(at)) == stored - 200
    assert table(at)["timestamp"].iloc[0] < first_page
    assert highlighted_rows(at) == int(table(at)["anomaly"].sum())


def test_csv_holds_the_whole_selection(stack, process, open_page):
    upload_simulated(stack, sites=1, readings_per_site=250, anomaly_rate=0.1, seed=3)
    process()
    stored = shown_by_default(stack)
    at = open_page(RECORDS)
    button = at.get("download_button")[0]
    assert f"{stored} rows" in button.label
    version = data.data_version(stack)
    start, end = "0000", end_of_today()
    csv = pd.read_csv(io.BytesIO(data.record_csv(stack, "site-1", start, end, False, version)))
    assert len(csv) == stored
    assert {"site_id", "timestamp", "anomaly_reasons"} <= set(csv.columns)  # the header: test_record_export
