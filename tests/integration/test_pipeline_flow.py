"""The pipeline on the embedded AWS, through the real S3 -> SQS notification and the runner."""

import gzip
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipeline import raw_files
from pipeline.aws import TransientError, client
from pipeline.file_outcomes import file_outcomes
from pipeline.ops import dead_letters
from pipeline.ops.alert_history import delivered_alerts, sent_alerts
from pipeline.ops.queues import queue_depth
from pipeline.ops.simulation import encode, make_sites, simulate
from pipeline.record_store import recent_anomalies, site_records
from pipeline.rollups import site_rollups
from pipeline.sites import list_sites, put_sites, site_items

KEY = "raw/2026/11/29/readings.json"


def reading(ts="2026-11-29T06:00:00Z", gen=12.5, cons=8.1, site="site-1"):
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


def upload_and_process(settings, runner, key, rows_or_bytes, timeout=60):
    body = rows_or_bytes if isinstance(rows_or_bytes, bytes) else json.dumps(rows_or_bytes).encode()
    raw_files.upload(settings, key, body)
    runner.drain(timeout=timeout)
    return file_outcomes(settings, [key]).get(key)


def test_an_uploaded_file_lands_in_dynamodb(settings, runner):
    outcome = upload_and_process(
        settings, runner, KEY, [reading(gen=0.3, cons=0.1), reading(ts="2026-11-29T06:15:00Z")]
    )

    [first, second] = site_records(settings, "site-1")
    assert (first.net_energy_kwh, first.anomaly, first.source_key) == (Decimal("0.2"), False, KEY)
    assert second.net_energy_kwh == Decimal("4.4")
    assert outcome.status == "processed" and outcome.written == 2
    assert [s.site_id for s in list_sites(settings)] == ["site-1"]


def test_a_partly_bad_file_stores_good_rows_and_quarantines_the_rest(settings, runner):
    rows = [
        reading(),
        {"site_id": "site 1", "timestamp": "noon", "energy_generated_kwh": True},
        reading(ts="2026-11-29T07:00:00Z"),
    ]
    outcome = upload_and_process(settings, runner, KEY, rows)

    assert len(list(site_records(settings, "site-1"))) == 2
    assert raw_files.read_rejects(settings, KEY) == [
        {
            "row": 2,
            "raw": {"site_id": "site 1", "timestamp": "noon", "energy_generated_kwh": True},
            "reasons": [
                "site_id_invalid",
                "timestamp_invalid",
                "energy_generated_kwh_not_number",
                "energy_consumed_kwh_missing",
            ],
        }
    ]
    body, _ = raw_files.read(settings, "quarantine/raw/2026/11/29/readings.json.rejects.jsonl")
    assert len(body.decode().splitlines()) == 1
    assert (outcome.status, outcome.rejected, outcome.written) == ("partial", 1, 2)


def test_an_unparseable_file_is_quarantined_whole_and_not_retried(settings, runner):
    outcome = upload_and_process(settings, runner, KEY, b'[{"site_id": "site-1", ')

    assert raw_files.read(settings, f"quarantine/{KEY}")[0] == b'[{"site_id": "site-1", '
    error = json.loads(raw_files.read(settings, f"quarantine/{KEY}.error.json")[0])
    assert error["reason"] == "invalid_json" and error["source_key"] == KEY
    assert outcome.status == "quarantined"
    assert runner.stats.failed == 0 and queue_depth(settings, settings.dlq) == (0, 0)


def test_every_format_and_gzip_through_the_stack(settings, runner):
    simulated = simulate(make_sites(2), datetime(2026, 11, 29, 12, tzinfo=UTC), 4, 0.0, seed=1)
    for fmt in ("json", "jsonl", "csv"):
        raw_files.upload(settings, f"raw/2026/11/29/f.{fmt}.gz", gzip.compress(encode(simulated.readings, fmt)))
    runner.drain(timeout=60)
    outcomes = file_outcomes(settings, [f"raw/2026/11/29/f.{fmt}.gz" for fmt in ("json", "jsonl", "csv")])
    assert [o.written for o in outcomes.values()] == [8, 0, 0]  # the same readings, stored once
    assert [o.unchanged for o in outcomes.values()] == [0, 8, 8]


def test_same_event_twice_leaves_same_items_rollups_and_one_alert(settings, runner, handler, lambda_context):
    put_sites(settings, make_sites(1))
    rows = [reading(gen=-5, cons=2), reading(ts="2026-11-29T06:15:00Z", gen=4, cons=1)]
    upload_and_process(settings, runner, KEY, rows)
    items_before = list(site_records(settings, "site-1"))
    rollups_before = site_rollups(settings, "site-1", "0", "9")

    # WHEN the same S3 notification is delivered again (SQS is at-least-once)
    event = {"Records": [{"messageId": "again", "body": _notification(settings, KEY), "attributes": {}}]}
    assert handler(event, lambda_context, settings=settings) == {"batchItemFailures": []}

    assert list(site_records(settings, "site-1")) == items_before
    assert site_rollups(settings, "site-1", "0", "9") == rollups_before
    [rollup] = rollups_before
    assert (rollup.readings, rollup.anomalies, rollup.generated_kwh, rollup.net_kwh) == (2, 1, Decimal(-1), Decimal(-4))
    alerts = list(delivered_alerts(settings).values())
    assert len(alerts) == 1
    assert (
        "Anomaly Detected!\nSite: site-1\nTimestamp: 2026-11-29T06:00:00Z\nGenerated: -5\nConsumed: 2"
        in alerts[0].message
    )
    assert [r.timestamp for r in recent_anomalies(settings)] == ["2026-11-29T06:00:00Z"]


def test_a_reading_in_another_file_is_not_counted_twice(settings, runner):
    upload_and_process(settings, runner, KEY, [reading(gen=10, cons=4)])
    upload_and_process(
        settings,
        runner,
        "raw/2026/11/29/again.json",
        [reading(gen=10, cons=4), reading(ts="2026-11-29T06:30:00Z", gen=1, cons=1)],
    )
    upload_and_process(settings, runner, "raw/2026/11/29/fix.json", [reading(gen=11, cons=4)])  # a corrected value

    [rollup] = site_rollups(settings, "site-1", "0", "9")
    assert (rollup.readings, rollup.generated_kwh, rollup.consumed_kwh, rollup.net_kwh) == (
        2,
        Decimal(12),
        Decimal(5),
        Decimal(7),
    )
    assert [r.energy_generated_kwh for r in site_records(settings, "site-1")] == [Decimal(11), Decimal(1)]


def test_rollups_stay_exact_when_a_failed_delivery_is_retried(settings, runner, monkeypatch):
    """A write that fails after the rollups moved must not move them again on the retry."""
    import pipeline.record_store as record_store

    real_write, calls = record_store.batch_write, []

    def flaky_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("connection reset")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(record_store, "batch_write", flaky_write)
    upload_and_process(
        settings, runner, KEY, [reading(gen=10, cons=4), reading(ts="2026-11-29T06:30:00Z", gen=2, cons=1)]
    )

    [rollup] = site_rollups(settings, "site-1", "0", "9")
    assert (rollup.readings, rollup.generated_kwh, rollup.net_kwh) == (2, Decimal(12), Decimal(7))
    assert len(list(site_records(settings, "site-1"))) == 2 and runner.stats.failed == 1


def test_transient_failures_dead_letter_the_message_and_redrive_processes_it(settings, runner, monkeypatch):
    import pipeline.processing as processing

    real_open = processing.raw_files.open_object

    def throttled(*args, **kwargs):
        raise client(settings, "s3").exceptions.ClientError(
            {"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject"
        )

    monkeypatch.setattr(processing.raw_files, "open_object", throttled)
    raw_files.upload(settings, KEY, json.dumps([reading()]).encode())
    runner.drain(timeout=60)

    assert runner.stats.failed == settings.max_receive_count
    [letter] = dead_letters.list_dead_letters(settings)
    assert letter.keys == (KEY,)
    assert list(site_records(settings, "site-1")) == []

    # WHEN the cause is gone and an operator redrives
    monkeypatch.setattr(processing.raw_files, "open_object", real_open)
    assert dead_letters.redrive(settings) == 1
    runner.drain(timeout=60)

    assert len(list(site_records(settings, "site-1"))) == 1
    assert queue_depth(settings, settings.dlq) == (0, 0)


@pytest.mark.slow
def test_a_100000_reading_file_is_stored_completely(settings, runner):
    rows = [
        reading(
            ts=f"2026-11-{1 + i // 1440 % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            site=f"site-{i // 40320}",
            gen=1,
            cons=0.5,
        )
        for i in range(100_000)
    ]
    assert len({(r["site_id"], r["timestamp"]) for r in rows}) == 100_000
    outcome = upload_and_process(
        settings, runner, "raw/2026/11/29/big.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode(), timeout=600
    )

    assert (outcome.status, outcome.readings, outcome.written) == ("processed", 100_000, 100_000)
    stored = sum(1 for site in ("site-0", "site-1", "site-2") for _ in site_records(settings, site))
    assert stored == 100_000
    total = sum(r.readings for site in ("site-0", "site-1", "site-2") for r in site_rollups(settings, site, "0", "9"))
    assert total == 100_000


def _notification(settings, key):
    from pipeline.events import notification_body

    return notification_body(settings.bucket, key)


def test_two_files_of_one_site_at_once_lose_nothing(settings, runner, monkeypatch):
    """The file that loses the race for the site's claim is retried, not half-stored."""
    import pipeline.site_claims as site_claims

    put_sites(settings, make_sites(1))
    raw_files.upload(settings, "raw/2026/11/29/a.json", json.dumps([reading(ts="2026-11-29T06:00:00Z")]).encode())
    runner.drain()
    raced = []
    real_claim = site_claims.claim

    def claim_after_a_rival(settings_, versions, moved, token, inflight=None, episodes=None, **kwargs):
        if not raced:  # another invocation claims the site first, and is done with it
            real_claim(settings_, versions, moved, "rival")
            site_claims.release(settings_, versions, "rival")
            try:
                real_claim(settings_, versions, moved, token, inflight, episodes, **kwargs)
            finally:
                raced.append([r.timestamp for r in site_records(settings, "site-1")])
        real_claim(settings_, versions, moved, token, inflight, episodes, **kwargs)

    monkeypatch.setattr(site_claims, "claim", claim_after_a_rival)
    raw_files.upload(settings, "raw/2026/11/29/b.json", json.dumps([reading(ts="2026-11-29T06:15:00Z")]).encode())
    runner.drain()

    assert runner.stats.failed == 0  # judged again at once, without going back to the queue
    assert raced == [["2026-11-29T06:00:00Z"]]  # and nothing of the losing file was written before it
    assert [r.timestamp for r in site_records(settings, "site-1")] == ["2026-11-29T06:00:00Z", "2026-11-29T06:15:00Z"]
    [rollup] = site_rollups(settings, "site-1", "0", "9")
    assert rollup.readings == 2


def test_a_file_that_read_its_site_while_another_file_was_writing_reads_it_again(settings, monkeypatch):
    import pipeline.processing as processing
    import pipeline.storing as storing

    put_sites(settings, make_sites(1))
    first, second = "raw/2026/11/29/a.json", "raw/2026/11/29/b.json"
    for key in (first, second):  # the same reading twice: the second file must find it stored
        raw_files.upload(settings, key, json.dumps([reading()]).encode())
    first_holds, second_has_read, first_done = threading.Event(), threading.Event(), threading.Event()
    real_store, real_existing = storing.store_parts, storing.existing_records

    def store_after_the_second_has_read(*args, **kwargs):  # the first file holds the site, writing late
        if threading.current_thread().name == first:
            first_holds.set()
            assert second_has_read.wait(30)
        return real_store(*args, **kwargs)

    def read_then_wait_for_the_first(*args, **kwargs):
        found = real_existing(*args, **kwargs)
        if threading.current_thread().name == second and not second_has_read.is_set():
            second_has_read.set()  # read before the first file wrote; claims after it let go
            assert first_done.wait(30)
        return found

    monkeypatch.setattr(storing, "store_parts", store_after_the_second_has_read)
    monkeypatch.setattr(storing, "existing_records", read_then_wait_for_the_first)

    def process(key: str, done: threading.Event | None = None) -> None:
        processing.process_object(settings, key)
        if done is not None:
            done.set()

    threads = [threading.Thread(target=process, args=(first, first_done), name=first)]
    threads[0].start()
    assert first_holds.wait(30)
    threads.append(threading.Thread(target=process, args=(second,), name=second))
    threads[1].start()
    for thread in threads:
        thread.join(60)

    outcomes = file_outcomes(settings, [first, second])
    assert (outcomes[first].written, outcomes[second].written, outcomes[second].unchanged) == (1, 0, 1)
    assert len(list(site_records(settings, "site-1"))) == 1
    [rollup] = site_rollups(settings, "site-1", "0", "9")
    assert rollup.readings == 1, "the reading was counted once"


def test_a_file_waits_while_another_file_holds_its_site(settings, runner, monkeypatch):
    import pipeline.site_claims as site_claims
    import pipeline.storing as storing

    put_sites(settings, make_sites(2))
    site_claims.claim(settings, {"site-2": 0}, {}, "another-file")
    waits = []

    def the_other_file_finishes(attempt):
        waits.append([r.timestamp for s in ("site-1", "site-2") for r in site_records(settings, s)])
        site_claims.release(settings, ["site-2"], "another-file")

    monkeypatch.setattr(storing, "backoff", the_other_file_finishes)
    rows = [reading(site="site-1", ts="2026-11-29T06:00:00Z"), reading(site="site-2", ts="2026-11-29T06:00:00Z")]
    upload_and_process(settings, runner, KEY, rows)

    assert waits == [[]], "it waited once, having written nothing"
    assert runner.stats.failed == 0
    assert [r.readings for s in ("site-1", "site-2") for r in site_rollups(settings, s, "0", "9")] == [1, 1]
    assert not any("lease" in item for item in site_items(settings, ["site-1", "site-2"]).values())


def test_a_file_waits_for_a_held_site_without_spending_receives_and_in_the_end_dead_letters(
    settings, runner, monkeypatch
):
    import pipeline.deferral as deferral
    import pipeline.site_claims as site_claims
    import pipeline.storing as storing

    put_sites(settings, make_sites(2))
    site_claims.claim(settings, {"site-2": 0}, {}, "another-file")
    monkeypatch.setattr(storing, "backoff", lambda attempt: None)
    monkeypatch.setattr(deferral, "busy_delay", lambda waits: 0)
    monkeypatch.setattr(deferral, "MAX_BUSY_WAITS", 3)
    rows = [reading(site="site-1", ts="2026-11-29T06:00:00Z"), reading(site="site-2", ts="2026-11-29T06:00:00Z")]
    raw_files.upload(settings, KEY, json.dumps(rows).encode())
    runner.drain(timeout=60)

    # waiting went back to the queue as new messages 3 times (besides S3's test event); only then did receives count
    assert (runner.stats.succeeded, runner.stats.failed) == (1 + 3, settings.max_receive_count)
    [letter] = dead_letters.list_dead_letters(settings)
    assert letter.keys == (KEY,) and letter.receive_count >= settings.max_receive_count
    assert list(site_records(settings, "site-1")) == [] and list(site_records(settings, "site-2")) == []
    assert "lease" not in site_items(settings, ["site-1"])["site-1"], "the sites it did take are let go"

    site_claims.release(settings, ["site-2"], "another-file")
    assert dead_letters.redrive(settings) == 1
    runner.drain(timeout=60)
    assert [r.readings for s in ("site-1", "site-2") for r in site_rollups(settings, s, "0", "9")] == [1, 1]


def test_a_lease_left_by_a_dead_invocation_expires(settings, monkeypatch):
    import pipeline.site_claims as site_claims

    put_sites(settings, make_sites(1))
    site_claims.claim(settings, {"site-1": 0}, {}, "died")
    with pytest.raises(TransientError):
        site_claims.claim(settings, {"site-1": 1}, {}, "next")
    site_claims.claim(settings, {"site-1": 1}, {}, "died")  # its own retry takes it back at once

    later = site_claims._now() + site_claims.LEASE_SECONDS + 1
    monkeypatch.setattr(site_claims, "_now", lambda: later)
    site_claims.claim(settings, {"site-1": 2}, {}, "next")
    assert site_items(settings, ["site-1"])["site-1"]["lease"] == "next"


def test_sent_alerts_list_only_the_files_that_alerted(settings, runner):
    upload_and_process(settings, runner, "raw/2026/11/29/calm.json", [reading()])
    upload_and_process(settings, runner, KEY, [reading(ts="2026-11-29T07:00:00Z", gen=-1)])

    [alerted] = sent_alerts(settings, [file_outcomes(settings, [KEY])[KEY].processed_at[:10]])
    assert alerted.source_key == KEY and "Anomaly Detected!" in alerted.alert_message


def test_rollups_of_a_window_are_its_hours_across_days_and_no_more(settings, runner):
    """Hourly rollups live in one item per site and day; a window that cuts through days,
    with readings before, inside and after it, returns exactly its hours, oldest first."""
    stamps = [
        "2026-11-26T23:15:00Z",  # before the window
        "2026-11-27T05:00:00Z",
        "2026-11-27T05:45:00Z",
        "2026-11-28T00:00:00Z",
        "2026-11-29T10:30:00Z",
        "2026-11-29T11:00:00Z",  # after the window
        "2026-12-01T00:00:00Z",  # a later day
    ]
    upload_and_process(settings, runner, KEY, [reading(ts=ts) for ts in stamps])

    window = site_rollups(settings, "site-1", "2026-11-27T05:00:00Z", "2026-11-29T10:00:00Z")
    assert [(r.hour, r.readings) for r in window] == [
        ("2026-11-27T05:00:00Z", 2),
        ("2026-11-28T00:00:00Z", 1),
        ("2026-11-29T10:00:00Z", 1),
    ]
    assert sum(r.readings for r in site_rollups(settings, "site-1", "0", "9")) == len(stamps)


def test_wall_clock_files_of_a_site_with_a_timezone_give_neither_doubled_nor_missing_hours(settings, runner):
    from pipeline.sites import Site

    put_sites(settings, [Site("berlin-1", kind="consumer", interval_minutes=15, timezone="Europe/Berlin")])
    quarters = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    # the day clocks go back: the meter counts through 02:00-02:45 twice (25 hours)
    autumn = quarters[:12] + quarters[8:]
    # the day clocks go forward: 02:00-02:45 never shows (23 hours); one row has it all the same
    spring = [*quarters[:8], "02:30", *quarters[12:]]

    def wall_clock_rows(day, times):
        return [
            reading(site="berlin-1", ts=f"{day}T{t}:00", gen=1 + i % 7 / 10, cons=2 + i % 5 / 10)
            for i, t in enumerate(times)
        ]

    fall_back = upload_and_process(
        settings, runner, "raw/2026/10/25/berlin.json", wall_clock_rows("2026-10-25", autumn)
    )
    spring_on = upload_and_process(
        settings, runner, "raw/2026/03/29/berlin.json", wall_clock_rows("2026-03-29", spring)
    )

    assert (fall_back.written, fall_back.duplicates, fall_back.missing_intervals) == (100, 0, 0)
    assert (spring_on.written, spring_on.rejected, spring_on.missing_intervals) == (92, 1, 0)
    assert raw_files.read_rejects(settings, "raw/2026/03/29/berlin.json")[0]["reasons"] == ["timestamp_in_dst_gap"]
    autumn_hours = site_rollups(settings, "berlin-1", "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z")
    assert [r.hour[:13] for r in autumn_hours][:4] == [
        "2026-10-24T22",
        "2026-10-24T23",
        "2026-10-25T00",
        "2026-10-25T01",
    ]
    assert len(autumn_hours) == 25 and {r.readings for r in autumn_hours} == {4}
    spring_hours = site_rollups(settings, "berlin-1", "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z")
    assert len(spring_hours) == 23 and {r.readings for r in spring_hours} == {4}
