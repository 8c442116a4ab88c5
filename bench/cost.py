"""Cost: what a million readings cost on AWS, ours against the original Lambda, by file size.

Both sides run on the same embedded AWS in the same process, on the same readings, and
are priced from the calls they actually make (`bench/billing.py` records each one with
the images of the items it touched): DynamoDB request units from item sizes as AWS bills
them, S3, SQS and SNS requests, Lambda invocations and their duration.

Ours: every file is uploaded first (not counted: the uploader is the same for both), then
the embedded runner drains the queue through lambda/handler.py. The runner plays the SQS
event source mapping: its receives (those that brought messages), deletes and visibility
changes are the mapping's SQS requests, and each handler call is one Lambda invocation.
S3's notification of each upload to SQS is one more SQS request per file (moto sends it
inside the emulator, where no client sees it). The harness's own queue checks (queue URL,
queue attributes) are not counted.

Original: the original Lambda, invoked by S3 directly once per file (no queue): get_object,
one put_item per reading, one SNS publish per anomaly.

Nothing here depends on how the pipeline batches: only on the calls it makes.
"""

from __future__ import annotations

import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.billing import Call, Invocation, Recorder, payload_requests, recording, s3_class, sqs_payload  # noqa: E402
from bench.common import (  # noqa: E402
    BenchStack,
    bench_sites,
    embedded_stack,
    markdown_table,
    number,
    parse_args,
    progress,
    ratio_line,
    report,
)
from bench.ingest import BASELINE_PREFIX, OriginalLambda, s3_event  # noqa: E402
from pipeline import raw_files  # noqa: E402
from pipeline.file_outcomes import file_outcomes  # noqa: E402
from pipeline.ops.simulation import encode, simulate  # noqa: E402
from pipeline.sites import Site, put_sites  # noqa: E402

# --- prices: us-east-1, on-demand list prices as of 2026 (check the AWS pricing pages) ----


@dataclass(frozen=True)
class Price:
    dollars: float
    per: float  # this many units cost `dollars`
    unit: str

    def of(self, quantity: float) -> float:
        return quantity * self.dollars / self.per


PRICES_AS_OF = "us-east-1, on-demand list prices as of 2026"
PRICES = {
    "dynamodb_write": Price(0.625, 1_000_000, "write request unit"),
    "dynamodb_read": Price(0.125, 1_000_000, "read request unit"),
    "s3_get": Price(0.0004, 1_000, "GET (and HEAD, SELECT) request"),
    "s3_put": Price(0.005, 1_000, "PUT, COPY, POST or LIST request"),
    "sqs": Price(0.40, 1_000_000, "standard queue request (per 64 KB of payload)"),
    "lambda_request": Price(0.20, 1_000_000, "invocation"),
    "lambda_arm64": Price(0.0000133334, 1, "GB-second, arm64"),
    "lambda_x86": Price(0.0000166667, 1, "GB-second, x86_64"),
    "sns_publish": Price(0.50, 1_000_000, "publish (per 64 KB of payload)"),
    "sns_email": Price(2.00, 100_000, "email delivery"),
    "cloudwatch_alarm": Price(0.10, 1, "standard-resolution alarm-month"),
}
# A Lambda invocation is billed for its duration, which this machine cannot measure: it is
# modelled as the CPU time of the thread that ran the handler (moto runs in other threads)
# plus this network latency per AWS call the handler makes (its round trip inside AWS).
LATENCY_SECONDS = {"dynamodb": 0.005, "s3": 0.015, "sqs": 0.010, "sns": 0.010}
# The idle stack: the event source mapping keeps this many pollers long-polling the queue.
IDLE_POLLERS = 5
LONG_POLL_SECONDS = 20
HOURS_PER_MONTH = 730

ORIGINAL_MEMORY_MB = 128  # the original function: x86_64, 128 MB
TARGETS = {1: 2.0, 12: 1.2, 100: 1.1, 1_000: 1.1}  # ours <= this many times the original's dollars
ESM_SQS = frozenset(
    {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}
)
CADENCE_MINUTES = 5
ANOMALY_RATE = 0.02


@dataclass(frozen=True)
class Shape:
    """Files of `per_site` readings for each of `sites_per_file` sites, `files_per_group` in a row."""

    readings_per_file: int
    groups: int  # sets of sites uploading side by side (one site each, or 10 sites per file)
    sites_per_file: int
    files_per_group: int
    what: str

    @property
    def per_site(self) -> int:
        return self.readings_per_file // self.sites_per_file

    @property
    def files(self) -> int:
        return self.groups * self.files_per_group


FULL = (
    Shape(1, 4, 1, 288, "4 sites each upload every 5-minute reading as its own file, a full day"),
    Shape(12, 10, 1, 24, "10 sites each upload an hourly file of 5-minute readings, a full day"),
    Shape(100, 1, 10, 20, "files of 10 sites x 10 readings"),
    Shape(1_000, 1, 10, 4, "files of 10 sites x 100 readings"),
)
QUICK = (
    Shape(1, 2, 1, 12, "2 sites each upload every 5-minute reading as its own file, one hour"),
    Shape(12, 2, 1, 3, "2 sites each upload hourly files of 5-minute readings"),
    Shape(100, 1, 10, 2, "files of 10 sites x 10 readings"),
    Shape(1_000, 1, 10, 1, "files of 10 sites x 100 readings"),
)


# --- the files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    key: str
    body: bytes
    readings: int
    distinct: int


def make_files(shape: Shape, sites: list[Site], day: datetime) -> list[File]:
    """The shape's files, oldest first, every group of sites uploading side by side."""
    groups = [sites[g * shape.sites_per_file : (g + 1) * shape.sites_per_file] for g in range(shape.groups)]
    step = timedelta(minutes=CADENCE_MINUTES)
    files = []
    for i in range(shape.files_per_group):
        end = day + ((i + 1) * shape.per_site - 1) * step
        for g, group in enumerate(groups):
            simulated = simulate(group, end, shape.per_site, anomaly_rate=ANOMALY_RATE, seed=7)
            if not simulated.readings:
                continue  # the simulator's gap (a meter that missed its slot): no file is sent
            key = f"raw/{end:%Y/%m/%d}/cost-{shape.readings_per_file}-{g:02d}-{end:%H%M}-{i:04d}.json"
            distinct = len({(r["site_id"], r["timestamp"]) for r in simulated.readings})
            files.append(File(key, encode(simulated.readings, "json"), len(simulated.readings), distinct))
    return files


# --- what a run cost ----------------------------------------------------------------------


@dataclass
class Tally:
    """Billable quantities of one run, and what they came from."""

    files: int
    readings: int
    memory_mb: int
    arch: str
    read_units: float = 0.0
    write_units: float = 0.0
    s3_get: int = 0
    s3_put: int = 0
    sqs: int = 0
    invocations: int = 0
    gb_seconds: float = 0.0
    sns_publishes: int = 0
    emails: int = 0
    harness_calls: int = 0
    # (service or table[/index], operation) -> [calls, read units, write units, requests]
    lines: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0, 0.0, 0]))

    def dollars(self) -> dict[str, float]:
        return {
            "DynamoDB": PRICES["dynamodb_read"].of(self.read_units) + PRICES["dynamodb_write"].of(self.write_units),
            "S3": PRICES["s3_get"].of(self.s3_get) + PRICES["s3_put"].of(self.s3_put),
            "SQS": PRICES["sqs"].of(self.sqs),
            "Lambda": PRICES["lambda_request"].of(self.invocations) + PRICES[f"lambda_{self.arch}"].of(self.gb_seconds),
            "SNS": PRICES["sns_publish"].of(self.sns_publishes) + PRICES["sns_email"].of(self.emails),
        }

    def total(self) -> float:
        return sum(self.dollars().values())

    def per_million(self, quantity: float) -> float:
        return quantity * 1_000_000 / self.readings


def billed_seconds(invocation: Invocation) -> float:
    """CPU time plus a round trip per call, rounded up to the millisecond as Lambda bills."""
    latency = sum(LATENCY_SECONDS.get(call.service, 0.0) for call in invocation.calls)
    return math.ceil((invocation.cpu_seconds + latency) * 1000) / 1000


def tally(recorder: Recorder, files: list[File], *, memory_mb: int, arch: str, topic: str, notified: bool) -> Tally:
    """Price every call of a run; `notified` adds S3's notification of each file to SQS."""
    result = Tally(len(files), sum(f.readings for f in files), memory_mb, arch)
    if files and not recorder.invocations:
        raise SystemExit("no handler call was seen: the runner no longer calls `runner.handler`; update bench/cost.py")
    for call in recorder.calls:
        if call.invocation is None and not (call.service == "sqs" and call.operation in ESM_SQS):
            if call.service != "sqs":
                raise SystemExit(f"{call.service}.{call.operation} made outside any invocation: update bench/cost.py")
            result.harness_calls += 1
            continue
        add_call(result, call, topic)
    if notified:
        result.sqs += len(files)
        result.lines[("sqs", "SendMessage (S3 notification)")][0] += len(files)
        result.lines[("sqs", "SendMessage (S3 notification)")][3] += len(files)
    result.invocations = len(recorder.invocations)
    result.gb_seconds = sum(billed_seconds(i) for i in recorder.invocations) * memory_mb / 1024
    result.lines[("lambda", "invocation")][0] += result.invocations
    result.lines[("lambda", "invocation")][3] += result.invocations
    return result


def add_call(result: Tally, call: Call, topic: str) -> None:
    if call.service == "dynamodb":
        seen: set[str] = set()
        for u in call.units:
            where = u.table + (f"/{u.index}" if u.index else "")
            line = result.lines[(where, call.operation)]
            if where not in seen:
                line[0] += 1
                seen.add(where)
            line[1] += u.read
            line[2] += u.write
            result.read_units += u.read
            result.write_units += u.write
        return
    requests = 1
    if call.service == "s3":
        kind = s3_class(call.operation)
        requests = 0 if kind is None else 1
        result.s3_get += kind == "get"
        result.s3_put += kind == "put"
    elif call.service == "sqs":
        if call.operation == "ReceiveMessage" and not call.response.get("Messages"):
            return  # an empty receive is the mapping's idle polling: priced with the idle stack
        requests = payload_requests(sqs_payload(call.operation, call.params, call.response))
        result.sqs += requests
    elif call.service == "sns":
        requests = 0  # SNS bills publishes and their deliveries, not topic look-ups
        if call.operation == "Publish":
            requests = payload_requests(len(str(call.params.get("Message", "")).encode()))
            result.sns_publishes += requests
            result.emails += str(call.params.get("TopicArn", "")).endswith(f":{topic}")
    line = result.lines[(call.service, call.operation)]
    line[0] += 1
    line[3] += requests


# --- the two runs --------------------------------------------------------------------------


def lambda_memory_mb() -> int:
    """The function's memory as terraform/variables.tf sets it by default."""
    text = (ROOT / "terraform" / "variables.tf").read_text(encoding="utf-8")
    match = re.search(r'variable "lambda_memory_mb" \{[^}]*?default\s*=\s*(\d+)', text, re.S)
    if not match:
        raise SystemExit("no default for lambda_memory_mb in terraform/variables.tf: update bench/cost.py")
    return int(match.group(1))


def run_ours(stack: BenchStack, sites: list[Site], files: list[File]) -> Tally:
    settings = stack.reset()
    put_sites(settings, sites)
    runner = stack.runner()
    for f in files:
        raw_files.upload(settings, f.key, f.body)
    with recording() as recorder:
        runner.handler = recorder.invoked(runner.handler)
        runner.drain(timeout=1800)
    outcomes = file_outcomes(settings, [f.key for f in files])
    written = sum(o.written for o in outcomes.values())
    expected = sum(f.distinct for f in files)
    if len(outcomes) != len(files) or written != expected:
        raise SystemExit(f"ours stored {written} of {expected} readings ({len(outcomes)} of {len(files)} files)")
    return tally(recorder, files, memory_mb=lambda_memory_mb(), arch="arm64", topic=settings.topic, notified=True)


def run_original(stack: BenchStack, files: list[File]) -> Tally:
    settings = stack.reset()
    original = OriginalLambda(settings)
    keys = [BASELINE_PREFIX + f.key for f in files]  # outside raw/: no notification, no runner
    for key, f in zip(keys, files, strict=True):
        original.s3.put_object(Bucket=settings.bucket, Key=key, Body=f.body)
    with recording() as recorder:
        handler = recorder.invoked(original.handler)
        for key in keys:
            handler(s3_event(settings.bucket, key))
    stored = sum(
        page["Count"]
        for page in original.table.meta.client.get_paginator("scan").paginate(TableName=settings.table, Select="COUNT")
    )
    if stored != sum(f.distinct for f in files):
        raise SystemExit(f"the original stored {stored} of {sum(f.distinct for f in files)} readings")
    return tally(recorder, files, memory_mb=ORIGINAL_MEMORY_MB, arch="x86", topic=settings.topic, notified=False)


# --- the report ------------------------------------------------------------------------------


def money(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if value >= 0.1 else f"${value:,.4f}"


def shape_rows(size: int, runs: dict[str, Tally]) -> list[list[str]]:
    rows = []
    for who, t in runs.items():
        rows.append(
            [
                number(size),
                who,
                number(t.files),
                number(t.readings),
                number(t.per_million(t.read_units)),
                number(t.per_million(t.write_units)),
                number(t.per_million(t.s3_get + t.s3_put)),
                number(t.per_million(t.sqs)),
                number(t.per_million(t.invocations)),
                number(t.per_million(t.sns_publishes)),
                money(t.per_million(t.total())),
            ]
        )
    ours, original = runs["ours"], runs["original"]
    rows[0].append(f"{ours.total() / ours.readings / (original.total() / original.readings):.2f}x")
    rows[1].append("")
    return rows


def dollar_rows(size: int, runs: dict[str, Tally]) -> list[list[str]]:
    rows = []
    for who, t in runs.items():
        d = t.dollars()
        duration = PRICES[f"lambda_{t.arch}"].of(t.gb_seconds)
        rows.append(
            [number(size), who]
            + [money(t.per_million(d[s])) for s in ("DynamoDB", "S3", "SQS")]
            + [money(t.per_million(d["Lambda"] - duration)), money(t.per_million(duration))]
            + [
                money(t.per_million(d["SNS"])),
                f"{t.gb_seconds / max(1, t.invocations) * 1024 / t.memory_mb * 1000:,.1f}",
            ]
        )
    return rows


def per_file_rows(size: int, t: Tally) -> list[list[str]]:
    ranked = sorted(t.lines.items(), key=lambda kv: (-(kv[1][2] + kv[1][1]), kv[0]))
    rows = []
    for (where, operation), (calls, read, write, requests) in ranked:
        dollars = _line_dollars(where, operation, read, write, requests, t)
        rows.append(
            [
                number(size),
                where,
                operation,
                f"{calls / t.files:,.2f}",
                f"{read / t.files:,.2f}" if read else "",
                f"{write / t.files:,.2f}" if write else "",
                f"{requests / t.files:,.2f}" if requests else "",
                f"{dollars / t.files * 1_000_000:,.2f}",
            ]
        )
    return rows


def _line_dollars(where: str, operation: str, read: float, write: float, requests: float, t: Tally) -> float:
    if where == "s3":
        kind = s3_class(operation)
        return PRICES[f"s3_{kind}"].of(requests) if kind else 0.0
    if where == "sqs":
        return PRICES["sqs"].of(requests)
    if where == "sns":
        return PRICES["sns_publish"].of(requests) + PRICES["sns_email"].of(t.emails) if operation == "Publish" else 0.0
    if where == "lambda":
        return PRICES["lambda_request"].of(requests) + PRICES[f"lambda_{t.arch}"].of(t.gb_seconds)
    return PRICES["dynamodb_read"].of(read) + PRICES["dynamodb_write"].of(write)


def idle_month() -> list[list[str]]:
    """What the stack costs a month with nothing uploaded."""
    alarms = sum(
        len(re.findall(r'resource\s+"aws_cloudwatch_metric_alarm"', tf.read_text(encoding="utf-8")))
        for tf in (ROOT / "terraform").glob("*.tf")
    )
    polls = IDLE_POLLERS * (60 / LONG_POLL_SECONDS) * 60 * HOURS_PER_MONTH
    rows = [
        ["CloudWatch alarms (terraform/)", f"{alarms} alarms", money(PRICES["cloudwatch_alarm"].of(alarms))],
        [
            f"SQS long polling by the event source mapping ({IDLE_POLLERS} pollers, {LONG_POLL_SECONDS}-s waits)",
            f"{number(polls)} requests",
            money(PRICES["sqs"].of(polls)),
        ],
        ["Lambda, DynamoDB on demand, S3 requests, SNS", "nothing without uploads", "$0.00"],
    ]
    total = PRICES["cloudwatch_alarm"].of(alarms) + PRICES["sqs"].of(polls)
    rows.append(["total (before free tiers; storage extra)", "", money(total)])
    return rows


def plural(count: int, noun: str) -> str:
    return f"{number(count)} {noun}{'' if count == 1 else 's'}"


def label(shape: Shape) -> str:
    return f"{number(shape.readings_per_file)}-reading files"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    plan = QUICK if args.quick else FULL
    sites = [
        replace(s, interval_minutes=CADENCE_MINUTES)
        for s in bench_sites(max(s.groups * s.sites_per_file for s in plan))
    ]
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    results: dict[int, dict[str, Tally]] = {}
    with embedded_stack() as stack:
        for shape in plan:
            files = make_files(shape, sites, day)
            ours = run_ours(stack, sites, files)
            progress(f"cost {label(shape)}: ours {money(ours.per_million(ours.total()))} per million readings")
            original = run_original(stack, files)
            progress(f"cost {label(shape)}: original {money(original.per_million(original.total()))} per million")
            results[shape.readings_per_file] = {"ours": ours, "original": original}

    rows = [row for size, runs in results.items() for row in shape_rows(size, runs)]
    ratios = []
    for size, runs in results.items():
        ours, original = runs["ours"], runs["original"]
        ours_m, original_m = ours.per_million(ours.total()), original.per_million(original.total())
        ratio = ours_m / original_m
        target = TARGETS[size]
        ratios.append(
            ratio_line(
                f"ours/original $ per million readings at {number(size)} reading{'s' if size > 1 else ''}/file",
                ratio,
                f"<= {target:g}x",
                ratio <= target,
                f"{money(ours_m)} vs {money(original_m)}",
            )
        )
    memory = lambda_memory_mb()
    notes = [
        "shapes: "
        + "; ".join(
            f"{s.readings_per_file}: {s.what} ({plural(results[s.readings_per_file]['ours'].files, 'file')})"
            for s in plan
        )
        + "; the simulator's gaps send no file, a stray reading from a wrong clock makes a file one reading longer.",
        f"prices: {PRICES_AS_OF}, in one table at the top of bench/cost.py; no free tier.",
        "DynamoDB units from the items each call touched, read before and after it (uncounted): "
        "writes ceil(max(size before, after) / 1 KB), twice in a transaction, plus a write per GSI the item is in "
        "(two when its index key changes); reads ceil(whole item / 4 KB), half when eventually consistent, two in a "
        "transaction, the minimum for a missing key; Query/Scan pages by the total read, rounded up to 4 KB.",
        "SQS: a request per call per 64 KB of payload, plus S3's notification of each upload (ours); the runner's "
        "empty receives are the mapping's idle polling (see the idle stack); uploads are not counted for either.",
        f"Lambda: ours arm64 {memory} MB (terraform/variables.tf), the original x86_64 {ORIGINAL_MEMORY_MB} MB; "
        "duration modelled as the handler thread's CPU time on this machine plus a round trip per AWS call ("
        + ", ".join(f"{s} {v * 1000:g} ms" for s, v in LATENCY_SECONDS.items())
        + "), rounded up to 1 ms per invocation.",
        "SNS: every publish to the alert topic is also one email (as the topic's email subscription sends it in AWS); "
        f"{ANOMALY_RATE:.0%} injected anomalies.",
    ]
    report(
        "Cost per million readings: ours against the original Lambda",
        [
            "readings per file",
            "who",
            "files",
            "readings",
            "read units",
            "write units",
            "S3 requests",
            "SQS requests",
            "Lambda invocations",
            "SNS publishes",
            "dollars",
            "ours/original",
        ],
        rows,
        ratios,
        notes,
    )
    print("\nDollars per million readings by service (and the modelled duration per invocation):\n")
    print(
        markdown_table(
            [
                "readings per file",
                "who",
                "DynamoDB",
                "S3",
                "SQS",
                "Lambda requests",
                "Lambda duration",
                "SNS",
                "ms per invocation",
            ],
            [row for size, runs in results.items() for row in dollar_rows(size, runs)],
        )
    )
    small = [size for size in results if size in (1, 12)]
    print("\nOurs, per file, by table and operation (where the units go):\n")
    print(
        markdown_table(
            [
                "readings per file",
                "table or service",
                "operation",
                "calls",
                "read units",
                "write units",
                "requests",
                "$ per million files",
            ],
            [row for size in small for row in per_file_rows(size, results[size]["ours"])],
        )
    )
    print("\nAn idle stack, per month:\n")
    print(markdown_table(["what", "quantity", "dollars"], idle_month()))
    harness = sum(t.harness_calls for runs in results.values() for t in runs.values())
    print(f"\n({number(harness)} harness calls not counted: the runner's queue checks.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
