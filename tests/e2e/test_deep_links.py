"""A deep link is the first thing a freshly started server serves: the page opens inside the app.

Streamlit reads a `pages/` folder next to the entry script as a legacy multipage app until
`st.navigation` has run once in the process, so this needs a server no browser has opened
yet (the journey's server has served `/` long before its deep link).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app(fresh_app, context):
    page = context.new_page()
    page.goto(f"{fresh_app}/records?site=site-2")

    # THEN the Records page of site-2, not the default one
    expect(page.get_by_role("heading", name="Records", level=1)).to_be_visible()
    expect(page.get_by_role("combobox", name="Site")).to_have_value("site-2")
    expect(page.locator("[data-testid=stDataFrame]")).to_be_visible()
    # AND inside the app: its navigation (sections, titles) and its sidebar, not Streamlit's
    # legacy list of the files in pages/
    sidebar = page.locator("[data-testid=stSidebar]")
    expect(sidebar.get_by_text("Analyse", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Operations", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="streamlit app")).to_have_count(0)
    expect(sidebar.get_by_role("button", name="Refresh data")).to_be_visible()

    # AND the page keeps working: a control reruns it with the same site
    page.get_by_text("Anomalies only").click()
    expect(page.get_by_role("combobox", name="Site")).to_have_value("site-2")
    expect(page).to_have_url(f"{fresh_app}/records?site=site-2")
