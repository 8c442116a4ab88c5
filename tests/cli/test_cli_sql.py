"""`python -m pipeline sql` on the embedded stack: a query's rows as CSV or JSON, what it
took on stderr, the ready queries by name, and statements that would change data refused."""

import csv
import io
import json

import pytest


@pytest.fixture
def sql(cli, settings, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))  # the lake's local copy goes there
    cli("simulate", "--sites", "2", "--readings", "6", "--seed", "1")
    runner.drain()
    return cli


def test_a_query_prints_csv_and_says_what_it_took(sql, capsys):
    code, out = sql("sql", "SELECT site_id, COUNT(*) AS readings FROM records GROUP BY site_id ORDER BY site_id")

    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["site_id", "readings"] and [r[0] for r in rows[1:]] == ["site-1", "site-2"]
    assert all(int(r[1]) >= 5 for r in rows[1:])
    assert "2 rows in" in capsys.readouterr().err


def test_a_ready_query_as_json(sql):
    code, out = sql("sql", "--ready", "daily-energy", "--format", "json")

    assert code == 0
    days = json.loads(out)
    assert {d["site_id"] for d in days} == {"site-1", "site-2"}
    assert set(days[0]) >= {"day", "generated_kwh", "consumed_kwh", "net_kwh", "readings", "anomalies"}


@pytest.mark.parametrize(
    "statement",
    ["DROP VIEW records", "DELETE FROM records", "SELECT 1; DROP VIEW records", "COPY records TO 'out.csv'"],
)
def test_a_statement_that_would_change_data_is_refused_and_changes_nothing(sql, capsys, statement):
    before = sql("sql", "SELECT COUNT(*) AS n FROM records")[1]

    code, out = sql("sql", statement)

    assert code == 2 and out == ""
    assert "error: refused:" in capsys.readouterr().err
    assert sql("sql", "SELECT COUNT(*) AS n FROM records")[1] == before


def test_no_query_or_both_is_a_usage_error_naming_the_ready_ones(sql, capsys):
    assert sql("sql")[0] == 2
    assert "completeness, daily-energy" in capsys.readouterr().err
