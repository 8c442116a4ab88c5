"""Configuration, read from the environment in this one place.

Defaults match terraform/ so that an unconfigured process talks to resources of the same
names as a deployed stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from pipeline.episodes import Policy
from pipeline.formats import KB, MB, Limits

BACKENDS = ("local", "aws")
DEFAULT_LOCAL_PORT = 4566
# Where the embedded stack keeps its data between runs: `.energy-data/` in the project.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".energy-data"
MAX_DEPTH_CEILING = 500  # deeper and json's C decoder would hit Python's recursion limit first
_LIMITS = Limits()


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot work with."""


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    bucket: str = "energy-raw-data"
    table: str = "energy_data"
    rollup_table: str = "energy_rollups"
    sites_table: str = "energy_sites"
    files_table: str = "energy_files"
    queue: str = "energy-raw-events"
    dlq: str = "energy-raw-events-dlq"
    topic: str = "energy-anomaly-alerts"
    topic_arn: str | None = None
    alerts_queue: str = "energy-alerts-local"
    max_receive_count: int = 5
    queue_visibility_seconds: int = 360
    # The SQS event source mapping (terraform's lambda_batch_size and
    # lambda_batching_window_seconds), which the embedded runner plays: most messages handed
    # to one invocation, and how long to gather them. Small files of a batch are stored
    # together, by site (`processing.process_batch`).
    batch_size: int = 1000
    batching_window_seconds: int = 5
    alert_max_lines: int = 20
    # Alert episodes (pipeline.episodes), in the readings' time: a reminder at most this often
    # while an episode stays active, and "resolved" once a site was clean of its rule this long.
    repeat_interval_minutes: int = 360
    resolve_after_minutes: int = 120
    raw_prefix: str = "raw/"
    quarantine_prefix: str = "quarantine/"
    reports_prefix: str = "reports/"  # outside raw/, so a saved report never triggers processing
    lake_prefix: str = "curated/"  # the data lake's Parquet copy of the records (pipeline.lake)
    # Where Athena finds the lake on AWS (terraform/lake.tf): the Glue database holding its
    # tables and the `records` view, and the workgroup queries run in (its results bucket and
    # per-query scan limit). Unused locally, where DuckDB reads the lake.
    lake_database: str = "energy_lake"
    athena_workgroup: str = "energy-lake"
    data_dir: str = ""  # the embedded stack's data directory (ENERGY_DATA_DIR); only local_aws uses it
    chunk_readings: int = 5_000  # rows judged and stored at once ...
    chunk_mb: int = 16  # ... or fewer, once their text adds up to this: what bounds a file's memory
    max_object_mb: int = _LIMITS.max_object_bytes // MB
    max_decompressed_mb: int = _LIMITS.max_decompressed_bytes // MB
    max_ratio: int = _LIMITS.max_ratio
    max_row_kb: int = _LIMITS.max_row_bytes // KB
    max_columns: int = _LIMITS.max_columns
    max_depth: int = _LIMITS.max_depth
    # A person is waiting (the app, the CLI): clients fail fast instead of retrying like the Lambda.
    interactive: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        backend = env.get("ENERGY_BACKEND", "local").strip().lower() or "local"
        if backend not in BACKENDS:
            raise ConfigError(f"ENERGY_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
        endpoint = env.get("AWS_ENDPOINT_URL") or None
        if backend == "local" and endpoint is None:
            port = _int(env, "ENERGY_LOCAL_PORT", DEFAULT_LOCAL_PORT)
            endpoint = f"http://127.0.0.1:{port}"
        return cls(
            backend=backend,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.region,
            endpoint_url=endpoint,
            bucket=env.get("ENERGY_BUCKET", cls.bucket),
            table=env.get("ENERGY_TABLE", cls.table),
            rollup_table=env.get("ENERGY_ROLLUP_TABLE", cls.rollup_table),
            sites_table=env.get("ENERGY_SITES_TABLE", cls.sites_table),
            files_table=env.get("ENERGY_FILES_TABLE", cls.files_table),
            queue=env.get("ENERGY_QUEUE", cls.queue),
            dlq=env.get("ENERGY_DLQ", cls.dlq),
            topic=env.get("ENERGY_TOPIC", cls.topic),
            topic_arn=env.get("ENERGY_TOPIC_ARN") or None,
            lake_database=env.get("ENERGY_LAKE_DATABASE", cls.lake_database),
            athena_workgroup=env.get("ENERGY_ATHENA_WORKGROUP", cls.athena_workgroup),
            alerts_queue=env.get("ENERGY_ALERTS_QUEUE", cls.alerts_queue),
            max_receive_count=_int(env, "ENERGY_MAX_RECEIVE_COUNT", cls.max_receive_count),
            queue_visibility_seconds=_int(env, "ENERGY_QUEUE_VISIBILITY_SECONDS", cls.queue_visibility_seconds),
            batch_size=_int(env, "ENERGY_BATCH_SIZE", cls.batch_size, ceiling=10_000),
            batching_window_seconds=_int(
                env, "ENERGY_BATCHING_WINDOW_SECONDS", cls.batching_window_seconds, ceiling=300
            ),
            alert_max_lines=_int(env, "ENERGY_ALERT_MAX_LINES", cls.alert_max_lines),
            repeat_interval_minutes=_int(env, "ENERGY_REPEAT_INTERVAL_MINUTES", cls.repeat_interval_minutes),
            resolve_after_minutes=_int(env, "ENERGY_RESOLVE_AFTER_MINUTES", cls.resolve_after_minutes),
            data_dir=env.get("ENERGY_DATA_DIR") or str(DEFAULT_DATA_DIR),
            chunk_readings=_int(env, "ENERGY_CHUNK_READINGS", cls.chunk_readings),
            chunk_mb=_int(env, "ENERGY_CHUNK_MB", cls.chunk_mb),
            max_object_mb=_int(env, "ENERGY_MAX_OBJECT_MB", cls.max_object_mb),
            max_decompressed_mb=_int(env, "ENERGY_MAX_DECOMPRESSED_MB", cls.max_decompressed_mb),
            max_ratio=_int(env, "ENERGY_MAX_RATIO", cls.max_ratio),
            max_row_kb=_int(env, "ENERGY_MAX_ROW_KB", cls.max_row_kb),
            max_columns=_int(env, "ENERGY_MAX_COLUMNS", cls.max_columns),
            max_depth=_int(env, "ENERGY_MAX_DEPTH", cls.max_depth, ceiling=MAX_DEPTH_CEILING),
        )

    def limits(self) -> Limits:
        """What one raw file may cost to read (see `pipeline.formats.Limits`)."""
        return Limits(
            max_object_bytes=self.max_object_mb * MB,
            max_decompressed_bytes=self.max_decompressed_mb * MB,
            max_ratio=self.max_ratio,
            max_row_bytes=self.max_row_kb * KB,
            max_columns=self.max_columns,
            max_depth=self.max_depth,
        )

    def episode_policy(self) -> Policy:
        return Policy(timedelta(minutes=self.repeat_interval_minutes), timedelta(minutes=self.resolve_after_minutes))

    def with_endpoint(self, endpoint_url: str) -> Settings:
        return replace(self, endpoint_url=endpoint_url)

    def for_people(self) -> Settings:
        """The same stack, with clients that report a dead endpoint in seconds (see pipeline.aws)."""
        return replace(self, interactive=True)

    def public(self) -> dict[str, object]:
        """What `python -m pipeline config` prints (no secrets live here)."""
        return {
            "backend": self.backend,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "bucket": self.bucket,
            "table": self.table,
            "rollup_table": self.rollup_table,
            "sites_table": self.sites_table,
            "files_table": self.files_table,
            "queue": self.queue,
            "dlq": self.dlq,
            "topic": self.topic,
            "alerts_queue": self.alerts_queue,
            "max_receive_count": self.max_receive_count,
            "batch_size": self.batch_size,
            "batching_window_seconds": self.batching_window_seconds,
            "repeat_interval_minutes": self.repeat_interval_minutes,
            "resolve_after_minutes": self.resolve_after_minutes,
            "data_dir": self.data_dir,
            "chunk_readings": self.chunk_readings,
            "chunk_mb": self.chunk_mb,
            "limits": {
                "max_object_mb": self.max_object_mb,
                "max_decompressed_mb": self.max_decompressed_mb,
                "max_ratio": self.max_ratio,
                "max_row_kb": self.max_row_kb,
                "max_columns": self.max_columns,
                "max_depth": self.max_depth,
            },
        }


def _int(env: Mapping[str, str], name: str, default: int, ceiling: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    if ceiling is not None and value > ceiling:
        raise ConfigError(f"{name} must be at most {ceiling}, not {value}")
    return value
