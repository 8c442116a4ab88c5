"""Small files stored together, by site, in one invocation: what storing them one by one
would store, with each site claimed once per batch, and the same after any write fails.

Six one-reading files of two sites (three each, one with a consumption spike, one after a
gap) arrive in one batch. They are stored once one file per invocation (the reference),
once batched, and then batched again on a fresh stack for every write call the batched run
makes, with that call failing: the group that failed goes back to the queue as one message,
whose retry resumes the try. Every run must end with the same records, rollups, ledger
counts, alert episodes, and alerts: each file's, as its ledger records it, and every
episode change delivered once (batched, in one message per site's files).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal

import pytest

from local_aws.runner import Runner
from pipeline import dynamo, raw_files, site_claims
from pipeline.dynamo import query, unpack
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.alert_history import delivered_alerts
from pipeline.ops.bootstrap import bootstrap
from pipeline.record_store import site_records
from pipeline.settings import Settings
from pipeline.sites import Site, put_sites, site_items
from tests.lake_reader import lake_rows, table_rows
from tests.reliability.faults import FaultPlan, injected

SITES = ("site-a", "site-b")
CHANGES = ("STARTED ", "REMINDER", "RESOLVED")
OUTCOME_FIELDS = ("status", "readings", "written", "unchanged", "anomalies", "missing_intervals", "estimated")


def row(site: str, ts: str, consumed: float) -> dict:
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": 1.0, "energy_consumed_kwh": consumed}


HISTORY = [
    row(site, f"2026-11-28T{20 + i // 4}:{15 * (i % 4):02d}:00Z", 2.0 + i % 2) for site in SITES for i in range(9)
]
FILES = {  # one reading each; uploaded in this order
    f"raw/2026/11/28/{site}-{n}.json": [row(site, ts, consumed)]
    for site in SITES
    for n, (ts, consumed) in enumerate(
        [
            ("2026-11-28T22:15:00Z", 2.0),
            ("2026-11-28T22:30:00Z", 40.0),  # a consumption spike: an alert
            ("2026-11-28T23:30:00Z", 2.5),  # after 3 missing intervals
        ]
    )
}


def fresh_stack(moto_server) -> Settings:
    moto_server.reset()
    settings = Settings.from_env({}).with_endpoint(moto_server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    put_sites(settings, [Site(s, kind="consumer", capacity_kw=Decimal(100), interval_minutes=15) for s in SITES])
    raw_files.upload(settings, "raw/2026/11/28/history.json", json.dumps(HISTORY).encode())
    Runner(settings, retry_delay_seconds=0, wait_seconds=0).drain()
    return settings


def state(settings: Settings) -> dict:
    """What a user could notice of the six files, less the time they were processed at."""
    records = [
        {k: v for k, v in asdict(r).items() if k != "processed_at"} for s in SITES for r in site_records(settings, s)
    ]
    rollups = [
        {"site_id": item["site_id"], "day": item["day"], "hours": item["hours"]}
        for s in SITES
        for item in query(
            settings,
            TableName=settings.rollup_table,
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues={":s": {"S": s}},
        )
    ]
    outcomes = file_outcomes(settings, FILES)
    alerts = [a for a in delivered_alerts(settings).values() if "history" not in a.subject]
    sites = site_items(settings, SITES)
    return {
        "records": records,
        "rollups": rollups,
        "outcomes": {key: {f: getattr(o, f) for f in OUTCOME_FIELDS} for key, o in sorted(outcomes.items())},
        # each file's alert as its ledger records it (its own part of the message it went in)
        "alerts by file": {key: o.alert_message for key, o in sorted(outcomes.items()) if o.alert_message},
        "changes delivered": sorted(line for a in alerts for line in a.message.splitlines() if line[:8] in CHANGES),
        "messages": len(alerts),
        "episodes": {s: sites[s].get("episodes") for s in SITES},
        "histories": {s: unpack(sites[s]["history"]) for s in SITES},
        "left held": [s for s in SITES if {"lease", "inflight"} & sites[s].keys()],
        "the lake's newest rows are the records": lake_rows(settings) == table_rows(settings, SITES),
    }


def run(moto_server, plan: FaultPlan, batch_size: int) -> tuple[dict, Runner]:
    settings = fresh_stack(moto_server)
    runner = Runner(settings, batch_size=batch_size, retry_delay_seconds=0, wait_seconds=0)
    for key, rows in FILES.items():
        raw_files.upload(settings, key, json.dumps(rows).encode())
    with injected(settings, plan):
        plan.active = True
        runner.drain(timeout=120)
        plan.active = False
    return state(settings), runner


@pytest.fixture(scope="module")
def one_by_one(moto_server) -> dict:
    expected, runner = run(moto_server, FaultPlan(), batch_size=1)
    assert runner.stats.batches == len(FILES)
    assert [o["written"] for o in expected["outcomes"].values()] == [1] * len(FILES)
    assert [o["missing_intervals"] for o in expected["outcomes"].values()] == [0, 0, 3] * len(SITES)
    assert expected["messages"] == 4 and expected["left held"] == []  # the spike, then the gap
    assert len(expected["alerts by file"]) == 4 and len(expected["changes delivered"]) == 4
    return expected


def test_a_batch_stores_what_one_file_at_a_time_stores_claiming_each_site_once(moto_server, one_by_one, monkeypatch):
    claims = []
    real_claim = site_claims.claim
    monkeypatch.setattr(
        site_claims,
        "claim",
        lambda s, versions, *a, **k: claims.append(sorted(versions)) or real_claim(s, versions, *a, **k),
    )

    batched, runner = run(moto_server, FaultPlan(), batch_size=100)

    assert runner.stats.batches == 1 and runner.stats.failed == 0
    # the history file's claim of both sites, then each site once for its three files
    assert sorted(claims) == [["site-a"], ["site-a", "site-b"], ["site-b"]]
    # and one message for each site's files
    assert batched.pop("messages") == 2
    assert batched == {aspect: value for aspect, value in one_by_one.items() if aspect != "messages"}


def test_a_write_failing_at_any_step_of_a_batch_ends_as_one_file_at_a_time(moto_server, one_by_one, monkeypatch):
    monkeypatch.setattr(dynamo, "MAX_ATTEMPTS", 1)  # batch writes fail for good too, not retried in place
    counting = FaultPlan()
    run(moto_server, counting, batch_size=100)
    writes = len(counting.calls)
    assert writes >= 15, counting.calls

    for n in range(1, writes + 1):
        disturbed, _ = run(moto_server, plan := FaultPlan(fail_at=n), batch_size=100)
        assert plan.failed == [counting.calls[n - 1]], (n, plan.failed)
        assert disturbed.pop("messages") <= 4
        for aspect, value in disturbed.items():
            assert one_by_one[aspect] == value, f"write {n} ({counting.calls[n - 1]}) failed: {aspect} differs"


def test_a_failed_group_that_cannot_go_back_whole_ends_as_one_file_at_a_time(moto_server, one_by_one, monkeypatch):
    """When a failed group cannot be sent back as one message, its messages fail one by one
    and come back on their own: the stack still ends as storing the files one by one."""
    from pipeline import deferral

    def unsendable(*args, **kwargs):
        raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(dynamo, "MAX_ATTEMPTS", 1)
    monkeypatch.setattr(deferral, "send_group", unsendable)
    # the records of the first site's group (claim, rollups, the lake's rows, records)
    disturbed, runner = run(moto_server, plan := FaultPlan(fail_at=4), batch_size=100)
    assert plan.failed == ["dynamodb.BatchWriteItem"] and runner.stats.failed == 3  # that group's messages
    disturbed.pop("messages")
    assert disturbed == {aspect: value for aspect, value in one_by_one.items() if aspect != "messages"}
