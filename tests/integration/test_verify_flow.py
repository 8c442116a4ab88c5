"""`verify` and `rebuild-rollups` on the embedded stack: a clean stack passes, and each
deliberate corruption is reported where an operator would look for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pipeline import raw_files
from pipeline.aws import client
from pipeline.dynamo import marshal
from pipeline.events import notification_body
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.verify import last_report, save_report, verify
from pipeline.record_store import site_records
from pipeline.rollup_rebuild import rebuild_site
from pipeline.sites import site_items

DAY = "2026-11-29"
KEY = "raw/2026/11/29/readings.json"
LATER = datetime.now(UTC) + timedelta(hours=1)  # past the settle time of every file uploaded here


def reading(ts, gen=12.5, cons=8.1, site="site-1"):
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


ROWS = [
    reading("2026-11-29T06:00:00Z", gen=-5, cons=2),  # an anomaly: the file alerts
    reading("2026-11-29T06:15:00Z"),
    reading("2026-11-29T07:00:00Z", site="site-2"),
]


@pytest.fixture
def processed(settings, runner):
    """GIVEN one processed file of two sites, one of its readings anomalous (so it alerted)."""
    raw_files.upload(settings, KEY, json.dumps(ROWS).encode())
    runner.drain(timeout=60)
    assert file_outcomes(settings, [KEY])[KEY].status == "processed"
    return KEY


def checked(settings, **kwargs):
    return verify(settings, now=LATER, **kwargs)


def problems(report, check):
    return {f.subject: f.problem for f in report.findings if f.check == check}


def test_a_clean_processed_stack_verifies_ok(settings, processed):
    report = checked(settings)
    assert report.ok, report.findings
    assert report.counts["raw_files"] == 1 and report.counts["records"] == 3 and report.counts["sites"] == 2
    assert report.counts["alert_deliveries"] == 1


def test_a_deleted_record_shows_in_the_rollup_counts(settings, processed):
    client(settings, "dynamodb").delete_item(
        TableName=settings.table, Key=marshal({"site_id": "site-1", "timestamp": "2026-11-29T06:15:00Z"})
    )
    report = checked(settings)
    found = problems(report, "rollups")
    assert list(found) == ["site-1 2026-11-29"]
    assert "06:00 readings is 2 in the rollup, 1 in the records" in found["site-1 2026-11-29"]


def _bump_rollup(settings, hour="07", site="site-2"):
    client(settings, "dynamodb").update_item(
        TableName=settings.rollup_table,
        Key=marshal({"site_id": site, "day": DAY}),
        UpdateExpression="SET #h.#hh.generated_kwh = :v",
        ExpressionAttributeNames={"#h": "hours", "#hh": hour},
        ExpressionAttributeValues=marshal({":v": Decimal("99.5")}),
    )


def test_a_bumped_rollup_is_reported_and_rebuild_mends_it(settings, processed):
    _bump_rollup(settings)
    found = problems(checked(settings), "rollups")
    assert found == {"site-2 2026-11-29": "07:00 generated_kwh is 99.5 in the rollup, 12.5 in the records"}

    changed = rebuild_site(settings, "site-2", DAY)
    assert [(c.day, c.hour, c.measure) for c in changed] == [(DAY, "07", "generated_kwh")]
    assert rebuild_site(settings, "site-1", DAY) == [], "a right site is not rewritten"
    assert checked(settings).ok
    assert rebuild_site(settings, "site-2", DAY) == [], "a second rebuild finds nothing to do"


def test_rebuild_keeps_missing_intervals_holds_the_lease_and_drops_the_change_token(settings, processed):
    dynamodb = client(settings, "dynamodb")
    key = marshal({"site_id": "site-2", "day": DAY})
    dynamodb.update_item(
        TableName=settings.rollup_table,
        Key=key,
        UpdateExpression="SET #h.#hh.missing_intervals = :m, #h.#hh.readings = :r",
        ExpressionAttributeNames={"#h": "hours", "#hh": "07"},
        ExpressionAttributeValues=marshal({":m": Decimal(3), ":r": Decimal(5)}),
    )
    assert "change" in dynamodb.get_item(TableName=settings.rollup_table, Key=key)["Item"]
    rebuild_site(settings, "site-2")
    after = dynamodb.get_item(TableName=settings.rollup_table, Key=key)["Item"]
    hour = after["hours"]["M"]["07"]["M"]
    assert hour["readings"] == {"N": "1"} and hour["missing_intervals"] == {"N": "3"}
    assert "change" not in after, "a rebuilt day is no running sum: no retry may skip it"
    assert not {"lease", "inflight"} & site_items(settings, ["site-2"])["site-2"].keys(), "the lease is let go"


def test_rebuild_waits_for_a_file_holding_the_site_and_then_gives_up(settings, processed, monkeypatch):
    import pipeline.rollup_rebuild as rollup_rebuild
    import pipeline.site_claims as site_claims

    version = int(site_items(settings, ["site-2"])["site-2"]["history_version"])
    site_claims.claim(settings, {"site-2": version}, {}, "a-file")
    monkeypatch.setattr(rollup_rebuild, "backoff", lambda attempt: None)
    with pytest.raises(site_claims.SitesBusy):
        rebuild_site(settings, "site-2")
    assert site_items(settings, ["site-2"])["site-2"]["lease"] == "a-file"


def test_a_raw_file_without_outcome_is_wrong_unless_recent_or_dead_lettered(settings, processed):
    client(settings, "dynamodb").delete_item(TableName=settings.files_table, Key=marshal({"source_key": KEY}))
    report = checked(settings)
    assert problems(report, "files") == {KEY: "no outcome in the files table and not in the dead-letter queue"}
    assert KEY in problems(report, "records"), "its records now name a file without outcome"

    fresh = verify(settings)  # uploaded seconds ago: still on its way
    assert KEY in fresh.pending and not problems(fresh, "files")

    sqs = client(settings, "sqs")
    dlq = sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=notification_body(settings.bucket, KEY))
    report = checked(settings)
    assert not problems(report, "files") and report.counts["dead_lettered_files"] == 1


def test_a_record_whose_file_has_no_outcome(settings, processed):
    stray = next(iter(site_records(settings, "site-2")))
    item = {**stray.to_item(), "timestamp": "2026-11-29T08:00:00Z", "source_key": "raw/2026/11/29/ghost.json"}
    client(settings, "dynamodb").put_item(TableName=settings.table, Item=marshal(item))
    report = checked(settings)
    assert problems(report, "records") == {
        "raw/2026/11/29/ghost.json": "1 record names this file, which has no outcome"
    }
    assert "site-2 2026-11-29" in problems(report, "rollups"), "and no rollup counts it"


def test_an_alert_delivered_twice(settings, processed):
    sqs = client(settings, "sqs")
    url = sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    report = checked(settings)
    assert problems(report, "alerts") == {KEY: "the same alert was delivered 2 times"}
    assert report.counts["alert_deliveries"] == 2
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2, "peeked, not consumed"


def test_since_leaves_out_older_days(settings, runner, processed):
    _bump_rollup(settings)
    report = checked(settings, since="2026-11-30")
    assert report.ok and report.counts["raw_files"] == 0 and report.counts["records"] == 0


def test_the_saved_report_reads_back_and_does_not_trigger_processing(settings, runner, processed):
    assert last_report(settings) is None
    _bump_rollup(settings)
    report = checked(settings)
    key = save_report(settings, report)
    assert key.startswith("reports/")
    assert last_report(settings) == report
    runner.drain(timeout=30)
    assert runner.stats.failed == 0
    assert checked(settings).counts["raw_files"] == 1, "the report is no raw file"


def test_an_alert_claimed_by_a_process_that_died_before_publishing_is_reported(settings, runner):
    from pipeline.alert_claims import claim_alert

    etag = raw_files.upload(settings, KEY, json.dumps(ROWS).encode())
    assert claim_alert(settings, KEY, etag), "an earlier invocation claimed the alert, then was killed"
    runner.drain(timeout=60)

    outcome = file_outcomes(settings, [KEY])[KEY]
    assert outcome.anomalies == 1 and outcome.alert_message_id is None, "at most once: not sent again"
    assert problems(checked(settings), "alerts") == {
        KEY: "its outcome has 1 alert episode changes but no alert is recorded as sent"
    }
