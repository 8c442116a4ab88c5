"""Sites page: the registry with completeness and anomaly rate, edited in place with the import's checks."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from pipeline.ops.simulation import make_sites
from pipeline.sites import get_site_item, put_sites

SITES = "pages/sites.py"
NO_EDITS = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}


def table(at) -> pd.DataFrame:
    return at.data_editor[0].value


def edit(at, row: int, **cells: str):
    """The person types `cells` into row `row` of the table, then saves."""
    at.session_state[at.data_editor[0].key] = {**NO_EDITS, "edited_rows": {row: cells}}
    at.run()
    at.button(key="sites_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_empty_stack_offers_an_import(open_page, text):
    at = open_page(SITES)
    assert "No sites yet: import a file of your sites below" in text(at)
    assert not at.data_editor and at.get("file_uploader")


def test_every_site_with_completeness_and_anomaly_rate(seeded, open_page, text):
    at = open_page(SITES)
    shown = table(at)
    assert list(shown["site_id"]) == ["site-1", "site-2", "site-3"]
    assert list(shown.columns[:4]) == ["site_id", "last_reading", "completeness", "anomaly_rate"]
    assert {"capacity_kw", "timezone", "thresholds.spike_k"} <= set(shown.columns)
    # the simulator sends a reading every 15 minutes for the last 9 hours, less a few gaps
    completeness = shown["completeness"]
    assert ((completeness > 0.2) & (completeness <= 9 * 4 / (24 * 4))).all(), completeness.tolist()
    assert shown["anomaly_rate"].between(0, 1).all() and shown["last_reading"].notna().all()
    assert "Changes apply to the next file processed" in text(at)


def test_an_edit_is_saved_and_says_what_changed(stack, open_page, text):
    put_sites(stack, make_sites(2))
    at = open_page(SITES)
    before = get_site_item(stack, "site-2")
    edit(at, 1, capacity_kw="7.25", timezone="Europe/Berlin", **{"thresholds.spike_k": "5"})

    after = get_site_item(stack, "site-2")
    assert after["capacity_kw"] == Decimal("7.25") and after["timezone"] == "Europe/Berlin"
    assert after["thresholds"] == {"spike_k": Decimal(5)}
    edited = ("capacity_kw", "timezone", "thresholds")
    assert {k: v for k, v in after.items() if k not in edited} == {k: v for k, v in before.items() if k not in edited}
    assert get_site_item(stack, "site-1") == make_sites(2)[0].to_item() | {"site_id": "site-1"}
    assert (
        f"Saved 1 site. site-2: capacity_kw {before['capacity_kw']} -> 7.25; timezone (unset) -> Europe/Berlin; "
        "thresholds.spike_k (default 4) -> 5" in text(at)
    )
    assert table(at).loc[1, "capacity_kw"] == "7.25", "the table shows the stored value"


def test_a_refused_edit_shows_the_sentence_and_writes_nothing(stack, open_page, text):
    put_sites(stack, make_sites(1))
    at = open_page(SITES)
    edit(at, 0, capacity_kw="-3", interval_minutes="0")
    assert "site site-1: capacity_kw must be greater than 0, not -3" in text(at)
    assert "site site-1: interval_minutes must be from 1 to 1440 (a day), not 0" in text(at)
    assert get_site_item(stack, "site-1")["capacity_kw"] == make_sites(1)[0].capacity_kw


def test_discarding_edits_puts_the_table_back(stack, open_page):
    put_sites(stack, make_sites(1))
    at = open_page(SITES)
    at.session_state[at.data_editor[0].key] = {**NO_EDITS, "edited_rows": {0: {"name": "Renamed"}}}
    at.run()
    assert at.button(key="sites_save").label == "Save 1 site"
    at.button(key="sites_discard").click().run()
    assert at.button(key="sites_save").disabled and at.session_state[at.data_editor[0].key] == NO_EDITS
    assert get_site_item(stack, "site-1")["name"] == make_sites(1)[0].name
