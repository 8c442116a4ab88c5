"""The Lambda packages proven the way Lambda uses them.

`make lambda-zip` builds build/lambda.zip (the pipeline) and build/simulator.zip (the
scheduled simulator, terraform/simulator.tf); Terraform deploys them by hash, so the build
must be deterministic. Each zip is then imported by a clean interpreter that has nothing on
its path but the zip and boto3 (what the python3.12 runtime provides): the pipeline's
handles a real S3 -> SQS event taken from a moto queue, the simulator's a scheduled event.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_aws.server import EmbeddedServer
from pipeline.ops.alert_history import delivered_alerts
from pipeline.ops.bootstrap import bootstrap
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BUILD_ZIP = REPO / "build" / "lambda.zip"
BUILD_SIMULATOR_ZIP = REPO / "build" / "simulator.zip"
EVENTS = REPO / "tests" / "events"

# What the Lambda Python runtime carries besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

READINGS = [
    {"site_id": "zip-site", "timestamp": "2025-06-01T12:00:00Z", "energy_generated_kwh": 5.5, "energy_consumed_kwh": 2},
    {"site_id": "zip-site", "timestamp": "2025-06-01T12:15:00Z", "energy_generated_kwh": -4, "energy_consumed_kwh": 1},
    {"site_id": "zip-site", "timestamp": "not a time", "energy_generated_kwh": 1, "energy_consumed_kwh": 1},
]

CHILD = r"""
import json, sys
zip_path, runtime_dir, event_path = sys.argv[1:4]
sys.path[:0] = [zip_path, runtime_dir]
import handler
import pipeline
for name, module in (("handler", handler), ("pipeline", pipeline)):
    assert module.__file__.startswith(zip_path), f"{name} came from {module.__file__}, not the zip"
import tzdata, zoneinfo
assert tzdata.__file__.startswith(zip_path), f"tzdata came from {tzdata.__file__}, not the zip"
zoneinfo.reset_tzpath(to=[])  # as on an image without /usr/share/zoneinfo: only the zip's tzdata
assert zoneinfo.ZoneInfo("Europe/Berlin").key == "Europe/Berlin"
for absent in ("moto", "pytest", "streamlit", "pandas"):
    try:
        __import__(absent)
    except ImportError:
        continue
    raise AssertionError(f"{absent} is importable: the interpreter is not clean")

class Context:
    function_name = "energy-pipeline"
    aws_request_id = "zip-test"
    def get_remaining_time_in_millis(self):
        return 60_000

with open(event_path) as handle:
    event = json.load(handle)
print(json.dumps(handler.handler(event, Context())))
"""


SIMULATOR_CHILD = r"""
import json, sys
zip_path, runtime_dir, event_path = sys.argv[1:4]
sys.path[:0] = [zip_path, runtime_dir]
import simulator
import pipeline
for name, module in (("simulator", simulator), ("pipeline", pipeline)):
    assert module.__file__.startswith(zip_path), f"{name} came from {module.__file__}, not the zip"
for absent in ("moto", "pytest", "streamlit", "pandas", "tzdata"):
    try:
        __import__(absent)
    except ImportError:
        continue
    raise AssertionError(f"{absent} is importable: the interpreter is not clean")

class Context:
    function_name = "energy-simulator"
    aws_request_id = "simulator-zip-test"

with open(event_path) as handle:
    event = json.load(handle)
print(json.dumps(simulator.handler(event, Context())))
"""


def build(packager, root: Path, output: Path, package: str = "pipeline") -> bytes:
    packager.write_package(output, root, package)
    return output.read_bytes()


def test_the_package_is_deterministic_and_holds_only_the_sources(packager, tmp_path: Path) -> None:
    # GIVEN two checkouts of the same sources with different mtimes, one with bytecode caches
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        shutil.copytree(REPO / "pipeline", root / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "lambda").mkdir()
        shutil.copy2(REPO / "lambda" / "handler.py", root / "lambda" / "handler.py")
        shutil.copy2(REPO / "lambda" / "simulator.py", root / "lambda" / "simulator.py")
    for path in second.rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o600)
    (second / "pipeline" / "__pycache__").mkdir()
    (second / "pipeline" / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\x00")
    (second / "pipeline" / "stale.pyc").write_bytes(b"\x00")

    # WHEN both are packaged
    one = build(packager, first, tmp_path / "one.zip")
    two = build(packager, second, tmp_path / "two.zip")

    # THEN the bytes are the same, and the zip is Lambda's layout and nothing else
    assert one == two
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "handler.py" in names and "pipeline/__init__.py" in names and "pipeline/settings.py" in names
    assert all(n == "handler.py" or n.startswith(("pipeline/", "tzdata/")) for n in names)
    assert "tzdata/zoneinfo/Europe/Berlin" in names  # the timezone data the Lambda image may lack
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {n for n in names if not n.startswith("tzdata/")} == pipeline_imports(REPO, "handler.py") | {"handler.py"}
    # AND the simulator's package is as deterministic
    assert build(packager, first, tmp_path / "s1.zip", "simulator") == build(
        packager, second, tmp_path / "s2.zip", "simulator"
    )


def pipeline_imports(root: Path, entry: str) -> set[str]:
    """The pipeline modules lambda/<entry> imports, directly or through each other, with the
    __init__.py of every package on the way, read from the sources' import statements (not
    from the packager's rule)."""
    found, todo = {"pipeline/__init__.py"}, [root / "lambda" / entry]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipeline":
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names if alias.name.split(".")[0] == "pipeline"]
            for module in modules:
                parts = module.split(".")
                packages = [root.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]
                path = root / (module.replace(".", "/") + ".py")
                for source in [*packages, path]:
                    if source.is_file() and source.relative_to(root).as_posix() not in found:
                        found.add(source.relative_to(root).as_posix())
                        todo.append(source)
    return found


def test_the_simulator_package_holds_its_entry_and_exactly_what_it_imports(packager, tmp_path: Path) -> None:
    # GIVEN the sources as they are
    # WHEN the simulator's package is built
    build(packager, REPO, tmp_path / "simulator.zip", "simulator")
    with zipfile.ZipFile(tmp_path / "simulator.zip") as archive:
        infos = archive.infolist()
    names = {i.filename for i in infos}
    # THEN it holds simulator.py at its root and the pipeline modules it imports, nothing else:
    # not the processing side, not the rest of the operations side, not tzdata
    assert names == pipeline_imports(REPO, "simulator.py") | {"simulator.py"}
    assert {"pipeline/ops/__init__.py", "pipeline/ops/simulation.py", "pipeline/raw_files.py"} <= names
    assert not names & {"pipeline/processing.py", "pipeline/ops/cli.py", "pipeline/ops/bootstrap.py", "handler.py"}
    assert not [n for n in names if n.startswith("tzdata/")]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert sum(i.file_size for i in infos) < 200_000, "the simulator's package should stay small"


def test_the_package_leaves_out_what_the_function_never_imports(packager) -> None:
    # GIVEN the sources as they are
    # WHEN they are packaged
    names = set(packager.package_files(REPO))
    # THEN the operations side (the stack's creation, the CLI, the simulator...) stays out
    assert not [n for n in names if n.startswith("pipeline/ops/") or n == "pipeline/__main__.py"]
    assert {"pipeline/processing.py", "pipeline/schema.py"} <= names
    assert "pipeline/ops/cli.py" in {p.relative_to(REPO).as_posix() for p in (REPO / "pipeline").rglob("*.py")}


def test_the_built_zip_is_up_to_date(packager, tmp_path: Path) -> None:
    if not BUILD_ZIP.exists():
        pytest.skip("build/lambda.zip is not built here: `make lambda-zip` (part of `make test`) builds it")
    fresh = build(packager, REPO, tmp_path / "fresh.zip")
    assert BUILD_ZIP.read_bytes() == fresh, "build/lambda.zip is stale: run `make lambda-zip`"


def test_the_built_simulator_zip_is_up_to_date(packager, tmp_path: Path) -> None:
    if not BUILD_SIMULATOR_ZIP.exists():
        pytest.skip("build/simulator.zip is not built here: `make lambda-zip` (part of `make test`) builds it")
    fresh = build(packager, REPO, tmp_path / "fresh.zip", "simulator")
    assert BUILD_SIMULATOR_ZIP.read_bytes() == fresh, "build/simulator.zip is stale: run `make lambda-zip`"


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    """boto3 and its dependencies alone in one directory (links into .venv, no network)."""
    directory = tmp_path / "runtime"
    directory.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec and spec.origin, f"{name} is not installed"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return directory


@pytest.fixture
def stack(moto_server: EmbeddedServer) -> Iterator[Settings]:
    moto_server.reset()
    settings = Settings.from_env({}).with_endpoint(moto_server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    yield settings
    moto_server.reset()


def sqs_event(settings: Settings, messages: list[dict]) -> dict:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{settings.region}:123456789012:{settings.queue}",
                "awsRegion": settings.region,
            }
            for m in messages
        ]
    }


def test_the_zip_processes_a_real_s3_event_in_a_clean_interpreter(
    lambda_zip: Path, runtime_dir: Path, stack: Settings, tmp_path: Path
) -> None:
    # GIVEN the package, and a file uploaded to the raw bucket, whose S3 notification moto
    # put on the raw-events queue, plus a message no pipeline can read
    package = lambda_zip
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = session.client("s3", endpoint_url=stack.endpoint_url, region_name=stack.region)
    sqs = session.client("sqs", endpoint_url=stack.endpoint_url, region_name=stack.region)
    key = "raw/2025/06/01/zip test.json"
    s3.put_object(Bucket=stack.bucket, Key=key, Body=json.dumps(READINGS).encode())
    queue_url = sqs.get_queue_url(QueueName=stack.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="this is not an S3 notification")
    messages = []
    for _ in range(10):
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        messages += [m for m in received if "s3:TestEvent" not in m["Body"]]
        if len(messages) >= 2:
            break
    assert len(messages) == 2
    real = next(m for m in messages if "ObjectCreated" in m["Body"])
    assert "zip+test.json" in real["Body"] or "zip%20test.json" in real["Body"], "keys arrive URL-encoded"
    bad = next(m for m in messages if m is not real)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(sqs_event(stack, messages)))

    # WHEN a clean interpreter (-I: no user site or env, -S: no site-packages) runs the
    # handler from the zip with the environment Terraform gives the function
    env = {
        **clean_aws_env(stack),
        "ENERGY_TABLE": stack.table,
        "ENERGY_ROLLUP_TABLE": stack.rollup_table,
        "ENERGY_SITES_TABLE": stack.sites_table,
        "ENERGY_FILES_TABLE": stack.files_table,
        "ENERGY_QUEUE": stack.queue,
        "ENERGY_DLQ": stack.dlq,
        "ENERGY_TOPIC": stack.topic,
        "ENERGY_TOPIC_ARN": f"arn:aws:sns:{stack.region}:123456789012:{stack.topic}",
        "ENERGY_MAX_RECEIVE_COUNT": str(stack.max_receive_count),
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, str(package), str(runtime_dir), str(event_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    # THEN only the unreadable message is reported for retry, and the file's readings are
    # stored, its bad row quarantined and its anomaly alerted
    assert result.returncode == 0, result.stderr[-4000:]
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["MessageId"]}]}
    dynamodb = session.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    items = dynamodb.query(
        TableName=stack.table,
        KeyConditionExpression="site_id = :s",
        ExpressionAttributeValues={":s": {"S": "zip-site"}},
    )["Items"]
    assert [i["timestamp"]["S"] for i in items] == ["2025-06-01T12:00:00Z", "2025-06-01T12:15:00Z"]
    assert [i["anomaly"]["BOOL"] for i in items] == [False, True]
    assert items[0]["net_energy_kwh"]["N"] in {"3.5", "3.500000"}
    rejects = s3.get_object(Bucket=stack.bucket, Key=f"quarantine/{key}.rejects.jsonl")["Body"].read().decode()
    assert "not a time" in rejects
    ledger = dynamodb.get_item(TableName=stack.files_table, Key={"source_key": {"S": key}})["Item"]
    assert ledger["status"]["S"] == "partial"
    alerts = list(delivered_alerts(stack).values())
    assert len(alerts) == 1 and "Anomaly Detected!" in alerts[0].message and "zip-site" in alerts[0].message
    assert ledger["alert_message_id"]["S"] == alerts[0].message_id


def clean_aws_env(stack: Settings) -> dict[str, str]:
    """What a function's clean interpreter sees of the process: a path, the stack's endpoint
    and test credentials, no AWS config files, and the aws backend on the stack's bucket."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": stack.endpoint_url or "",
        "AWS_REGION": stack.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ENERGY_BACKEND": "aws",
        "ENERGY_BUCKET": stack.bucket,
    }


def test_the_simulator_zip_uploads_a_file_in_a_clean_interpreter(
    simulator_zip: Path, runtime_dir: Path, stack: Settings, tmp_path: Path
) -> None:
    # GIVEN the simulator's package and a stack
    # WHEN a clean interpreter runs its handler from the zip on a scheduled event, with the
    # environment terraform/simulator.tf gives the function
    env = {
        **clean_aws_env(stack),
        "ENERGY_SIMULATOR_SITES": "2",
        "ENERGY_SIMULATOR_READINGS_PER_SITE": "3",
        "ENERGY_SIMULATOR_ANOMALY_RATE": "0",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            SIMULATOR_CHILD,
            str(simulator_zip),
            str(runtime_dir),
            str(EVENTS / "eventbridge_scheduled.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    # THEN one file of 2 sites x 3 readings is under raw/, named for the tick
    assert result.returncode == 0, result.stderr[-4000:]
    response = json.loads(result.stdout.strip().splitlines()[-1])
    key = "raw/2026/11/29/sim-20261129T120500000000Z-s0.json"
    assert response == {"key": key, "readings": 6, "anomalies_injected": 0}
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = session.client("s3", endpoint_url=stack.endpoint_url, region_name=stack.region)
    rows = json.loads(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    assert sorted({r["site_id"] for r in rows}) == ["site-1", "site-2"] and len(rows) == 6
