"""Batches: the runner gathers them like the event source mapping, a file named twice is
stored once, and readings newer than anything a site stored cost no existence read."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from local_aws.runner import Runner
from pipeline import raw_files, storing
from pipeline.aws import client
from pipeline.dynamo import query
from pipeline.events import notification_body
from pipeline.file_outcomes import file_outcomes, outcomes_on
from pipeline.ops.simulation import make_sites
from pipeline.record_store import site_records
from pipeline.rollups import site_rollups
from pipeline.schema import FILES_BY_DAY_INDEX
from pipeline.sites import put_sites


def reading(site: str, ts: str, consumed: float = 2.0) -> dict:
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": 1.0, "energy_consumed_kwh": consumed}


def test_the_runner_gathers_a_batch_across_receives_up_to_its_size(settings):
    put_sites(settings, make_sites(1))
    runner = Runner(settings, batch_size=20, wait_seconds=0, retry_delay_seconds=0)
    runner.drain()  # the bucket's test event
    for i in range(25):
        raw_files.upload(
            settings,
            f"raw/2026/11/29/f{i:02d}.json",
            json.dumps([reading("site-1", f"2026-11-29T{i // 4:02d}:{15 * (i % 4):02d}:00Z")]).encode(),
        )
    sizes = []
    real = runner.handler
    runner.handler = lambda event, context: sizes.append(len(event["Records"])) or real(event, context)
    runner.drain()

    assert sizes == [20, 5], "10 a receive, gathered to the batch size, then what was left"
    assert len(list(site_records(settings, "site-1"))) == 25


def test_a_file_named_twice_in_one_batch_is_stored_once(settings):
    put_sites(settings, make_sites(1))
    runner = Runner(settings, wait_seconds=0, retry_delay_seconds=0)
    runner.drain()  # the bucket's test event
    key = "raw/2026/11/29/twice.json"
    raw_files.upload(settings, key, json.dumps([reading("site-1", "2026-11-29T06:00:00Z")]).encode())
    sqs = client(settings, "sqs")
    queue = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=notification_body(settings.bucket, key))  # SQS delivers it again
    batches = runner.stats.batches
    runner.drain()

    assert runner.stats.batches == batches + 1 and runner.stats.failed == 0
    outcome = file_outcomes(settings, [key])[key]
    assert (outcome.written, outcome.unchanged) == (1, 0), "stored once, not once then as unchanged"
    [rollup] = site_rollups(settings, "site-1", "0", "9")
    assert rollup.readings == 1


@pytest.fixture
def one_site(settings, runner, monkeypatch) -> tuple[Callable[..., None], list[list[tuple[str, str]]]]:
    """A site, a way to store a file of its readings, and the keys each store looked up."""
    put_sites(settings, make_sites(1))
    looked_up: list[list[tuple[str, str]]] = []
    real = storing.existing_records
    monkeypatch.setattr(storing, "existing_records", lambda s, keys: looked_up.append(list(keys)) or real(s, keys))

    def store(name: str, *timestamps: str) -> None:
        rows = [reading("site-1", ts) for ts in timestamps]
        raw_files.upload(settings, f"raw/2026/11/29/{name}.json", json.dumps(rows).encode())
        runner.drain()

    return store, looked_up


def test_readings_newer_than_a_sites_newest_stored_are_not_looked_up(settings, one_site):
    store, looked_up = one_site
    store("first", "2026-11-29T06:00:00Z", "2026-11-29T06:15:00Z")
    store("newer", "2026-11-29T06:30:00Z")
    store("again", "2026-11-29T06:15:00Z", "2026-11-29T06:45:00Z")  # one stored before, one new

    assert looked_up == [[], [], [("site-1", "2026-11-29T06:15:00Z")]]
    outcomes = file_outcomes(settings, [f"raw/2026/11/29/{n}.json" for n in ("first", "newer", "again")])
    assert [(o.written, o.unchanged) for o in outcomes.values()] == [(2, 0), (1, 0), (1, 1)]


def test_a_reading_dated_in_the_future_sends_no_later_reading_to_an_existence_read(settings, one_site):
    """A meter clock's glitch (a reading dated years ahead) is stored and kept apart: the
    site's next readings are not looked up, and the glitch's timestamp, sent again, is."""
    store, looked_up = one_site
    store("glitch", "2026-11-29T06:00:00Z", "2099-01-01T00:00:00Z")
    store("next", "2026-11-29T06:15:00Z", "2026-11-29T06:30:00Z")
    store("again", "2026-11-29T06:45:00Z", "2099-01-01T00:00:00Z")

    assert looked_up == [[], [], [("site-1", "2099-01-01T00:00:00Z")]]
    outcomes = file_outcomes(settings, [f"raw/2026/11/29/{n}.json" for n in ("glitch", "next", "again")])
    assert [(o.written, o.unchanged) for o in outcomes.values()] == [(2, 0), (2, 0), (1, 1)]
    [rollup] = [r for r in site_rollups(settings, "site-1", "2099", "2100")]
    assert rollup.readings == 1, "the glitch counted once"


def test_a_group_failing_with_a_file_of_its_message_unread_loses_neither(settings, monkeypatch):
    """A message names two files; one cannot be read yet, the other's group fails with a
    duplicate delivery of it: both messages must come back, and both files end stored."""
    from pipeline import processing
    from pipeline.events import ObjectCreated, notifications_body

    put_sites(settings, make_sites(1))
    runner = Runner(settings, wait_seconds=0, retry_delay_seconds=0)
    runner.drain()  # the bucket's test event
    a, b = "raw/2026/11/29/a.json", "raw/2026/11/29/b.json"
    raw_files.upload(settings, a, json.dumps([reading("site-1", "2026-11-29T06:00:00Z")]).encode())
    raw_files.upload(settings, b, json.dumps([reading("site-1", "2026-11-29T06:15:00Z")]).encode())
    sqs = client(settings, "sqs")
    queue = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]:  # S3's, set aside
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    both = notifications_body([ObjectCreated(settings.bucket, a), ObjectCreated(settings.bucket, b)])
    sqs.send_message(QueueUrl=queue, MessageBody=both)  # a replay naming both files
    sqs.send_message(QueueUrl=queue, MessageBody=notification_body(settings.bucket, a))
    real_open, real_store = processing.open_file, processing.store_group
    failed: list[str] = []

    def open_b_later(settings_, key, **kwargs):
        if key == b and "open" not in failed:
            failed.append("open")
            raise ConnectionError("S3 did not answer")
        return real_open(settings_, key, **kwargs)

    def store_once_failing(settings_, parts):
        if "store" not in failed:
            failed.append("store")
            raise ConnectionError("DynamoDB did not answer")
        return real_store(settings_, parts)

    monkeypatch.setattr(processing, "open_file", open_b_later)
    monkeypatch.setattr(processing, "store_group", store_once_failing)
    runner.drain()

    assert failed == ["open", "store"]
    outcomes = file_outcomes(settings, [a, b])
    assert set(outcomes) == {a, b} and runner.stats.failed >= 1
    assert [r.timestamp for r in site_records(settings, "site-1")] == ["2026-11-29T06:00:00Z", "2026-11-29T06:15:00Z"]


def test_a_batch_holds_at_most_a_chunks_worth_of_small_files_at_once_in_upload_order(settings, monkeypatch):
    from dataclasses import replace

    from pipeline import processing
    from pipeline.events import ObjectCreated

    small = replace(settings, chunk_readings=5)
    put_sites(small, make_sites(1))
    keys = [f"raw/2026/11/29/m{i:02d}.json" for i in range(12)]
    for i, key in enumerate(keys):
        raw_files.upload(small, key, json.dumps([reading("site-1", f"2026-11-29T{i:02d}:00:00Z")]).encode())
    groups = []
    real = processing.store_group
    monkeypatch.setattr(
        processing, "store_group", lambda s, parts: groups.append([p.source_key for p in parts]) or real(s, parts)
    )
    looked_up = []
    real_lookup = storing.existing_records
    monkeypatch.setattr(storing, "existing_records", lambda s, keys: looked_up.extend(keys) or real_lookup(s, keys))
    uploaded = [f"2026-11-29T10:{i:02d}:00Z" for i in range(12)]
    messages = [  # handed out newest first
        processing.Message(f"m{i}", [ObjectCreated(small.bucket, key, uploaded[i])]) for i, key in enumerate(keys)
    ][::-1]

    result = processing.process_batch(small, messages, time_left_ms=lambda: 60_000, reserve_ms=10_000)

    # stored as soon as they hold a chunk's worth of rows, in upload order: no reading is
    # older than what its site stored before it, so none is looked up
    assert groups == [keys[:5], keys[5:10], keys[10:]] and looked_up == []
    assert result.errors == {} and len(result.started) == 12
    assert len(list(site_records(small, "site-1"))) == 12


def test_small_files_read_but_not_stored_for_want_of_time_go_back_untouched(settings):
    from pipeline import processing
    from pipeline.events import ObjectCreated

    put_sites(settings, make_sites(1))
    keys = [f"raw/2026/11/29/late{i}.json" for i in range(3)]
    for i, key in enumerate(keys):
        raw_files.upload(settings, key, json.dumps([reading("site-1", f"2026-11-29T0{i}:00:00Z")]).encode())
    clock = iter([60_000, 60_000, 60_000, 5_000])  # time to read the three, not to store them
    messages = [processing.Message(f"m{i}", [ObjectCreated(settings.bucket, key)]) for i, key in enumerate(keys)]

    result = processing.process_batch(settings, messages, time_left_ms=lambda: next(clock), reserve_ms=10_000)

    assert result.started == ["m0", "m1", "m2"]
    assert {m: type(e).__name__ for m, e in result.errors.items()} == dict.fromkeys(["m0", "m1", "m2"], "Paused")
    assert file_outcomes(settings, keys) == {} and list(site_records(settings, "site-1")) == []


def test_the_day_lists_every_file_of_a_batch_from_one_index_entry_per_group(settings):
    """The files ledger's day index holds one entry per group of files stored together: the
    day still lists every file once, newest first."""
    put_sites(settings, make_sites(2))
    runner = Runner(settings, batch_size=100, wait_seconds=0, retry_delay_seconds=0)
    runner.drain()  # the bucket's test event
    first = [f"raw/2026/11/29/{site}-{i}.json" for site in ("site-1", "site-2") for i in range(3)]
    for i, key in enumerate(first):
        site = key.split("/")[-1][:6]
        raw_files.upload(settings, key, json.dumps([reading(site, f"2026-11-29T0{i}:00:00Z")]).encode())
    raw_files.upload(settings, "raw/2026/11/29/broken.json", b"{not json")  # quarantined whole, alone
    runner.drain()
    later = "raw/2026/11/29/later.json"
    raw_files.upload(settings, later, json.dumps([reading("site-1", "2026-11-29T09:00:00Z")]).encode())
    runner.drain()

    outcomes = file_outcomes(settings, [*first, later])
    day = outcomes[later].processed_at[:10]
    listed = outcomes_on(settings, day)
    assert sorted(o.source_key for o in listed) == sorted([*first, "raw/2026/11/29/broken.json", later])
    times = [o.processed_at for o in listed]
    assert times == sorted(times, reverse=True) and times[0] == outcomes[later].processed_at
    entries = query(
        settings,
        TableName=settings.files_table,
        IndexName=FILES_BY_DAY_INDEX,
        KeyConditionExpression="processed_day = :d",
        ExpressionAttributeValues={":d": {"S": day}},
    )
    assert len(list(entries)) == 4, "site-1's three files, site-2's, the broken file, the later file"
    assert [o.processed_at for o in outcomes_on(settings, day, limit=1)] == times[:1]
    alerted = {key for key, o in file_outcomes(settings, [*first, later]).items() if o.alert_message_id}
    assert alerted and {o.source_key for o in outcomes_on(settings, day, alerted_only=True)} == alerted
