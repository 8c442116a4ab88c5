"""Processes die mid-file: a worker killed with -9, and the whole embedded AWS killed with -9.

Everything runs as separate processes on 127.0.0.1 ports the test picked, as an operator
would run them: `python -m local_aws --in-memory --no-runner` serving the stack and
`python -m local_aws --runner-only` playing Lambda against it, or `python -m local_aws`
with a data directory doing both. Each is killed with SIGKILL (no clean-up of any kind)
once some but not all of the work is stored, then started again, and the files must end
stored once, with verify clean.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import raw_files
from pipeline.aws import client
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.verify import verify
from pipeline.progress import load_progress
from pipeline.settings import Settings
from pipeline.site_claims import LEASE_SECONDS
from tests.conftest import ROOT, wait_for
from tests.integration.test_local_stack import free_port
from tests.reliability.workload import SITES, file_key, file_rows, queue_url, queued, register_sites, state

CHUNK_READINGS = 200
BIG_FILE_READINGS = 1_700  # per site: 5,100 readings, 26 chunks of 200
VISIBILITY_SECONDS = 20  # the raw-events queue's, lowered for the test (the stack's default is 360 s)
START_SECONDS = 30

pytestmark = pytest.mark.slow


class Processes:
    """The processes a test started, killed at the end whatever happened."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_"))}
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_aws", *args],
            cwd=ROOT,
            env=clean | env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.started.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.fixture
def processes() -> Iterator[Processes]:
    running = Processes()
    yield running
    for proc in running.started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)


def first_line(proc: subprocess.Popen[str], expected: str) -> str:
    line = proc.stdout.readline() if proc.stdout else ""
    assert expected in line, f"{proc.args} printed {line!r}"
    return line


def stored_count(settings: Settings, sites: tuple[str, ...] = SITES) -> int:
    dynamodb = client(settings, "dynamodb")
    total = 0
    for site in sites:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=settings.table,
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues={":s": {"S": site}},
            Select="COUNT",
        )
        total += sum(page["Count"] for page in pages)
    return total


def test_a_worker_killed_mid_file_is_taken_over_by_a_new_one(processes: Processes):
    # GIVEN the stack in one process, with the queue's visibility lowered to 20 s
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    first_line(processes.start("--in-memory", "--no-runner", "--port", str(port)), f"running at {endpoint}")
    settings = Settings.from_env({}).with_endpoint(endpoint)
    sqs = client(settings, "sqs")
    sqs.set_queue_attributes(QueueUrl=queue_url(settings), Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)})
    register_sites(settings)
    # AND a worker in another process storing a 5,100-reading file in chunks of 200
    worker_env = {"AWS_ENDPOINT_URL": endpoint, "ENERGY_CHUNK_READINGS": str(CHUNK_READINGS)}
    worker = processes.start("--runner-only", **worker_env)
    first_line(worker, "Lambda runner polling")
    rows = file_rows(1, BIG_FILE_READINGS)  # with one negative generation: one alert
    key = file_key(1)
    version = raw_files.upload(settings, key, json.dumps(rows).encode())

    # WHEN the worker is killed with -9 once some chunks are stored
    wait_for(lambda: (p := load_progress(settings, key, version)) and p.chunks_done >= 3, timeout=60, interval=0.05)
    Processes.kill(worker)
    killed_at = time.monotonic()
    stored_at_kill = stored_count(settings)
    assert 0 < stored_at_kill < len(rows), f"{stored_at_kill} of {len(rows)} stored when killed: not mid-file"
    assert key not in file_outcomes(settings, [key])
    # AND a new worker starts
    first_line(processes.start("--runner-only", **worker_env), "Lambda runner polling")

    # THEN the file completes within the message's visibility and the lease, not minutes
    bound = VISIBILITY_SECONDS + LEASE_SECONDS + 30
    outcome = wait_for(lambda: file_outcomes(settings, [key]).get(key), timeout=bound, interval=0.25)
    took = time.monotonic() - killed_at
    # AND every reading is stored once, from this file, with the rollups, ledger and sites right
    assert outcome.status == "processed" and outcome.readings == len(rows), outcome
    after = state(settings, [key])
    assert len(after["records"]) == len(rows) == stored_count(settings)
    expected = {(r["site_id"], r["timestamp"]) for r in rows}
    assert {(r["site_id"], r["timestamp"]) for r in after["records"]} == expected
    assert {r["source_key"] for r in after["records"]} == {key}
    assert after["sites left held"] == []
    assert after["alerts per file"] == {key: 1}
    wait_for(lambda: queued(settings) == 0, timeout=VISIBILITY_SECONDS + 10)
    report = verify(settings, settle_seconds=0)
    assert report.ok, report.findings
    print(f"killed with {stored_at_kill}/{len(rows)} readings stored; completed {took:.1f}s after the kill")


def test_the_embedded_aws_killed_mid_run_restarts_and_finishes_every_file_once(processes: Processes, tmp_path: Path):
    # GIVEN `python -m local_aws` with a data directory, processing ten files
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    data_dir = str(tmp_path / "data")
    # a message in flight at the kill comes back once its visibility runs out: 20 s, not the
    # stack's 360 s, so the wait below bounds the run whenever the kill lands (set through the
    # environment: the restarted stack's bootstrap sets the queue's visibility again)
    visibility = {"ENERGY_QUEUE_VISIBILITY_SECONDS": str(VISIBILITY_SECONDS)}
    stack = processes.start("--port", str(port), ENERGY_DATA_DIR=data_dir, **visibility)
    first_line(stack, f"running at {endpoint}")
    settings = Settings.from_env({}).with_endpoint(endpoint)
    register_sites(settings)
    files = {file_key(n): file_rows(n, 300) for n in range(10)}
    for key, rows in files.items():
        raw_files.upload(settings, key, json.dumps(rows).encode())

    # WHEN the whole stack is killed with -9 once some files are done and others are not
    wait_for(lambda: file_outcomes(settings, list(files)), timeout=60, interval=0.05)
    Processes.kill(stack)
    # (what was done at the kill is read back after the restart: the stack is gone now)
    # AND it starts again on the same data directory and port
    stack = processes.start("--port", str(port), ENERGY_DATA_DIR=data_dir, **visibility)
    first_line(stack, f"running at {endpoint}")
    sqs = client(settings, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url(settings), AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == str(VISIBILITY_SECONDS)
    done_at_restart = len(file_outcomes(settings, list(files)))
    assert done_at_restart < len(files), "every file was done before the kill: the test proves nothing"

    # THEN every file ends processed, its readings stored once, and verify is clean
    wait_for(lambda: len(file_outcomes(settings, list(files))) == len(files), timeout=180, interval=0.5)
    # a message in flight when a snapshot was taken comes back only once its visibility runs
    # out, and finds its file done
    wait_for(lambda: queued(settings) == 0, timeout=180, interval=0.5)
    after = state(settings, sorted(files))
    assert all(o and o["status"] == "processed" for o in after["outcomes"].values()), after["outcomes"]
    expected = sorted((r["site_id"], r["timestamp"], key) for key, rows in files.items() for r in rows)
    assert sorted((r["site_id"], r["timestamp"], r["source_key"]) for r in after["records"]) == expected
    assert after["sites left held"] == []
    report = verify(settings, settle_seconds=0)
    assert report.ok, report.findings
    print(f"{done_at_restart} of {len(files)} files had their outcome kept at the kill")


def test_a_runner_with_no_stack_to_attach_to_says_so():
    # GIVEN nothing listening on a free port
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_"))}
    # WHEN a runner is started for it
    done = subprocess.run(
        [sys.executable, "-m", "local_aws", "--runner-only", "--port", str(port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_SECONDS * 2,
    )
    # THEN it exits at once with a sentence naming the endpoint, not a traceback
    assert done.returncode == 2, done.stderr
    assert f"no stack to run for at http://127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
