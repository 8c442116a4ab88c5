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
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_aws.runner import Runner
from local_aws.server import EmbeddedServer
from pipeline.schema import table_specs
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
# Every service the provider calls; kms because it describes the AWS-managed key of the
# tables' encryption. Terraform runs with a proxy that refuses everything but 127.0.0.1.
SERVICES = ("cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "s3", "sns", "sqs", "sts")
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
    }
    for reason, variables in cases.items():
        # WHEN a plan gets a bad value
        result = fresh_terraform.run(
            "plan", "-input=false", "-no-color", *variables, timeout=300, check=False, local_only=True
        )
        # THEN it stops and says what to fix
        assert result.returncode == 1, f"plan with {variables} succeeded:\n{result.stdout[-2000:]}"
        assert reason in " ".join(result.stderr.split()), result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(APPLY_TIMEOUT + DESTROY_TIMEOUT + 300)
def test_apply_then_the_pipeline_runs_on_what_terraform_made_then_destroy(
    fresh_terraform, moto, lambda_zip, shapes, tf, fake_credentials
) -> None:
    # GIVEN the configuration pointed at moto, the example tfvars, and the function package
    # where the configuration looks by default: build/lambda.zip beside terraform/
    (fresh_terraform.workdir / "moto_override.tf").write_text(moto_override(moto.endpoint))
    package = fresh_terraform.workdir.parent / "build" / "lambda.zip"
    package.parent.mkdir()
    shutil.copy2(lambda_zip, package)
    variables = ("-var-file=terraform.tfvars.example", "-var=alert_email=alerts@example.com")
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
