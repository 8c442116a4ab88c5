# Names, tags and the provider. Every name derives from var.name_prefix; with the default
# prefix "energy" they equal the defaults in pipeline/settings.py, so the embedded stack
# and a deployed one answer to the same names.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Bucket names are global across AWS accounts, hence the account id.
  raw_bucket_name = coalesce(var.raw_bucket_name, "${var.name_prefix}-raw-data-${local.account_id}")

  queue_name     = "${var.name_prefix}-raw-events"
  dlq_name       = "${var.name_prefix}-raw-events-dlq"
  topic_name     = "${var.name_prefix}-anomaly-alerts"
  function_name  = "${var.name_prefix}-pipeline"
  log_group_name = "/aws/lambda/${local.function_name}"

  # DynamoDB allows `_`; the records table keeps the original system's `energy_data` name.
  table_names = {
    records = "${var.name_prefix}_data"
    rollups = "${var.name_prefix}_rollups"
    sites   = "${var.name_prefix}_sites"
    files   = "${var.name_prefix}_files"
  }

  # Where pipeline/ puts raw uploads, rejected rows and the data lake's Parquet copy of the
  # records (Settings.raw_prefix, quarantine_prefix, lake_prefix).
  raw_prefix        = "raw/"
  quarantine_prefix = "quarantine/"
  lake_prefix       = "curated/"

  # AWS: the source queue's visibility timeout should be at least six times the function
  # timeout, so a message is not handed out again while a retried invocation still holds it.
  queue_visibility_timeout_seconds = var.lambda_timeout_seconds * 6

  lambda_zip_path = coalesce(var.lambda_zip_path, "${path.module}/../build/lambda.zip")

  # What both the function and the app read (pipeline/settings.py, Settings.from_env).
  pipeline_environment = {
    ENERGY_BACKEND           = "aws"
    ENERGY_BUCKET            = aws_s3_bucket.raw.bucket
    ENERGY_TABLE             = aws_dynamodb_table.records.name
    ENERGY_ROLLUP_TABLE      = aws_dynamodb_table.rollups.name
    ENERGY_SITES_TABLE       = aws_dynamodb_table.sites.name
    ENERGY_FILES_TABLE       = aws_dynamodb_table.files.name
    ENERGY_QUEUE             = aws_sqs_queue.raw_events.name
    ENERGY_DLQ               = aws_sqs_queue.raw_events_dlq.name
    ENERGY_TOPIC             = aws_sns_topic.alerts.name
    ENERGY_TOPIC_ARN         = aws_sns_topic.alerts.arn
    ENERGY_MAX_RECEIVE_COUNT = tostring(var.max_receive_count)
    # Alert episodes: how often a reminder may come, and how long clean before "resolved".
    ENERGY_REPEAT_INTERVAL_MINUTES = tostring(var.alert_repeat_interval_minutes)
    ENERGY_RESOLVE_AFTER_MINUTES   = tostring(var.alert_resolve_after_minutes)
    # The data lake on Athena (lake.tf): the Glue database of its tables and view, and the
    # workgroup queries run in.
    ENERGY_LAKE_DATABASE    = aws_glue_catalog_database.lake.name
    ENERGY_ATHENA_WORKGROUP = aws_athena_workgroup.lake.name
  }

  tags = merge(
    {
      Project   = "energy-pipeline"
      ManagedBy = "terraform"
      Stack     = var.name_prefix
    },
    var.tags,
  )
}
