"""What the Explore page and `python -m pipeline sql` refuse before any engine sees it: a
statement that writes, changes a setting or reaches outside the lake, or more than one
statement; and what they let through: queries, whatever their strings and comments say."""

import pytest

from pipeline.ops.lake_sql import QueryRefused, read_only


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("DROP VIEW records", "only queries are run here"),
        ("delete from records where true", "only queries are run here"),
        ("INSERT INTO records_landing SELECT * FROM records", "only queries"),
        ("CREATE TABLE copy AS SELECT * FROM records", "only queries"),
        ("SELECT 1; DROP VIEW records", "one statement at a time"),
        ("SELECT 1;;SELECT 2", "one statement at a time"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT would change data"),
        ("SELECT * FROM records /* hidden */; ATTACH 'x.db'", "one statement at a time"),
        ("COPY (SELECT * FROM records) TO 'out.csv'", "only queries"),
        ("ATTACH 'other.db'", "only queries"),
        ("INSTALL httpfs", "only queries"),
        ("SET enable_external_access = true", "only queries"),
        ("PRAGMA database_list", "only queries"),
        ("SELECT * FROM records WHERE site_id IN (SELECT 1 FROM (DELETE FROM t))", "DELETE would change"),
        ("", "there is no query"),
        ("-- just a comment\n;", "there is no query"),
    ],
)
def test_a_statement_that_is_not_one_query_is_refused_with_a_sentence(sql, says):
    with pytest.raises(QueryRefused, match=says):
        read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM records",
        "  select site_id from records;  ",
        "WITH d AS (SELECT * FROM records) SELECT COUNT(*) FROM d",
        "SELECT 'drop table records; delete' AS note",
        'SELECT "set", "update" FROM (SELECT 1 AS "set", 2 AS "update")',
        "-- drop everything\nSELECT 1 /* ; insert */",
        "DESCRIBE records",
        "SHOW TABLES",
        "VALUES (1, 'a')",
        "FROM records LIMIT 5",
    ],
)
def test_a_query_goes_through_as_written(sql):
    assert read_only(sql) == sql.strip().rstrip(";").strip()
