"""terraform itself on terraform/: fmt, validate, and a whole apply -> use -> destroy.

The apply runs against a moto server this test session started on 127.0.0.1, through a
`moto_override.tf` written into a temporary copy of the configuration (the shipped files
stay free of test endpoints). The pipeline then runs on exactly the resources Terraform
created, named by `terraform output`. Where the terraform binary is missing, these skip.

Two things moto does differently from AWS, handled here and nowhere else:
- moto's Lambda cannot run code, and an enabled event source mapping would swallow the
  queue's messages; the override disables the mapping and the test plays it with
  local_aws.runner.Runner, as the embedded stack does.
- moto evaluates the bucket policy's TLS-only Deny without its condition and so refuses
  every object request made over its plain-HTTP endpoint; the test checks the policy
  Terraform created, then removes it before the data flows.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_aws.runner import LambdaContext, Runner
from local_aws.server import EmbeddedServer
from pipeline.ops.simulated_files import SimulatorConfig
from pipeline.schema import table_specs
from pipeline.settings import Settings
from tests.conftest import load_event

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
# Every service the provider calls; kms because it describes the AWS-managed key of the
# tables' encryption, events for the scheduled simulator's rule (simulator.tf). Terraform
# runs with a proxy that refuses everything but 127.0.0.1.
SERVICES = ("cloudwatch", "dynamodb", "events", "iam", "kms", "lambda", "logs", "s3", "sns", "sqs", "sts")
APPLY_TIMEOUT = 600
DESTROY_TIMEOUT = 400

READINGS = [
    {
        "site_id": "tf-site",
        "timestamp": "2025-06-01T12:00:00Z",
        "energy_generated_kwh": 12.5,
        "energy_consumed_kwh": 8.1,
    },
    {"site_id": "tf-site", "timestamp": "2025-06-01T12:15:00Z", "energy_generated_kwh": -2, "energy_consumed_kwh": 3},
    {"site_id": "tf-site", "timestamp": "yesterday-ish", "energy_generated_kwh": 1, "energy_consumed_kwh": 1},
]


def moto_override(endpoint: str) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return f"""# Written by tests/infra/test_terraform_cli.py: talk to the test's moto server only.
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}

# moto's Lambda cannot run code: an enabled mapping would delete messages unprocessed.
resource "aws_lambda_event_source_mapping" "raw_events" {{
  enabled = false
}}
"""


@pytest.fixture
def moto(moto_server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    """The session's moto server, empty before and after (its state is per process)."""
    moto_server.reset()
    yield moto_server
    moto_server.reset()


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's default chain finds only dummy keys: nothing here can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


def test_terraform_files_are_formatted(terraform_at) -> None:
    result = terraform_at(TERRAFORM_DIR).run("fmt", "-check", "-recursive", "-diff", "-no-color", check=False)
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}{result.stderr}"


def test_the_configuration_is_valid(fresh_terraform) -> None:
    result = fresh_terraform.run("validate", "-json", "-no-color", check=False)
    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
    assert report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.slow
def test_plan_refuses_bad_values_with_a_readable_reason(fresh_terraform, moto, lambda_zip, tmp_path: Path) -> None:
    # GIVEN the configuration pointed at moto and a built package
    (fresh_terraform.workdir / "moto_override.tf").write_text(moto_override(moto.endpoint))
    package = lambda_zip
    cases = {
        "name_prefix must be": ["-var=name_prefix=Energy_Data", f"-var=lambda_zip_path={package}"],
        "alert_email must be an email address": ["-var=alert_email=not-an-address", f"-var=lambda_zip_path={package}"],
        "run `make lambda-zip`": [f"-var=lambda_zip_path={tmp_path / 'missing.zip'}"],
        "batches larger than 10 need": [
            "-var=lambda_batch_size=100",
            "-var=lambda_batching_window_seconds=0",
            f"-var=lambda_zip_path={package}",
        ],
        "simulator_schedule must be an EventBridge schedule expression": [
            "-var=simulator_schedule=every 5 minutes",
            f"-var=lambda_zip_path={package}",
        ],
        "must be at most 20000 readings in one file": [
            "-var=simulator_enabled=true",
            "-var=simulator_sites=1000",
            "-var=simulator_readings_per_site=21",
            f"-var=lambda_zip_path={package}",
            f"-var=simulator_zip_path={package}",
        ],
    }
    for reason, variables in cases.items():
        # WHEN a plan gets a bad value
        result = fresh_terraform.run(
            "plan", "-input=false", "-no-color", *variables, timeout=300, check=False, local_only=True
        )
        # THEN it stops and says what to fix
        assert result.returncode == 1, f"plan with {variables} succeeded:\n{result.stdout[-2000:]}"
        assert reason in " ".join(result.stderr.split()), result.stderr[-2000:]


SIMULATOR_PARTS = {
    "aws_cloudwatch_log_group.simulator[0]",
    "aws_iam_role.simulator[0]",
    "aws_iam_role_policy.simulator[0]",
    "aws_lambda_function.simulator[0]",
    "aws_cloudwatch_event_rule.simulator[0]",
    "aws_cloudwatch_event_target.simulator[0]",
    "aws_lambda_permission.simulator[0]",
}


@pytest.mark.slow
def test_the_simulator_is_planned_only_when_enabled_and_on_the_schedule_given(
    fresh_terraform, moto, lambda_zip, simulator_zip
) -> None:
    # GIVEN the configuration pointed at moto and both packages built
    (fresh_terraform.workdir / "moto_override.tf").write_text(moto_override(moto.endpoint))
    packages = (f"-var=lambda_zip_path={lambda_zip}", f"-var=simulator_zip_path={simulator_zip}")

    def planned(*variables: str) -> dict[str, dict]:
        """Address -> planned attributes of every resource the plan would create."""
        fresh_terraform.run(
            "plan", "-input=false", "-no-color", "-out=plan.bin", *packages, *variables, timeout=300, local_only=True
        )
        shown = json.loads(fresh_terraform.run("show", "-json", "plan.bin", local_only=True).stdout)
        return {
            c["address"]: c["change"]["after"]
            for c in shown["resource_changes"]
            if c["change"]["actions"] == ["create"]
        }

    # WHEN it is planned with the defaults, THEN no part of the simulator is in the plan
    off = planned()
    assert "aws_lambda_function.pipeline" in off
    assert not [address for address in off if "simulator" in address]

    # WHEN it is planned with the simulator on and an hourly schedule
    on = planned("-var=simulator_enabled=true", "-var=simulator_schedule=rate(1 hour)")

    # THEN exactly its parts are added: the rule on that schedule, invoking the function,
    # which only that rule may invoke, with its own role and logs
    assert set(on) - set(off) == SIMULATOR_PARTS
    assert set(off) <= set(on)
    rule = on["aws_cloudwatch_event_rule.simulator[0]"]
    assert (rule["name"], rule["schedule_expression"], rule["state"]) == ("energy-simulator", "rate(1 hour)", "ENABLED")
    function = on["aws_lambda_function.simulator[0]"]
    assert (function["function_name"], function["handler"], function["runtime"]) == (
        "energy-simulator",
        "simulator.handler",
        "python3.12",
    )
    assert function["environment"] == [
        {
            "variables": {
                "ENERGY_BACKEND": "aws",
                "ENERGY_BUCKET": "energy-raw-data-123456789012",
                "ENERGY_SIMULATOR_SITES": "5",
                "ENERGY_SIMULATOR_READINGS_PER_SITE": "1",
                "ENERGY_SIMULATOR_ANOMALY_RATE": "0.02",
            }
        }
    ]
    permission = on["aws_lambda_permission.simulator[0]"]
    assert (permission["action"], permission["principal"]) == ("lambda:InvokeFunction", "events.amazonaws.com")
    assert on["aws_cloudwatch_log_group.simulator[0]"]["name"] == "/aws/lambda/energy-simulator"


@pytest.mark.slow
@pytest.mark.timeout(APPLY_TIMEOUT + DESTROY_TIMEOUT + 300)
def test_apply_then_the_pipeline_runs_on_what_terraform_made_then_destroy(
    fresh_terraform, moto, lambda_zip, simulator_zip, shapes, tf, fake_credentials
) -> None:
    # GIVEN the configuration pointed at moto, the example tfvars, and the function packages
    # where the configuration looks by default: build/lambda.zip and build/simulator.zip
    # beside terraform/. The optional scheduled simulator is on in this one apply (a second
    # apply would double the test's time): none of its parts shares a name or prefix with
    # what the assertions below look up, and the plan test shows that it is off by default.
    (fresh_terraform.workdir / "moto_override.tf").write_text(moto_override(moto.endpoint))
    package = fresh_terraform.workdir.parent / "build" / "lambda.zip"
    package.parent.mkdir()
    shutil.copy2(lambda_zip, package)
    simulator_package = package.with_name("simulator.zip")
    shutil.copy2(simulator_zip, simulator_package)
    variables = (
        "-var-file=terraform.tfvars.example",
        "-var=alert_email=alerts@example.com",
        "-var=simulator_enabled=true",
        "-var=simulator_anomaly_rate=0",
    )
    destroyed = False
    try:
        # WHEN terraform applies it
        fresh_terraform.run(
            "apply", "-auto-approve", "-input=false", "-no-color", *variables, timeout=APPLY_TIMEOUT, local_only=True
        )
        outputs = {
            k: v["value"] for k, v in json.loads(fresh_terraform.run("output", "-json", local_only=True).stdout).items()
        }

        # THEN the outputs are the app's whole environment, under the pipeline's default names
        env = outputs["app_environment_variables"]
        pasted = dict(
            line.removeprefix("export ").split("=", 1) for line in outputs["app_environment"].splitlines() if line
        )
        assert pasted == env
        defaults = Settings()
        assert env["ENERGY_BACKEND"] == "aws" and env["AWS_REGION"] == "us-east-1"
        assert env["ENERGY_BUCKET"] == outputs["raw_bucket_name"] == f"{defaults.bucket}-123456789012"
        assert [env[f"ENERGY_{n}"] for n in ("TABLE", "ROLLUP_TABLE", "SITES_TABLE", "FILES_TABLE")] == [
            defaults.table,
            defaults.rollup_table,
            defaults.sites_table,
            defaults.files_table,
        ]
        assert (env["ENERGY_QUEUE"], env["ENERGY_DLQ"], env["ENERGY_TOPIC"]) == (
            defaults.queue,
            defaults.dlq,
            defaults.topic,
        )
        assert env["ENERGY_TOPIC_ARN"] == outputs["alert_topic_arn"]
        settings = Settings.from_env({**env, "AWS_ENDPOINT_URL": moto.endpoint})
        assert settings.backend == "aws" and settings.topic_arn == outputs["alert_topic_arn"]

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

        def aws(service: str):
            return session.client(service, endpoint_url=moto.endpoint, region_name="us-east-1")

        # AND the stack is the one pipeline/ops/bootstrap.py builds (with the email subscription)
        expected = shapes.declared(tf)
        expected["subscriptions"] = ["email"]
        assert shapes.live(settings, aws, settings.bucket) == expected
        assert set(table_specs(settings)) == set(outputs["table_names"].values())

        # AND the function, its mapping, role, logs and alarms are as declared
        function = aws("lambda").get_function(FunctionName=outputs["function_name"])["Configuration"]
        assert (function["Handler"], function["Runtime"], function["Timeout"], function["MemorySize"]) == (
            "handler.handler",
            "python3.12",
            60,
            512,
        )
        assert function["Environment"]["Variables"] == {k: v for k, v in env.items() if k != "AWS_REGION"}
        assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
        assert function["Role"] == outputs["function_role_arn"]
        mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
        (mapping,) = [m for m in mappings if m["FunctionArn"] == outputs["function_arn"]]
        assert mapping["EventSourceArn"] == outputs["raw_events_queue_arn"]
        assert mapping["BatchSize"] == 10
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        iam = aws("iam")
        role_name = outputs["function_role_arn"].rsplit("/", 1)[-1]
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        actions = [
            a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        ]
        assert actions and not [a for a in actions if "*" in a]
        (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=outputs["log_group_name"])["logGroups"]
        assert group["retentionInDays"] == 30
        alarms = aws("cloudwatch").describe_alarms(AlarmNames=outputs["alarm_names"])["MetricAlarms"]
        assert len(alarms) == 4 and all(a["AlarmActions"] == [outputs["alert_topic_arn"]] for a in alarms)

        # AND the bucket is versioned, encrypted, private, TLS-only, expiring quarantine
        s3 = aws("s3")
        bucket = settings.bucket
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert {"Days": 90} in [r.get("Expiration") for r in rules if r["Filter"].get("Prefix") == "quarantine/"]
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport"]
        s3.delete_bucket_policy(Bucket=bucket)  # moto ignores the condition (see the module docstring)

        # WHEN a client uploads a file and the event source mapping's part is played
        sqs = aws("sqs")
        probe_url = sqs.create_queue(QueueName="tf-alert-probe")["QueueUrl"]
        probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws("sns").subscribe(TopicArn=outputs["alert_topic_arn"], Protocol="sqs", Endpoint=probe_arn)
        key = "raw/2025/06/01/terraform apply.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(READINGS).encode(), ContentType="application/json")
        Runner(settings, wait_seconds=1, retry_delay_seconds=0).drain(timeout=60)

        # THEN the readings are stored, the bad row quarantined, the anomaly alerted once
        dynamodb = aws("dynamodb")
        items = dynamodb.query(
            TableName=env["ENERGY_TABLE"],
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues={":s": {"S": "tf-site"}},
        )["Items"]
        assert [(i["timestamp"]["S"], i["anomaly"]["BOOL"]) for i in items] == [
            ("2025-06-01T12:00:00Z", False),
            ("2025-06-01T12:15:00Z", True),
        ]
        assert "anomaly_shard" in items[1] and "anomaly_shard" not in items[0]
        (rollup,) = dynamodb.query(
            TableName=env["ENERGY_ROLLUP_TABLE"],
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues={":s": {"S": "tf-site"}},
        )["Items"]
        assert rollup["day"]["S"] == "2025-06-01" and rollup["hours"]["M"]["12"]["M"]["readings"]["N"] == "2"
        rejects = s3.get_object(Bucket=bucket, Key=f"quarantine/{key}.rejects.jsonl")["Body"].read().decode()
        assert "yesterday-ish" in rejects
        ledger = dynamodb.get_item(TableName=env["ENERGY_FILES_TABLE"], Key={"source_key": {"S": key}})["Item"]
        assert ledger["status"]["S"] == "partial"
        alerts = receive_all(sqs, probe_url)
        assert len(alerts) == 1, alerts
        assert alerts[0]["MessageId"] == ledger["alert_message_id"]["S"]
        assert "Anomaly Detected!" in alerts[0]["Message"] and "Site: tf-site" in alerts[0]["Message"]
        dlq_url = sqs.get_queue_url(QueueName=env["ENERGY_DLQ"])["QueueUrl"]
        depth = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"

        # AND the scheduled simulator is wired as declared: its rule, on the example's
        # schedule, invokes its function, which nothing else may invoke, under a role that
        # may only upload raw files and write its logs
        simulator = aws("lambda").get_function(FunctionName=outputs["simulator_function_name"])["Configuration"]
        assert (simulator["Handler"], simulator["Runtime"]) == ("simulator.handler", "python3.12")
        digest = hashlib.sha256(simulator_package.read_bytes()).digest()
        assert simulator["CodeSha256"] == base64.b64encode(digest).decode()
        events = aws("events")
        rule = events.describe_rule(Name=outputs["simulator_schedule_rule_name"])
        assert (rule["ScheduleExpression"], rule["State"]) == ("rate(5 minutes)", "ENABLED")
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == simulator["FunctionArn"]
        (grant,) = json.loads(aws("lambda").get_policy(FunctionName=simulator["FunctionName"])["Policy"])["Statement"]
        assert grant["Principal"] == {"Service": "events.amazonaws.com"}
        assert grant["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
        (simulator_group,) = aws("logs").describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{simulator['FunctionName']}"
        )["logGroups"]
        assert simulator_group["retentionInDays"] == 30
        simulator_role = simulator["Role"].rsplit("/", 1)[-1]
        (simulator_policy,) = iam.list_role_policies(RoleName=simulator_role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=simulator_role, PolicyName=simulator_policy)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        granted = sorted(
            (action, resource)
            for s in document["Statement"]
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            for resource in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        )
        assert granted == [
            ("logs:CreateLogStream", f"{simulator_group['arn'].removesuffix(':*')}:*"),
            ("logs:PutLogEvents", f"{simulator_group['arn'].removesuffix(':*')}:*"),
            ("s3:PutObject", f"arn:aws:s3:::{bucket}/raw/*"),
        ]

        # WHEN a tick invokes it (moto's Lambda cannot run code: it runs here, with the
        # environment Terraform gave the function) and the event source mapping's part is played
        simulator_env = simulator["Environment"]["Variables"]
        response = simulator_handler()(
            load_event("eventbridge_scheduled.json"),
            LambdaContext(function_name=simulator["FunctionName"]),
            settings=Settings.from_env({**simulator_env, "AWS_ENDPOINT_URL": moto.endpoint}),
            config=SimulatorConfig.from_env(simulator_env),
        )
        Runner(settings, wait_seconds=1, retry_delay_seconds=0).drain(timeout=60)

        # THEN its file is under raw/ of the stack's bucket, and the pipeline stored one
        # reading of each of the 5 sites (the example's simulator_sites) for the tick
        simulated_key = "raw/2026/11/29/sim-20261129T120500000000Z-s0.json"
        assert response["key"] == simulated_key and response["readings"] == 5
        for site in ("site-1", "site-2", "site-3", "site-4", "site-5"):
            stored = dynamodb.query(
                TableName=env["ENERGY_TABLE"],
                KeyConditionExpression="site_id = :s",
                ExpressionAttributeValues={":s": {"S": site}},
            )["Items"]
            assert [(i["timestamp"]["S"], i["source_key"]["S"]) for i in stored] == [
                ("2026-11-29T12:00:00Z", simulated_key)
            ]
        ledger = dynamodb.get_item(TableName=env["ENERGY_FILES_TABLE"], Key={"source_key": {"S": simulated_key}})
        assert ledger["Item"]["status"]["S"] == "processed"

        # WHEN the stack is torn down as docs/deploying.md's Teardown section says: empty the versioned bucket, destroy
        sqs.delete_queue(QueueUrl=probe_url)
        empty_versioned_bucket(s3, bucket)
        fresh_terraform.run(
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            *variables,
            timeout=DESTROY_TIMEOUT,
            local_only=True,
        )
        destroyed = True

        # THEN nothing is left, in the state or in "AWS"
        assert fresh_terraform.run("state", "list", local_only=True).stdout.strip() == ""
        assert not set(table_specs(settings)) & set(dynamodb.list_tables()["TableNames"])
        assert not sqs.list_queues().get("QueueUrls")
        assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert not aws("lambda").list_functions()["Functions"]
        assert not events.list_rules()["Rules"]
    finally:
        if not destroyed and (fresh_terraform.workdir / "terraform.tfstate").exists():
            try:  # leave nothing behind in moto, whatever failed above
                fresh_terraform.run(
                    "destroy",
                    "-auto-approve",
                    "-no-color",
                    *variables,
                    timeout=DESTROY_TIMEOUT,
                    check=False,
                    local_only=True,
                )
            except Exception as exc:  # the failure above is the one to report
                print(f"cleanup destroy failed: {exc}")


def simulator_handler():
    """lambda/simulator.py's handler, imported by path (`lambda` is a keyword, not a package)."""
    spec = importlib.util.spec_from_file_location("energy_lambda_simulator", REPO / "lambda" / "simulator.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def receive_all(sqs, url: str, wait: float = 10) -> list[dict]:
    """Every SNS envelope on the probe queue; waits up to `wait` seconds for the first."""
    deadline, found = time.monotonic() + wait, []
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        found += [json.loads(m["Body"]) for m in messages]
        if found and not messages:
            break
    return found


def empty_versioned_bucket(s3, bucket: str) -> None:
    """Delete every version and delete marker: what `terraform destroy` needs first."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
