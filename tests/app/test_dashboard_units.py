"""The app's pure helpers (no Streamlit run): periods, KPIs, time and number formats, the
background simulator, and the health checks behind the sidebar badge."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard import aggregate, numfmt, timefmt
from dashboard.continuous import ContinuousSimulator, Plan
from pipeline.aws import client
from pipeline.ops.health import stack_health

BERLIN = ZoneInfo("Europe/Berlin")


def rollups(rows: list[tuple]) -> pd.DataFrame:
    columns = ["site_id", "hour", "generated_kwh", "consumed_kwh", "net_kwh", "self_supplied_kwh", "readings"]
    frame = pd.DataFrame([r[:7] for r in rows], columns=columns)
    frame["anomalies"] = [r[7] for r in rows]
    return frame


def test_window_covers_the_period_and_the_one_before():
    win = aggregate.window(aggregate.period("24 h"), datetime(2026, 11, 29, 10, 42, tzinfo=UTC))
    assert (win.start_hour, win.end_hour) == ("2026-11-28T11:00:00Z", "2026-11-29T10:00:00Z")
    assert (win.previous_start_hour, win.previous_end_hour) == ("2026-11-27T11:00:00Z", "2026-11-28T10:00:00Z")


def test_self_sufficiency_and_anomaly_rate():
    frame = rollups(
        [
            ("site-1", "2026-11-29T10:00:00Z", 10.0, 4.0, 6.0, 4.0, 4, 1),
            ("site-2", "2026-11-29T10:00:00Z", 1.0, 6.0, -5.0, 1.0, 4, 0),
        ]
    )
    totals = aggregate.totals(frame)
    assert totals.self_sufficiency == pytest.approx(5 / 10)  # Σ min(gen, cons) / Σ cons
    assert totals.anomaly_rate == pytest.approx(1 / 8)
    assert aggregate.totals(frame.iloc[0:0]).self_sufficiency is None


def test_per_site_in_natural_order_and_series_bucketed_in_local_time():
    frame = rollups(
        [
            (site, f"2026-11-29T{hour:02d}:00:00Z", 1.0, 0.5, 0.5, 0.5, 4, 0)
            for site in ("site-10", "site-2", "site-1")
            for hour in range(24)
        ]
    )
    assert list(aggregate.per_site(frame)["site_id"]) == ["site-1", "site-2", "site-10"]
    daily = aggregate.net_series(frame, "D", BERLIN)
    assert len(daily) == 3 * 2, "24 UTC hours span two Berlin days"
    assert daily["net_kwh"].sum() == pytest.approx(3 * 24 * 0.5)


def test_periods_keep_charts_small():
    for period in aggregate.PERIODS:
        points = period.hours / {"h": 1, "6h": 6, "D": 24}[period.bucket]
        assert points <= 170


def test_local_days_to_utc_bounds():
    start, end = timefmt.utc_bounds(date(2026, 7, 1), date(2026, 7, 2), BERLIN)
    assert (start, end) == ("2026-06-30T22:00:00Z", "2026-07-02T21:59:59Z")


def test_times_are_shown_in_the_users_zone():
    assert timefmt.shown("2026-11-29T09:15:00Z", BERLIN) == "29 Nov 2026, 10:15:00 CET"
    assert timefmt.shown(None, BERLIN) == "—"
    local = timefmt.to_local(pd.Series(["2026-07-01T12:00:00Z"]), BERLIN)
    assert local.iloc[0].hour == 14


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "< 1 s"), (12, "12 s"), (200, "3 min 20 s"), (120, "2 min"), (7500, "2 h 5 min")]
)
def test_durations(seconds, text):
    assert timefmt.duration(seconds) == text


@pytest.mark.parametrize(
    ("kwh", "text"),
    [
        (812.44, "812.4 kWh"),
        (3230.5, "3.23 MWh"),
        (412_600, "412.6 MWh"),
        (4_560_000, "4.56 GWh"),
        (-6234, "-6.23 MWh"),
    ],
)
def test_energy_has_units(kwh, text):
    assert numfmt.energy(kwh) == text


def test_deltas_use_a_minus_that_streamlit_reads():
    assert numfmt.energy_delta(-5405.7) == "-5.41 MWh"
    assert numfmt.energy_delta(12) == "+12.0 kWh"
    assert numfmt.points_delta(0.25, 0.2) == "+5.0 pp"
    assert numfmt.points_delta(None, 0.2) is None
    assert numfmt.percent(0.1234) == "12.3 %"


def test_simulator_sends_at_once_then_every_interval_until_stopped():
    sent = threading.Event()
    calls = []

    def send(settings, plan):
        calls.append(plan)
        sent.set()
        return f"raw/2026/11/29/f{len(calls)}.json"

    sim = ContinuousSimulator(send)
    sim.start(None, Plan(sites=2, readings_per_site=3), 10)
    assert sent.wait(5)
    state = sim.state()
    assert state.running and state.files_sent == 1 and state.last_key == "raw/2026/11/29/f1.json"
    assert state.plan.readings_per_file == 6
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2, "stopping does not wait for the interval"
    assert not sim.state().running
    assert len(calls) == 1


def test_simulator_keeps_going_after_an_error():
    def send(settings, plan):
        raise ValueError("no bucket")

    sim = ContinuousSimulator(send)
    sim.start(None, Plan(), 10)
    deadline = time.monotonic() + 5
    while sim.state().last_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "no bucket" in sim.state().last_error
    assert sim.state().running
    sim.stop()
    with pytest.raises(ValueError, match="interval"):
        sim.start(None, Plan(), 7)


def test_health_names_a_missing_table(settings):
    assert stack_health(settings).ok
    client(settings, "dynamodb").delete_table(TableName=settings.files_table)
    health = stack_health(settings)
    assert not health.ok
    assert any("python -m pipeline bootstrap" in p for p in health.problems)
    assert health.queue is not None and health.dlq is not None


def test_health_stops_at_an_unreachable_endpoint(settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    health = stack_health(settings.with_endpoint(f"http://127.0.0.1:{port}"))
    assert not health.reachable
    assert health.problems == (f"Cannot reach http://127.0.0.1:{port}: is the stack running?",)


def test_counts_say_their_unit():
    assert numfmt.count(1, "files") == "1 file"
    assert numfmt.count(1, "messages done") == "1 message done"
    assert numfmt.count(1234, "readings") == "1,234 readings"
    assert numfmt.count(7) == "7"
    assert numfmt.count(None, "rows") == "—"


def test_plain_text_disarms_markdown_and_streamlit_directives():
    from dashboard.untrusted_text import plain
    from tests.app.conftest import shown

    for text in ("[a](http://x)", "![i](http://x/i.png)", "**b**", ":material/home:", ":red[x]", "$x$", "<b>"):
        escaped = plain(text)
        assert shown(escaped) == text, "a reader sees the characters themselves"
        assert all(escaped[i - 1] == "\\" for i, c in enumerate(escaped) if c in "[]()!*:$.<>" and i), escaped
    assert plain("site-1") == r"site\-1"


def test_plain_text_keeps_bare_urls_and_addresses_from_becoming_links():
    """GFM finds `www.`, `http://` and `a@b.c` after escapes are resolved: a joiner breaks each."""
    from dashboard.untrusted_text import WORD_JOINER, plain
    from tests.app.conftest import shown, unescaped

    for text, joint in (("www.x.io", "www" + WORD_JOINER + "."), ("https://x.io/a", ":" + WORD_JOINER + "//"),
                        ("mailto:me@x.io", "me" + WORD_JOINER + "@")):  # fmt: skip
        assert joint in unescaped(plain(text)) and shown(plain(text)) == text
