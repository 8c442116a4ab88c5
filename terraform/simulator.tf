# The scheduled simulator, off unless var.simulator_enabled: on every tick of
# var.simulator_schedule, EventBridge invokes a small function (lambda/simulator.py, zipped
# by `make lambda-zip` into build/simulator.zip) that uploads one simulated file under raw/,
# named and shaped like the Simulate page's. The pipeline then processes it through the
# normal S3 -> SQS -> function path. Its role may only PUT under raw/ and write its logs.
# Every resource here has count = 1 when enabled and 0 otherwise.

locals {
  simulator_name           = "${var.name_prefix}-simulator"
  simulator_log_group_name = "/aws/lambda/${local.simulator_name}"
  simulator_zip_path       = coalesce(var.simulator_zip_path, "${path.module}/../build/simulator.zip")
  # Most readings one file may hold, so that a run ends well inside the function's timeout
  # (pipeline/ops/simulated_files.py, MAX_READINGS_PER_FILE).
  simulator_max_readings = 20000

  # What lambda/simulator.py reads: the stack's names (Settings.from_env) and what to simulate
  # (SimulatorConfig.from_env).
  simulator_environment = {
    ENERGY_BACKEND                     = "aws"
    ENERGY_BUCKET                      = aws_s3_bucket.raw.bucket
    ENERGY_SIMULATOR_SITES             = tostring(var.simulator_sites)
    ENERGY_SIMULATOR_READINGS_PER_SITE = tostring(var.simulator_readings_per_site)
    ENERGY_SIMULATOR_ANOMALY_RATE      = tostring(var.simulator_anomaly_rate)
  }
}

resource "aws_cloudwatch_log_group" "simulator" {
  #checkov:skip=CKV_AWS_158:Log lines carry the uploaded key and counts, not secrets; CloudWatch Logs encrypts them at rest with its own key, and a customer-managed KMS key would need its own key policy and cost.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30 days), as for the pipeline's function: one line per simulated upload, whose file stays in S3.
  count = var.simulator_enabled ? 1 : 0

  name              = local.simulator_log_group_name
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  name               = "${local.simulator_name}-function"
  description        = "Execution role of ${local.simulator_name}: upload simulated raw files, write its own logs."
  assume_role_policy = data.aws_iam_policy_document.function_assume_role.json
}

data "aws_iam_policy_document" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  # The raw bucket encrypts with SSE-S3 (storage.tf), so a PUT needs no KMS permission.
  statement {
    sid       = "UploadSimulatedRawFiles"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.raw_prefix}*"]
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.simulator[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  name   = "${local.simulator_name}-least-privilege"
  role   = aws_iam_role.simulator[0].id
  policy = data.aws_iam_policy_document.simulator[0].json
}

resource "aws_lambda_function" "simulator" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on resource "*" and adds cost; the function logs one structured JSON line per upload instead.
  #checkov:skip=CKV_AWS_116:A missed tick only means one simulated file fewer, and the next tick uploads the next one; there is nothing a dead-letter queue would let anyone redrive. Failures show in the function's Errors metric and its logs.
  #checkov:skip=CKV_AWS_117:The function talks only to S3's endpoint; a VPC would add NAT gateway or VPC endpoint costs and protect nothing it reaches.
  #checkov:skip=CKV_AWS_115:One invocation per tick of the schedule; reserved concurrency would also fail on new accounts whose concurrency quota is 10.
  #checkov:skip=CKV_AWS_173:The environment holds the bucket name and three numbers, no secrets; Lambda already encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The package is built from this repository by `make lambda-zip` and pinned by source_code_hash; code signing needs an AWS Signer profile and adds a signing step for no gain here.
  count = var.simulator_enabled ? 1 : 0

  function_name = local.simulator_name
  description   = "Energy pipeline: uploads one simulated file under raw/ on every tick of its EventBridge schedule."
  role          = aws_iam_role.simulator[0].arn
  handler       = "simulator.handler"
  runtime       = "python3.12"
  architectures = ["arm64"]
  memory_size   = 256
  timeout       = 60

  filename         = local.simulator_zip_path
  source_code_hash = fileexists(local.simulator_zip_path) ? filebase64sha256(local.simulator_zip_path) : null

  environment {
    variables = local.simulator_environment
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.simulator_zip_path)
      error_message = "The simulator's package is missing: run `make lambda-zip` at the repository root first (or set simulator_zip_path)."
    }
    precondition {
      condition     = var.simulator_sites * var.simulator_readings_per_site <= local.simulator_max_readings
      error_message = "simulator_sites x simulator_readings_per_site must be at most 20000 readings in one file."
    }
  }

  # The log group must exist (with its retention) before Lambda would create one without,
  # and the role must be able to write logs before the first invocation.
  depends_on = [
    aws_cloudwatch_log_group.simulator,
    aws_iam_role_policy.simulator,
  ]
}

resource "aws_cloudwatch_event_rule" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  name                = local.simulator_name
  description         = "Invokes ${local.simulator_name}, which uploads one simulated raw file, on ${var.simulator_schedule}."
  schedule_expression = var.simulator_schedule
  state               = "ENABLED"
}

resource "aws_cloudwatch_event_target" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.simulator[0].name
  target_id = "simulator-function"
  arn       = aws_lambda_function.simulator[0].arn
}

resource "aws_lambda_permission" "simulator" {
  count = var.simulator_enabled ? 1 : 0

  statement_id  = "InvokedBySimulatorSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.simulator[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.simulator[0].arn
}
