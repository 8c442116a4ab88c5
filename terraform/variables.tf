variable "aws_region" {
  type        = string
  description = "AWS region for every resource of the stack (the app's AWS_REGION)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be a region code such as \"us-east-1\" or \"eu-west-2\"."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name. The default \"energy\" gives the names pipeline/settings.py expects without configuration (energy_data, energy-raw-events, energy-anomaly-alerts, ...)."
  default     = "energy"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,28}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-30 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it becomes part of an S3 bucket name)."
  }
}

variable "raw_bucket_name" {
  type        = string
  description = "Name of the raw-data bucket. Null derives \"<name_prefix>-raw-data-<account id>\", which is unique across AWS."
  default     = null

  validation {
    condition     = var.raw_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.raw_bucket_name))
    error_message = "raw_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "alert_email" {
  type        = string
  description = "Address that receives anomaly alerts and operational alarms. Null creates no subscription; AWS mails a confirmation link that must be clicked before anything is delivered."
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address (or null for no subscription)."
  }
}

variable "quarantine_retention_days" {
  type        = number
  description = "Days a rejected file or row stays under quarantine/ in the raw bucket before S3 expires it."
  default     = 90

  validation {
    condition     = var.quarantine_retention_days >= 1 && floor(var.quarantine_retention_days) == var.quarantine_retention_days
    error_message = "quarantine_retention_days must be a whole number of days, at least 1."
  }
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days an overwritten or deleted version of an object stays recoverable in the versioned raw bucket."
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number of days, at least 1."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch Logs keeps the function's log lines."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Deliveries of a raw-file message before SQS moves it to the dead-letter queue (the DLQ redrive policy's maxReceiveCount)."
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "alert_repeat_interval_minutes" {
  type        = number
  description = "Minutes of readings between reminders of an alert episode that stays active (ENERGY_REPEAT_INTERVAL_MINUTES)."
  default     = 360

  validation {
    condition     = var.alert_repeat_interval_minutes >= 1 && floor(var.alert_repeat_interval_minutes) == var.alert_repeat_interval_minutes
    error_message = "alert_repeat_interval_minutes must be a whole number of minutes, at least 1."
  }
}

variable "alert_resolve_after_minutes" {
  type        = number
  description = "Minutes of readings a site must be clean of a rule before its alert episode resolves (ENERGY_RESOLVE_AFTER_MINUTES)."
  default     = 120

  validation {
    condition     = var.alert_resolve_after_minutes >= 1 && floor(var.alert_resolve_after_minutes) == var.alert_resolve_after_minutes
    error_message = "alert_resolve_after_minutes must be a whole number of minutes, at least 1."
  }
}

variable "lambda_memory_mb" {
  type        = number
  description = "Memory of the processing function in MB (CPU scales with it)."
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_timeout_seconds" {
  type        = number
  description = "Timeout of the processing function in seconds. The raw-events queue's visibility timeout is set to six times this."
  default     = 60

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number from 1 to 900."
  }
}

variable "lambda_batch_size" {
  type        = number
  description = "Most SQS messages (raw files) handed to one invocation; its small files are stored together, by site. Above 10 needs lambda_batching_window_seconds of at least 1."
  default     = 1000

  validation {
    condition     = var.lambda_batch_size >= 1 && var.lambda_batch_size <= 10000 && floor(var.lambda_batch_size) == var.lambda_batch_size
    error_message = "lambda_batch_size must be a whole number from 1 to 10000."
  }
}

variable "lambda_batching_window_seconds" {
  type        = number
  description = "Seconds the event source mapping may wait to fill a batch before invoking (0 = invoke as soon as messages arrive)."
  default     = 5

  validation {
    condition     = var.lambda_batching_window_seconds >= 0 && var.lambda_batching_window_seconds <= 300 && floor(var.lambda_batching_window_seconds) == var.lambda_batching_window_seconds
    error_message = "lambda_batching_window_seconds must be a whole number from 0 to 300."
  }
}

variable "lambda_max_concurrency" {
  type        = number
  description = "Most concurrent invocations the SQS event source mapping starts; caps the write rate on DynamoDB and the alert rate on SNS."
  default     = 10

  validation {
    condition     = var.lambda_max_concurrency >= 2 && var.lambda_max_concurrency <= 1000 && floor(var.lambda_max_concurrency) == var.lambda_max_concurrency
    error_message = "lambda_max_concurrency must be a whole number from 2 to 1000 (the limits of the mapping's maximum concurrency)."
  }
}

variable "lambda_zip_path" {
  type        = string
  description = "Path of the function package built by `make lambda-zip`. Null means build/lambda.zip at the repository root."
  default     = null

  validation {
    condition     = var.lambda_zip_path == null || can(regex("\\.zip$", var.lambda_zip_path))
    error_message = "lambda_zip_path must name a .zip file."
  }
}

variable "alarm_oldest_message_age_seconds" {
  type        = number
  description = "Alarm when the oldest raw-file message has waited longer than this many seconds (processing is falling behind)."
  default     = 900

  validation {
    condition     = var.alarm_oldest_message_age_seconds >= 60
    error_message = "alarm_oldest_message_age_seconds must be at least 60."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource, merged over the stack's own (Project, ManagedBy, Stack)."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be at most 128 characters and values at most 256."
  }
}

variable "simulator_enabled" {
  type        = bool
  description = "Add the scheduled simulator (simulator.tf): a small function that uploads one simulated file under raw/ on every tick of simulator_schedule, which the pipeline then processes. Off by default: it writes made-up readings into the stack's tables."
  default     = false

  validation {
    condition     = var.simulator_enabled != null
    error_message = "simulator_enabled must be true or false."
  }
}

variable "simulator_schedule" {
  type        = string
  description = "How often the scheduled simulator uploads a file: an EventBridge schedule expression, rate(...) or cron(...)."
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\(1 (minute|hour|day)\\)|rate\\([1-9][0-9]* (minutes|hours|days)\\)|cron\\([^()]+\\))$", var.simulator_schedule))
    error_message = "simulator_schedule must be an EventBridge schedule expression such as \"rate(5 minutes)\", \"rate(1 hour)\" or \"cron(0/15 * * * ? *)\" (\"rate(1 minute)\" is singular, \"rate(5 minutes)\" plural)."
  }
}

variable "simulator_sites" {
  type        = number
  description = "Sites in each simulated file: the Simulate page's fleet site-1..site-N (ENERGY_SIMULATOR_SITES)."
  default     = 5

  validation {
    condition     = var.simulator_sites >= 1 && var.simulator_sites <= 1000 && floor(var.simulator_sites) == var.simulator_sites
    error_message = "simulator_sites must be a whole number from 1 to 1000."
  }
}

variable "simulator_readings_per_site" {
  type        = number
  description = "Readings per site in each simulated file: the 15-minute intervals ending at the tick (ENERGY_SIMULATOR_READINGS_PER_SITE). At most 20,000 readings a file in all."
  default     = 1

  validation {
    condition     = var.simulator_readings_per_site >= 1 && var.simulator_readings_per_site <= 96 && floor(var.simulator_readings_per_site) == var.simulator_readings_per_site
    error_message = "simulator_readings_per_site must be a whole number from 1 to 96 (a day of 15-minute readings)."
  }
}

variable "simulator_anomaly_rate" {
  type        = number
  description = "Expected share of simulated readings that carry an injected anomaly (ENERGY_SIMULATOR_ANOMALY_RATE); 0 for clean data and no alerts."
  default     = 0.02

  validation {
    condition     = var.simulator_anomaly_rate >= 0 && var.simulator_anomaly_rate <= 1
    error_message = "simulator_anomaly_rate must be from 0 to 1."
  }
}

variable "simulator_zip_path" {
  type        = string
  description = "Path of the simulator's package built by `make lambda-zip`. Null means build/simulator.zip at the repository root."
  default     = null

  validation {
    condition     = var.simulator_zip_path == null || can(regex("\\.zip$", var.simulator_zip_path))
    error_message = "simulator_zip_path must name a .zip file."
  }
}

variable "lake_landing_start_date" {
  type        = string
  description = "First day (YYYY-MM-DD, UTC) the pipeline can have written records to the data lake: the start of the records_landing table's partition projection over curated/landing/written=<day>/. Any day on or before the stack's first deployment; an earlier one only makes every query list more empty days."
  default     = "2026-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.lake_landing_start_date)) && can(formatdate("YYYY", "${var.lake_landing_start_date}T00:00:00Z"))
    error_message = "lake_landing_start_date must be a date written YYYY-MM-DD, such as \"2026-01-01\"."
  }
}

variable "lake_readings_start_date" {
  type        = string
  description = "Earliest reading day (YYYY-MM-DD, UTC) Athena looks for in the compacted lake, curated/records/day=<day>/: the start of the records_compacted table's partition projection. Readings of earlier days are invisible to Athena once compacted, so set it no later than the oldest reading you load (backfills included)."
  default     = "2010-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.lake_readings_start_date)) && can(formatdate("YYYY", "${var.lake_readings_start_date}T00:00:00Z"))
    error_message = "lake_readings_start_date must be a date written YYYY-MM-DD, such as \"2010-01-01\"."
  }
}

variable "athena_bytes_scanned_cutoff_per_query" {
  type        = number
  description = "Most bytes one query in the lake's Athena workgroup may scan before Athena cancels it (and bills what it scanned, at $5 per TB). Athena's minimum is 10 MB (10485760); the default is 1 GiB, about half a cent a query."
  default     = 1073741824

  validation {
    condition     = var.athena_bytes_scanned_cutoff_per_query >= 10485760 && floor(var.athena_bytes_scanned_cutoff_per_query) == var.athena_bytes_scanned_cutoff_per_query
    error_message = "athena_bytes_scanned_cutoff_per_query must be a whole number of bytes, at least 10485760 (10 MB, Athena's minimum)."
  }
}

variable "athena_results_retention_days" {
  type        = number
  description = "Days Athena's query results (CSV files and metadata in the workgroup's own results bucket) are kept before S3 expires them."
  default     = 7

  validation {
    condition     = var.athena_results_retention_days >= 1 && floor(var.athena_results_retention_days) == var.athena_results_retention_days
    error_message = "athena_results_retention_days must be a whole number of days, at least 1."
  }
}

variable "lake_compaction_enabled" {
  type        = bool
  description = "Add the scheduled compaction of the data lake (lake.tf): a function that moves the landing objects' rows into one object per reading day, keeping each reading's newest row, on every tick of lake_compaction_schedule. Off, the landing area keeps every write and queries scan all of it."
  default     = true

  validation {
    condition     = var.lake_compaction_enabled != null
    error_message = "lake_compaction_enabled must be true or false."
  }
}

variable "lake_compaction_schedule" {
  type        = string
  description = "How often the data lake is compacted: an EventBridge schedule expression, rate(...) or cron(...)."
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate\\(1 (minute|hour|day)\\)|rate\\([1-9][0-9]* (minutes|hours|days)\\)|cron\\([^()]+\\))$", var.lake_compaction_schedule))
    error_message = "lake_compaction_schedule must be an EventBridge schedule expression such as \"rate(1 hour)\", \"rate(30 minutes)\" or \"cron(15 * * * ? *)\" (\"rate(1 hour)\" is singular, \"rate(2 hours)\" plural)."
  }
}

variable "lake_compaction_timeout_seconds" {
  type        = number
  description = "Timeout of the compaction function in seconds; a run cut short leaves the landing objects it had not merged for the next run."
  default     = 900

  validation {
    condition     = var.lake_compaction_timeout_seconds >= 1 && var.lake_compaction_timeout_seconds <= 900 && floor(var.lake_compaction_timeout_seconds) == var.lake_compaction_timeout_seconds
    error_message = "lake_compaction_timeout_seconds must be a whole number from 1 to 900."
  }
}

variable "lake_compaction_memory_mb" {
  type        = number
  description = "Memory of the compaction function in MB (CPU scales with it): it holds a reading day's rows while it merges them."
  default     = 1024

  validation {
    condition     = var.lake_compaction_memory_mb >= 128 && var.lake_compaction_memory_mb <= 10240 && floor(var.lake_compaction_memory_mb) == var.lake_compaction_memory_mb
    error_message = "lake_compaction_memory_mb must be a whole number from 128 to 10240."
  }
}
