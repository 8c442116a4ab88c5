"""Hostile and big files through the real S3 -> SQS -> handler path: quarantined with a reason,
never retried for bad data, stored in chunks that end as one pass would."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, replace

from local_aws.runner import Runner
from pipeline import raw_files
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.alert_history import delivered_alerts
from pipeline.progress import load_progress
from pipeline.record_store import site_records
from pipeline.rollups import site_rollups

SITES = ("site-1", "site-2", "site-3")


def row(site: str, minute: int, gen: float = 1.0, cons: float = 2.0) -> dict:
    ts = f"2026-11-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z"
    return {"site_id": site, "timestamp": ts, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


def process(settings, key: str, body: bytes, **overrides) -> tuple:
    settings = replace(settings, **overrides)
    runner = Runner(settings, retry_delay_seconds=0, wait_seconds=0)
    raw_files.upload(settings, key, body)
    runner.drain(timeout=120)
    return file_outcomes(settings, [key]).get(key), runner


def gzip_bomb(inflated_mb: int) -> bytes:
    """A JSON array of `inflated_mb` MB of blanks, gzipped a megabyte at a time (never whole in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    blanks = b" " * (1024 * 1024)
    parts = [packer.compress(b"[")] + [packer.compress(blanks) for _ in range(inflated_mb)]
    return b"".join([*parts, packer.compress(b"]"), packer.flush()])


def test_a_gzip_bomb_is_quarantined_whole_at_once_not_retried(settings):
    bomb = gzip_bomb(inflated_mb=1500)
    assert len(bomb) < 5 * 1024 * 1024
    outcome, runner = process(settings, "raw/2026/11/29/bomb.json.gz", bomb)

    assert outcome.status == "quarantined" and outcome.error.startswith("compression_ratio_too_high")
    assert runner.stats.failed == 0, "bad data is not retried"
    error = json.loads(raw_files.read(settings, "quarantine/raw/2026/11/29/bomb.json.gz.error.json")[0])
    assert error["reason"] == "compression_ratio_too_high" and error["copied"] is True
    assert raw_files.read(settings, "quarantine/raw/2026/11/29/bomb.json.gz")[1] == outcome.version


def test_a_row_nested_50000_deep_is_quarantined_and_its_neighbours_stored(settings):
    deep = "[" * 50_000 + "]" * 50_000
    body = f"[{json.dumps(row('site-1', 0))}, {deep}, {json.dumps(row('site-1', 15))}]".encode()
    outcome, runner = process(settings, "raw/2026/11/29/deep.json", body)

    assert (outcome.status, outcome.readings, outcome.rejected) == ("partial", 2, 1) and runner.stats.failed == 0
    [reject] = raw_files.read_rejects(settings, "raw/2026/11/29/deep.json")
    assert reject["row"] == 2 and reject["reasons"] == ["row_too_deep"]
    assert len(list(site_records(settings, "site-1"))) == 2


def test_a_file_over_the_size_limit_is_quarantined_from_its_size_alone(settings):
    body = json.dumps([row("site-1", m) for m in range(20_000)]).encode()
    assert len(body) > 1024 * 1024
    outcome, runner = process(settings, "raw/2026/11/29/large.json", body, max_object_mb=1)

    assert outcome.status == "quarantined" and outcome.error.startswith("object_too_large")
    assert outcome.version and runner.stats.failed == 0 and list(site_records(settings, "site-1")) == []


def big_file() -> list[dict]:
    """300 readings over three sites, time-ordered per site, with rejects and anomalies spread out."""
    rows = []
    for minute in range(0, 100 * 15, 15):
        for site in SITES:
            rows.append(row(site, minute, gen=-1.0 if minute % 450 == 0 else 1.0 + minute % 7, cons=2.0 + minute % 3))
        if minute % 300 == 0:
            rows.append({"site_id": "bad id!", "timestamp": "noon"})
    return rows


def stored(settings) -> dict:
    return {
        "records": [
            {k: v for k, v in asdict(r).items() if k != "processed_at"}
            for s in SITES
            for r in site_records(settings, s)
        ],
        "rollups": [r for s in SITES for r in site_rollups(settings, s, "0", "9")],
    }


COUNTS = ("status", "readings", "written", "unchanged", "duplicates", "rejected", "anomalies", "missing_intervals")


def test_a_file_stored_in_many_chunks_ends_as_one_pass_would(settings, moto_server):
    from tests.reliability.test_partial_failure import fresh_stack

    key = "raw/2026/11/29/big.json"
    body = json.dumps(big_file()).encode()
    whole, _ = process(settings, key, body)
    expected, expected_rejects = stored(settings), raw_files.read_rejects(settings, key)
    [whole_alert] = [a for a in delivered_alerts(settings).values() if "big.json" in a.subject]

    settings = fresh_stack(moto_server)
    chunked, runner = process(settings, key, body, chunk_readings=40)

    assert {c: getattr(chunked, c) for c in COUNTS} == {c: getattr(whole, c) for c in COUNTS}
    assert whole.rejected == 5 and whole.anomalies > 0 and runner.stats.failed == 0
    assert stored(settings) == expected
    assert raw_files.read_rejects(settings, key) == expected_rejects, "rejected rows of every chunk, in row order"
    [alert] = [a for a in delivered_alerts(settings).values() if "big.json" in a.subject]
    assert alert.subject == whole_alert.subject, "the same episodes started, reminded and resolved"
    assert "Anomaly Detected!" in alert.message
    assert load_progress(settings, key, chunked.version) is None, "the progress goes once the file is done"


class ShortOfTime:
    """A Lambda context whose invocation runs out after the first chunk."""

    aws_request_id = "short"

    def __init__(self) -> None:
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 60_000 if self.calls <= 1 else 5_000


def test_a_file_short_of_time_pauses_between_chunks_and_goes_on_where_it_stopped(settings, handler, moto_server):
    from tests.reliability.test_partial_failure import fresh_stack

    key = "raw/2026/11/29/big.json"
    body = json.dumps(big_file()).encode()
    whole, _ = process(settings, key, body)
    expected = stored(settings)

    settings = replace(fresh_stack(moto_server), chunk_readings=40)
    runner = Runner(settings, retry_delay_seconds=0, wait_seconds=0)
    runner.drain()  # S3's test event
    raw_files.upload(settings, key, body)
    [message] = runner._sqs.receive_message(QueueUrl=runner.queue_url, MaxNumberOfMessages=10)["Messages"]
    event = {"Records": [runner._record(message)]}
    runner._sqs.delete_message(QueueUrl=runner.queue_url, ReceiptHandle=message["ReceiptHandle"])

    assert handler(event, ShortOfTime(), settings=settings) == {"batchItemFailures": []}
    progress = load_progress(settings, key, whole.version)
    assert progress is not None and progress.chunks_done == 1 and key not in file_outcomes(settings, [key])
    assert runner.pending() == 1, "the message went back to the queue to go on"

    runner.drain(timeout=120)
    outcome = file_outcomes(settings, [key])[key]
    assert {c: getattr(outcome, c) for c in COUNTS} == {c: getattr(whole, c) for c in COUNTS}
    assert stored(settings) == expected and runner.stats.failed == 0


def test_a_small_gzip_bomb_in_a_batch_is_quarantined_and_its_batch_stored(settings):
    """Under 1 MB compressed, the bomb takes the small-file path (read in one GET, held as rows
    until its batch's group is stored): it is refused while inflating, and the good files of
    the same batch and site are stored together, none retried."""
    bomb = gzip_bomb(inflated_mb=400)
    assert len(bomb) < 1024 * 1024
    good = {f"raw/2026/11/29/good-{n}.json": json.dumps([row("site-1", 15 * n)]).encode() for n in range(3)}
    for key, body in [*good.items(), ("raw/2026/11/29/small-bomb.json.gz", bomb)]:
        raw_files.upload(settings, key, body)
    runner = Runner(settings, batch_size=100, retry_delay_seconds=0, wait_seconds=0)
    runner.drain(timeout=120)

    outcomes = file_outcomes(settings, [*good, "raw/2026/11/29/small-bomb.json.gz"])
    bombed = outcomes.pop("raw/2026/11/29/small-bomb.json.gz")
    assert bombed.status == "quarantined" and bombed.error.startswith("compression_ratio_too_high")
    assert {key: o.written for key, o in outcomes.items()} == dict.fromkeys(good, 1)
    assert runner.stats.failed == 0 and runner.stats.batches <= 2  # the bucket's test event, then the four
    assert len(list(site_records(settings, "site-1"))) == 3
