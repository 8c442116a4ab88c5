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
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_aws.runner import LambdaContext, Runner
from local_aws.server import EmbeddedServer
from pipeline import lake
from pipeline.ops.simulated_files import SimulatorConfig
from pipeline.schema import table_specs
from pipeline.settings import Settings
from tests.conftest import load_event

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
# Every service the provider calls; kms because it describes the AWS-managed key of the
# tables' encryption, events for the scheduled simulator's and the lake compaction's rules,
# glue and athena for the data lake's catalog and workgroup (lake.tf). Terraform runs with
# a proxy that refuses everything but 127.0.0.1.
SERVICES = (
    "athena",
    "cloudwatch",
    "dynamodb",
    "events",
    "glue",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sns",
    "sqs",
    "sts",
)
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
  # The provider builds some ARNs itself (the Athena workgroup's, for its tags) with the
  # account id it asked STS for: moto's STS answers 123456789012, as in moto's own ARNs.
  skip_requesting_account_id  = false
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
        "at least 10485760 (10 MB, Athena's minimum)": [
            "-var=athena_bytes_scanned_cutoff_per_query=1000000",
            f"-var=lambda_zip_path={package}",
        ],
        "lake_readings_start_date must be a date written YYYY-MM-DD": [
            "-var=lake_readings_start_date=2026-02-30",
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
        return planned_creations(fresh_terraform, *packages, *variables)

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


COMPACTION_PARTS = {
    "aws_cloudwatch_log_group.lake_compaction[0]",
    "aws_iam_role.lake_compaction[0]",
    "aws_iam_role_policy.lake_compaction[0]",
    "aws_lambda_function.lake_compaction[0]",
    "aws_cloudwatch_event_rule.lake_compaction[0]",
    "aws_cloudwatch_event_target.lake_compaction[0]",
    "aws_lambda_permission.lake_compaction[0]",
}


def planned_creations(cli, *variables: str) -> dict[str, dict]:
    """Address -> planned attributes of every resource a plan with `variables` would create."""
    cli.run("plan", "-input=false", "-no-color", "-out=plan.bin", *variables, timeout=300, local_only=True)
    shown = json.loads(cli.run("show", "-json", "plan.bin", local_only=True).stdout)
    return {
        c["address"]: c["change"]["after"] for c in shown["resource_changes"] if c["change"]["actions"] == ["create"]
    }


@pytest.mark.slow
def test_the_lake_is_planned_with_compaction_unless_switched_off_and_the_view_athena_reads(
    fresh_terraform, moto, lambda_zip
) -> None:
    # GIVEN the configuration pointed at moto and the pipeline's package built
    (fresh_terraform.workdir / "moto_override.tf").write_text(moto_override(moto.endpoint))
    package = f"-var=lambda_zip_path={lambda_zip}"

    # WHEN it is planned with the defaults
    on = planned_creations(fresh_terraform, package)

    # THEN the compaction is in it, on the hourly schedule, with the pipeline's package
    assert set(on) >= COMPACTION_PARTS
    assert on["aws_cloudwatch_event_rule.lake_compaction[0]"]["schedule_expression"] == "rate(1 hour)"
    compaction = on["aws_lambda_function.lake_compaction[0]"]
    pipeline = on["aws_lambda_function.pipeline"]
    assert compaction["handler"] == "handler.compact" and compaction["reserved_concurrent_executions"] == -1
    assert (compaction["filename"], compaction["source_code_hash"]) == (
        pipeline["filename"],
        pipeline["source_code_hash"],
    )
    # AND the view Terraform renders decodes to pipeline/lake.py's SQL and columns
    view = on["aws_glue_catalog_table.records_view"]
    encoded = PRESTO_VIEW.fullmatch(view["view_original_text"])
    assert encoded, view["view_original_text"][:200]
    definition = json.loads(base64.b64decode(encoded.group(1)))
    assert definition["originalSql"] == lake.records_view()
    assert [c["name"] for c in definition["columns"]] == [c.name for c in lake.COLUMNS]
    assert definition["schema"] == "energy_lake" and definition["catalog"] == "awsdatacatalog"
    assert [c["name"] for c in view["storage_descriptor"][0]["columns"]] == [c.name for c in lake.COLUMNS]

    # WHEN it is planned with compaction switched off
    off = planned_creations(fresh_terraform, package, "-var=lake_compaction_enabled=false")

    # THEN exactly the compaction's parts are gone; the catalog, workgroup and policy stay
    assert set(on) - set(off) == COMPACTION_PARTS
    assert set(off) <= set(on)
    for address in (
        "aws_glue_catalog_table.records_view",
        "aws_athena_workgroup.lake",
        "aws_iam_policy.lake_reader",
        "aws_s3_bucket.athena_results",
    ):
        assert address in off, address


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

        # AND the data lake is catalogued where the pipeline wrote its rows, queried through a
        # workgroup with its own results bucket and scan limit, compacted on schedule by the
        # pipeline's own package, and analysts may query it and do nothing else
        assert (env["ENERGY_LAKE_DATABASE"], env["ENERGY_ATHENA_WORKGROUP"]) == (
            outputs["lake_database"],
            outputs["athena_workgroup"],
        )
        assert (settings.lake_database, settings.athena_workgroup) == (
            defaults.lake_database,
            defaults.athena_workgroup,
        )
        assert_the_lake_is_catalogued(aws, outputs, bucket, tf.locals["lake_columns"])
        assert_the_workgroup_and_its_results_bucket(aws, outputs)
        assert_the_compaction_is_scheduled(aws, outputs, function, bucket)
        assert_analysts_may_only_query(aws, outputs, bucket)

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
        assert not aws("glue").get_databases()["DatabaseList"]
        assert outputs["athena_workgroup"] not in [w["Name"] for w in aws("athena").list_work_groups()["WorkGroups"]]
        assert outputs["athena_results_bucket"] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert not aws("iam").list_policies(Scope="Local")["Policies"]
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


ACCOUNT = "123456789012"  # moto's
PRESTO_VIEW = re.compile(r"/\* Presto View: ([A-Za-z0-9+/]+=*) \*/")


def assert_the_lake_is_catalogued(aws, outputs: dict, bucket: str, declared_columns: list[dict]) -> None:
    """The Glue database, its two tables (partition projection over the pipeline's own keys) and
    the records view, as Glue stores them."""
    glue, s3 = aws("glue"), aws("s3")
    database = outputs["lake_database"]
    assert glue.get_database(Name=database)["Database"]["Name"] == "energy_lake"
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert set(tables) == {lake.LANDING_TABLE, lake.COMPACTED_TABLE, lake.VIEW}
    hive = [(c.name, next(d["hive_type"] for d in declared_columns if d["name"] == c.name)) for c in lake.COLUMNS]
    for name, partition, start in (
        (lake.LANDING_TABLE, "written", "2026-01-01"),
        (lake.COMPACTED_TABLE, "day", "2010-01-01"),
    ):
        table = tables[name]
        storage = table["StorageDescriptor"]
        assert table["TableType"] == "EXTERNAL_TABLE"
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == hive
        assert (
            storage["SerdeInfo"]["SerializationLibrary"]
            == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        )
        assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [(partition, "string")]
        parameters = table["Parameters"]
        assert {k: v for k, v in parameters.items() if k.startswith("projection.")} == {
            "projection.enabled": "true",
            f"projection.{partition}.type": "date",
            f"projection.{partition}.format": "yyyy-MM-dd",
            f"projection.{partition}.range": f"{start},NOW",
            f"projection.{partition}.interval": "1",
            f"projection.{partition}.interval.unit": "DAYS",
        }
        assert parameters["storage.location.template"] == f"{storage['Location']}{partition}=${{{partition}}}/"
    # The pipeline's run above wrote its rows ahead into the landing area: each object is in the
    # folder the landing table's template gives for the day in its key.
    template = tables[lake.LANDING_TABLE]["Parameters"]["storage.location.template"]
    landing = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="curated/landing/")["Contents"]]
    assert landing
    for key in landing:
        day = re.fullmatch(r"curated/landing/written=(\d{4}-\d\d-\d\d)/part-[^/]+\.parquet", key).group(1)
        assert f"s3://{bucket}/{key}".startswith(template.replace("${written}", day))
    assert tables[lake.COMPACTED_TABLE]["StorageDescriptor"]["Location"] == f"s3://{bucket}/curated/records/"
    # The view: Athena's encoding of a Trino view, whose SQL is pipeline/lake.py's
    view = tables[lake.VIEW]
    assert view["TableType"] == "VIRTUAL_VIEW" and view["Parameters"]["presto_view"] == "true"
    assert view["ViewExpandedText"] == "/* Presto View */"
    encoded = PRESTO_VIEW.fullmatch(view["ViewOriginalText"])
    assert encoded, view["ViewOriginalText"][:200]
    definition = json.loads(base64.b64decode(encoded.group(1)))
    assert definition["originalSql"] == lake.records_view()
    assert [c["name"] for c in definition["columns"]] == [c.name for c in lake.COLUMNS]
    assert [c["type"] for c in definition["columns"]] == [c["presto_type"] for c in declared_columns]
    assert (definition["catalog"], definition["schema"]) == ("awsdatacatalog", database)
    assert (definition["owner"], definition["runAsInvoker"]) == (ACCOUNT, False)
    assert [(c["Name"], c["Type"]) for c in view["StorageDescriptor"]["Columns"]] == hive


def assert_the_workgroup_and_its_results_bucket(aws, outputs: dict) -> None:
    configuration = aws("athena").get_work_group(WorkGroup=outputs["athena_workgroup"])["WorkGroup"]["Configuration"]
    assert configuration["BytesScannedCutoffPerQuery"] == 1024**3  # the example's 1 GiB
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    results = configuration["ResultConfiguration"]
    bucket = outputs["athena_results_bucket"]
    assert bucket == f"energy-athena-results-{ACCOUNT}"
    assert results["OutputLocation"] == f"s3://{bucket}/"
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    s3 = aws("s3")
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["Expiration"] == {"Days": 7}
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport"]


def granted_by(document: dict | str) -> dict[str, tuple[set[str], set[str], dict]]:
    """Sid -> (actions, resources, condition) of an IAM policy document."""
    document = json.loads(document) if isinstance(document, str) else document

    def listed(value: str | list[str]) -> set[str]:
        return {value} if isinstance(value, str) else set(value)

    return {
        s["Sid"]: (listed(s["Action"]), listed(s["Resource"]), s.get("Condition", {}))
        for s in document["Statement"]
        if s["Effect"] == "Allow"
    }


def assert_the_compaction_is_scheduled(aws, outputs: dict, pipeline_function: dict, bucket: str) -> None:
    """The compaction function runs the pipeline's package with its environment, one run at a
    time, invoked hourly by its rule only, under a role limited to curated/."""
    found = aws("lambda").get_function(FunctionName=outputs["lake_compaction_function_name"])
    function = found["Configuration"]
    assert (function["Handler"], function["Runtime"], function["Timeout"], function["MemorySize"]) == (
        "handler.compact",
        "python3.12",
        900,
        1024,
    )
    assert function["CodeSha256"] == pipeline_function["CodeSha256"]
    assert function["Environment"] == pipeline_function["Environment"]
    assert "ReservedConcurrentExecutions" not in found.get("Concurrency", {})
    events = aws("events")
    rule = events.describe_rule(Name=outputs["lake_compaction_schedule_rule_name"])
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 hour)", "ENABLED")
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == function["FunctionArn"]
    (grant,) = json.loads(aws("lambda").get_policy(FunctionName=function["FunctionName"])["Policy"])["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function['FunctionName']}")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 30
    iam = aws("iam")
    role = function["Role"].rsplit("/", 1)[-1]
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    raw = f"arn:aws:s3:::{bucket}"
    assert granted_by(iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]) == {
        "ListLake": ({"s3:ListBucket"}, {raw}, {}),
        "ReadLake": ({"s3:GetObject"}, {f"{raw}/curated/*"}, {}),
        "WriteCompactedDays": ({"s3:PutObject"}, {f"{raw}/curated/records/*"}, {}),
        "DeleteMergedOrUnreadable": (
            {"s3:DeleteObject"},
            {f"{raw}/curated/landing/*", f"{raw}/curated/records/*"},
            {},
        ),
        "SetAsideUnreadable": ({"s3:PutObject"}, {f"{raw}/curated/unreadable/*"}, {}),
        "WriteOwnLogs": (
            {"logs:CreateLogStream", "logs:PutLogEvents"},
            {f"{group['arn'].removesuffix(':*')}:*"},
            {},
        ),
    }


def assert_analysts_may_only_query(aws, outputs: dict, bucket: str) -> None:
    iam = aws("iam")
    policy = iam.get_policy(PolicyArn=outputs["lake_reader_policy_arn"])["Policy"]
    assert policy["PolicyName"] == "energy-lake-reader" and policy["AttachmentCount"] == 0
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    glue = f"arn:aws:glue:us-east-1:{ACCOUNT}"
    raw, results = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{outputs['athena_results_bucket']}"
    assert granted_by(version["PolicyVersion"]["Document"]) == {
        "RunQueriesInTheLakeWorkgroup": (
            {
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetWorkGroup",
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
            },
            {f"arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/energy-lake"},
            {},
        ),
        "ReadTheLakeCatalog": (
            {"glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"},
            {
                f"{glue}:catalog",
                f"{glue}:database/energy_lake",
                f"{glue}:table/energy_lake/records_landing",
                f"{glue}:table/energy_lake/records_compacted",
                f"{glue}:table/energy_lake/records",
            },
            {},
        ),
        "ListTheLake": ({"s3:ListBucket"}, {raw}, {"StringLike": {"s3:prefix": "curated/*"}}),
        "LocateTheLakeBucket": ({"s3:GetBucketLocation"}, {raw}, {}),
        "ReadTheLake": ({"s3:GetObject"}, {f"{raw}/curated/*"}, {}),
        "UseTheResultsBucket": (
            {"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"},
            {results},
            {},
        ),
        "WriteAndReadQueryResults": (
            {"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"},
            {f"{results}/*"},
            {},
        ),
    }


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
