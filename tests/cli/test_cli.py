"""Every `python -m pipeline` command on the embedded stack."""

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from botocore.exceptions import EndpointConnectionError

from pipeline.aws import client
from pipeline.events import notification_body
from pipeline.record_store import site_records
from tests.conftest import ROOT


def test_bootstrap_is_idempotent(cli):
    assert cli("bootstrap")[0] == 0
    code, out = cli("bootstrap")
    assert code == 0 and json.loads(out)["bucket"] == "energy-raw-data"


def test_config_prints_every_resolved_name(cli, settings):
    code, out = cli("config")
    config = json.loads(out)
    assert code == 0
    assert config["backend"] == "local" and config["endpoint_url"] == settings.endpoint_url
    assert config["table"] == "energy_data" and config["queue_url"].endswith("/energy-raw-events")
    assert config["dlq_url"].endswith("/energy-raw-events-dlq") and config["topic_arn"].endswith(
        ":energy-anomaly-alerts"
    )


def test_simulate_uploads_a_file_that_the_pipeline_stores(cli, settings, runner):
    code, out = cli("simulate", "--sites", "3", "--readings", "4", "--seed", "5", "--anomaly-rate", "0")
    upload = json.loads(out)
    # 3 sites x 4 intervals, less the gaps that a "missing intervals" anomaly leaves
    assert code == 0 and 0 < upload["readings"] <= 12 and upload["key"].startswith("raw/")
    runner.drain()
    assert sum(len(list(site_records(settings, f"site-{i}"))) for i in (1, 2, 3)) == upload["readings"]


def test_upload_then_records_as_csv_and_json(cli, runner, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\n"
        "north,2026-11-28T23:00:00Z,5,1\nnorth,2026-11-29T06:00:00Z,-1,2\n"
    )
    code, out = cli("upload", str(path))
    assert code == 0 and out.strip().startswith("raw/") and out.strip().endswith("/mine.csv")
    runner.drain()

    code, out = cli("records", "--site", "north", "--start", "2026-11-29")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["timestamp"], r["net_energy_kwh"], r["anomaly"]) for r in rows] == [
        ("2026-11-29T06:00:00Z", "-3", "True")
    ]
    code, out = cli("records", "--site", "north", "--format", "json", "--anomalies-only")
    assert [r["anomaly_reasons"] for r in json.loads(out)] == ["negative_generation"]


def test_sites_lists_registered_and_discovered_sites(cli, runner):
    cli("simulate", "--sites", "2", "--readings", "1", "--seed", "1")
    runner.drain()
    code, out = cli("sites")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["site-1", "site-2"]


def test_replay_is_idempotent(cli, settings, runner):
    # (the simulator leaves a reading out, or adds one from a wrong clock, on some days)
    readings = json.loads(cli("simulate", "--sites", "2", "--readings", "4", "--seed", "9")[1])["readings"]
    runner.drain()
    before = list(site_records(settings, "site-1"))
    code, out = cli("replay")
    assert code == 0 and json.loads(out) == {
        "files": 1,
        "written": 0,
        "unchanged": readings,
        "rejected": 0,
        "quarantined_files": 0,
    }
    assert list(site_records(settings, "site-1")) == before

    code, out = cli("replay", "--via-queue")
    assert code == 0 and json.loads(out)["enqueued"] == 1
    runner.drain()
    assert list(site_records(settings, "site-1")) == before


def test_dlq_list_and_redrive(cli, settings, runner):
    cli("simulate", "--sites", "1", "--readings", "1", "--seed", "2")
    runner.drain()
    sqs = client(settings, "sqs")
    dlq = sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=notification_body(settings.bucket, "raw/2026/11/29/lost.json"))

    code, out = cli("dlq", "list")
    assert code == 0 and [d["keys"] for d in json.loads(out)] == [["raw/2026/11/29/lost.json"]]
    code, out = cli("dlq", "redrive")
    assert code == 0 and json.loads(out) == {"redriven": 1}
    assert json.loads(cli("dlq", "list")[1]) == []


def test_bad_arguments_give_one_line_and_a_non_zero_exit(cli, capsys):
    assert cli("records", "--site", "x", "--start", "last tuesday")[0] == 2
    assert capsys.readouterr().err == "error: --start 'last tuesday' is not an ISO 8601 time or a YYYY-MM-DD date\n"


def test_unreachable_stack_is_a_readable_error(cli, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert cli("sites")[0] == 1
    assert capsys.readouterr().err == "error: Cannot reach http://127.0.0.1:9: is the stack running?\n"


def test_help_and_unknown_backend_from_a_shell():
    helped = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "replay" in helped.stdout and "dlq" in helped.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "pipeline", "config"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"ENERGY_BACKEND": "azure", "PATH": ""},
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr == "error: ENERGY_BACKEND must be one of local, aws, not 'azure'\n"


def test_bootstrap_leaves_a_terraform_stack_alone_unless_forced(cli, monkeypatch, capsys):
    monkeypatch.setenv("ENERGY_BACKEND", "aws")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert cli("bootstrap")[0] == 2
    assert "stack belongs to Terraform" in capsys.readouterr().err


# --- limits and partial failures ---------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("simulate", "--sites", "10", "--readings", "100000"), "one file holds at most 500,000"),
        (("simulate", "--readings", "100001"), "argument --readings: must be at most 100,000, not 100,001"),
        (("simulate", "--sites", "0"), "argument --sites: must be at least 1, not 0"),
        (("simulate", "--sites", "many"), "argument --sites: 'many' is not a whole number"),
        (("dlq", "list", "--limit", "0"), "argument --limit: must be at least 1, not 0"),
        (("dlq", "redrive", "--limit", "-3"), "argument --limit: must be at least 1, not -3"),
    ],
)
def test_out_of_range_numbers_are_refused_before_anything_is_sent(cli, settings, capsys, argv, said):
    try:
        code = cli(*argv)[0]
    except SystemExit as exited:  # argparse's own refusals
        code = exited.code
    assert code == 2
    assert said in capsys.readouterr().err
    listed = client(settings, "s3").list_objects_v2(Bucket=settings.bucket, Prefix=settings.raw_prefix)
    assert listed["KeyCount"] == 0, "no file was uploaded"


def test_records_print_nothing_when_the_query_fails_part_way(cli, settings, runner, monkeypatch, capsys):
    cli("simulate", "--sites", "1", "--readings", "8", "--seed", "3")
    runner.drain()

    def dies_after_three(*args, **kwargs):
        for i, record in enumerate(site_records(*args, **kwargs)):
            if i == 3:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
            yield record

    assert cli("records", "--site", "site-1")[1].count("\n") == 9, "header and eight records when all goes well"
    monkeypatch.setattr("pipeline.ops.cli.site_records", dies_after_three)
    capsys.readouterr()
    code, out = cli("records", "--site", "site-1")
    assert code == 1 and out == "", "no truncated CSV that would look complete"
    assert capsys.readouterr().err == f"error: Cannot reach {settings.endpoint_url}: is the stack running?\n"


def test_config_exits_non_zero_when_the_topic_is_missing(cli, settings, capsys):
    sns = client(settings, "sns")
    for topic in sns.list_topics()["Topics"]:
        sns.delete_topic(TopicArn=topic["TopicArn"])
    code, out = cli("config")
    config = json.loads(out)
    assert code == 1
    assert config["queue_url"].endswith("/energy-raw-events"), "still prints what it resolved"
    assert "topic_arn" not in config and "no topic called 'energy-anomaly-alerts'" in config["unresolved"]
    assert capsys.readouterr().err == "error: topic_arn: no topic called 'energy-anomaly-alerts' here\n"


@pytest.fixture
def silent_endpoint():
    """A port on 127.0.0.1 that completes the TCP handshake (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def closed_endpoint():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("endpoint", "said"),
    [("silent_endpoint", "did not answer in time"), ("closed_endpoint", "is the stack running?")],
)
@pytest.mark.parametrize("command", [("sites",), ("config",), ("records", "--site", "site-1")])
def test_a_dead_endpoint_is_reported_within_seconds(request, endpoint, said, command):
    """The CLI as a shell runs it: exit 1 and one sentence, in a fraction of the 11-91 s it took."""
    url = request.getfixturevalue(endpoint)
    env = {"PATH": os.environ.get("PATH", ""), "ENERGY_BACKEND": "local", "AWS_ENDPOINT_URL": url}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *command], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert said in done.stderr and url in done.stderr and "Traceback" not in done.stderr
    assert elapsed < 20, f"{elapsed:.1f} s"  # generous: the interactive profile needs ~9 s at worst
