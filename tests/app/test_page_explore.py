"""Explore page: analysts' SQL over the data lake. The ready queries give DynamoDB's numbers,
statements that would change data are refused with a sentence and change nothing, the CSV
holds the rows, the chart draws the chosen columns, and an empty lake says what to do."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from streamlit.testing.v1 import app_test
from streamlit.testing.v1.app_test import AppTest

from pipeline import lake, raw_files
from pipeline.aws import client
from pipeline.ops.cli import main as cli
from pipeline.ops.lake_queries import COMPLETENESS, DAILY_ENERGY
from pipeline.ops.lake_sql import QueryRefused, read_only
from pipeline.record_store import site_records
from pipeline.timestamps import parse_utc
from tests.app.conftest import page_text, shown
from tests.lake_reader import lake_rows

EXPLORE = "pages/explore.py"
SITES = ("site-1", "site-2", "site-3")  # the `seeded` fixture's
DAILY_COLUMNS = ["site_id", "day", "generated_kwh", "consumed_kwh", "net_kwh", "readings", "anomalies"]


@pytest.fixture(autouse=True)
def lake_copy(tmp_path, monkeypatch) -> None:
    """The lake's local copy (DuckDB's) in the test's own directory, not the project's
    .energy-data, which every test worker would share."""
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))


@pytest.fixture
def downloads(monkeypatch) -> Iterator[dict[str, bytes]]:
    """What the download buttons serve, by URL: AppTest keeps the files in a media store it
    makes for each run and drops; this one remembers them."""
    served: dict[str, bytes] = {}

    class Remembered(app_test.MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            served[self.get_url(file_id)] = self.get_file(file_id).content
            return file_id

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Remembered)
    yield served


def run_sql(at: AppTest, sql: str | None = None, **limits: int) -> AppTest:
    if sql is not None:
        at.text_area(key="explore_sql").input(sql)
    if "timeout" in limits:
        at.number_input(key="explore_timeout").set_value(limits["timeout"])
    if "max_rows" in limits:
        at.number_input(key="explore_max_rows").set_value(limits["max_rows"])
    at.button(key="explore_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text(at: AppTest) -> str:
    """What the page says, without the bold markers around its headlines."""
    return page_text(at).replace("**", "")


def chart_spec(at: AppTest) -> dict:
    [chart] = at.get("vega_lite_chart")
    return json.loads(chart.proto.spec)


def daily_energy(settings) -> list[tuple]:
    """The daily-energy query's rows, summed in Python from the records DynamoDB holds."""
    days: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0, 0])
    for site in SITES:
        for record in site_records(settings, site):
            day = days[(site, parse_utc(record.timestamp).date())]
            day[0] += record.energy_generated_kwh
            day[1] += record.energy_consumed_kwh
            day[2] += record.net_energy_kwh
            day[3] += 1
            day[4] += int(record.anomaly)
    return [(site, day, *sums) for (site, day), sums in sorted(days.items())]


def test_the_daily_energy_query_gives_the_sums_of_dynamodbs_records(seeded, stack, open_page):
    at = run_sql(open_page(EXPLORE))

    want = daily_energy(stack)
    table = at.dataframe[0].value
    assert list(table.columns) == DAILY_COLUMNS
    assert [tuple(row) for row in table.itertuples(index=False)] == want
    assert sum(row[6] for row in want) > 0, "anomalies among them"
    assert f"{len(want)} rows in" in text(at) and "DuckDB over a local copy of the lake" in text(at)
    assert "Last run: local copy of the lake: " in text(at), "the Lake panel says what the sync did"


def test_the_csv_download_holds_the_rows_as_the_cli_prints_them(seeded, stack, open_page, downloads):
    at = run_sql(open_page(EXPLORE))

    [button] = at.get("download_button")
    body = downloads[button.proto.url].decode()
    out = io.StringIO()
    assert cli(["sql", "--ready", DAILY_ENERGY.name], out=out) == 0
    assert body == out.getvalue()
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header == DAILY_COLUMNS
    parsed = [(s, date.fromisoformat(d), *map(Decimal, sums), int(n), int(a)) for s, d, *sums, n, a in rows]
    assert parsed == daily_energy(stack)
    assert f"({len(rows)} rows)" in button.label


@pytest.mark.parametrize(
    "statement", ["DROP VIEW records", "DELETE FROM records_landing", "SELECT 1; DROP TABLE records_compacted"]
)
def test_a_statement_that_would_change_data_is_refused_with_its_sentence(seeded, stack, open_page, statement):
    before = lake_rows(stack, latest=False)
    with pytest.raises(QueryRefused) as refused:
        read_only(statement)

    at = run_sql(open_page(EXPLORE), statement)

    assert f"Not run: {refused.value}." in text(at)
    assert [e.value for e in at.error] and not at.dataframe and not at.get("download_button")
    assert lake_rows(stack, latest=False) == before
    assert len(run_sql(at, DAILY_ENERGY.sql).dataframe[0].value) == len(daily_energy(stack)), "the view still answers"


def test_a_failing_query_says_why(open_page):
    at = run_sql(open_page(EXPLORE), "SELECT * FROM meters")

    assert "The query failed: Catalog Error: Table with name meters does not exist!" in text(at)
    assert not at.dataframe


def test_a_query_past_its_time_limit_is_stopped(open_page):
    heavy = "SELECT SUM(a.range * b.range) FROM range(200000) a, range(200000) b"

    at = run_sql(open_page(EXPLORE), heavy, timeout=1)

    assert "The query failed: stopped after 1 s, the time limit." in text(at)


def test_rows_past_the_row_limit_are_left_out_and_said_so(open_page, downloads):
    at = run_sql(open_page(EXPLORE), "SELECT range AS n FROM range(10)", max_rows=3)

    assert list(at.dataframe[0].value["n"]) == [0, 1, 2]
    assert "3 rows in" in text(at) and "only the first 3 rows are shown" in text(at)


def test_an_empty_lake_says_what_to_do(open_page):
    at = open_page(EXPLORE)
    assert "Press Run to query the lake." in text(at)

    run_sql(at)

    assert "The lake has no rows yet" in text(at)
    assert [link.proto.page for link in at.get("page_link")] == ["simulate"]
    assert not at.dataframe


def test_a_query_without_rows_says_so(seeded, open_page):
    at = run_sql(open_page(EXPLORE), "SELECT * FROM records WHERE site_id = 'nowhere'")

    assert "The query returned no rows." in text(at)
    assert "The lake has no rows yet" not in text(at)


def test_a_ready_query_puts_its_sql_into_the_editor(open_page):
    at = open_page(EXPLORE)
    assert at.text_area(key="explore_sql").value == DAILY_ENERGY.sql

    at.selectbox(key="explore_ready").set_value(COMPLETENESS.name).run()

    assert at.text_area(key="explore_sql").value == COMPLETENESS.sql


def test_the_chart_draws_the_chosen_columns(seeded, open_page):
    at = run_sql(open_page(EXPLORE))
    spec = chart_spec(at)
    assert spec["mark"]["type"] == "line"
    encoding = spec["encoding"]
    assert (encoding["x"]["field"], encoding["y"]["field"], encoding["color"]["field"]) == ("day", "net_kwh", "site_id")

    at.selectbox(key="explore_mark:1").set_value("bar")
    at.selectbox(key="explore_x:1").set_value("site_id")
    at.selectbox(key="explore_y:1").set_value("generated_kwh")
    at.selectbox(key="explore_color:1").select_index(0).run()

    spec = chart_spec(at)
    assert spec["mark"]["type"] == "bar"
    assert (spec["encoding"]["x"]["field"], spec["encoding"]["y"]["field"]) == ("site_id", "generated_kwh")
    assert "color" not in spec["encoding"]


def landing_objects(settings) -> list[str]:
    return [o.key for o in raw_files.list_objects(settings, f"{settings.lake_prefix}{lake.LANDING}/")]


def test_compact_now_reports_what_it_merged_and_the_answer_stays_the_same(seeded, stack, open_page):
    objects, rows = len(landing_objects(stack)), len(lake_rows(stack, latest=False))
    at = run_sql(open_page(EXPLORE))
    before = at.dataframe[0].value

    at.button(key="explore_compact_now").click().run()

    assert not at.exception
    assert f"{objects} landing object{'s' if objects != 1 else ''} ({rows} rows) merged into" in text(at)
    assert landing_objects(stack) == []
    assert run_sql(at).dataframe[0].value.equals(before)


def test_compact_now_warns_of_an_object_it_sets_aside(stack, open_page):
    key = f"{stack.lake_prefix}{lake.LANDING}/written={datetime.now(UTC):%Y-%m-%d}/part-junk.parquet"
    client(stack, "s3").put_object(Bucket=stack.bucket, Key=key, Body=b"not parquet")
    at = open_page(EXPLORE)

    at.button(key="explore_compact_now").click().run()

    assert [shown(w.value) for w in at.warning] == [
        f"Set aside (not the lake's Parquet): {key}: not a Parquet file: the PAR1 marks are missing"
    ]
    assert "1 unreadable object moved to unreadable/" in text(at)


def test_check_against_dynamodb_says_the_lake_agrees_then_lists_the_days_it_lost(seeded, stack, open_page):
    at = open_page(EXPLORE)

    at.button(key="explore_check").click().run()

    assert not at.exception
    [agrees] = [shown(s.value) for s in at.success]
    assert "OK: " in agrees and "of 3 sites" in agrees and "0 differ" in agrees
    for key in landing_objects(stack):  # the lake loses every row it had
        client(stack, "s3").delete_object(Bucket=stack.bucket, Key=key)
    at.button(key="explore_check").click().run()
    [differs] = [shown(w.value) for w in at.warning]
    assert "DIFFERENT: " in differs
    listed = at.code[0].value.splitlines()
    assert {line.split()[0] for line in listed} == set(SITES)
    assert all(": lake no readings, DynamoDB " in line for line in listed)


def test_the_sql_and_its_answer_stay_while_the_analyst_visits_another_page(open_page):
    at = run_sql(open_page(EXPLORE), "SELECT 42 AS answer", max_rows=500)

    at.switch_page("pages/records.py").run()
    at.switch_page(EXPLORE).run()

    assert not at.exception
    assert at.text_area(key="explore_sql").value == "SELECT 42 AS answer"
    assert at.number_input(key="explore_max_rows").value == 500
    assert list(at.dataframe[0].value["answer"]) == [42]


@pytest.fixture
def on_aws(stack, monkeypatch):
    """AND the app configured for AWS, where Athena answers the queries (still the embedded AWS)."""
    monkeypatch.setenv("ENERGY_BACKEND", "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return replace(stack, backend="aws")


def test_on_aws_athena_answers_and_the_summary_prices_its_scan(on_aws, open_page):
    client(on_aws, "athena").create_work_group(Name=on_aws.athena_workgroup)
    result = {
        "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in (("site_id", "net_kwh"), ("roof", "1.5"))],
        "column_info": [{"Name": "site_id", "Type": "varchar"}, {"Name": "net_kwh", "Type": "decimal"}],
    }
    request = urllib.request.Request(
        f"{on_aws.endpoint_url}/moto-api/static/athena/query-results",
        data=json.dumps({"results": [result]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()

    at = run_sql(open_page(EXPLORE), "SELECT site_id, SUM(net_energy_kwh) AS net_kwh FROM records GROUP BY site_id")

    assert [tuple(r) for r in at.dataframe[0].value.itertuples(index=False)] == [("roof", Decimal("1.5"))]
    assert f"Athena, workgroup {on_aws.athena_workgroup} · scanned 0.0 MB, $0.000050" in text(at), "10 MB at least"
    assert "Last run: query " in text(at), "the Lake panel names Athena's query"


def test_an_aws_error_is_one_sentence(on_aws, open_page):
    at = run_sql(open_page(EXPLORE))  # no workgroup: Athena refuses the request

    assert "AWS request failed while running the query." in text(at) and "WorkGroup does not exist" in text(at)
    assert not at.dataframe


def test_columns_of_every_kind_show_and_chart(open_page):
    at = run_sql(
        open_page(EXPLORE),
        "SELECT uuid() AS id, INTERVAL 1 DAY AS span, {'a': 1} AS nested, 'x'::BLOB AS raw, [1, 2] AS list, "
        "NULL AS nothing, TRUE AS yes, 1.5::DOUBLE AS real, 10::HUGEINT AS huge, 2.50::DECIMAL(38, 2) AS exact, "
        "TIMESTAMP '2026-11-29 06:00:00' AS naive, TIMESTAMPTZ '2026-11-29 06:00:00+00' AS aware, "
        "DATE '2026-11-29' AS day, TIME '06:00:00' AS clock",
    )

    assert len(at.dataframe[0].value) == 1
    assert chart_spec(at)["encoding"]["x"]["field"] == "naive", "the first time against the first number"
    for column in at.dataframe[0].value.columns:
        at.selectbox(key="explore_x:1").set_value(column)
        at.selectbox(key="explore_color:1").set_value(column).run()
        assert not at.exception, (column, [e.value for e in at.exception])
        assert chart_spec(at)["encoding"]["x"]["field"] == column
