"""An analyst's morning in a real browser: simulate, watch Live fill in, read a site's
records, check the files, redrive a dead letter. Saves a screenshot of every page."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
expect.set_options(timeout=30_000)  # a 2-core CI machine processing files while it draws

ROOT = Path(__file__).resolve().parents[2]
# build/screenshots during tests; `make screenshots` points this at docs/screenshots (tracked).
SCREENSHOTS = ROOT / os.environ.get("SCREENSHOTS_DIR", "build/screenshots")
HIGHLIGHT = (253, 226, 225)  # dashboard.display.ANOMALY_STYLE's background


def settle(page: Page) -> None:
    """Wait until Streamlit is idle (no script running) and the skeletons are gone."""
    expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=60_000)
    expect(page.locator("[data-testid=stSkeleton]")).to_have_count(0, timeout=60_000)


def screenshot(page: Page, name: str) -> None:
    """The whole main area: grow the viewport to its height first (full_page sees only the viewport)."""
    settle(page)
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 4000)})
    page.wait_for_timeout(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 900})


def go(page: Page, link: str) -> None:
    page.get_by_role("link", name=link).first.click()
    expect(page.get_by_role("heading", name=link, level=1)).to_be_visible()


def highlighted_pixels(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        1
        for pixel in image.get_flattened_data()
        if all(abs(channel - want) <= 3 for channel, want in zip(pixel, HIGHLIGHT, strict=True))
    )


def highlighted_pixels_soon(element: Locator, timeout: float = 30) -> int:
    """Highlighted pixels of an element, polled until there are some: the grid is a canvas
    that a busy machine may still be drawing (no `expect` can look at pixels), and a rerun
    (the sidebar refreshes itself while the simulator runs) may replace it mid-screenshot."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            count = highlighted_pixels(element.screenshot())
        except PlaywrightError as error:  # detached by a rerun: the locator finds the new one
            if time.monotonic() > deadline:
                raise AssertionError(f"no stable screenshot of the table: {error}") from error
            count = 0
        if count > 500 or time.monotonic() > deadline:
            return count
        element.page.wait_for_timeout(500)


def embedded_endpoint(page: Page) -> str:
    sidebar = page.locator("[data-testid=stSidebar]").inner_text()
    match = re.search(r"http://127\.0\.0\.1:\d+", sidebar)
    assert match, "the sidebar shows the embedded endpoint"
    return match.group(0)


def test_an_analysts_morning(app_url, context):
    live = context.new_page()
    live.goto(app_url)
    expect(live.get_by_role("heading", name="Live", level=1)).to_be_visible(timeout=60_000)
    expect(live.get_by_text("No data yet")).to_be_visible(timeout=60_000)
    expect(live.get_by_text("Embedded AWS")).to_be_visible()

    # Simulate from the UI in a second tab, while the first one watches Live.
    sim = context.new_page()
    sim.goto(f"{app_url}/simulate")
    expect(sim.get_by_role("heading", name="Simulate", level=1)).to_be_visible()
    for label, value in (("Sites", "6"), ("Readings per site", "192"), ("Anomaly rate (%)", "15")):
        field = sim.get_by_role("spinbutton", name=label)
        field.fill(value)
        field.press("Enter")
    settle(sim)
    sim.get_by_role("button", name="Upload one file").click()
    expect(sim.get_by_text(re.compile(r"Uploaded sim-.*\.json"))).to_be_visible()
    expect(sim.get_by_text("The latest 1 simulated uploads")).to_be_visible()

    # Live picks the data up on its own: no reload, only the fragment's timer.
    expect(live.locator("[data-testid=stMetricValue]").first).to_be_visible(timeout=60_000)
    expect(
        live.locator("[data-testid=stVegaLiteChart] svg.marks, [data-testid=stVegaLiteChart] canvas.marks")
    ).to_have_count(3, timeout=30_000)
    expect(live.locator("[data-testid=stMetricLabel]").filter(has_text="Self-sufficiency")).to_be_visible()
    screenshot(live, "live")

    # Continuous uploads run in the app's background and show in the sidebar on every page.
    slider = sim.get_by_role("slider")
    slider.focus()
    for _ in range(4):  # 2 min -> 1 min -> 30 s -> 20 s -> 10 s
        slider.press("ArrowLeft")
    settle(sim)
    sim.get_by_role("button", name="Start continuous upload").click()
    expect(sim.get_by_text("Simulator running")).to_be_visible()
    expect(sim.get_by_text(re.compile(r"Every 10 s"))).to_be_visible()
    # the sidebar refreshes itself (the page's own panel may say it too)
    expect(sim.locator("[data-testid=stSidebar]").get_by_text(re.compile(r"[1-9][\d,]* files? sent"))).to_be_visible()
    screenshot(sim, "simulate")

    # Records for a site, by deep link; anomalous rows are highlighted.
    sim.goto(f"{app_url}/records?site=site-2")
    expect(sim.get_by_role("heading", name="Records", level=1)).to_be_visible()
    expect(sim.get_by_text("Simulator running")).to_be_visible()  # survived the page switch
    expect(sim.locator("[data-testid=stDataFrame]")).to_be_visible()
    expect(sim.get_by_role("combobox", name="Site")).to_have_value("site-2")
    screenshot(sim, "records")
    sim.get_by_text("Anomalies only").click()
    settle(sim)
    tables = sim.locator("[data-testid=stDataFrame]")
    expect(tables).to_have_count(1, timeout=60_000)  # a rerun briefly keeps the stale table beside the new one
    table = tables.first
    expect(table).to_be_visible()
    assert highlighted_pixels_soon(table) > 500, "an anomaly row is drawn highlighted"
    sim.get_by_role("button", name="Stop simulation").click()
    expect(sim.get_by_text("Simulator stopped")).to_be_visible()

    # Files: the raw files, newest first, with what processing made of them.
    go(sim, "Files")
    expect(sim.locator("[data-testid=stDataFrame]").first).to_be_visible()
    expect(sim.get_by_text("Inspect a file")).to_be_visible()
    screenshot(sim, "files")

    # Operations: a message lands in the dead-letter queue; redrive it from the page.
    import boto3

    from pipeline.events import notification_body

    endpoint = embedded_endpoint(sim)
    aws = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", **aws, **creds)
    sqs = boto3.client("sqs", **aws, **creds)
    key = s3.list_objects_v2(Bucket="energy-raw-data", Prefix="raw/")["Contents"][0]["Key"]
    dlq = sqs.get_queue_url(QueueName="energy-raw-events-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=notification_body("energy-raw-data", key))

    go(sim, "Operations")
    expect(sim.get_by_role("tab", name=re.compile(r"Recent anomalies \(\d+\)"))).to_be_visible()
    screenshot(sim, "operations")
    sim.get_by_role("tab", name="Dead letters (1)").click()
    panel = sim.get_by_role("tabpanel").filter(visible=True)
    expect(panel.locator("td", has_text=key[:40]).first).to_be_attached()  # the grid draws on a canvas
    sim.get_by_role("button", name="Redrive 1 message").click()
    expect(sim.get_by_text("Redrove 1 message")).to_be_visible()
    expect(sim.get_by_role("tab", name="Dead letters (0)")).to_be_visible()
