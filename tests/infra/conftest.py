"""Fixtures of the infrastructure tests: the parsed Terraform, the terraform CLI, shapes.

The HCL is read with python-hcl2 into the classic shape (strings unquoted, nested blocks as
lists, expressions as `${...}` text). `TerraformConfig.resolve` evaluates the simple
expressions names are made of (variable defaults and locals), which is enough to compare
the names Terraform declares with the defaults in pipeline/settings.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from pipeline.schema import table_specs
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
PACKAGER = REPO / "scripts" / "package_lambda.py"

# Which resource in tables.tf plays which table of pipeline/settings.py.
TABLE_ROLES = {"records": "table", "rollups": "rollup_table", "sites": "sites_table", "files": "files_table"}

_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_REFERENCE = re.compile(r"\$\{(var|local)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}")


@dataclass
class TerraformConfig:
    """Every top-level block of the *.tf files of one directory, merged by kind."""

    directory: Path
    files: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> TerraformConfig:
        files = {}
        for path in sorted(directory.glob("*.tf")):
            with path.open() as handle:
                files[path.name] = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
        config = cls(directory, files)
        for parsed in files.values():
            for block in parsed.get("resource", []):
                for kind, named in block.items():
                    config.resources.setdefault(kind, {}).update(named)
            for block in parsed.get("data", []):
                for kind, named in block.items():
                    config.data.setdefault(kind, {}).update(named)
            for block in parsed.get("variable", []):
                config.variables.update(block)
            for block in parsed.get("output", []):
                config.outputs.update(block)
            for block in parsed.get("locals", []):
                config.locals.update(block)
            for block in parsed.get("provider", []):
                config.providers.update(block)
            for block in parsed.get("terraform", []):
                config.terraform.update(block)
        return config

    table_roles = TABLE_ROLES
    hcl_options = _HCL_OPTIONS

    @staticmethod
    def unwrap(expression: Any) -> Any:
        return unwrap(expression)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        assert name in self.resources.get(kind, {}), f"terraform/ declares no {kind}.{name}"
        return self.resources[kind][name]

    def policy_document(self, name: str) -> list[dict[str, Any]]:
        """The statements of data.aws_iam_policy_document.<name>."""
        assert name in self.data.get("aws_iam_policy_document", {}), f"no policy document {name}"
        return self.data["aws_iam_policy_document"][name]["statement"]

    def default(self, variable: str) -> Any:
        return self.variables[variable].get("default")

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """`value` with var.* replaced by defaults and local.* by their (resolved) values."""
        if depth > 20 or not isinstance(value, str):
            return value
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return self.resolve(self._lookup(*whole.groups()), depth + 1)

        def substitute(match: re.Match[str]) -> str:
            found = self.resolve(self._lookup(*match.groups()), depth + 1)
            return str(found) if isinstance(found, (str, int)) else match.group(0)

        return _REFERENCE.sub(substitute, value)

    def _lookup(self, kind: str, name: str, attribute: str | None) -> Any:
        source = self.variables.get(name, {}).get("default") if kind == "var" else self.locals.get(name)
        if attribute is not None:
            return source.get(attribute) if isinstance(source, Mapping) else None
        return source


def unwrap(expression: Any) -> Any:
    """`${x}` -> `x`, for comparing expressions written in the HCL."""
    if isinstance(expression, str) and expression.startswith("${") and expression.endswith("}"):
        return expression[2:-1]
    return expression


@pytest.fixture(scope="session")
def tf() -> TerraformConfig:
    return TerraformConfig.load(TERRAFORM_DIR)


@pytest.fixture(scope="session")
def default_settings() -> Settings:
    """The settings of a process with no configuration: what Terraform's defaults must match."""
    return Settings()


@pytest.fixture(scope="session")
def lambda_zip(packager: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The function package: build/lambda.zip when `make lambda-zip` left it current, else
    the same bytes built afresh (the packager is deterministic)."""
    fresh = tmp_path_factory.mktemp("package") / "lambda.zip"
    packager.write_package(fresh, REPO)
    built = REPO / "build" / "lambda.zip"
    return built if built.is_file() and built.read_bytes() == fresh.read_bytes() else fresh


@pytest.fixture(scope="session")
def simulator_zip(packager: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scheduled simulator's package, found or built as `lambda_zip` is."""
    fresh = tmp_path_factory.mktemp("package") / "simulator.zip"
    packager.write_package(fresh, REPO, "simulator")
    built = REPO / "build" / "simulator.zip"
    return built if built.is_file() and built.read_bytes() == fresh.read_bytes() else fresh


@pytest.fixture(scope="session")
def packager() -> ModuleType:
    """scripts/package_lambda.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("package_lambda", PACKAGER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- shapes: what a stack looks like, for comparing Terraform, bootstrap and moto ------------


def declared_shape(config: TerraformConfig) -> dict[str, Any]:
    """The stack terraform/ declares, with default variables, in the form `live_shape` reads."""
    tables = {}
    for role in TABLE_ROLES:
        table = config.resource("aws_dynamodb_table", role)
        tables[config.resolve(table["name"])] = {
            "hash_key": table["hash_key"],
            "range_key": table.get("range_key"),
            "attributes": sorted((a["name"], a["type"]) for a in table.get("attribute", [])),
            "indexes": sorted(
                (i["name"], i["hash_key"], i.get("range_key"), i["projection_type"])
                for i in table.get("global_secondary_index", [])
            ),
            "billing_mode": table["billing_mode"],
        }
    queue = config.resource("aws_sqs_queue", "raw_events")
    dlq = config.resource("aws_sqs_queue", "raw_events_dlq")
    redrive = unwrap(queue["redrive_policy"])
    target = re.search(r"deadLetterTargetArn\s*=\s*aws_sqs_queue\.(\w+)\.arn", redrive)
    receive_count = re.search(r"maxReceiveCount\s*=\s*var\.(\w+)", redrive)
    assert target and receive_count, f"unexpected redrive policy: {redrive}"
    notification = config.resource("aws_s3_bucket_notification", "raw")["queue"]
    subscriptions = config.resource("aws_sns_topic_subscription", "alert_email")
    email_count = 0 if config.default("alert_email") is None else 1
    return {
        "tables": tables,
        "queue": {
            "name": config.resolve(queue["name"]),
            "visibility_timeout": int(_evaluate_product(config, config.resolve(queue["visibility_timeout_seconds"]))),
            "retention": int(queue["message_retention_seconds"]),
            "dead_letter_queue": config.resolve(config.resource("aws_sqs_queue", target.group(1))["name"]),
            "max_receive_count": int(config.default(receive_count.group(1))),
        },
        "dlq": {"name": config.resolve(dlq["name"]), "retention": int(dlq["message_retention_seconds"])},
        "notifications": sorted(
            (_queue_name(config, n["queue_arn"]), tuple(n["events"]), config.resolve(n["filter_prefix"]))
            for n in notification
        ),
        "topic": config.resolve(config.resource("aws_sns_topic", "alerts")["name"]),
        "subscriptions": [subscriptions["protocol"]] * email_count,
    }


def _queue_name(config: TerraformConfig, arn_expression: str) -> str:
    """`${aws_sqs_queue.x.arn}` -> the default name of that queue."""
    match = re.fullmatch(r"aws_sqs_queue\.(\w+)\.arn", unwrap(arn_expression))
    assert match, f"not a queue ARN reference: {arn_expression}"
    return config.resolve(config.resource("aws_sqs_queue", match.group(1))["name"])


def _evaluate_product(config: TerraformConfig, expression: Any) -> int:
    """`${var.x * 6}` (or a number) -> its value with the variable's default."""
    if isinstance(expression, int):
        return expression
    match = re.fullmatch(r"\$\{var\.(\w+)\s*\*\s*(\d+)\}", str(expression))
    assert match, f"cannot evaluate {expression!r}"
    return int(config.default(match.group(1))) * int(match.group(2))


def live_shape(settings: Settings, clients: Callable[[str], Any], bucket: str) -> dict[str, Any]:
    """The same shape read back from a running endpoint, for the names in `settings`."""
    dynamodb, sqs, s3, sns = (clients(s) for s in ("dynamodb", "sqs", "s3", "sns"))
    tables = {}
    for name in table_specs(settings):
        table = dynamodb.describe_table(TableName=name)["Table"]
        hash_key, range_key = _keys(table["KeySchema"])
        tables[name] = {
            "hash_key": hash_key,
            "range_key": range_key,
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
            "indexes": sorted(
                (i["IndexName"], *_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                for i in table.get("GlobalSecondaryIndexes", [])
            ),
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
        }

    def attributes(name: str) -> dict[str, str]:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    queue, dlq = attributes(settings.queue), attributes(settings.dlq)
    redrive = json.loads(queue["RedrivePolicy"])
    queue_names = {attributes(n)["QueueArn"]: n for n in (settings.queue, settings.dlq)}
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications = sorted(
        (
            queue_names.get(q["QueueArn"], q["QueueArn"]),
            tuple(q["Events"]),
            next(r["Value"] for r in q["Filter"]["Key"]["FilterRules"] if r["Name"].lower() == "prefix"),
        )
        for q in configuration.get("QueueConfigurations", [])
    )
    topics = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
    topic_arn = next(arn for arn in topics if arn.rsplit(":", 1)[-1] == settings.topic)
    subscriptions = [
        s["Protocol"]
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for s in page["Subscriptions"]
    ]
    return {
        "tables": tables,
        "queue": {
            "name": settings.queue,
            "visibility_timeout": int(queue["VisibilityTimeout"]),
            "retention": int(queue["MessageRetentionPeriod"]),
            "dead_letter_queue": queue_names[redrive["deadLetterTargetArn"]],
            "max_receive_count": int(redrive["maxReceiveCount"]),
        },
        "dlq": {"name": settings.dlq, "retention": int(dlq["MessageRetentionPeriod"])},
        "notifications": notifications,
        "topic": topic_arn.rsplit(":", 1)[-1],
        "subscriptions": sorted(subscriptions),
    }


def _keys(schema: list[dict[str, str]]) -> tuple[str, str | None]:
    keys = {k["KeyType"]: k["AttributeName"] for k in schema}
    return keys["HASH"], keys.get("RANGE")


@dataclass(frozen=True)
class Shapes:
    declared: Callable[[TerraformConfig], dict[str, Any]]
    live: Callable[[Settings, Callable[[str], Any], str], dict[str, Any]]


@pytest.fixture(scope="session")
def shapes() -> Shapes:
    """`shapes.declared(tf)` and `shapes.live(settings, clients, bucket)`."""
    return Shapes(declared_shape, live_shape)


# --- the terraform CLI -----------------------------------------------------------------------


def cli_config_file() -> Path | None:
    """The Terraform CLI config `make tf-cli-config` wrote (provider mirror), if any."""
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).is_file():
        return Path(configured)
    built = REPO / "build" / "terraformrc"
    return built if built.is_file() else None


# A proxy on the discard port refuses every connection: with it, anything but loopback
# (which Go never proxies) fails at once instead of leaving the machine.
_NOWHERE = "http://127.0.0.1:9"


def terraform_env(local_only: bool = False) -> dict[str, str]:
    """A clean environment for terraform: no AWS credentials or profiles of the caller leak in,
    and with `local_only` no request can reach anything but 127.0.0.1."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    if local_only:
        env.update(HTTP_PROXY=_NOWHERE, HTTPS_PROXY=_NOWHERE, NO_PROXY="127.0.0.1,localhost")
    env.update(
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    config = cli_config_file()
    if config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


@dataclass
class TerraformCLI:
    binary: str
    workdir: Path

    def run(
        self, *args: str, timeout: float = 300, check: bool = True, local_only: bool = False
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args],
            cwd=self.workdir,
            env=terraform_env(local_only),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result


@pytest.fixture(scope="session")
def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("the terraform binary is not on PATH: fmt, validate and apply are checked where it is installed")
    return binary


def copy_configuration(destination: Path) -> Path:
    """terraform/ without any local state, so tests never touch the repository's directory."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in TERRAFORM_DIR.iterdir():
        if path.is_file() and (path.suffix == ".tf" or path.name.endswith(".tfvars.example")):
            shutil.copy2(path, destination / path.name)
    return destination


@pytest.fixture(scope="session")
def terraform_at(terraform_binary: str) -> Callable[[Path], TerraformCLI]:
    """`terraform_at(directory)`: the terraform CLI working in `directory`."""
    return lambda directory: TerraformCLI(terraform_binary, directory)


def _init_key(binary: str) -> str:
    """What an init depends on: the configuration, the CLI config (provider mirror) and the binary."""
    digest = hashlib.sha256(binary.encode())
    config = cli_config_file()
    for path in sorted(TERRAFORM_DIR.glob("*.tf")) + ([config] if config else []):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def initialised_terraform(terraform_at: Callable[[Path], TerraformCLI], terraform_binary: str) -> Path:
    """One `terraform init` per configuration, shared by every test and every xdist worker:
    the first to take the lock initialises build/terraform-init/<key>/, the others reuse it."""
    shared = REPO / "build" / "terraform-init"
    shared.mkdir(parents=True, exist_ok=True)
    done = shared / _init_key(terraform_binary)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done / ".terraform.lock.hcl").is_file():
            shutil.rmtree(done, ignore_errors=True)
            cli = terraform_at(copy_configuration(done))
            cli.run("init", "-backend=false", "-input=false", "-no-color", timeout=300)
    return done


@pytest.fixture
def fresh_terraform(
    terraform_at: Callable[[Path], TerraformCLI], initialised_terraform: Path, tmp_path: Path
) -> TerraformCLI:
    """An initialised copy of terraform/ in tmp_path: the shared init's provider links and
    lock file, so each test has its own state and files without running init again."""
    workdir = copy_configuration(tmp_path / "terraform")
    shutil.copytree(initialised_terraform / ".terraform", workdir / ".terraform", symlinks=True)
    shutil.copy2(initialised_terraform / ".terraform.lock.hcl", workdir / ".terraform.lock.hcl")
    return terraform_at(workdir)
