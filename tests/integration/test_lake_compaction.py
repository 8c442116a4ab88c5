"""Compaction of the data lake: the landing area's objects merged into one file a reading day
with each reading once, its newest version; the lake still agrees with DynamoDB after it,
after re-processing, with a fault at any of its calls, with two runs at once, and with an
object in the landing area that is not the lake's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from pipeline import lake, lake_compaction, raw_files
from pipeline.aws import client
from pipeline.lake_compaction import UNREADABLE, compact
from pipeline.parquet import Column, write_parquet
from pipeline.processing import process_object
from pipeline.sites import Site, put_sites
from tests.lake_reader import lake_rows, table_rows
from tests.reliability.faults import FaultPlan, injected

SITES = ("meter", "roof")


def reading(day: int, ts: str, gen: float, cons: float = 1.0, site: str = "meter") -> dict:
    return {
        "site_id": site,
        "timestamp": f"2026-11-{day:02d}T{ts}:00Z",
        "energy_generated_kwh": gen,
        "energy_consumed_kwh": cons,
    }


def upload(settings, name: str, rows: list[dict]) -> str:
    key = f"raw/2026/11/29/{name}.json"
    raw_files.upload(settings, key, json.dumps(rows).encode())
    return key


def keys(settings, area: str) -> list[str]:
    s3 = client(settings, "s3")
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.lake_prefix}{area}/")
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def assert_lake_agrees(settings) -> None:
    assert lake_rows(settings) == table_rows(settings, SITES), "the lake's records are DynamoDB's"


def assert_each_reading_once_in_the_days(settings) -> None:
    every_row = lake_rows(settings, latest=False)
    assert keys(settings, lake.LANDING) == [], "the landing area is empty"
    assert every_row == lake_rows(settings), "no reading has a second, older row left"


@pytest.fixture
def stack(settings, runner):
    put_sites(
        settings,
        [
            Site("meter", kind="consumer", capacity_kw=Decimal(40), interval_minutes=60),
            Site("roof", kind="solar", capacity_kw=Decimal(5), interval_minutes=60),
        ],
    )
    return settings, runner


def test_compaction_leaves_one_file_a_day_with_each_reading_once_as_dynamodb_holds_it(stack):
    settings, runner = stack
    key = upload(
        settings, "a", [reading(28, "23:00", 2), reading(29, "00:00", 3), reading(29, "00:00", 1, site="roof")]
    )
    runner.drain()
    raw_files.upload(settings, key, json.dumps([reading(28, "23:00", 2), reading(29, "00:00", 4)]).encode())
    runner.drain()  # re-processed with a changed value: a newer row of one reading
    process_object(settings, key)  # and once more unchanged: nothing new
    landing = keys(settings, lake.LANDING)

    report = compact(settings)

    assert report.landing_objects == len(landing) >= 2
    assert report.days_written == 2 and report.superseded >= 1
    assert keys(settings, lake.COMPACTED) == [
        f"{settings.lake_prefix}records/day=2026-11-28/records.parquet",
        f"{settings.lake_prefix}records/day=2026-11-29/records.parquet",
    ]
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)
    assert [r[2] for r in lake_rows(settings) if r[0] == "meter" and r[1].hour == 0] == [Decimal(4)]


def test_reprocessing_after_compaction_replaces_the_reading_and_compacting_again_keeps_one(stack):
    settings, runner = stack
    key = upload(settings, "a", [reading(29, "10:00", 2), reading(29, "11:00", 3)])
    runner.drain()
    compact(settings)

    raw_files.upload(settings, key, json.dumps([reading(29, "10:00", 2), reading(29, "11:00", 5)]).encode())
    runner.drain()
    assert_lake_agrees(settings)  # the newer landing row wins over the compacted one before compaction
    report = compact(settings)

    assert report.superseded == 1
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)


def test_a_fault_at_any_call_of_compaction_loses_nothing_and_the_next_run_finishes(stack):
    settings, runner = stack
    for n in range(1, 40):
        # new versions of both days' readings each round: landing objects to merge into days
        # that exist (after the first round), under an If-Match
        upload(settings, f"round-{n}", [reading(28, "23:00", n), reading(29, "00:00", n, site="roof")])
        upload(settings, f"round-{n}-b", [reading(29, "05:00", n)])
        runner.drain()
        plan = FaultPlan(fail_at=n, only=lambda call: call.startswith("s3."))
        with injected(settings, plan):
            plan.active = True
            try:
                compact(settings)
            except ClientError:
                pass
        if not plan.failed:
            break  # past the last call: every step has failed once
        assert_lake_agrees(settings)  # stopped at call n: nothing lost, nothing shown twice
        compact(settings)
        assert_each_reading_once_in_the_days(settings)
        assert_lake_agrees(settings)
    assert n > 6, f"the calls a run makes were each failed in turn ({plan.calls})"
    assert not plan.failed


def test_two_runs_at_once_merge_each_others_rows_and_lose_none(stack):
    settings, runner = stack
    upload(settings, "first", [reading(29, "10:00", 2)])
    runner.drain()
    s3 = client(settings, "s3")
    raced = []

    def another_run_first(params, **_):
        if raced or "records/day=" not in params["Key"]:
            return
        raced.append(True)  # before this run writes the day: a file stored, another run compacts it
        process_object(settings, upload(settings, "second", [reading(29, "11:00", 3)]))
        raced.append(compact(settings))

    s3.meta.events.register("before-parameter-build.s3.PutObject", another_run_first, unique_id="race")
    try:
        report = compact(settings)
    finally:
        s3.meta.events.unregister("before-parameter-build.s3.PutObject", unique_id="race")

    assert raced[1].days_written == 1, "the other run wrote the day first"
    assert report.conflicts == 1, "this run found the day changed, read it again and merged again"
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)
    assert len(lake_rows(settings)) == 2


def test_an_object_that_is_not_the_lakes_is_set_aside_with_its_reason_and_the_rest_compacted(stack):
    settings, runner = stack
    upload(settings, "a", [reading(29, "10:00", 2)])
    runner.drain()
    s3 = client(settings, "s3")
    garbage = f"{settings.lake_prefix}landing/written=2026-11-29/part-garbage.parquet"
    foreign = f"{settings.lake_prefix}landing/written=2026-11-29/part-foreign.parquet"
    s3.put_object(Bucket=settings.bucket, Key=garbage, Body=b"PAR1 not really")
    s3.put_object(Bucket=settings.bucket, Key=foreign, Body=write_parquet([Column("site_id", "int")], [{"site_id": 1}]))

    report = compact(settings)

    assert sorted(entry.split(": ")[0] for entry in report.set_aside) == [foreign, garbage]
    assert any("site_id is int, not the lake's string" in entry for entry in report.set_aside)
    assert keys(settings, UNREADABLE) == sorted(
        f"{settings.lake_prefix}{UNREADABLE}/landing/written=2026-11-29/{name}"
        for name in ("part-foreign.parquet", "part-garbage.parquet")
    ), "kept for a person, outside the lake's tables"
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)


def test_batches_and_a_run_out_of_time_leave_the_rest_for_the_next_run(stack):
    settings, runner = stack
    for n in range(5):
        upload(settings, f"f{n}", [reading(29, f"1{n}:00", n + 1)])
        runner.drain()  # one landing object each

    first = compact(settings, batch_objects=2, seconds_left=lambda: 0, reserve_seconds=1)

    assert first.stopped_early and first.landing_objects == 2
    assert len(keys(settings, lake.LANDING)) == 3
    assert_lake_agrees(settings)
    second = compact(settings, batch_objects=2)
    assert not second.stopped_early and second.landing_objects == 3 and second.days_written == 2
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)


def test_a_landing_object_written_before_a_column_existed_is_merged_with_it_empty(stack):
    settings, runner = stack
    upload(settings, "a", [reading(29, "10:00", 2)])
    runner.drain()
    older = [c for c in lake.COLUMNS if c.name != "estimate_method"]  # an optional column added later
    row = {c.name: v for c, v in zip(lake.COLUMNS, lake_rows(settings)[0], strict=False)}
    row["written_at"] = datetime(2020, 1, 1, tzinfo=UTC)  # an older version of the same reading
    key = f"{settings.lake_prefix}landing/written=2020-01-01/part-older.parquet"
    client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=write_parquet(older, [row]))

    report = compact(settings)

    assert report.set_aside == [] and report.superseded == 1
    assert_each_reading_once_in_the_days(settings)
    assert_lake_agrees(settings)


def test_a_damaged_day_is_set_aside_and_the_day_written_again_from_what_is_readable(stack):
    settings, runner = stack
    upload(settings, "a", [reading(29, "10:00", 2)])
    runner.drain()
    compact(settings)
    s3 = client(settings, "s3")
    day = lake.compacted_key(settings, date(2026, 11, 29))
    s3.put_object(Bucket=settings.bucket, Key=day, Body=b"PAR1 damaged PAR1")
    upload(settings, "b", [reading(29, "11:00", 3)])
    runner.drain()

    report = compact(settings)

    assert [entry.split(": ")[0] for entry in report.set_aside] == [day]
    assert keys(settings, UNREADABLE) == [f"{settings.lake_prefix}{UNREADABLE}/records/day=2026-11-29/records.parquet"]
    # the damaged day's readings leave the lake's tables (kept for a person, and in DynamoDB);
    # the day holds what could be read
    assert [r[1].hour for r in lake_rows(settings)] == [11]


def test_a_landing_object_larger_than_any_write_is_set_aside_unread(stack, monkeypatch):
    settings, runner = stack
    upload(settings, "a", [reading(29, "10:00", 2)])
    runner.drain()
    [key] = keys(settings, lake.LANDING)
    monkeypatch.setattr(lake_compaction, "MAX_OBJECT_BYTES", 10)  # every object is "too large"
    reads = FaultPlan(only=lambda call: call == "s3.GetObject")

    with injected(settings, reads):
        reads.active = True
        report = compact(settings)

    assert report.set_aside and report.set_aside[0].startswith(f"{key}: ")
    assert "more than one write ever puts" in report.set_aside[0]
    assert reads.calls == [], "never downloaded"
    assert keys(settings, lake.LANDING) == [] and len(keys(settings, UNREADABLE)) == 1
