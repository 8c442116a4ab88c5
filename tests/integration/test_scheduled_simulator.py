"""The scheduled simulator (lambda/simulator.py) on the embedded AWS: a tick of its
EventBridge schedule uploads one file under raw/, and the pipeline, reached through the
normal S3 -> SQS path, stores its readings as records with a ledger entry."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline import raw_files
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.simulated_files import SimulatorConfig
from pipeline.record_store import site_records
from tests.conftest import load_event

SIMULATOR_FILE = Path(__file__).resolve().parents[2] / "lambda" / "simulator.py"
# The fixture's tick is 2026-11-29T12:05:00Z: the file's 15-minute intervals end at 12:00.
TICK_KEY = "raw/2026/11/29/sim-20261129T120500000000Z-s0.json"
INTERVALS = ["2026-11-29T11:15:00Z", "2026-11-29T11:30:00Z", "2026-11-29T11:45:00Z", "2026-11-29T12:00:00Z"]
ENV = {
    "ENERGY_SIMULATOR_SITES": "3",
    "ENERGY_SIMULATOR_READINGS_PER_SITE": "4",
    "ENERGY_SIMULATOR_ANOMALY_RATE": "0",
}


@pytest.fixture
def simulator() -> Callable:
    """lambda/simulator.py's handler, imported by path (`lambda` is a keyword, not a package)."""
    spec = importlib.util.spec_from_file_location("energy_lambda_simulator", SIMULATOR_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_a_tick_uploads_a_file_that_the_pipeline_stores(settings, runner, simulator, lambda_context):
    # GIVEN a stack and the simulator configured for 3 sites, 4 readings each, no anomalies
    config = SimulatorConfig.from_env(ENV)

    # WHEN EventBridge's scheduled event invokes it, and the queue's messages are processed
    response = simulator(load_event("eventbridge_scheduled.json"), lambda_context, settings=settings, config=config)
    runner.drain(timeout=60)

    # THEN the file is under raw/ with the Simulate page's naming, holding 12 readings
    assert response == {"key": TICK_KEY, "readings": 12, "anomalies_injected": 0}
    body = json.loads(raw_files.read(settings, TICK_KEY)[0])
    assert len(body) == 12
    # AND the pipeline stored every reading as a record of site-1..3 at the tick's intervals
    for site in ("site-1", "site-2", "site-3"):
        records = list(site_records(settings, site))
        assert [r.timestamp for r in records] == INTERVALS
        assert {r.source_key for r in records} == {TICK_KEY}
        assert not [r for r in records if r.anomaly]
        sent = {row["timestamp"]: row for row in body if row["site_id"] == site}
        for record in records:
            row = sent[record.timestamp]
            assert record.energy_generated_kwh == Decimal(str(row["energy_generated_kwh"]))
            assert record.net_energy_kwh == record.energy_generated_kwh - record.energy_consumed_kwh
    assert list(site_records(settings, "site-4")) == []
    # AND the ledger shows the file processed whole
    outcome = file_outcomes(settings, [TICK_KEY])[TICK_KEY]
    assert (outcome.status, outcome.readings, outcome.written, outcome.rejected) == ("processed", 12, 12, 0)


def test_a_retried_tick_uploads_the_same_file_and_changes_no_record(settings, runner, simulator, lambda_context):
    # GIVEN one tick uploaded and processed
    config = SimulatorConfig.from_env(ENV)
    event = load_event("eventbridge_scheduled.json")
    first = simulator(event, lambda_context, settings=settings, config=config)
    runner.drain(timeout=60)
    before = [(r.timestamp, r.energy_generated_kwh, r.energy_consumed_kwh) for r in site_records(settings, "site-2")]

    # WHEN Lambda retries the same event (EventBridge invokes asynchronously, with retries)
    second = simulator(event, lambda_context, settings=settings, config=config)
    runner.drain(timeout=60)

    # THEN it is the same file again, and the records are the same 12
    assert second == first
    after = [(r.timestamp, r.energy_generated_kwh, r.energy_consumed_kwh) for r in site_records(settings, "site-2")]
    assert after == before and len(after) == 4
    assert file_outcomes(settings, [TICK_KEY])[TICK_KEY].status == "processed"


def test_it_logs_one_line_per_upload(settings, simulator, lambda_context, capsys):
    simulator(
        load_event("eventbridge_scheduled.json"),
        lambda_context,
        settings=settings,
        config=SimulatorConfig.from_env(ENV),
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (uploaded,) = [line for line in lines if line["event"] == "simulated_file_uploaded"]
    assert uploaded["key"] == TICK_KEY and uploaded["readings"] == 12 and uploaded["bucket"] == settings.bucket
    assert uploaded["request_id"] == lambda_context.aws_request_id
