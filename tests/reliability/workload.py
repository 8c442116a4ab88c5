"""A small, deterministic workload for the reliability tests, and what a user would notice of it.

Files of three sites whose records cannot legitimately depend on the order the files are
stored in: the sites have no known cadence (so no missing intervals are counted between
files), consumption stays in a narrow band (no spikes), no value repeats more than twice
in a row (no flatlines) and generation never moves in equal steps (no interpolation). The
only anomalies are value anomalies (negative generation), which every order judges alike.
So whatever order faults, retries, duplicates or a newest-first upload put the files in,
the records, rollups and ledger must equal those of an undisturbed run; a difference is a
reading lost, doubled or judged twice. Order-sensitive judgement is
covered by test_partial_failure.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from local_aws.runner import Runner
from pipeline import raw_files
from pipeline.aws import client
from pipeline.dynamo import query
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.alert_history import delivered_alerts
from pipeline.ops.dead_letters import list_dead_letters, redrive
from pipeline.record_store import site_records
from pipeline.settings import Settings
from pipeline.sites import Site, put_sites, site_items

SITES = ("rel-site-1", "rel-site-2", "rel-site-3")
START = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
# `written` and `unchanged` describe the file's last processing (a duplicate delivery after
# it was done finds every record unchanged): their sum is what must not move.
OUTCOME_FIELDS = ("status", "readings", "duplicates", "rejected", "anomalies")
QUEUE_DEPTH = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def file_key(number: int) -> str:
    return f"raw/2026/11/20/rel-{number:03d}.json"


def alerting(number: int) -> bool:
    """Every third file starts with a negative generation and so sends one alert: the episode
    it starts resolves within the file (from 10 readings on, 2 h 15 min of clean readings
    follow it), or at once when a newer file of the site came first, never in another file."""
    return number % 3 == 1


def file_rows(number: int, readings: int, sites: Sequence[str] = SITES) -> list[dict[str, Any]]:
    """File `number`: the next `readings` intervals of every site, after file `number - 1`'s."""
    rows = []
    for site in sites:
        for i in range(readings):
            slot = number * readings + i
            # irregular steps and no value three times in a row: no series rule (flatline,
            # interpolation) fires, in any order the files are stored in
            generated = -1.5 if alerting(number) and i == 0 else 1 + (slot * slot % 13) / 10
            rows.append(
                {
                    "site_id": site,
                    "timestamp": (START + slot * STEP).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "energy_generated_kwh": generated,
                    "energy_consumed_kwh": 2 + (slot % 5) / 10,
                }
            )
    return rows


def register_sites(settings: Settings, sites: Sequence[str] = SITES) -> None:
    put_sites(settings, [Site(s, kind="consumer", capacity_kw=Decimal(100)) for s in sites])


def upload_files(settings: Settings, numbers: Iterable[int], readings: int) -> list[str]:
    keys = []
    for number in numbers:
        raw_files.upload(settings, file_key(number), json.dumps(file_rows(number, readings)).encode())
        keys.append(file_key(number))
    return keys


def queue_url(settings: Settings, name: str | None = None) -> str:
    return client(settings, "sqs").get_queue_url(QueueName=name or settings.queue)["QueueUrl"]


def queued(settings: Settings) -> int:
    """Messages on the raw-events queue: visible, in flight and delayed (sent back to wait)."""
    attributes = client(settings, "sqs").get_queue_attributes(QueueUrl=queue_url(settings), AttributeNames=QUEUE_DEPTH)
    return sum(int(v) for v in attributes["Attributes"].values())


def settle(settings: Settings, runner: Runner, timeout: float) -> None:
    """Wait, bounded, until the running runner left nothing on the queue (delayed included:
    `Runner.drain` does not count messages sent back with a delay) and is between batches."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if queued(settings) == 0 else 0
        if quiet >= 3:
            return
        time.sleep(0.3)
    raise AssertionError(f"the queue was still busy after {timeout:.0f}s ({queued(settings)} messages)")


def deliver_again(settings: Settings, copies: Callable[[int], int]) -> int:
    """Take every notification off the queue and send the n-th one's body `copies(n)` times,
    the copies far apart: what a duplicating S3 or SQS does. Returns how many were sent."""
    sqs, url = client(settings, "sqs"), queue_url(settings)
    bodies = []
    for _ in range(1000):  # bounded: more receives than any workload here needs
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            break
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    sent = 0
    for copy in range(max((copies(n) for n in range(len(bodies))), default=0)):
        for n, body in enumerate(bodies):
            if copy < copies(n):
                sqs.send_message(QueueUrl=url, MessageBody=body)
                sent += 1
    return sent


def redrive_dead_letters(settings: Settings) -> list[str]:
    """Send what was dead-lettered back to the queue; returns the keys it named."""
    keys = [key for letter in list_dead_letters(settings, 1000) for key in letter.keys]
    if keys:
        redrive(settings)
    return keys


def state(settings: Settings, keys: Sequence[str], sites: Sequence[str] = SITES) -> dict[str, Any]:
    """Everything a user could notice of the files, less the time they were processed at."""
    records = sorted(
        ({k: v for k, v in asdict(r).items() if k != "processed_at"} for s in sites for r in site_records(settings, s)),
        key=lambda r: (r["site_id"], r["timestamp"]),
    )
    rollups = [
        {"site_id": item["site_id"], "day": item["day"], "hours": _without_zeros(item["hours"])}
        for s in sites
        for item in query(
            settings,
            TableName=settings.rollup_table,
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues={":s": {"S": s}},
        )
    ]
    outcomes = file_outcomes(settings, keys)
    # a message names each file it alerts for at the end of a line: "1 episode started in <key>"
    named = Counter(
        key
        for alert in delivered_alerts(settings, limit=1000).values()
        for key in {line.rsplit(" in ", 1)[-1] for line in alert.message.splitlines()} & set(keys)
    )
    items = site_items(settings, sites)
    return {
        "records": records,
        "rollups": rollups,
        "outcomes": {
            key: {f: getattr(outcomes[key], f) for f in OUTCOME_FIELDS}
            | {"stored": outcomes[key].written + outcomes[key].unchanged}
            if key in outcomes
            else None
            for key in keys
        },
        "alerts per file": {key: named[key] for key in keys},
        "sites left held": sorted(s for s, item in items.items() if {"lease", "inflight"} & item.keys()),
    }


def _without_zeros(hours: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A measure at 0 reads as one never added: a day rebuilt from its records writes every
    measure, zeros included, where adding deltas writes only the measures that moved."""
    return {hour: {k: v for k, v in measures.items() if v != 0} for hour, measures in hours.items()}
