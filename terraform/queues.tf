# The raw-events queue (one message per S3 notification) and its dead-letter queue.
# A message the function fails maxReceiveCount times moves to the DLQ, where the app
# lists it and can send it back. The queue policies are set with each queue (not as
# separate aws_sqs_queue_policy resources), so they are in place from the first moment;
# the ARNs are spelled out because a queue cannot refer to its own attributes.

locals {
  queue_arn = "arn:${local.partition}:sqs:${var.aws_region}:${local.account_id}:${local.queue_name}"
  dlq_arn   = "arn:${local.partition}:sqs:${var.aws_region}:${local.account_id}:${local.dlq_name}"
}

resource "aws_sqs_queue" "raw_events_dlq" {
  name                      = local.dlq_name
  message_retention_seconds = 1209600 # 14 days, the SQS maximum (pipeline.ops.bootstrap.DLQ_RETENTION_SECONDS)
  sqs_managed_sse_enabled   = true
  policy                    = data.aws_iam_policy_document.raw_events_dlq.json
}

resource "aws_sqs_queue" "raw_events" {
  name                       = local.queue_name
  message_retention_seconds  = 345600 # 4 days, the SQS default (pipeline.ops.bootstrap.QUEUE_RETENTION_SECONDS)
  visibility_timeout_seconds = local.queue_visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  policy                     = data.aws_iam_policy_document.raw_events_queue.json

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.raw_events_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

data "aws_iam_policy_document" "raw_events_queue" {
  statement {
    sid       = "AllowRawBucketNotifications"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.raw.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.queue_arn]

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

data "aws_iam_policy_document" "raw_events_dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.dlq_arn]

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
