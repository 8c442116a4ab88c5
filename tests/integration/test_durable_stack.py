"""The embedded AWS keeps its data in a data directory across a normal stop and a kill -9.

Each test has its own temporary data directory and talks only to 127.0.0.1 servers it
started itself. In-process restarts forget moto's memory first (as a new process would),
so whatever comes back came from the disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moto.core.base_backend import BackendDict

from local_aws.persistence import SNAPSHOT
from local_aws.stack import start_stack
from pipeline import raw_files
from pipeline.aws import client
from pipeline.rollups import site_rollups
from pipeline.settings import Settings
from tests.conftest import ROOT, wait_for
from tests.integration.test_local_stack import free_port

SITE = "site-durable"
# Two hours of readings, one every 15 minutes: generated 10 + i, consumed 4.
READINGS = [
    {
        "site_id": SITE,
        "timestamp": f"2026-01-01T{i // 4:02d}:{i % 4 * 15:02d}:00Z",
        "energy_generated_kwh": 10 + i,
        "energy_consumed_kwh": 4,
    }
    for i in range(8)
]
SPIKE = [{"site_id": SITE, "timestamp": "2026-01-02T00:00:00Z", "energy_generated_kwh": -5, "energy_consumed_kwh": 4}]


def records(settings: Settings) -> list[dict[str, Any]]:
    pages = client(settings, "dynamodb").get_paginator("scan").paginate(TableName=settings.table)
    return [item for page in pages for item in page["Items"]]


def everything(settings: Settings) -> dict[str, Any]:
    """What a user could look at: objects with bodies, every table's items, queued messages."""
    s3, sqs, dynamodb = client(settings, "s3"), client(settings, "sqs"), client(settings, "dynamodb")
    objects = {
        o["Key"]: s3.get_object(Bucket=settings.bucket, Key=o["Key"])["Body"].read()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket)
        for o in page.get("Contents", [])
    }
    tables = {}
    for name in (settings.table, settings.rollup_table, settings.files_table, settings.sites_table):
        pages = dynamodb.get_paginator("scan").paginate(TableName=name)
        items = [item for page in pages for item in page["Items"]]
        tables[name] = sorted(json.dumps(item, sort_keys=True, default=str) for item in items)  # binary: b"..."
    queues = {}
    for name in (settings.dlq, settings.alerts_queue):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        queues[name] = sorted(m["Body"] for m in messages.get("Messages", []))
    topics = sorted(t["TopicArn"] for t in client(settings, "sns").list_topics()["Topics"])
    return {"objects": objects, "tables": tables, "queues": queues, "topics": topics}


def test_a_normal_stop_keeps_objects_records_rollups_ledger_quarantine_and_queues(tmp_path: Path):
    # GIVEN a stack on a data directory that has processed a good file, a bad one and an anomaly,
    # in a process whose memory holds nothing else (moto's backends are per process: other
    # tests leave items in tables of the same names)
    BackendDict.reset()
    stack = start_stack(Settings.from_env({}), 0, data_dir=tmp_path)
    try:
        settings = stack.settings
        raw_files.upload(settings, "raw/2026/01/01/good.json", json.dumps(READINGS).encode())
        raw_files.upload(settings, "raw/2026/01/02/spike.json", json.dumps(SPIKE).encode())
        raw_files.upload(settings, "raw/2026/01/01/broken.json", b"{not json")
        sqs = client(settings, "sqs")
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"], MessageBody="dead letter")
        wait_for(lambda: len(records(settings)) == len(READINGS) + len(SPIKE))
        wait_for(lambda: everything(settings)["queues"][settings.alerts_queue])
        wait_for(lambda: stack.runner.pending() == 0)
        before = everything(settings)
    finally:
        stack.stop()
    assert any(key.startswith(settings.quarantine_prefix) for key in before["objects"])
    assert before["tables"][settings.files_table] and before["tables"][settings.rollup_table]

    # WHEN the process memory is gone and the stack starts again from the directory
    BackendDict.reset()
    again = start_stack(Settings.from_env({}), 0, run_lambda=False, data_dir=tmp_path)
    try:
        after = everything(again.settings)
    finally:
        again.stop()

    # THEN everything is there and the same
    assert after == before
    assert after["queues"][settings.dlq] == ["dead letter"]


def _start_standalone(port: int, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_"))}
    env.update(ENERGY_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first = proc.stdout.readline() if proc.stdout else ""
    return proc, first


def test_an_upload_acknowledged_right_before_a_kill_9_is_processed_once_after_restart(tmp_path: Path):
    port = free_port()
    settings = Settings.from_env({}).with_endpoint(f"http://127.0.0.1:{port}")
    # GIVEN `python -m local_aws` on a fixed port with a data directory
    proc, first = _start_standalone(port, tmp_path)
    try:
        assert f"127.0.0.1:{port}" in first, first
        # WHEN a file is uploaded and the process is killed the moment the PUT returns
        raw_files.upload(settings, "raw/2026/01/01/crash.json", json.dumps(READINGS).encode())
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=20)

    # THEN it starts again on the same endpoint and the file gets processed
    proc, first = _start_standalone(port, tmp_path)
    try:
        assert f"Embedded AWS running at http://127.0.0.1:{port}" in first, first
        wait_for(lambda: len(records(settings)) == len(READINGS), timeout=60)
        # ...and once: a second normal restart reprocesses nothing into duplicates
        proc.terminate()
        proc.wait(timeout=30)
        proc, first = _start_standalone(port, tmp_path)
        stored = records(settings)
        assert len(stored) == len(READINGS)
        assert {item["source_key"]["S"] for item in stored} == {"raw/2026/01/01/crash.json"}
        hours = site_rollups(settings, SITE, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
        assert [(r.hour[:13], r.readings, r.generated_kwh, r.consumed_kwh) for r in hours] == [
            ("2026-01-01T00", 4, Decimal(10 + 11 + 12 + 13), Decimal(16)),
            ("2026-01-01T01", 4, Decimal(14 + 15 + 16 + 17), Decimal(16)),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_busy_port_with_a_data_dir_says_what_to_do_and_leaves_the_data_alone(tmp_path: Path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = subprocess.run(
            [sys.executable, "-m", "local_aws", "--port", str(busy.getsockname()[1])],
            cwd=ROOT,
            env={**os.environ, "ENERGY_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "already in use" in done.stderr and "ENERGY_LOCAL_PORT" in done.stderr
    assert not (tmp_path / SNAPSHOT).exists()


def test_reset_empties_the_data_dir_so_the_next_start_is_empty(tmp_path: Path):
    data_dir = tmp_path / "data"
    stack = start_stack(Settings.from_env({}), 0, run_lambda=False, data_dir=data_dir)
    raw_files.upload(stack.settings, "raw/2026/01/01/kept.json", json.dumps(READINGS).encode())
    stack.stop()
    assert (data_dir / SNAPSHOT).exists()

    done = subprocess.run(
        [sys.executable, "-m", "local_aws", "--reset"],
        cwd=ROOT,
        env={**os.environ, "ENERGY_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "next start is empty" in done.stdout

    BackendDict.reset()
    again = start_stack(Settings.from_env({}), 0, run_lambda=False, data_dir=data_dir)
    try:
        assert everything(again.settings)["objects"] == {}
    finally:
        again.stop()


def test_reset_refuses_a_directory_that_is_not_the_stacks(tmp_path: Path):
    (tmp_path / "thesis.tex").write_text("precious")
    done = subprocess.run(
        [sys.executable, "-m", "local_aws", "--reset"],
        cwd=ROOT,
        env={**os.environ, "ENERGY_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not removed" in done.stderr
    assert (tmp_path / "thesis.tex").read_text() == "precious"


@pytest.fixture(autouse=True)
def _forget_moto_afterwards():
    """These tests load snapshots into this process's moto: leave it empty for the next test."""
    yield
    BackendDict.reset()
