"""Live page: KPIs and Altair charts from the rollups, for a period and a set of sites."""

from __future__ import annotations

import json

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from pipeline import record_store

LIVE = "pages/live.py"


def charts(at) -> list[dict]:
    """Each chart's Vega-Lite spec, with the rows of its largest dataset under "rows"."""
    found = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in el.proto.datasets]
        spec["rows"] = max(frames, key=len).to_dict("records") if frames else []
        found.append(spec)
    return found


def chart(at, title: str) -> dict:
    return next(s for s in charts(at) if title in json.dumps(s.get("title", "")))


def test_empty_stack_says_what_to_do(open_page, text):
    at = open_page(LIVE)
    assert "No data yet" in text(at)
    assert not at.metric
    assert not charts(at)
    assert at.get("page_link"), "the empty state links to the Simulate page"


def test_default_page_is_live(open_page, text):
    at = open_page()
    assert "Live" in at.title[0].value


def test_kpis_with_units_and_three_charts(seeded, open_page):
    at = open_page(LIVE)
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {
        "Generated",
        "Consumed",
        "Net",
        "Self-sufficiency",
        "Anomalous readings",
        "Anomaly rate",
    }
    for label in ("Generated", "Consumed", "Net"):
        assert metrics[label].endswith("Wh"), metrics[label]
    assert metrics["Self-sufficiency"].endswith("%")
    assert metrics["Anomaly rate"].endswith("%")
    assert int(metrics["Anomalous readings"].replace(",", "")) > 0
    specs = charts(at)
    assert len(specs) == 3
    titles = [json.dumps(s.get("title", "")) for s in specs]
    assert any("Generated vs consumed" in t for t in titles)
    assert any("Anomalies per site" in t for t in titles)
    assert any("Net energy over time" in t for t in titles)


def test_charts_are_aggregated_per_site(seeded, open_page):
    at = open_page(LIVE)
    bars = [row for row in chart(at, "Generated vs consumed")["rows"] if row["part"] == "measured"]
    assert len(bars) == 3 * 2, "one bar per site and measure, not one per reading"
    assert {b["site_id"] for b in bars} == {"site-1", "site-2", "site-3"}
    assert len(chart(at, "Anomalies per site")["rows"]) == 3
    line = chart(at, "Net energy")["rows"]
    assert 0 < len(line) <= 3 * 24, "at most one point per site and hour for 24 h"


def test_live_page_never_reads_the_raw_records(seeded, open_page, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the Live page must read the rollups, not the records table")

    monkeypatch.setattr(record_store, "site_records", forbidden)
    at = open_page(LIVE)
    assert len(charts(at)) == 3


def test_choosing_sites_narrows_the_charts(seeded, open_page):
    at = open_page(LIVE)
    at.multiselect(key="live_sites").set_value(["site-2"]).run()
    assert not at.exception
    assert {row["site_id"] for row in chart(at, "Generated vs consumed")["rows"]} == {"site-2"}


def test_period_without_data_explains_itself(stack, process, open_page, text):
    from datetime import UTC, datetime, timedelta

    from pipeline.ops.simulated_uploads import upload_simulated

    upload_simulated(stack, sites=2, readings_per_site=4, seed=1, when=datetime.now(UTC) - timedelta(days=3))
    process()
    at = open_page(LIVE)
    assert "No readings in the last 24 h" in text(at)
    at.button_group(key="live_period").set_value("7 days").run()
    assert len(at.metric) == 6


def test_delta_against_the_previous_period(stack, process, open_page):
    from datetime import UTC, datetime, timedelta

    from pipeline.ops.simulated_uploads import upload_simulated

    now = datetime.now(UTC)
    upload_simulated(stack, sites=2, readings_per_site=8, seed=1, when=now - timedelta(hours=24))
    upload_simulated(stack, sites=2, readings_per_site=8, seed=2, when=now)
    process()
    at = open_page(LIVE)
    generated = next(m for m in at.metric if m.label == "Generated")
    assert generated.proto.delta, "a delta against the previous 24 h"
    assert "previous 24 h" in generated.proto.delta_description


@pytest.mark.parametrize("live", [True, False])
def test_live_switch_and_interval_sit_outside_the_fragment(seeded, open_page, text, live):
    at = open_page(LIVE)
    at.toggle(key="live_on").set_value(live).run()
    assert at.selectbox(key="live_every").disabled is (not live)
    assert ("refreshes every 10 s" in text(at)) is live
    assert ("live refresh off" in text(at)) is (not live)


def test_history_and_recent_parts_add_up_to_the_whole_window(stack, process):
    """The rollups are read in two cached parts (older history, recent days); together they
    are exactly what one Query over the window returns."""
    from datetime import UTC, datetime, timedelta

    from dashboard import aggregate, data
    from pipeline.ops.simulated_uploads import upload_simulated
    from pipeline.rollups import site_rollups

    upload_simulated(stack, sites=2, readings_per_site=6 * 96, seed=4, when=datetime.now(UTC))  # six days
    process()
    win = aggregate.window(aggregate.period("7 days"))
    frame = data.rollup_frame(stack, ("site-1", "site-2"), win.previous_start_hour, win.end_hour, "v1")
    direct = [r for s in ("site-1", "site-2") for r in site_rollups(stack, s, win.previous_start_hour, win.end_hour)]
    assert len(frame) == len(direct) > 100
    assert sorted(zip(frame["site_id"], frame["hour"], strict=True)) == sorted((r.site_id, r.hour) for r in direct)
    assert frame["readings"].sum() == sum(r.readings for r in direct)
    assert (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d") > frame["hour"].min()[:10]


def test_kpis_leave_out_the_energy_of_meters_no_data_codes(stack, process, open_page):
    """A logger writing 65535 or -32768 for "no data" must not put 65 MWh on the cards."""
    from datetime import UTC, datetime, timedelta

    from pipeline import raw_files

    hour = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)

    def reading(minute: int, gen: float, cons: float) -> dict:
        ts = (hour + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"site_id": "logger", "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}

    rows = [reading(0, 1.0, 2.0), reading(15, 65535, 2.0), reading(30, 1.0, -32768), reading(45, 2.0, 1.0)]
    raw_files.upload(stack, f"raw/{hour:%Y/%m/%d}/logger.json", json.dumps(rows).encode())
    process()

    at = open_page(LIVE)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Generated"], metrics["Consumed"], metrics["Net"]) == ("3.0 kWh", "3.0 kWh", "0.0 kWh")
    assert metrics["Anomalous readings"] == "2"
