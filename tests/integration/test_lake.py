"""The data lake agrees with DynamoDB: every stored record, as DynamoDB holds it, is the
newest row of its reading in the lake, after processing, redelivery, re-processing, a late
reading, an estimate, an analyst's edit and a failed write to the lake."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipeline import lake, raw_files
from pipeline.aws import client
from pipeline.events import notification_body
from pipeline.ops.record_edits import correct
from pipeline.sites import Site, put_sites
from tests.lake_reader import lake_rows, table_rows

METER = Site("meter", kind="consumer", capacity_kw=Decimal(40), interval_minutes=15)
SITES = ("meter", "roof")


def reading(ts: str, gen: float, cons: float = 1.0, site: str = "meter") -> dict:
    timestamp = f"2026-11-29T{ts}:00Z"
    return {"site_id": site, "timestamp": timestamp, "energy_generated_kwh": gen, "energy_consumed_kwh": cons}


def upload(settings, name: str, rows: list[dict]) -> str:
    key = f"raw/2026/11/29/{name}.json"
    raw_files.upload(settings, key, json.dumps(rows).encode())
    return key


@pytest.fixture
def stack(settings, runner):
    put_sites(settings, [METER, Site("roof", kind="solar", capacity_kw=Decimal(5), interval_minutes=15)])
    return settings, runner


def test_processing_writes_every_record_with_its_reasons_estimates_and_exact_decimals(stack):
    settings, runner = stack
    upload(
        settings,
        "a",
        [reading("10:00", 2.123456), reading("11:00", 6, 3), reading("10:00", -1, site="roof")],
    )
    runner.drain()

    rows = lake_rows(settings)
    assert rows == table_rows(settings, SITES)
    assert len(rows) == 6, "two readings of the meter, the three estimates between them, the roof's"
    assert {r[8] for r in rows} == {None, "linear"}, "estimates kept as such"
    [roof] = [r for r in rows if r[0] == "roof"]
    assert roof[5] is True and "negative_generation" in roof[6]
    assert rows[0][2] == Decimal("2.123456")


def test_a_redelivered_file_adds_nothing_and_a_changed_file_adds_newer_rows_only(stack):
    settings, runner = stack
    key = upload(settings, "a", [reading("10:00", 2), reading("10:15", 3)])
    runner.drain()
    first = lake_rows(settings, latest=False)
    sqs = client(settings, "sqs")
    queue = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=notification_body(settings.bucket, key))  # SQS delivers it again
    runner.drain()
    assert lake_rows(settings, latest=False) == first, "nothing written again"

    upload(settings, "a", [reading("10:00", 2), reading("10:15", 7)])  # the same file, re-sent with a new value
    runner.drain()

    assert lake_rows(settings) == table_rows(settings, SITES)
    assert [r[2] for r in lake_rows(settings) if r[1].minute == 15] == [Decimal(7)]
    assert len(lake_rows(settings, latest=False)) == 3, "one newer row, the unchanged one not again"


def test_an_analysts_correction_is_the_newest_row(stack):
    settings, runner = stack
    upload(settings, "a", [reading("10:00", 2)])
    runner.drain()

    correct(settings, "meter", "2026-11-29T10:00:00Z", by="ana", why="meter swapped", generated="20")

    rows = lake_rows(settings)
    assert rows == table_rows(settings, SITES)
    assert rows[0][2] == Decimal(20) and rows[0][9] is True


def test_a_write_to_the_lake_that_fails_fails_the_try_and_its_retry_stores_both(stack, monkeypatch):
    settings, runner = stack
    real = lake.write_parquet
    calls = []

    def failing_once(columns, rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise ConnectionError("the network went away")
        return real(columns, rows)

    monkeypatch.setattr(lake, "write_parquet", failing_once)
    key = upload(settings, "a", [reading("10:00", 2), reading("10:15", 3)])
    runner.drain()

    assert len(calls) == 2, "failed once, then written by the retry"
    assert table_rows(settings, SITES) and lake_rows(settings) == table_rows(settings, SITES)
    assert raw_files.read_rejects(settings, key) == []
