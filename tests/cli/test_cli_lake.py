"""`python -m pipeline lake compact` and `lake check` on the embedded stack, and the same
compaction as the scheduled function runs it (lambda/handler.py's `compact`)."""

from decimal import Decimal

from local_aws.runner import LambdaContext, load_handler
from pipeline import lake
from pipeline.aws import client
from pipeline.records import Record
from tests.lake_reader import lake_rows


def landing(settings) -> int:
    listed = client(settings, "s3").list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.lake_prefix}landing/")
    return listed["KeyCount"]


def test_compact_says_what_it_merged_and_the_records_stay_the_same(cli, settings, runner):
    cli("simulate", "--sites", "2", "--readings", "4", "--seed", "3")
    runner.drain()  # one write, one landing object
    cli("simulate", "--sites", "2", "--readings", "4", "--seed", "4")  # the same readings, other values
    runner.drain()
    before = lake_rows(settings)
    versions = len(lake_rows(settings, latest=False))

    code, out = cli("lake", "compact")

    assert code == 0
    assert out.startswith(
        f"2 landing objects ({versions} rows) merged into 1 day; {versions - len(before)} older versions left out"
    ), out
    assert versions > len(before)
    assert landing(settings) == 0 and lake_rows(settings) == before == lake_rows(settings, latest=False)
    assert cli("lake", "compact")[1].startswith("0 landing objects (0 rows) merged into 0 days")


def test_compact_exits_1_and_names_an_object_it_set_aside(cli, settings, capsys):
    key = f"{settings.lake_prefix}landing/written=2026-12-05/part-x.parquet"
    client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=b"not parquet")

    code, out = cli("lake", "compact")

    assert code == 1 and "1 unreadable object moved to unreadable/" in out
    assert f"set aside: {key}: not a Parquet file" in capsys.readouterr().err


def test_the_scheduled_function_compacts_and_reports(settings, runner, cli):
    cli("simulate", "--sites", "3", "--readings", "2")
    runner.drain()

    answer = load_handler("compact")({"source": "aws.events"}, LambdaContext(timeout_seconds=900), settings)

    assert answer["summary"].startswith("1 landing object (6 rows) merged into 1 day")
    assert answer["set_aside"] == [] and landing(settings) == 0


def test_check_finds_the_lake_equal_to_dynamodb_before_and_after_compaction(
    cli, settings, runner, tmp_path, monkeypatch
):
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))
    cli("simulate", "--sites", "3", "--readings", "6", "--seed", "5")
    runner.drain()

    for moment in ("landing", "compacted"):
        code, out = cli("lake", "check")
        assert code == 0, out
        assert out.startswith("OK: ") and "3 sites" in out and "0 differ" in out, (moment, out)
        cli("lake", "compact")


def test_check_names_the_days_where_the_lake_lost_rows_or_holds_rows_dynamodb_does_not(
    cli, settings, runner, tmp_path, monkeypatch
):
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))
    cli("simulate", "--sites", "2", "--readings", "4", "--seed", "5")
    runner.drain()
    s3 = client(settings, "s3")
    [landing] = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.lake_prefix}landing/")["Contents"]
    s3.delete_object(Bucket=settings.bucket, Key=landing["Key"])  # rows the lake lost
    stray = Record("site-9", "2026-12-01T00:00:00Z", Decimal(1), Decimal(2), Decimal(-1), (), "raw/x.json", "")
    lake.write_ahead(settings, [stray])  # a row written ahead that no try stored

    code, out = cli("lake", "check", "--since", "2026-11-01")

    assert code == 1 and out.startswith("DIFFERENT: ")
    assert (
        "site-9 2026-12-01: lake 1 readings, 1 kWh generated, 2 kWh consumed, 0 anomalies, DynamoDB no readings" in out
    )
    lost = [line for line in out.splitlines() if line.strip().startswith(("site-1 ", "site-2 "))]
    assert lost and all(": lake no readings, DynamoDB " in line for line in lost)
