"""Simulate page: one-off and continuous uploads, the upload log read back from S3."""

from __future__ import annotations

import time

from dashboard import data
from dashboard.continuous import simulator
from tests.app.conftest import shown

SIMULATE = "pages/simulate.py"


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_empty_stack(open_page, text):
    at = open_page(SIMULATE)
    assert "No simulated uploads yet" in text(at)
    assert "Simulator stopped" in text(at)


def test_one_file_with_chosen_shape(open_page, process, text):
    at = open_page(SIMULATE)
    at.number_input(key="sim_sites").set_value(2)
    at.number_input(key="sim_readings").set_value(3)
    at.number_input(key="sim_rate").set_value(0.0)  # no gaps or strays: exactly 2 x 3 readings
    at.selectbox(key="sim_format").set_value("csv")
    at.button(key="sim_once").click().run()
    assert not at.exception
    log = at.dataframe[0].value
    assert len(log) == 1
    assert log["readings"].iloc[0] == 6
    assert log["key"].iloc[0].startswith("raw/") and log["key"].iloc[0].endswith(".csv")
    assert log["status"].iloc[0] == "Waiting"
    assert len(at.dataframe[1].value) == 6, "the latest file, read back from S3"
    assert at.toast and shown(at.toast[0].value).startswith("Uploaded sim-")

    process()
    data.newest_file.clear()  # what its two-second TTL does for a user
    at.run()
    assert at.dataframe[0].value["status"].iloc[0] == "Processed"


def test_log_is_read_back_from_s3_not_memory(stack, open_page):
    from pipeline.ops.simulated_uploads import upload_simulated

    upload_simulated(stack, sites=1, readings_per_site=2, seed=5)  # e.g. from the CLI
    at = open_page(SIMULATE)
    assert len(at.dataframe[0].value) == 1


def test_continuous_upload_runs_in_the_background_and_stops(open_page, text):
    at = open_page(SIMULATE)
    at.select_slider(key="sim_interval").set_value(10)
    at.button(key="sim_start").click().run()
    assert not at.exception
    state = simulator().state()
    assert state.running and state.interval_seconds == 10
    wait_until(lambda: simulator().state().files_sent >= 1)

    at.switch_page("pages/records.py").run()  # survives a page switch, state in the sidebar
    assert "Simulator running" in text(at)
    assert "Every 10 s" in text(at)
    at.switch_page(SIMULATE).run()
    assert len(at.dataframe[0].value) >= 1

    at.button(key="sidebar_stop").click().run()
    assert not simulator().state().running
    assert "Simulator stopped" in text(at)


def test_continuous_errors_are_shown(open_page, text, monkeypatch):
    from dashboard import continuous

    def failing(settings, plan):
        raise RuntimeError("bucket on fire")

    sim = continuous.ContinuousSimulator(failing)
    monkeypatch.setattr(continuous, "simulator", lambda: sim)
    monkeypatch.setattr("dashboard.sidebar.simulator", lambda: sim)
    sim.start(None, continuous.Plan(), 10)
    wait_until(lambda: sim.state().last_error is not None)
    at = open_page(SIMULATE)
    assert "bucket on fire" in text(at)
    sim.stop()
