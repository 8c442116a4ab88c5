"""Faults at random, duplicate and out-of-order deliveries: the stack ends as an undisturbed run.

A set of files (see workload.py: records that no order of storing may change) is uploaded
and drained by the runner with two pollers, once undisturbed and then once per fault:
DynamoDB writes throttled at 30%, S3 reads failing at 30%, SNS publishes failing at 50%
(each seeded), every notification delivered three times, and the files uploaded newest
first. The queue's receive limit is raised (Settings.max_receive_count) so that transient
faults rarely dead-letter a message; whatever is dead-lettered all the same must be what
verify reports as in the dead-letter queue, and is redriven with the faults off. Then
verify is clean, every file has its outcome, and the records, rollups, ledger and alerts
equal the undisturbed run's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from local_aws.runner import Runner
from pipeline.ops.bootstrap import bootstrap
from pipeline.ops.verify import FILES as FILES_CHECK
from pipeline.ops.verify import Report, verify
from pipeline.settings import Settings
from tests.reliability.faults import WRITES, FaultPlan, injected
from tests.reliability.workload import (
    alerting,
    deliver_again,
    redrive_dead_letters,
    register_sites,
    settle,
    state,
    upload_files,
)

FILES = 12
READINGS = 20  # per site and file: 12 files x 3 sites x 20 readings = 720 readings
MAX_RECEIVES = 50  # a 30% fault rate on a file's ~10 writes needs many tries now and then
SETTLE_SECONDS = 150

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scenario:
    plan: Callable[[], FaultPlan]
    newest_first: bool = False
    deliveries: int = 1  # how often each S3 notification is delivered


def dynamodb_writes(call: str) -> bool:
    return call.startswith("dynamodb.") and call in WRITES


SCENARIOS = {
    "dynamodb writes throttled 30%": Scenario(lambda: FaultPlan(share=0.3, seed=1, only=dynamodb_writes)),
    "s3 reads failing 30%": Scenario(lambda: FaultPlan(share=0.3, seed=2, only=lambda call: call == "s3.GetObject")),
    "sns publish failing 50%": Scenario(lambda: FaultPlan(share=0.5, seed=3, only=lambda call: call == "sns.Publish")),
    "every notification delivered 3 times": Scenario(FaultPlan, deliveries=3),
    "files uploaded newest first": Scenario(FaultPlan, newest_first=True),
}


@dataclass
class Run:
    state: dict[str, Any]
    report: Report
    plan: FaultPlan
    runner: Runner
    dead_lettered: list[str]
    report_while_dead: Report | None


def fresh_stack(moto_server) -> Settings:
    moto_server.reset()
    settings = replace(Settings.from_env({}), max_receive_count=MAX_RECEIVES).with_endpoint(moto_server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    register_sites(settings)
    return settings


def run(moto_server, scenario: Scenario) -> Run:
    settings = fresh_stack(moto_server)
    runner = Runner(settings, retry_delay_seconds=0, wait_seconds=1, concurrency=2)
    runner.drain(timeout=30)  # the s3:TestEvent that setting up the notification sends
    numbers = list(range(FILES))[:: -1 if scenario.newest_first else 1]
    keys = upload_files(settings, numbers, READINGS)
    if scenario.deliveries > 1:
        assert deliver_again(settings, lambda _: scenario.deliveries) == FILES * scenario.deliveries
    plan = scenario.plan()
    with injected(settings, plan):
        plan.active = True
        runner.start()
        try:
            try:
                settle(settings, runner, SETTLE_SECONDS)
            finally:
                plan.active = False
            dead = redrive_dead_letters_checked(settings, keys)
            if dead[0]:
                settle(settings, runner, SETTLE_SECONDS)
        finally:
            runner.stop()  # a runner left polling would take the next test's messages
    report = verify(settings, settle_seconds=0)
    return Run(state(settings, sorted(keys)), report, plan, runner, *dead)


def redrive_dead_letters_checked(settings: Settings, keys: list[str]) -> tuple[list[str], Report | None]:
    """Before a redrive, verify must account for every file: stored, or in the DLQ."""
    from pipeline.ops.dead_letters import list_dead_letters

    if not list_dead_letters(settings, 1000):
        return [], None
    report = verify(settings, settle_seconds=0)
    return redrive_dead_letters(settings), report


@pytest.fixture(scope="module")
def undisturbed(moto_server) -> dict[str, Any]:
    """GIVEN the files stored with nothing going wrong."""
    done = run(moto_server, Scenario(FaultPlan))
    expected = done.state
    assert done.report.ok, done.report.findings
    assert len(expected["records"]) == FILES * 3 * READINGS
    assert all(o and o["status"] == "processed" for o in expected["outcomes"].values()), expected["outcomes"]
    alerts = {key: 1 if alerting(int(key[-8:-5])) else 0 for key in expected["outcomes"]}
    assert expected["alerts per file"] == alerts and sum(alerts.values()) == 4
    assert expected["sites left held"] == [] and done.dead_lettered == []
    return expected


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs, in a few lines (the records alone would fill a screen)."""
    found = []
    for aspect, value in expected.items():
        if got[aspect] == value:
            continue
        if isinstance(value, list):
            missing = [v for v in value if v not in got[aspect]][:3]
            extra = [v for v in got[aspect] if v not in value][:3]
            found.append(f"{aspect}: {len(got[aspect])} vs {len(value)}; missing {missing}; unexpected {extra}")
        else:
            wrong = {k: (got[aspect].get(k), v) for k, v in value.items() if got[aspect].get(k) != v}
            found.append(f"{aspect} (got, expected): {dict(list(wrong.items())[:3])}")
    return found


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_stack_ends_as_an_undisturbed_run(moto_server, undisturbed: dict[str, Any], name: str) -> None:
    # WHEN the same files are stored under the fault
    done = run(moto_server, SCENARIOS[name])

    # THEN the fault really happened (a run the fault missed proves nothing)
    if SCENARIOS[name].plan().share:  # failed messages were retried, or a failed group came back as one message
        retried = done.runner.stats.failed >= 1 or done.runner.stats.succeeded > FILES * SCENARIOS[name].deliveries
        assert done.plan.failed and retried, (done.plan.failed, done.runner.stats)
    if SCENARIOS[name].deliveries > 1:
        assert done.runner.stats.succeeded >= FILES * SCENARIOS[name].deliveries, done.runner.stats
    # AND whatever was dead-lettered on the way, verify had it as "in the DLQ", not lost
    if done.report_while_dead is not None:
        lost = [f for f in done.report_while_dead.findings if f.check == FILES_CHECK]
        assert lost == [] and done.report_while_dead.counts["dead_lettered_files"] >= 1, done.report_while_dead
    # AND the stack keeps its promises, with every file's outcome, records, rollups and alerts as undisturbed
    assert done.report.ok, done.report.findings
    assert all(done.state["outcomes"].values()), [k for k, o in done.state["outcomes"].items() if o is None]
    assert differences(undisturbed, done.state) == []
