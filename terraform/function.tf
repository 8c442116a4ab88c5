# The processing function: pipeline/ plus lambda/handler.py, zipped by `make lambda-zip`
# (scripts/package_lambda.py), invoked by the SQS event source mapping with partial batch
# responses. Its role may do exactly what the pipeline does and nothing else.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Log lines carry file keys and counts, not secrets; CloudWatch Logs encrypts them at rest with its own key, and a customer-managed KMS key would need its own key policy and cost.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30 days): these are operational logs, and the raw files in S3 stay the record of what arrived.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "function_assume_role" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${local.function_name}-function"
  description        = "Execution role of ${local.function_name}: read raw files, write quarantine and the lake, store records, publish alerts."
  assume_role_policy = data.aws_iam_policy_document.function_assume_role.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "ReadRawFiles"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.raw_prefix}*"]
  }

  # Without ListBucket, S3 answers a GET of a missing key with 403 AccessDenied instead of
  # 404 NoSuchKey, and a file deleted before processing would be retried into the DLQ
  # instead of being skipped (pipeline.processing.process_object).
  statement {
    sid       = "TellMissingRawFilesFromDenied"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.raw.arn]
  }

  statement {
    sid       = "WriteQuarantine"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.quarantine_prefix}*"]
  }

  statement {
    sid       = "WriteLake"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_prefix}*"]
  }

  statement {
    sid    = "StoreRecordsRollupsSitesAndOutcomes"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [
      aws_dynamodb_table.records.arn,
      aws_dynamodb_table.rollups.arn,
      aws_dynamodb_table.sites.arn,
      aws_dynamodb_table.files.arn,
    ]
  }

  statement {
    sid       = "PublishAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    sid    = "ConsumeRawEvents"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.raw_events.arn]
  }

  statement {
    # A file whose sites are busy, or that the invocation has no time left for, goes back
    # to the queue as a new message, so that waiting does not spend its receive count.
    sid    = "DeferRawEvents"
    effect = "Allow"
    actions = [
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]
    resources = [aws_sqs_queue.raw_events.arn]
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${local.function_name}-least-privilege"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "pipeline" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on resource "*" and adds cost; the function logs one structured JSON line per file (CloudWatch Logs Insights) instead.
  #checkov:skip=CKV_AWS_116:A function-level DLQ only applies to asynchronous invocations; this function is invoked by the SQS event source mapping, and the raw-events queue's redrive policy is its dead-letter queue.
  #checkov:skip=CKV_AWS_117:The function talks only to AWS service endpoints (S3, DynamoDB, SNS, SQS); a VPC would add NAT gateway or VPC endpoint costs and protect nothing it reaches.
  #checkov:skip=CKV_AWS_115:Concurrency is capped by the event source mapping's maximum concurrency (var.lambda_max_concurrency); reserved concurrency would also fail on new accounts whose concurrency quota is 10.
  #checkov:skip=CKV_AWS_173:The environment holds resource names and ARNs only, no secrets; Lambda already encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The package is built from this repository by `make lambda-zip` and pinned by source_code_hash; code signing needs an AWS Signer profile and adds a signing step for no gain here.
  function_name = local.function_name
  description   = "Energy pipeline: raw file from S3 via SQS -> validate, derive, detect -> DynamoDB, quarantine, SNS alerts."
  role          = aws_iam_role.function.arn
  handler       = "handler.handler"
  runtime       = "python3.12"
  architectures = ["arm64"]
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds

  filename         = local.lambda_zip_path
  source_code_hash = fileexists(local.lambda_zip_path) ? filebase64sha256(local.lambda_zip_path) : null

  environment {
    variables = local.pipeline_environment
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.lambda_zip_path)
      error_message = "The function package is missing: run `make lambda-zip` at the repository root first (or set lambda_zip_path)."
    }
  }

  # The log group must exist (with its retention) before Lambda would create one without,
  # and the role must be able to write logs before the first invocation.
  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
  ]
}

resource "aws_lambda_event_source_mapping" "raw_events" {
  event_source_arn                   = aws_sqs_queue.raw_events.arn
  function_name                      = aws_lambda_function.pipeline.arn
  enabled                            = true
  batch_size                         = var.lambda_batch_size
  maximum_batching_window_in_seconds = var.lambda_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.lambda_max_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.lambda_batch_size <= 10 || var.lambda_batching_window_seconds >= 1
      error_message = "SQS batches larger than 10 need lambda_batching_window_seconds of at least 1."
    }
  }
}
