# The raw bucket: uploads land under raw/ (the source of truth), rejected rows and
# unreadable files under quarantine/. Uploads under raw/ notify the raw-events queue.

resource "aws_s3_bucket" "raw" {
  #checkov:skip=CKV_AWS_18:Server access logging needs a second bucket and mostly records the pipeline's own reads; CloudTrail data events are the better audit trail where one is required.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; versioning protects against overwrites and deletes, and processed data can be rebuilt from the raw files.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) encrypts at rest without a customer-managed KMS key (one costs a monthly fee and per-request charges); no compliance need for CMK control here.
  bucket = local.raw_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "raw" {
  bucket = aws_s3_bucket.raw.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "raw" {
  bucket = aws_s3_bucket.raw.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  # Versioning must be on before rules about noncurrent versions make sense.
  depends_on = [aws_s3_bucket_versioning.raw]

  rule {
    id     = "expire-quarantine"
    status = "Enabled"

    filter {
      prefix = local.quarantine_prefix
    }

    expiration {
      days = var.quarantine_retention_days
    }
  }

  rule {
    id     = "tidy-versions-and-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "raw_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.raw.arn,
      "${aws_s3_bucket.raw.arn}/*",
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

resource "aws_s3_bucket_policy" "raw" {
  bucket = aws_s3_bucket.raw.id
  policy = data.aws_iam_policy_document.raw_bucket.json

  # S3 rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.raw]
}

# S3 sends a test event when the configuration is saved and refuses it if the queue's
# policy does not let the bucket send; the policy is part of the queue (queues.tf).
resource "aws_s3_bucket_notification" "raw" {
  bucket = aws_s3_bucket.raw.id

  queue {
    id            = "raw-readings"
    queue_arn     = aws_sqs_queue.raw_events.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.raw_prefix
  }
}
