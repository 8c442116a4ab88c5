"""Ingest: readings per second from upload to stored, ours against the original Lambda.

Ours: `raw_files.upload` puts each file in S3, S3 notifies SQS, and the runner drains the
queue through the real handler (parse, validate, derive, detect, store in batches with
rollups and the file's outcome, one alert per file). The clock stops when every file is
processed. The time ours spends writing the data lake's copy (`lake.write_ahead`, one S3 PUT
of Parquet per write) is measured in the same runs: its share of ours must stay within 10%.

Baseline: what the original Lambda did, implemented here: upload the same bytes, then per
file `get_object`, `json.loads`, one `put_item` per reading (with `net_energy_kwh` and the
negative-value anomaly flag) and one SNS publish per anomaly.

Both start from freshly created tables (the stack is reset before every run), so no
reading is ever already stored and idempotency cannot skip a write.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.common import (  # noqa: E402
    CALL_HEADERS,
    BenchStack,
    aws_calls,
    bench_sites,
    call_rows,
    embedded_stack,
    markdown_table,
    number,
    parse_args,
    progress,
    ratio_line,
    report,
    seconds,
    timed,
)
from pipeline import raw_files, record_store  # noqa: E402
from pipeline.aws import client  # noqa: E402
from pipeline.file_outcomes import file_outcomes  # noqa: E402
from pipeline.ops.simulation import encode, simulate  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sites import Site, put_sites  # noqa: E402

TARGET = 8.0
LAKE_SHARE_TARGET = 0.10  # of ours: the data lake's copy must not cost more
SITES = 10
# (readings per file, files): the same 10,000 readings at every size, so that each size
# measures throughput (5 files of 100 readings measured mostly one invocation's fixed calls).
FULL = ((100, 100), (1_000, 10), (10_000, 1))
QUICK = ((20, 2), (100, 1))
BASELINE_PREFIX = "baseline/"


@dataclass(frozen=True)
class File:
    key: str
    body: bytes
    readings: int  # rows in the file
    distinct: int  # (site, timestamp) keys among them: what ends up stored


@dataclass(frozen=True)
class Run:
    seconds: float
    readings: int
    calls: dict[str, Any]
    lake_seconds: float = 0.0  # of `seconds`, writing the data lake's copy

    @property
    def rate(self) -> float:
        return self.readings / self.seconds


def make_files(sites: list[Site], size: int, count: int, now: datetime) -> list[File]:
    """`count` JSON files of `size` simulated readings each, none sharing a key with another,
    oldest first, as a meter uploads them."""
    per_site = max(1, size // len(sites))
    span = timedelta(minutes=sites[0].interval_minutes * per_site)
    files = []
    for i in range(count):
        end = now - (count - 1 - i) * span
        simulated = simulate(sites, end, per_site, anomaly_rate=0.02, seed=size * 1000 + i)
        key = f"raw/{end:%Y/%m/%d}/bench-ingest-{size}-{i:03d}.json"
        distinct = len({(r["site_id"], r["timestamp"]) for r in simulated.readings})
        files.append(File(key, encode(simulated.readings, "json"), len(simulated.readings), distinct))
    return files


# --- ours ------------------------------------------------------------------------------


def run_ours(stack: BenchStack, sites: list[Site], files: list[File]) -> Run:
    settings = stack.reset()
    put_sites(settings, sites)
    runner = stack.runner()

    def upload_and_drain() -> None:
        for f in files:
            raw_files.upload(settings, f.key, f.body)
        runner.drain(timeout=900)

    lake_seconds = [0.0]
    write_ahead = record_store.write_ahead

    def timed_write_ahead(*args: Any, **kwargs: Any) -> Any:
        took, key = timed(lambda: write_ahead(*args, **kwargs))
        lake_seconds[0] += took
        return key

    record_store.write_ahead = timed_write_ahead  # the handler runs in this process (the runner)
    try:
        with aws_calls() as calls:
            elapsed, _ = timed(upload_and_drain)
    finally:
        record_store.write_ahead = write_ahead
    outcomes = file_outcomes(settings, [f.key for f in files])
    written = sum(o.written for o in outcomes.values())
    expected = sum(f.distinct for f in files)
    if len(outcomes) != len(files) or written != expected:
        raise SystemExit(f"ours stored {written} of {expected} readings ({len(outcomes)} of {len(files)} files)")
    return Run(elapsed, sum(f.readings for f in files), dict(calls), lake_seconds[0])


# --- the original Lambda ---------------------------------------------------------------


class OriginalLambda:
    """The original `process_data.py`: one put_item per reading, one SNS message per anomaly."""

    def __init__(self, settings: Settings) -> None:
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=settings.region
        )
        self.table = session.resource("dynamodb", endpoint_url=settings.endpoint_url, config=config).Table(
            settings.table
        )
        self.s3 = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
        self.sns = session.client("sns", endpoint_url=settings.endpoint_url, config=config)
        self.topic_arn = self.sns.create_topic(Name=settings.topic)["TopicArn"]

    def handler(self, event: dict[str, Any]) -> None:
        for record in event["Records"]:
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            for row in json.loads(body, parse_float=Decimal):
                generated = Decimal(str(row["energy_generated_kwh"]))
                consumed = Decimal(str(row["energy_consumed_kwh"]))
                anomaly = generated < 0 or consumed < 0
                self.table.put_item(
                    Item={
                        "site_id": row["site_id"],
                        "timestamp": row["timestamp"],
                        "energy_generated_kwh": generated,
                        "energy_consumed_kwh": consumed,
                        "net_energy_kwh": generated - consumed,
                        "anomaly": anomaly,
                    }
                )
                if anomaly:
                    self.sns.publish(
                        TopicArn=self.topic_arn,
                        Subject="Energy Anomaly Alert",
                        Message=(
                            f"Anomaly Detected!\nSite: {row['site_id']}\nTimestamp: {row['timestamp']}\n"
                            f"Generated: {generated}\nConsumed: {consumed}"
                        ),
                    )


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}}}
        ]
    }


def run_baseline(stack: BenchStack, files: list[File]) -> Run:
    settings = stack.reset()
    original = OriginalLambda(settings)
    keys = [BASELINE_PREFIX + f.key for f in files]  # outside raw/: no notification, no runner

    def upload_and_process() -> None:
        for key, f in zip(keys, files, strict=True):
            original.s3.put_object(Bucket=settings.bucket, Key=key, Body=f.body)
        for key in keys:
            original.handler(s3_event(settings.bucket, key))

    with aws_calls() as calls:
        elapsed, _ = timed(upload_and_process)
    pages = client(settings, "dynamodb").get_paginator("scan").paginate(TableName=settings.table, Select="COUNT")
    stored = sum(page["Count"] for page in pages)
    expected = sum(f.distinct for f in files)
    if stored != expected:
        raise SystemExit(f"the baseline stored {stored} of {expected} readings")
    return Run(elapsed, sum(f.readings for f in files), dict(calls))


# --- the report ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    plan = QUICK if args.quick else FULL
    sites = bench_sites(min(SITES, plan[0][0]))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows, ratios, lake_shares, largest = [], [], [], None
    with embedded_stack() as stack:
        for size, count in plan:
            files = make_files(sites, size, count, now)
            ours = run_ours(stack, sites, files)
            progress(f"ingest {number(size)}-reading files: ours {seconds(ours.seconds)}")
            baseline = run_baseline(stack, files)
            progress(f"ingest {number(size)}-reading files: baseline {seconds(baseline.seconds)}")
            ratio = ours.rate / baseline.rate
            ratios.append((size, ratio))
            largest = (size, ours, baseline)
            rows.append(
                [
                    number(size),
                    number(count),
                    number(ours.readings),
                    seconds(ours.seconds),
                    number(ours.rate),
                    seconds(baseline.seconds),
                    number(baseline.rate),
                    f"{ratio:.2f}x",
                    f"{ours.lake_seconds / ours.seconds:.1%}",
                ]
            )
            lake_shares.append((size, ours.lake_seconds / ours.seconds))
    worst_size, worst = min(ratios, key=lambda sr: sr[1])
    notes = [
        f"{len(sites)} simulated sites at 15-minute cadence, 2% injected anomalies; "
        "JSON files as the simulator writes them.",
        "ours = upload to S3 -> S3 notification -> SQS -> runner -> lambda/handler.py, until every file is stored;"
        " baseline = the original Lambda (put_item per reading, SNS publish per anomaly) on the same uploads.",
        "each run starts from freshly created tables, so every reading is a new write for both.",
    ]
    report(
        "Ingest: upload to stored (readings per second)",
        [
            "readings per file",
            "files",
            "readings",
            "ours",
            "ours readings/s",
            "baseline",
            "baseline readings/s",
            "ours/baseline",
            "ours: lake copy",
        ],
        rows,
        [
            ratio_line(
                "ours/baseline",
                worst,
                f">= {TARGET:g}x",
                worst >= TARGET,
                f"worst size, {number(worst_size)}-reading files; "
                + ", ".join(f"{number(s)}: {r:.2f}x" for s, r in ratios),
            ),
            f"lake copy's share of ours: at most {max(share for _, share in lake_shares):.1%} "
            f"(target <= {LAKE_SHARE_TARGET:.0%}): "
            + ("met" if max(share for _, share in lake_shares) <= LAKE_SHARE_TARGET else "MISSED"),
        ],
        notes,
    )
    assert largest is not None
    size, ours, baseline = largest
    print(f"\nWhere the time goes at {number(size)}-reading files, ours ({seconds(ours.seconds)}):\n")
    print(markdown_table(CALL_HEADERS, call_rows(ours.calls, ours.seconds)))
    print(f"\nand the baseline ({seconds(baseline.seconds)}):\n")
    print(markdown_table(CALL_HEADERS, call_rows(baseline.calls, baseline.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
