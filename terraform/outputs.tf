output "app_environment" {
  description = "The app's environment, ready to paste into a shell or a .env file: `eval \"$(terraform output -raw app_environment)\"`. The app and CLI then use this stack with the default AWS credential chain."
  value = join("", [
    for name, value in merge({ AWS_REGION = var.aws_region }, local.pipeline_environment) :
    "export ${name}=${value}\n"
  ])
}

output "app_environment_variables" {
  description = "The same environment as app_environment, as a map (for scripts: `terraform output -json app_environment_variables`)."
  value       = merge({ AWS_REGION = var.aws_region }, local.pipeline_environment)
}

output "region" {
  description = "AWS region of the stack."
  value       = var.aws_region
}

output "raw_bucket_name" {
  description = "Bucket the app uploads raw files to (under raw/) and reads quarantine from (under quarantine/)."
  value       = aws_s3_bucket.raw.bucket
}

output "raw_bucket_arn" {
  description = "ARN of the raw bucket, for IAM policies of uploaders."
  value       = aws_s3_bucket.raw.arn
}

output "raw_events_queue_name" {
  description = "Queue of S3 notifications for new raw files (ENERGY_QUEUE)."
  value       = aws_sqs_queue.raw_events.name
}

output "raw_events_queue_url" {
  description = "URL of the raw-events queue."
  value       = aws_sqs_queue.raw_events.url
}

output "raw_events_queue_arn" {
  description = "ARN of the raw-events queue."
  value       = aws_sqs_queue.raw_events.arn
}

output "dead_letter_queue_name" {
  description = "Dead-letter queue the app lists and redrives from (ENERGY_DLQ)."
  value       = aws_sqs_queue.raw_events_dlq.name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.raw_events_dlq.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.raw_events_dlq.arn
}

output "table_names" {
  description = "DynamoDB table names by role: records (ENERGY_TABLE), rollups (ENERGY_ROLLUP_TABLE), sites (ENERGY_SITES_TABLE), files (ENERGY_FILES_TABLE)."
  value = {
    records = aws_dynamodb_table.records.name
    rollups = aws_dynamodb_table.rollups.name
    sites   = aws_dynamodb_table.sites.name
    files   = aws_dynamodb_table.files.name
  }
}

output "table_arns" {
  description = "DynamoDB table ARNs by role, for IAM policies of the app's users."
  value = {
    records = aws_dynamodb_table.records.arn
    rollups = aws_dynamodb_table.rollups.arn
    sites   = aws_dynamodb_table.sites.arn
    files   = aws_dynamodb_table.files.arn
  }
}

output "alert_topic_name" {
  description = "SNS topic of anomaly alerts and alarms (ENERGY_TOPIC)."
  value       = aws_sns_topic.alerts.name
}

output "alert_topic_arn" {
  description = "ARN of the alert topic (ENERGY_TOPIC_ARN); subscribe more endpoints to it."
  value       = aws_sns_topic.alerts.arn
}

output "function_name" {
  description = "Name of the processing Lambda function."
  value       = aws_lambda_function.pipeline.function_name
}

output "function_arn" {
  description = "ARN of the processing Lambda function."
  value       = aws_lambda_function.pipeline.arn
}

output "function_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function (one JSON line per processed file)."
  value       = aws_cloudwatch_log_group.function.name
}

output "alarm_names" {
  description = "CloudWatch alarms that notify the alert topic."
  value = [
    aws_cloudwatch_metric_alarm.dlq_not_empty.alarm_name,
    aws_cloudwatch_metric_alarm.function_errors.alarm_name,
    aws_cloudwatch_metric_alarm.function_throttles.alarm_name,
    aws_cloudwatch_metric_alarm.raw_events_age.alarm_name,
  ]
}

output "simulator_function_name" {
  description = "Name of the scheduled simulator's function (null unless simulator_enabled): its logs are /aws/lambda/<name>."
  value       = one(aws_lambda_function.simulator[*].function_name)
}

output "simulator_schedule_rule_name" {
  description = "EventBridge rule that invokes the simulator (null unless simulator_enabled): disable it to pause the uploads."
  value       = one(aws_cloudwatch_event_rule.simulator[*].name)
}

output "lake_database" {
  description = "Glue database of the data lake (ENERGY_LAKE_DATABASE): the tables records_landing and records_compacted, and the records view analysts query."
  value       = aws_glue_catalog_database.lake.name
}

output "athena_workgroup" {
  description = "Athena workgroup for the lake's queries (ENERGY_ATHENA_WORKGROUP): it enforces its results bucket, their encryption and the per-query scan limit."
  value       = aws_athena_workgroup.lake.name
}

output "athena_results_bucket" {
  description = "Bucket where the workgroup writes query results (expired after athena_results_retention_days)."
  value       = aws_s3_bucket.athena_results.bucket
}

output "lake_compaction_function_name" {
  description = "Name of the lake's compaction function (null unless lake_compaction_enabled): its logs are /aws/lambda/<name>."
  value       = one(aws_lambda_function.lake_compaction[*].function_name)
}

output "lake_compaction_schedule_rule_name" {
  description = "EventBridge rule that invokes the compaction (null unless lake_compaction_enabled): disable it to pause compaction."
  value       = one(aws_cloudwatch_event_rule.lake_compaction[*].name)
}

output "lake_reader_policy_arn" {
  description = "ARN of the IAM policy that lets analysts query the lake with Athena (no DDL): attach it to their role, group or users."
  value       = aws_iam_policy.lake_reader.arn
}
