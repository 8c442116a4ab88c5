# DynamoDB tables: keys and indexes are the contract of pipeline/schema.py
# (table_specs); tests/infra/test_infra_parity.py keeps the two equal. Every key is a string.

resource "aws_dynamodb_table" "records" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key; a customer-managed KMS key adds cost and key administration without a compliance need here.
  name         = local.table_names.records
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "site_id"
  range_key    = "timestamp"

  attribute {
    name = "site_id"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "S"
  }

  attribute {
    name = "anomaly_shard"
    type = "S"
  }

  # Sparse: only anomalous records carry anomaly_shard, spread over a few shards so no
  # single index partition takes every anomaly.
  global_secondary_index {
    name            = "anomalies"
    hash_key        = "anomaly_shard"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "rollups" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key; a customer-managed KMS key adds cost and key administration without a compliance need here.
  name         = local.table_names.rollups
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "site_id"
  range_key    = "day"

  attribute {
    name = "site_id"
    type = "S"
  }

  attribute {
    name = "day"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "sites" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key; a customer-managed KMS key adds cost and key administration without a compliance need here.
  name         = local.table_names.sites
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "site_id"

  attribute {
    name = "site_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "files" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key; a customer-managed KMS key adds cost and key administration without a compliance need here.
  name         = local.table_names.files
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "source_key"

  attribute {
    name = "source_key"
    type = "S"
  }

  attribute {
    name = "processed_day"
    type = "S"
  }

  attribute {
    name = "processed_at"
    type = "S"
  }

  # The files ledger by day, newest first: what the app's processing view reads. Sparse and
  # keys only: one entry per group of files stored together, on its first file, which names
  # the others (pipeline/file_outcomes.py).
  global_secondary_index {
    name            = "by-processed-day"
    hash_key        = "processed_day"
    range_key       = "processed_at"
    projection_type = "KEYS_ONLY"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
