# The alert topic: one message per processed file with anomalies (pipeline.alerts), and
# the operational alarms of alarms.tf. Email is the only subscription made here.

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, and a customer-managed key costs a monthly fee; the messages are readings and resource names, and leave AWS by email unencrypted anyway.
  name = local.topic_name
}

resource "aws_sns_topic_subscription" "alert_email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
