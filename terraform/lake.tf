# The data lake on AWS (docs/lake.md): the Parquet copy of the records that pipeline/lake.py
# writes under curated/ in the raw bucket, as Athena sees it.
# - A Glue database with two external tables, the landing area (one object per write, by the
#   day it was written) and the compacted days (one object per reading day), both found by
#   partition projection (no crawler, no partitions to add), and the `records` view over both.
# - An Athena workgroup that enforces its own encrypted results bucket and a scan limit per query.
# - The scheduled compaction (lambda/handler.py's compact, in the pipeline's own package), on by
#   default, under a role that may only touch curated/.
# - A policy to attach to analysts: run queries in the workgroup, read the catalog and curated/.
# The columns and the view's SQL come from lake_schema.tf, written from pipeline/lake.py.

locals {
  # Settings.lake_database and Settings.athena_workgroup with the default prefix. Glue allows
  # only lowercase letters, digits and underscores, so the prefix's hyphens become underscores.
  lake_database_name         = replace("${var.name_prefix}_lake", "-", "_")
  athena_workgroup_name      = "${var.name_prefix}-lake"
  athena_results_bucket_name = "${var.name_prefix}-athena-results-${local.account_id}"

  # pipeline/lake.py's layout under local.lake_prefix: landing/written=<day written>/ (LANDING)
  # and records/day=<reading day>/records.parquet (COMPACTED); unreadable/ for what compaction
  # sets aside (lake_compaction.UNREADABLE).
  lake_landing_prefix     = "${local.lake_prefix}landing/"
  lake_compacted_prefix   = "${local.lake_prefix}records/"
  lake_unreadable_prefix  = "${local.lake_prefix}unreadable/"
  lake_landing_location   = "s3://${aws_s3_bucket.raw.bucket}/${local.lake_landing_prefix}"
  lake_compacted_location = "s3://${aws_s3_bucket.raw.bucket}/${local.lake_compacted_prefix}"

  lake_compaction_name           = "${var.name_prefix}-lake-compaction"
  lake_compaction_log_group_name = "/aws/lambda/${local.lake_compaction_name}"

  # The view as Athena encodes one it created itself (a Trino view definition, base64 JSON in
  # a comment): unqualified table names in the SQL resolve in `schema`; the columns' Trino
  # types must equal what the query projects, or Athena calls the view stale.
  records_view_definition = {
    originalSql  = local.records_view_sql
    catalog      = "awsdatacatalog"
    schema       = aws_glue_catalog_database.lake.name
    columns      = [for column in local.lake_columns : { name = column.name, type = column.presto_type }]
    owner        = local.account_id
    runAsInvoker = false
    properties   = {}
  }

  parquet_input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
  parquet_output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
  parquet_serde         = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
}

# --- the Glue catalog: database, tables, view ------------------------------------------------

resource "aws_glue_catalog_database" "lake" {
  name        = local.lake_database_name
  description = "The energy pipeline's data lake: every stored record in Parquet under ${local.lake_prefix} of ${aws_s3_bucket.raw.bucket}. Query the records view."
}

resource "aws_glue_catalog_table" "records_landing" {
  name          = "records_landing"
  database_name = aws_glue_catalog_database.lake.name
  description   = "Rows as the pipeline wrote them, one object per write, until compaction merges them into records_compacted. Several rows of one reading are its versions: the records view keeps the newest."
  table_type    = "EXTERNAL_TABLE"

  # Partition projection: Athena computes the partitions from these properties, so nothing
  # has to add them as days pass. Landing objects are partitioned by the day they were written.
  parameters = {
    EXTERNAL                           = "TRUE"
    classification                     = "parquet"
    "projection.enabled"               = "true"
    "projection.written.type"          = "date"
    "projection.written.format"        = "yyyy-MM-dd"
    "projection.written.range"         = "${var.lake_landing_start_date},NOW"
    "projection.written.interval"      = "1"
    "projection.written.interval.unit" = "DAYS"
    "storage.location.template"        = "${local.lake_landing_location}written=$${written}/"
  }

  partition_keys {
    name    = "written"
    type    = "string"
    comment = "UTC day the rows were written (yyyy-MM-dd)"
  }

  storage_descriptor {
    location      = local.lake_landing_location
    input_format  = local.parquet_input_format
    output_format = local.parquet_output_format

    ser_de_info {
      name                  = "parquet"
      serialization_library = local.parquet_serde
    }

    dynamic "columns" {
      for_each = local.lake_columns
      content {
        name = columns.value.name
        type = columns.value.hive_type
      }
    }
  }
}

resource "aws_glue_catalog_table" "records_compacted" {
  name          = "records_compacted"
  database_name = aws_glue_catalog_database.lake.name
  description   = "Each reading's newest row, one object per reading day, as compaction leaves them. Filter on day to scan fewer days."
  table_type    = "EXTERNAL_TABLE"

  # Compacted objects are partitioned by the UTC day of their readings. A reading day outside
  # the range is not looked for: var.lake_readings_start_date must cover the oldest reading.
  parameters = {
    EXTERNAL                       = "TRUE"
    classification                 = "parquet"
    "projection.enabled"           = "true"
    "projection.day.type"          = "date"
    "projection.day.format"        = "yyyy-MM-dd"
    "projection.day.range"         = "${var.lake_readings_start_date},NOW"
    "projection.day.interval"      = "1"
    "projection.day.interval.unit" = "DAYS"
    "storage.location.template"    = "${local.lake_compacted_location}day=$${day}/"
  }

  partition_keys {
    name    = "day"
    type    = "string"
    comment = "UTC day of the readings (yyyy-MM-dd)"
  }

  storage_descriptor {
    location      = local.lake_compacted_location
    input_format  = local.parquet_input_format
    output_format = local.parquet_output_format

    ser_de_info {
      name                  = "parquet"
      serialization_library = local.parquet_serde
    }

    dynamic "columns" {
      for_each = local.lake_columns
      content {
        name = columns.value.name
        type = columns.value.hive_type
      }
    }
  }
}

# The view is a Glue table of type VIRTUAL_VIEW in the encoding Athena uses for the views it
# creates (`CREATE VIEW` needs a query run; Terraform writes the catalog entry directly).
resource "aws_glue_catalog_table" "records_view" {
  name          = "records"
  database_name = aws_glue_catalog_database.lake.name
  description   = "The records as DynamoDB holds them: each reading's newest row, whether compaction has moved it out of the landing area yet or not."
  table_type    = "VIRTUAL_VIEW"

  parameters = {
    presto_view = "true"
    comment     = "Presto View"
  }

  view_original_text = "/* Presto View: ${base64encode(jsonencode(local.records_view_definition))} */"
  view_expanded_text = "/* Presto View */"

  storage_descriptor {
    ser_de_info {
      name                  = "-"
      serialization_library = "-"
    }

    dynamic "columns" {
      for_each = local.lake_columns
      content {
        name = columns.value.name
        type = columns.value.hive_type
      }
    }
  }

  depends_on = [
    aws_glue_catalog_table.records_landing,
    aws_glue_catalog_table.records_compacted,
  ]
}

# --- Athena: the workgroup and its results bucket -------------------------------------------

resource "aws_s3_bucket" "athena_results" {
  #checkov:skip=CKV_AWS_18:Server access logging needs a second bucket; Athena already records every query (who, what, bytes scanned) in its own query history and CloudTrail.
  #checkov:skip=CKV_AWS_144:Query results are disposable copies that expire after var.athena_results_retention_days; replicating them to another region would protect nothing.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) encrypts at rest without a customer-managed KMS key (one costs a monthly fee and per-request charges), as for the raw bucket.
  #checkov:skip=CKV_AWS_21:Query results are disposable and expire after var.athena_results_retention_days; versioning would keep every expired result for nothing.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new query results: Athena reads them back itself, so there is nothing to notify.
  bucket = local.athena_results_bucket_name

  # Only query results live here, and they expire anyway: `terraform destroy` may delete them.
  force_destroy = true
}

resource "aws_s3_bucket_ownership_controls" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id

  rule {
    id     = "expire-query-results"
    status = "Enabled"

    filter {}

    expiration {
      days = var.athena_results_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "athena_results_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.athena_results.arn,
      "${aws_s3_bucket.athena_results.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id
  policy = data.aws_iam_policy_document.athena_results_bucket.json

  # S3 rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.athena_results]
}

resource "aws_athena_workgroup" "lake" {
  name        = local.athena_workgroup_name
  description = "Analysts' SQL over the energy data lake (database ${aws_glue_catalog_database.lake.name}): results in ${aws_s3_bucket.athena_results.bucket}, at most ${var.athena_bytes_scanned_cutoff_per_query} bytes scanned per query."
  state       = "ENABLED"

  # Saved queries and query history belong to the stack: `terraform destroy` removes them.
  force_destroy = true

  configuration {
    # Clients cannot override the results location, its encryption or the scan limit.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${aws_s3_bucket.athena_results.bucket}/"
      expected_bucket_owner = local.account_id

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}

# --- compaction: landing objects -> one object per reading day -----------------------------
# On unless var.lake_compaction_enabled is false: every resource here has count = 1 or 0.

resource "aws_cloudwatch_log_group" "lake_compaction" {
  #checkov:skip=CKV_AWS_158:Log lines carry object keys and counts, not secrets; CloudWatch Logs encrypts them at rest with its own key, and a customer-managed KMS key would need its own key policy and cost.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30 days), as for the pipeline's function: a few lines per run, and the lake itself is the record of what was compacted.
  count = var.lake_compaction_enabled ? 1 : 0

  name              = local.lake_compaction_log_group_name
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  name               = "${local.lake_compaction_name}-function"
  description        = "Execution role of ${local.lake_compaction_name}: read the lake, write compacted days, delete merged landing objects, write its own logs."
  assume_role_policy = data.aws_iam_policy_document.function_assume_role.json
}

data "aws_iam_policy_document" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  # ListBucket on the whole bucket, as the pipeline's function has it: with it S3 answers a
  # GET of a day not compacted yet with 404 NoSuchKey, which compaction reads as "a new day"
  # (lake_compaction._read_day); with a prefix condition it would answer 403 AccessDenied,
  # since a GET carries no s3:prefix, and every new day would fail the run.
  statement {
    sid       = "ListLake"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.raw.arn]
  }

  statement {
    sid       = "ReadLake"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_prefix}*"]
  }

  # Conditional PUTs (If-Match, If-None-Match) need nothing beyond s3:PutObject.
  statement {
    sid       = "WriteCompactedDays"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_compacted_prefix}*"]
  }

  # Merged landing objects are deleted; an object compaction cannot read (a landing object,
  # or a damaged day) is copied to curated/unreadable/ and deleted where it was.
  statement {
    sid       = "DeleteMergedOrUnreadable"
    effect    = "Allow"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_landing_prefix}*", "${aws_s3_bucket.raw.arn}/${local.lake_compacted_prefix}*"]
  }

  statement {
    sid       = "SetAsideUnreadable"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_unreadable_prefix}*"]
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.lake_compaction[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  name   = "${local.lake_compaction_name}-least-privilege"
  role   = aws_iam_role.lake_compaction[0].id
  policy = data.aws_iam_policy_document.lake_compaction[0].json
}

resource "aws_lambda_function" "lake_compaction" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on resource "*" and adds cost; the function logs its runs as structured JSON lines instead.
  #checkov:skip=CKV_AWS_116:A failed run leaves the landing objects it did not merge where they are, and the next tick of the schedule merges them; there is nothing a dead-letter queue would let anyone redrive. Failures show in the function's Errors metric and its logs.
  #checkov:skip=CKV_AWS_117:The function talks only to S3's endpoint; a VPC would add NAT gateway or VPC endpoint costs and protect nothing it reaches.
  #checkov:skip=CKV_AWS_173:The environment holds resource names and ARNs only, no secrets; Lambda already encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The package is built from this repository by `make lambda-zip` and pinned by source_code_hash; code signing needs an AWS Signer profile and adds a signing step for no gain here.
  #checkov:skip=CKV_AWS_115:Runs at once are safe (each day is written with a conditional PUT, tests/integration/test_lake_compaction.py) and the schedule starts one an hour; reserved concurrency would also fail the apply on new accounts whose concurrency quota is 10.
  count = var.lake_compaction_enabled ? 1 : 0

  function_name = local.lake_compaction_name
  description   = "Energy pipeline: merges the data lake's landing objects into one Parquet object per reading day, keeping each reading's newest row."
  role          = aws_iam_role.lake_compaction[0].arn
  handler       = "handler.compact"
  runtime       = "python3.12"
  architectures = ["arm64"]
  memory_size   = var.lake_compaction_memory_mb
  timeout       = var.lake_compaction_timeout_seconds

  # The pipeline's own package (function.tf): compaction is part of pipeline/.
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
    aws_cloudwatch_log_group.lake_compaction,
    aws_iam_role_policy.lake_compaction,
  ]
}

resource "aws_cloudwatch_event_rule" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  name                = local.lake_compaction_name
  description         = "Invokes ${local.lake_compaction_name}, which compacts the data lake, on ${var.lake_compaction_schedule}."
  schedule_expression = var.lake_compaction_schedule
  state               = "ENABLED"
}

resource "aws_cloudwatch_event_target" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.lake_compaction[0].name
  target_id = "lake-compaction-function"
  arn       = aws_lambda_function.lake_compaction[0].arn
}

resource "aws_lambda_permission" "lake_compaction" {
  count = var.lake_compaction_enabled ? 1 : 0

  statement_id  = "InvokedByLakeCompactionSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.lake_compaction[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.lake_compaction[0].arn
}

# --- analysts: what querying the lake needs, and nothing more ------------------------------
# Attach it to the analysts' role, group or users. No DDL: analysts cannot create, change or
# drop tables; the catalog is Terraform's.

data "aws_iam_policy_document" "lake_reader" {
  statement {
    sid    = "RunQueriesInTheLakeWorkgroup"
    effect = "Allow"
    actions = [
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:GetWorkGroup",
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
    ]
    resources = [aws_athena_workgroup.lake.arn]
  }

  statement {
    sid    = "ReadTheLakeCatalog"
    effect = "Allow"
    actions = [
      "glue:GetDatabase",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:GetTables",
    ]
    resources = [
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
      aws_glue_catalog_database.lake.arn,
      aws_glue_catalog_table.records_landing.arn,
      aws_glue_catalog_table.records_compacted.arn,
      aws_glue_catalog_table.records_view.arn,
    ]
  }

  statement {
    sid       = "ListTheLake"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.raw.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.lake_prefix}*"]
    }
  }

  # Athena asks where a table's bucket is before it reads it (no prefix: a bucket-level call).
  statement {
    sid       = "LocateTheLakeBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.raw.arn]
  }

  statement {
    sid       = "ReadTheLake"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.lake_prefix}*"]
  }

  # Athena writes a query's results with the caller's credentials and reads them back for
  # GetQueryResults; large results are multipart uploads.
  statement {
    sid    = "UseTheResultsBucket"
    effect = "Allow"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [aws_s3_bucket.athena_results.arn]
  }

  statement {
    sid    = "WriteAndReadQueryResults"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = ["${aws_s3_bucket.athena_results.arn}/*"]
  }
}

resource "aws_iam_policy" "lake_reader" {
  name        = "${var.name_prefix}-lake-reader"
  description = "Query the energy data lake with Athena: run queries in workgroup ${aws_athena_workgroup.lake.name}, read database ${aws_glue_catalog_database.lake.name} and ${local.lake_prefix} of the raw bucket. No DDL."
  policy      = data.aws_iam_policy_document.lake_reader.json
}
