"""The Explore page in a real browser: an analyst runs the ready query the page opens with
and reads its rows, one per site and UTC day of the stored readings; then a refused
statement, and the lake compacted from its panel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pipeline.ops.simulated_uploads import upload_simulated
from pipeline.record_store import site_records
from tests.e2e.test_browser_journey import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_the_default_ready_query_shows_a_row_per_site_and_day(fresh_app, settings, runner, context):
    # AND four days of readings (they replace the fixture's last eight): a line per site to see
    upload_simulated(settings, sites=3, readings_per_site=4 * 96, anomaly_rate=0, seed=11)
    runner.drain(timeout=120)
    days = {
        (r.site_id, r.timestamp[:10]) for site in ("site-1", "site-2", "site-3") for r in site_records(settings, site)
    }
    page = context.new_page()
    page.goto(f"{fresh_app}/explore")
    expect(page.get_by_role("heading", name="Explore", level=1)).to_be_visible()
    expect(page.get_by_role("combobox", name="Ready query")).to_have_value("Daily energy per site")

    page.get_by_role("button", name="Run", exact=False).first.click()

    expect(page.get_by_text(re.compile(rf"^{len(days)} rows in [\d.]+ s · DuckDB"))).to_be_visible()
    table = page.locator("[data-testid=stDataFrame]")
    expect(table).to_be_visible()
    expect(table.locator("table[role=grid]")).to_have_attribute("aria-rowcount", str(len(days) + 1))  # and the header
    expect(table.locator("td", has_text="site-3").first).to_be_attached()  # the grid draws on a canvas
    expect(
        page.locator("[data-testid=stVegaLiteChart] svg.marks, [data-testid=stVegaLiteChart] canvas.marks")
    ).to_be_visible()
    expect(page.get_by_role("button", name=f"Download CSV ({len(days)} rows)")).to_be_visible()
    screenshot(page, "explore")

    # A refused statement replaces the answer with its sentence; the Lake panel stays open
    # across the reruns that follow, and shows what Compact now merged.
    editor = page.get_by_role("textbox", name="SQL")
    editor.fill("DELETE FROM records")
    editor.press("Control+Enter")  # commits the text area's value
    page.get_by_role("button", name="Run", exact=False).first.click()
    expect(page.get_by_text("Not run: only queries are run here")).to_be_visible()
    expect(table).to_have_count(0)
    page.get_by_text("Lake", exact=True).click()
    page.get_by_role("button", name="Compact now").click()
    expect(page.get_by_text(re.compile(r"Compacted at .*landing objects? \([\d,]+ rows\) merged into"))).to_be_visible()
