"""SQL over the data lake: the ready queries give the numbers DynamoDB's records give, before
and after compaction; a query cannot read outside the lake, run past its limit or return
more rows than asked; the local copy downloads only what changed; on AWS the query runs in
Athena's workgroup and its scan's cost is reported."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from bench.lake_answers import answers
from pipeline import raw_files
from pipeline.aws import client
from pipeline.lake_compaction import compact
from pipeline.ops import lake_cache, lake_check, lake_local, lake_queries
from pipeline.ops.lake_sql import QueryFailed, QueryRefused, run
from pipeline.sites import Site, put_sites
from tests.lake_reader import table_rows
from tests.reliability.faults import FaultPlan, injected

SITES = ("meter", "roof")


def reading(day: int, hour: int, gen: float, cons: float, site: str) -> dict:
    return {
        "site_id": site,
        "timestamp": f"2026-{'11' if day > 0 else '10'}-{abs(day):02d}T{hour:02d}:00:00Z",
        "energy_generated_kwh": gen,
        "energy_consumed_kwh": cons,
    }


@pytest.fixture
def stack(settings, runner, tmp_path):
    """Two sites over three days of October and November, with gaps, anomalies (several reasons),
    a re-processed file (a newer version of a reading) and three files (three landing objects)."""
    put_sites(
        settings,
        [
            Site("meter", kind="consumer", capacity_kw=Decimal(40), interval_minutes=60),
            Site("roof", kind="solar", capacity_kw=Decimal(5), interval_minutes=60),
        ],
    )
    october = [reading(-30, h, 1 + h / 10, 2, "meter") for h in range(0, 12)]
    october += [reading(-31, h, 0, 1, "roof") for h in (8, 9, 10, 14)]  # a gap of 4 hours
    november = [reading(29, h, 3, 1 + h % 3, "meter") for h in range(6, 14) if h != 9]  # a missing hour
    november += [reading(29, 10, -2, 1, "roof"), reading(29, 11, 4, 0.5, "roof")]  # negative generation
    for name, rows in (("october", october), ("november", november)):
        raw_files.upload(settings, f"raw/2026/11/29/{name}.json", json.dumps(rows).encode())
        runner.drain()
    november[0] = reading(29, 6, 9, 1, "meter")  # re-processed with a corrected value
    raw_files.upload(settings, "raw/2026/11/29/november.json", json.dumps(november).encode())
    runner.drain()
    return settings, tmp_path / "cache"


def expected(settings) -> dict[str, list[tuple]]:
    """What each ready query must answer, computed in Python from DynamoDB's records."""
    return answers(table_rows(settings, SITES))


def test_the_ready_queries_give_dynamodbs_numbers_before_and_after_compaction(stack):
    settings, cache = stack
    want = expected(settings)
    assert len(want["anomaly-rate"]) >= 2 and any(r[7] < 1 for r in want["completeness"]), "anomalies and gaps"

    for moment in ("landing", "compacted"):
        if moment == "compacted":
            compact(settings)
        for query in lake_queries.READY:
            answer = run(settings, query.sql, cache_dir=cache)
            assert answer.rows == want[query.name], f"{query.name}, {moment}"
            assert {query.x, query.y} <= set(answer.columns) and (query.color is None or query.color in answer.columns)


def test_a_query_cannot_read_outside_the_lake_or_run_past_its_time_limit(stack):
    settings, cache = stack

    with pytest.raises(QueryFailed, match="disabled by configuration"):
        run(settings, "SELECT * FROM read_csv('/etc/passwd')", cache_dir=cache)
    with pytest.raises(QueryFailed, match=r"stopped after 0\.5 s, the time limit"):
        run(
            settings,
            "SELECT SUM(a.range * b.range) FROM range(200000) a, range(200000) b",
            cache_dir=cache,
            timeout_seconds=0.5,
        )
    with pytest.raises(QueryRefused):
        run(settings, "SET enable_external_access = true", cache_dir=cache)


def test_rows_past_the_limit_are_left_out_and_said_so(stack):
    settings, cache = stack

    answer = run(settings, "SELECT * FROM records ORDER BY site_id, timestamp", cache_dir=cache, max_rows=5)

    assert len(answer.rows) == 5 and answer.truncated and "5+ rows in" in answer.summary()


def test_the_local_copy_downloads_what_changed_and_drops_what_compaction_removed(stack):
    settings, cache = stack
    first = lake_cache.sync(settings, cache)
    again = lake_cache.sync(settings, cache)
    compact(settings)
    after = lake_cache.sync(settings, cache)

    assert first.downloaded == 3 and again.downloaded == 0 and again.kept == 3
    assert after.removed == 3 and after.downloaded == 3, "the landing objects gone, the three days' files come"
    files = sorted(p.name for p in (cache / settings.lake_prefix).rglob("*.parquet"))
    assert files == ["_empty.parquet", "_empty.parquet"] + ["records.parquet"] * 3


def test_an_object_key_that_climbs_out_of_the_copy_is_not_followed(stack, tmp_path):
    settings, cache = stack
    key = f"{settings.lake_prefix}landing/../../../escaped.parquet"
    client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=b"x")

    lake_cache.sync(settings, cache)

    assert not (tmp_path / "escaped.parquet").exists() and not list(tmp_path.rglob("escaped.parquet"))


def answer_next_athena_query(settings, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """moto's Athena gives the next query these rows (text, as Athena returns them) under a
    header row, with the columns' names and types."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
    result = {"rows": [header, *data], "column_info": [{"Name": n, "Type": t} for n, t in columns]}
    request = urllib.request.Request(
        f"{settings.endpoint_url}/moto-api/static/athena/query-results",
        data=json.dumps({"results": [result]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def as_on_aws(settings, monkeypatch):
    """The stack's settings as on AWS (Athena, not DuckDB), still against the embedded AWS,
    with the workgroup Terraform creates."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    on_aws = replace(settings, backend="aws")
    client(on_aws, "athena").create_work_group(Name=on_aws.athena_workgroup)
    return on_aws


@pytest.fixture
def athena(settings, monkeypatch):
    """The settings as on AWS, and one result set for the next query."""
    on_aws = as_on_aws(settings, monkeypatch)
    answer_next_athena_query(
        settings,
        [("site_id", "varchar"), ("day", "date"), ("net_kwh", "decimal"), ("readings", "bigint")],
        [["roof", "2026-11-29", "1.500000", "2"], ["meter", "2026-11-29", None, "7"]],
    )
    return on_aws


def test_on_aws_the_query_runs_in_the_workgroup_and_its_scan_is_priced(athena):
    answer = run(athena, lake_queries.DAILY_ENERGY.sql)

    assert answer.columns == ("site_id", "day", "net_kwh", "readings")
    assert answer.rows[0][2] == Decimal("1.500000") and answer.rows[1] == ("meter", answer.rows[0][1], None, 7)
    assert answer.bytes_scanned == 0 and answer.cost_usd == Decimal("0.00005"), "Athena bills 10 MB at least"
    aws = client(athena, "athena")
    [execution_id] = aws.list_query_executions(WorkGroup=athena.athena_workgroup)["QueryExecutionIds"]
    execution = aws.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == lake_queries.DAILY_ENERGY.sql
    assert execution["QueryExecutionContext"]["Database"] == athena.lake_database


def test_on_aws_a_statement_that_would_change_data_never_reaches_athena(athena):
    with pytest.raises(QueryRefused):
        run(athena, "DROP TABLE records_compacted")

    assert client(athena, "athena").list_query_executions(WorkGroup=athena.athena_workgroup)["QueryExecutionIds"] == []


def test_a_damaged_local_database_is_built_again_and_queries_at_once_take_turns(stack):
    settings, cache = stack
    want = run(settings, lake_queries.DAILY_ENERGY.sql, cache_dir=cache).rows
    (cache / lake_local.DATABASE).write_bytes(b"not a DuckDB database" * 100)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers_at_once = list(
            pool.map(lambda _: run(settings, lake_queries.DAILY_ENERGY.sql, cache_dir=cache), range(3))
        )

    assert all(answer.rows == want for answer in answers_at_once)


def test_the_local_copy_follows_every_change_of_the_lake_as_a_fresh_copy_would(stack, tmp_path, runner):
    settings, cache = stack
    every_row = 'SELECT * FROM records ORDER BY site_id, "timestamp"'

    def kept_and_fresh() -> tuple[list, list]:
        kept = run(settings, every_row, cache_dir=cache).rows
        fresh = run(settings, every_row, cache_dir=tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}").rows
        return kept, fresh

    def reprocess(generated: float) -> None:
        rows = [reading(29, 10, generated, 1, "roof"), reading(29, 11, 4, 0.5, "roof")]
        raw_files.upload(settings, "raw/2026/11/29/roof.json", json.dumps(rows).encode())
        runner.drain()

    steps = [
        ("loaded once", lambda: None),
        ("a file re-processed with a new value", lambda: reprocess(7)),
        ("compacted", lambda: compact(settings)),
        ("re-processed after compaction", lambda: reprocess(8)),
        ("compacted again", lambda: compact(settings)),
    ]
    for step, change in steps:
        change()
        kept, fresh = kept_and_fresh()
        assert kept == fresh, f"after '{step}', the kept copy differs from a fresh one"
        assert [r[:12] for r in kept] == table_rows(settings, SITES), f"after '{step}'"

    reprocess(9)  # a landing object that then disappears (as one set aside would): its version goes
    s3 = client(settings, "s3")
    [landing] = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.lake_prefix}landing/")["Contents"]
    s3.delete_object(Bucket=settings.bucket, Key=landing["Key"])
    kept, fresh = kept_and_fresh()
    assert kept == fresh
    assert [r[2] for r in kept if r[0] == "roof" and r[1].month == 11 and r[1].hour == 10] == [Decimal(8)], (
        "the version before it"
    )


def test_on_aws_the_lake_check_reads_athenas_figures_and_names_the_day_that_differs(stack, monkeypatch):
    settings, _ = stack
    on_aws = as_on_aws(settings, monkeypatch)
    since = date(2026, 11, 29)
    held = {
        **lake_check._dynamodb_figures(on_aws, "meter", since),
        **lake_check._dynamodb_figures(on_aws, "roof", since),
    }
    rows = [
        [site, day.isoformat(), f"{generated:.6f}", f"{consumed:.6f}", str(readings - (site == "roof")), str(anomalies)]
        for (site, day), (readings, generated, consumed, anomalies) in held.items()
    ]
    answer_next_athena_query(
        settings,
        [
            ("site_id", "varchar"),
            ("day", "date"),
            ("readings", "bigint"),
            ("generated", "decimal(38,6)"),
            ("consumed", "decimal(38,6)"),
            ("anomalies", "bigint"),
        ],
        [[r[0], r[1], r[4], r[2], r[3], r[5]] for r in rows],
    )

    found = lake_check.check(on_aws, since)

    assert [(d.site_id, d.day) for d in found.differences] == [("roof", since)], "Athena's roof lacks a reading"
    [roof] = found.differences
    assert roof.lake[0] == roof.dynamodb[0] - 1 and roof.lake[1:] == roof.dynamodb[1:]


def test_a_sync_that_fails_half_way_leaves_a_copy_the_next_query_completes(stack):
    settings, cache = stack
    plan = FaultPlan(fail_at=2, only=lambda call: call == "s3.GetObject")  # the second download fails
    with injected(settings, plan):
        plan.active = True
        with pytest.raises(ClientError):
            run(settings, lake_queries.DAILY_ENERGY.sql, cache_dir=cache)

    assert plan.failed == ["s3.GetObject"]
    answer = run(settings, lake_queries.DAILY_ENERGY.sql, cache_dir=cache)
    assert answer.rows == expected(settings)["daily-energy"], "every file there, none twice"
