"""A file whose storing fails at any AWS write, then is redelivered, ends as if nothing failed.

The file under test carries every kind of judgement that depends on what came before it
(consumption spike, flatline, missing intervals: the series rules), a value anomaly, a
rejected row, a duplicate and two days for each of two sites, with more records than one
BatchWriteItem takes. It is processed once
undisturbed, then again on a fresh stack once for every write call it makes, with that call
failing (1st, 2nd, ... Nth) and SQS redelivering the message. Every run must store the same
records with the same reasons, the same rollups, the same ledger counts, the same alert
episodes and one alert with the same text.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal

from local_aws.runner import Runner
from pipeline import dynamo, raw_files
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
HISTORY_KEY = "raw/2026/11/28/history.json"
KEY = "raw/2026/11/29/under-test.json"
OUTCOME_FIELDS = (
    "status",
    "readings",
    "written",
    "unchanged",
    "duplicates",
    "rejected",
    "anomalies",
    "missing_intervals",
)


def row(site: str, ts: str, gen: float, cons: float) -> dict:
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


def history_rows() -> list[dict]:
    """Normal consumption for the spike rule to compare with, ending at 22:00 on the 28th."""
    return [
        row(site, f"2026-11-28T{20 + i // 4}:{15 * (i % 4):02d}:00Z", 1.0, 2.0 + i % 2)
        for site in SITES
        for i in range(9)
    ]


def file_rows() -> list[dict]:
    rows = []
    for site in SITES:
        rows += [
            row(site, "2026-11-28T22:15:00Z", 3.0, 2.0),
            row(site, "2026-11-28T22:30:00Z", 3.0, 2.5),
            row(site, "2026-11-28T22:45:00Z", 3.0, 40.0),  # consumption spike
            row(site, "2026-11-28T23:00:00Z", 3.0, 2.0),  # 4th equal generation: flatline
            row(site, "2026-11-29T00:30:00Z", -2.0, 2.0),  # after a gap of 5 intervals; negative generation
            row(site, "2026-11-29T00:45:00Z", 1.5, 3.0),
            row(site, "2026-11-29T00:45:00Z", 1.0, 2.5),  # duplicate: the last row wins
        ]
        rows += [
            row(site, f"2026-11-29T{1 + i // 4:02d}:{15 * (i % 4):02d}:00Z", 1 + i % 3, 2 + i % 2)
            for i in range(20)
            if i != 10  # 03:30 missing: estimated on the line from 03:15 to 03:45
        ]
    rows.insert(3, {"site_id": "site a", "timestamp": "noon", "energy_generated_kwh": "x"})  # quarantined
    return rows


def fresh_stack(moto_server) -> Settings:
    moto_server.reset()
    settings = Settings.from_env({}).with_endpoint(moto_server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    put_sites(settings, [Site(s, kind="consumer", capacity_kw=Decimal(100), interval_minutes=15) for s in SITES])
    return settings


def state(settings: Settings) -> dict:
    """Everything a user could notice of the file, less the time it was processed at."""
    records = [
        {k: v for k, v in asdict(r).items() if k != "processed_at"} for s in SITES for r in site_records(settings, s)
    ]
    processed_at = {r.processed_at for s in SITES for r in site_records(settings, s) if r.source_key == KEY}
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
    outcome = file_outcomes(settings, [KEY])[KEY]
    alerts = [a for a in delivered_alerts(settings).values() if KEY.rsplit("/", 1)[-1] in a.subject]
    sites = site_items(settings, SITES)
    return {
        "records": records,
        "one processing time per file": len(processed_at) == 1,
        "rollups": rollups,
        "outcome": {f: getattr(outcome, f) for f in OUTCOME_FIELDS},
        "alerts": len(alerts),
        "alert texts": sorted(a.message for a in alerts),
        "episodes": {s: sites[s].get("episodes") for s in SITES},
        "histories": {s: unpack(sites[s]["history"]) for s in SITES},
        "left held": [s for s in SITES if {"lease", "inflight"} & sites[s].keys()],
        "the lake's newest rows are the records": lake_rows(settings) == table_rows(settings, SITES),
        "quarantined rows": [r["row"] for r in raw_files.read_rejects(settings, KEY)],
    }


def run(moto_server, plan: FaultPlan) -> tuple[dict, Runner]:
    settings = fresh_stack(moto_server)
    runner = Runner(settings, retry_delay_seconds=0, wait_seconds=0)
    raw_files.upload(settings, HISTORY_KEY, json.dumps(history_rows()).encode())
    runner.drain()
    raw_files.upload(settings, KEY, json.dumps(file_rows()).encode())
    with injected(settings, plan):
        plan.active = True
        runner.drain(timeout=120)
        plan.active = False
    return state(settings), runner


def test_a_write_failing_at_any_step_then_redelivered_ends_as_the_undisturbed_run(moto_server, monkeypatch):
    # a throttled batch write is retried in place (tests/integration/test_batch_writes.py): here
    # each write fails for good, so that what is under test is the message's retry
    monkeypatch.setattr(dynamo, "MAX_ATTEMPTS", 1)
    expected, _ = run(moto_server, counting := FaultPlan())
    assert expected["outcome"]["anomalies"] >= 6 and expected["outcome"]["missing_intervals"] == 12
    estimates = {
        (r["site_id"], r["timestamp"]): r["energy_generated_kwh"] for r in expected["records"] if r["estimate_method"]
    }
    # 03:15 generated 1 + 9 % 3 = 1, 03:45 generated 1 + 11 % 3 = 3: the line passes 2 at 03:30
    assert estimates == {(s, "2026-11-29T03:30:00Z"): Decimal(2) for s in SITES}
    reasons = {reason for r in expected["records"] for reason in r["anomaly_reasons"]}
    assert {"spike_consumption", "flatline_generation", "negative_generation"} <= reasons
    assert expected["alerts"] == 1 and expected["left held"] == [] and expected["one processing time per file"]
    writes = len(counting.calls)
    assert counting.calls.count("dynamodb.BatchWriteItem") >= 3, counting.calls
    assert counting.calls[-len(SITES) - 3 :] == [
        "dynamodb.UpdateItem",  # the alert's claim
        "sns.Publish",
        *["dynamodb.UpdateItem"] * (1 + len(SITES)),  # the outcome with the alert sent, the releases
    ], counting.calls

    for n in range(1, writes + 1):
        disturbed, runner = run(moto_server, plan := FaultPlan(fail_at=n))
        assert plan.failed == [counting.calls[n - 1]], (n, plan.failed)
        # what the message's retry could not redo is retried in place, not redelivered: the
        # outcome, which records the alert sent, and the release, last (one write per site)
        recording_the_outcome = n == writes - len(SITES)
        letting_go = n > writes - len(SITES)
        in_place = recording_the_outcome or letting_go
        assert runner.stats.failed == (0 if in_place else 1), (n, plan.failed)
        for aspect, value in expected.items():
            assert disturbed[aspect] == value, f"write {n} ({counting.calls[n - 1]}) failed: {aspect} differs"


def test_a_try_abandoned_half_way_is_taken_over_by_the_next_file_of_its_sites(settings, monkeypatch):
    """A file fails after moving its rollups and half its records, and its retry comes only
    after its lease ran out and another file of the same sites was stored: the rollups
    still equal the sums of the records, nothing of either file is lost, and the episode
    changes the failed try made are announced once."""
    import pytest

    import pipeline.site_claims as site_claims
    from pipeline.processing import process_object
    from pipeline.rollup_rebuild import differences, expected_days, stored_days

    put_sites(settings, [Site(s, kind="consumer", capacity_kw=Decimal(100), interval_minutes=15) for s in SITES])
    raw_files.upload(settings, KEY, json.dumps(file_rows()).encode())
    plan = FaultPlan(fail_at=3, only=lambda call: call == "dynamodb.BatchWriteItem")  # rollups, records, records
    monkeypatch.setattr(dynamo, "MAX_ATTEMPTS", 1)  # failing for good, not retried in place
    with injected(settings, plan), pytest.raises(Exception, match="injected"):
        plan.active = True
        process_object(settings, KEY)
    stored_first = sum(1 for s in SITES for _ in site_records(settings, s))
    assert 0 < stored_first < 50 and all("inflight" in item for item in site_items(settings, SITES).values())

    later = site_claims._now() + site_claims.LEASE_SECONDS + 1
    monkeypatch.setattr(site_claims, "_now", lambda: later)
    other = "raw/2026/11/29/next.json"
    raw_files.upload(settings, other, json.dumps([row(s, "2026-11-29T06:00:00Z", 2, 1) for s in SITES]).encode())
    process_object(settings, other)
    process_object(settings, KEY)  # the first file's retry, judged after the other

    records = [r for s in SITES for r in site_records(settings, s)]
    # every reading of both files (25 a site, and one each); the 03:30 estimates may be gone
    # with the abandoned try: the file's retry came after a newer reading, so it sees no gap
    assert len([r for r in records if not r.estimated]) == 50 + 2
    for site in SITES:
        stored = stored_days(settings, site)
        for (_, day), hours in expected_days(site_records(settings, site)).items():
            assert differences(site, day, stored[day]["hours"], hours) == [], (site, day)
    assert not any({"lease", "inflight"} & item.keys() for item in site_items(settings, SITES).values())
    # the episode changes the abandoned try made were announced once, by the file that took
    # it over (the retry finds its readings stored, so it judges none of them again)
    [alert] = delivered_alerts(settings).values()
    assert alert.message.startswith(f"8 episodes started, 8 resolved in {KEY}\nSTARTED   site-a"), alert.message
    assert file_outcomes(settings, [KEY])[KEY].alert_message_id == alert.message_id


def test_a_try_that_sent_its_alert_but_could_not_let_go_is_not_announced_again(settings, monkeypatch):
    """The file is stored and alerted, but its sites cannot be released (every attempt fails):
    the file that takes them over once the lease ran out finds the changes sent already."""
    import pipeline.site_claims as site_claims
    from pipeline.processing import process_object

    put_sites(settings, [Site(s, kind="consumer", capacity_kw=Decimal(100), interval_minutes=15) for s in SITES])
    monkeypatch.setattr(dynamo, "backoff", lambda attempt: None)
    real_release = site_claims.release
    monkeypatch.setattr(site_claims, "release", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("lost")))
    raw_files.upload(settings, KEY, json.dumps(file_rows()).encode())
    process_object(settings, KEY)
    assert all("inflight" in item for item in site_items(settings, SITES).values())

    monkeypatch.setattr(site_claims, "release", real_release)
    later = site_claims._now() + site_claims.LEASE_SECONDS + 1
    monkeypatch.setattr(site_claims, "_now", lambda: later)
    other = "raw/2026/11/29/next.json"
    raw_files.upload(settings, other, json.dumps([row(s, "2026-11-29T06:00:00Z", 2, 1) for s in SITES]).encode())
    process_object(settings, other)

    alerts = list(delivered_alerts(settings).values())
    assert [a.message.split("\n", 1)[0] for a in alerts] == [f"8 episodes started, 8 resolved in {KEY}"]
    assert not any({"lease", "inflight"} & item.keys() for item in site_items(settings, SITES).values())
