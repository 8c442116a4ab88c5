"""`python -m local_aws` shared by another process, as docs/cli.md describes."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from local_aws.server import PortInUse, start_server
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def standalone_stack(tmp_path):
    port = free_port()
    env = {**os.environ, "ENERGY_LOCAL_PORT": str(port), "ENERGY_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_aws"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in first, first
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_in_another_process_uses_the_shared_stack(standalone_stack):
    env = {**os.environ, "ENERGY_BACKEND": "local", "AWS_ENDPOINT_URL": standalone_stack}

    def pipeline(*args):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    upload = json.loads(pipeline("simulate", "--sites", "1", "--readings", "3", "--seed", "4"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the stack's own runner processes the file
        records = json.loads(pipeline("records", "--site", "site-1", "--format", "json"))
        # the file's readings (3, or 4 when the simulator adds a reading from a wrong clock),
        # and any estimates for the gaps its anomalies leave
        readings = [r for r in records if r["estimate_method"] is None]
        if len(readings) == upload["readings"]:
            break
        time.sleep(0.3)
    assert 3 <= len(readings) == upload["readings"] and all(r["source_key"] == upload["key"] for r in records)


def test_a_busy_port_fails_fast_with_a_clear_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(PortInUse, match="already in use"):
            start_server(busy.getsockname()[1])


def test_a_failed_transaction_undoes_no_other_request_s_write(settings):
    """moto restores whole tables when a transaction's condition fails; the embedded server
    must not let that undo writes made by other requests meanwhile."""
    import threading

    from pipeline.aws import client
    from pipeline.dynamo import marshal

    dynamodb = client(settings, "dynamodb")
    table = settings.sites_table
    dynamodb.put_item(TableName=table, Item=marshal({"site_id": "counted", "n": 0}))
    dynamodb.put_item(TableName=table, Item=marshal({"site_id": "held", "lease": "someone"}))
    increments, done = 150, threading.Event()

    def failing_claims() -> None:
        while not done.is_set():
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": marshal({"site_id": "held"}),
                                "UpdateExpression": "SET lease = :me",
                                "ConditionExpression": "attribute_not_exists(lease)",
                                "ExpressionAttributeValues": marshal({":me": "me"}),
                            }
                        }
                    ]
                )
            except dynamodb.exceptions.TransactionCanceledException:
                pass

    claimers = [threading.Thread(target=failing_claims) for _ in range(2)]
    for thread in claimers:
        thread.start()
    try:
        for _ in range(increments):
            dynamodb.update_item(
                TableName=table,
                Key=marshal({"site_id": "counted"}),
                UpdateExpression="SET n = n + :one",
                ExpressionAttributeValues=marshal({":one": 1}),
            )
    finally:
        done.set()
        for thread in claimers:
            thread.join(10)
    item = dynamodb.get_item(TableName=table, Key=marshal({"site_id": "counted"}), ConsistentRead=True)["Item"]
    assert item["n"] == {"N": str(increments)}
