"""Pages: how long each page of the app takes to render, server side, on a 50,000-reading stack.

Each page is run with Streamlit's AppTest (the entry script, the shared sidebar and the
page: everything the server does for a page view, without the browser), first with every
cache cleared ("cold": what the first visitor pays) and then again ("warm": a rerun inside
the caches' TTL). The same runs on the same, empty stack come first in the same process:
they are the baseline, and the ratio says what 50,000 readings cost on top of an empty
page. Interactions that read more (Records over a site's whole history, Live over 90 days)
are timed cold as well, and so is a Run of Explore's first ready query over the lake.

The 50,000 readings are 10 sites x 5,000 fifteen-minute readings (about 52 days), uploaded
as 10 simulated files of 5,000 readings through the real pipeline: S3, the notification,
SQS, the runner and lambda/handler.py, so records, rollups, the files table, alerts and
quarantine are what the app would find after real use.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import streamlit as st  # noqa: E402
from streamlit import logger as streamlit_logger  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.common import (  # noqa: E402
    embedded_stack,
    median,
    number,
    parse_args,
    progress,
    quiet_logs,
    ratio_line,
    report,
    seconds,
    timed,
)
from dashboard import data  # noqa: E402
from pipeline.file_outcomes import outcomes_on  # noqa: E402
from pipeline.ops.simulated_uploads import upload_simulated  # noqa: E402

APP = ROOT / "streamlit_app.py"
SITES = 10
FULL = (10, 500)  # files, readings per site per file: 10 x 10 x 500 = 50,000 readings
QUICK = (2, 50)
REPEATS = 3
PAGES = {
    "Live (24 h, all sites)": "pages/live.py",
    "Records (site-1, last 7 days)": "pages/records.py",
    "Simulate": "pages/simulate.py",
    "Files (today, newest file opened)": "pages/files.py",
    "Operations": "pages/operations.py",
    "Explore (no query run)": "pages/explore.py",
}


def run_page(page: str, change=None) -> AppTest:
    """One server-side page view (entry script, sidebar, page); `change` then acts on it."""
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.switch_page(page).run()
    if at.exception:
        raise SystemExit(f"{page} failed: {[e.value for e in at.exception]}")
    return at


def rerun_times(at: AppTest, clear: bool, repeats: int = REPEATS) -> float:
    """Median time of a rerun of the page `at` is on, optionally with every cache cleared."""

    def once() -> float:
        if clear:
            st.cache_data.clear()
            at.session_state[data.SESSION_MEMO_KEY] = {}  # the session's SQS listings too (data.py)
        return timed(at.run)[0]

    return median([once() for _ in range(repeats)])


def cold(page: str, act=None) -> float:
    """A page view with every cache cleared first (after `act` changed a widget, if given;
    on an empty stack, where the page shows its empty state instead, the page as it is)."""
    at = run_page(page)
    if act is None:
        return rerun_times(at, clear=True)
    try:
        act(at)
    except KeyError:
        pass
    at.run()
    return rerun_times(at, clear=True, repeats=1)  # the heavy ones: once is enough


def warm(page: str) -> float:
    return rerun_times(run_page(page), clear=False)


def whole_history(at: AppTest) -> None:
    at.date_input(key="records_days").set_value((date(2000, 1, 1), datetime.now(UTC).date()))


def ninety_days(at: AppTest) -> None:
    at.button_group(key="live_period").set_value("90 days")


NINETY_DAYS = "Live, last 90 days"
INTERACTIONS = {
    "Records, site-1's whole history": ("pages/records.py", whole_history),
    NINETY_DAYS: ("pages/live.py", ninety_days),
}


EXPLORE_RUN = "Explore, Run of the daily-energy query"


def explore_run() -> float:
    """Run pressed on Explore (the first ready query): the lake's local copy brought up to date
    and the query answered. Not cached by design (pages/explore.py), so cold is all there is;
    the first press also builds the copy, so the median of later presses is the figure."""
    at = run_page("pages/explore.py")

    def press() -> float:
        took = timed(lambda: at.button(key="explore_run").click().run())[0]
        if at.exception:
            raise SystemExit(f"Explore's Run failed: {[e.value for e in at.exception]}")
        return took

    press()
    return median([press() for _ in range(REPEATS)])


def measure() -> dict[str, tuple[float, float]]:
    found = {name: (cold(page), warm(page)) for name, page in PAGES.items()}
    for name, (page, act) in INTERACTIONS.items():
        found[name] = (cold(page, act), float("nan"))
    found[EXPLORE_RUN] = (explore_run(), float("nan"))
    return found


LIVE_TICK = "Live, 90 days: the refresh after a new file"


def live_tick(settings, runner) -> float:
    """What a live refresh of a 90-day view costs once a new file (40 readings) is stored:
    the caches are warm, the new file changes the data version."""
    st.cache_data.clear()
    at = run_page("pages/live.py")
    ninety_days(at)
    at.run()

    def once(seed: int) -> float:
        upload_simulated(settings, SITES, 4, anomaly_rate=0.02, seed=10_000 + seed)
        runner.drain(timeout=120)
        data.newest_file.clear()  # what its two-second TTL does between two ticks
        return timed(at.run)[0]

    return median([once(i) for i in range(REPEATS)])


def seed(settings, files: int, per_site: int, runner) -> tuple[int, float]:
    """Upload `files` simulated files, each a later stretch of time, and process them all."""
    now = datetime.now(UTC)
    span = timedelta(minutes=15 * per_site)
    sent = 0

    def upload_and_process() -> None:
        nonlocal sent
        for k in reversed(range(files)):  # oldest first, as a site would have sent them
            upload = upload_simulated(settings, SITES, per_site, anomaly_rate=0.02, seed=k, when=now - k * span)
            sent += upload.readings
            progress(f"uploaded file {files - k} of {files} ({upload.readings:,} readings); processing")
            runner.drain(timeout=1800)

    took, _ = timed(upload_and_process)
    return sent, took


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv)
    streamlit_logger.set_log_level("error")  # AppTest's notes about running without a server
    files, per_site = QUICK if args.quick else FULL
    with embedded_stack() as stack, TemporaryDirectory() as lake_copy_dir:
        lake_copy = Path(lake_copy_dir)
        for name in ("AWS_PROFILE", "ENERGY_LOCAL_PORT"):
            os.environ.pop(name, None)
        os.environ.update(ENERGY_BACKEND="local", AWS_ENDPOINT_URL=stack.settings.endpoint_url, AWS_REGION="us-east-1")
        os.environ["ENERGY_DATA_DIR"] = str(lake_copy)  # Explore's local copy of the lake: not the project's
        settings = stack.settings
        runner = stack.runner()
        quiet_logs()
        progress("empty stack: timing every page")
        empty = measure()
        progress(f"seeding {files * SITES * per_site:,} readings through the pipeline")
        sent, seeding = seed(settings, files, per_site, runner)
        quiet_logs()
        stored = sum(o.readings for o in outcomes_on(settings, datetime.now(UTC).strftime("%Y-%m-%d"), 1000))
        progress(f"{stored:,} readings stored in {seeding:,.0f} s; timing every page")
        large = measure()
        large[LIVE_TICK] = (live_tick(settings, runner), float("nan"))

    rows = []
    for name in large:
        empty_cold, _ = empty.get(name, (float("nan"), None))
        large_cold, large_warm = large[name]
        rows.append(
            [
                name,
                "-" if empty_cold != empty_cold else seconds(empty_cold),
                seconds(large_cold),
                "-" if empty_cold != empty_cold else f"{large_cold / empty_cold:,.1f}x",
                "-" if large_warm != large_warm else seconds(large_warm),
            ]
        )
    refresh_gain = large[NINETY_DAYS][0] / large[LIVE_TICK][0]
    report(
        "Page render times (server side, AppTest)",
        ["page", "empty stack, cold", f"{number(stored)} readings, cold", "ratio", f"{number(stored)}, warm"],
        rows,
        ratio_line(
            "cold 90-day Live view / its refresh after a new file",
            refresh_gain,
            ">= 3x",
            refresh_gain >= 3,
            "older days stay cached, only the last two are read again",
        ),
        notes=[
            f"{number(sent)} readings uploaded in {files} files over {SITES} sites, {number(stored)} stored distinct; "
            f"seeding through the pipeline took {seeding:,.0f} s.",
            f"cold = every st.cache_data cleared first (median of {REPEATS}; interactions: one run); "
            f"warm = a rerun within the TTLs (median of {REPEATS}).",
            f"{LIVE_TICK}: warm caches, one more 40-reading file stored before each rerun.",
            "A page view is one AppTest run of the entry script (with the sidebar) and the page, after a first, "
            "untimed run of the same AppTest: the harness's set-up is not counted.",
        ],
    )


if __name__ == "__main__":
    main()
