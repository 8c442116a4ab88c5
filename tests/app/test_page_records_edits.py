"""Records page: pick a reading, correct it or mark it as a false positive, see its audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pipeline import raw_files
from pipeline.ops.record_edits import get_record

RECORDS = "pages/records.py"


@pytest.fixture
def two_readings(stack, process) -> tuple[str, str]:
    """GIVEN site-1 with two recent readings: a flagged one (negative generation), then a plain one."""
    now = datetime.now(UTC)
    quarter = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    flagged, plain = (f"{quarter - timedelta(minutes=m):%Y-%m-%dT%H:%M:%SZ}" for m in (15, 30))
    rows = [
        {"site_id": "site-1", "timestamp": flagged, "energy_generated_kwh": -1, "energy_consumed_kwh": 2},
        {"site_id": "site-1", "timestamp": plain, "energy_generated_kwh": 3, "energy_consumed_kwh": 1.5},
    ]
    raw_files.upload(stack, f"raw/{now:%Y/%m/%d}/two.json", json.dumps(rows).encode())
    process()
    return flagged, plain


def table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def select(at, row: int):
    """The analyst clicks a row of the records table."""
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def text_input(at, label: str):
    [found] = [t for t in at.text_input if t.label == label]
    return found


def button(at, label: str):
    [found] = [b for b in at.button if b.label == label]
    return found


def trail(at) -> pd.DataFrame:
    [found] = [d.value for d in at.dataframe if "Why" in d.value.columns]
    return found


def test_without_a_selection_the_page_says_how_to_edit(two_readings, open_page, text):
    at = open_page(RECORDS)
    assert "Select a row to see its audit trail" in text(at)
    assert not [b for b in at.button if b.label == "Save correction"]


def test_correcting_a_reading_shows_the_new_value_and_the_audit_trail(two_readings, stack, open_page, text):
    _, plain = two_readings
    at = open_page(RECORDS)
    assert table(at)["generated_kwh"].tolist() == [-1.0, 3.0]
    select(at, 1)
    assert "Not flagged: nothing to mark as a false positive." in text(at)
    assert text_input(at, "Generated (kWh)").value == "3"
    text_input(at, "Generated (kWh)").input("4.25")
    text_input(at, "Why").input("meter swapped on site")
    button(at, "Save correction").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Correction saved" in [t.value for t in at.toast]
    assert table(at)["generated_kwh"].tolist() == [-1.0, 4.25], "the table shows the new value"
    shown = trail(at)
    assert shown[["Action", "Change", "Why"]].values.tolist() == [
        ["Corrected", "generated 3 -> 4.25", "meter swapped on site"]
    ]
    assert shown["By"].iloc[0].startswith("arn:aws:"), "nobody signed in: the AWS identity"
    assert "Original" in at.dataframe[1].value.columns
    stored = get_record(stack, "site-1", plain, consistent=True)
    assert stored.energy_generated_kwh == 4.25 and stored.original["energy_generated_kwh"] == 3


def test_an_empty_why_is_refused(two_readings, stack, open_page, text):
    _, plain = two_readings
    at = open_page(RECORDS)
    select(at, 1)
    text_input(at, "Generated (kWh)").input("5")
    button(at, "Save correction").click().run()
    assert "Say why: an edit needs a reason for the audit trail." in text(at)
    assert text_input(at, "Generated (kWh)").value == "5", "what was typed is kept"
    assert not get_record(stack, "site-1", plain, consistent=True).edited
    assert table(at)["generated_kwh"].tolist() == [-1.0, 3.0]


def test_marking_a_false_positive_clears_the_flag(two_readings, stack, open_page, text):
    flagged, _ = two_readings
    at = open_page(RECORDS)
    assert table(at)["anomaly"].tolist() == [True, False]
    select(at, 0)
    assert "**Flagged:** negative_generation" in text(at)
    button(at, "Mark as false positive").click().run()
    assert "Say why: an edit needs a reason" in text(at)
    text_input(at, "Why is it a false positive?").input("planned battery test")
    button(at, "Mark as false positive").click().run()
    assert "Marked as a false positive" in [t.value for t in at.toast]
    assert table(at)["anomaly"].tolist() == [False, False]
    assert table(at)["generated_kwh"].tolist() == [-1.0, 3.0], "values kept"
    assert trail(at)[["Action", "Change"]].values.tolist() == [
        ["False positive", "reasons negative_generation -> none"]
    ]
    assert get_record(stack, "site-1", flagged, consistent=True).anomaly_reasons == ()


def test_under_anomalies_only_the_edited_row_leaves_and_the_selection_with_it(
    two_readings, stack, process, open_page, text
):
    flagged, _ = two_readings
    earlier = (datetime.fromisoformat(flagged) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = {"site_id": "site-1", "timestamp": earlier, "energy_generated_kwh": -2, "energy_consumed_kwh": 1}
    raw_files.upload(stack, f"raw/{earlier[:10].replace('-', '/')}/earlier.json", json.dumps([row]).encode())
    process()
    at = open_page(RECORDS)
    at.toggle(key="records_anomalies").set_value(True).run()
    assert len(table(at)) == 2
    select(at, 0)
    text_input(at, "Why is it a false positive?").input("planned battery test")
    button(at, "Mark as false positive").click().run()
    assert table(at)["generated_kwh"].tolist() == [-2.0]
    assert "Select a row to see its audit trail" in text(at), "no panel for the row that slid into its place"
    assert not [b for b in at.button if b.label == "Mark as false positive"]
