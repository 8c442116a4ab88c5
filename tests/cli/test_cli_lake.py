"""`python -m pipeline lake compact` on the embedded stack, and the same compaction as the
scheduled function runs it (lambda/handler.py's `compact`)."""

from local_aws.runner import LambdaContext, load_handler
from pipeline.aws import client
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
