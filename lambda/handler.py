"""The Lambda entry point: SQS batch in, one raw file at a time, partial failures out.

Each SQS message carries an S3 notification. A message whose files were all processed or
quarantined succeeds; one that hit an AWS failure is reported in `batchItemFailures`, so
SQS retries just that message and, past `maxReceiveCount`, moves it to the dead-letter
queue. Plain S3 events (a direct invocation) are accepted too.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.aws import is_transient
from pipeline.events import objects_in_notification, objects_in_sqs_body
from pipeline.logs import configure, log
from pipeline.processing import process_object
from pipeline.settings import Settings

configure()


def handler(event: dict[str, Any], context: Any, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings.from_env()
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:s3":
        for obj in objects_in_notification(event):
            process_object(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time)
        return {"batchItemFailures": []}
    failures = []
    for record in records:
        if not process_message(record, settings):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def process_message(record: dict[str, Any], settings: Settings) -> bool:
    """Process every file a message names; False when the message should be retried."""
    started = time.monotonic()
    try:
        for obj in objects_in_sqs_body(record["body"]):
            process_object(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time)
    except Exception as exc:  # every failure goes back to SQS: retried, then dead-lettered
        log(
            "message_failed",
            level=40,
            message_id=record.get("messageId"),
            receive_count=record.get("attributes", {}).get("ApproximateReceiveCount"),
            transient=is_transient(exc),
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return False
    return True
