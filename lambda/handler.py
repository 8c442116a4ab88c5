"""The Lambda entry point: SQS batch in, one raw file at a time, partial failures out.

Each SQS message carries an S3 notification. A message whose files were all processed or
quarantined succeeds; one that hit an AWS failure is reported in `batchItemFailures`, so
SQS retries just that message and, past `maxReceiveCount`, moves it to the dead-letter
queue. Waiting is not failing: a file whose sites another file holds, a big file that
stopped between two chunks for want of time, and the messages the invocation has no time
left for go back to the queue as new messages (`pipeline.deferral`) and do not spend their
receive count. Every log line names the invocation's request id.
Plain S3 events (a direct invocation) are accepted too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline import deferral
from pipeline.aws import is_transient
from pipeline.events import objects_in_notification, objects_in_sqs_body
from pipeline.logs import configure, log, log_context
from pipeline.processing import Paused, process_object
from pipeline.settings import Settings
from pipeline.site_claims import SitesBusy

RESERVE_MS = 10_000  # a message is started only with this much of the invocation left

configure()


def handler(event: dict[str, Any], context: Any, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings.from_env()
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        records = event.get("Records") or []
        if records and records[0].get("eventSource") == "aws:s3":
            for obj in objects_in_notification(event):
                process_object(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time)
            return {"batchItemFailures": []}
        failures = []
        for index, record in enumerate(records):
            if _ms_left(context) < RESERVE_MS:
                failures += hand_back(settings, records[index:])
                break
            if not process_message(record, settings, lambda: _ms_left(context)):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}


def process_message(record: dict[str, Any], settings: Settings, time_left_ms: Callable[[], int]) -> bool:
    """Process every file a message names; False when the message should be retried."""
    started = time.monotonic()
    try:
        for obj in objects_in_sqs_body(record["body"]):
            process_object(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time, time_left_ms=time_left_ms)
    except Paused as exc:  # a big file goes on in the next invocation, from where it stopped
        if _sent_back(settings, record, 0, deferral.busy_waits(record)):
            log("message_continues_later", message_id=record.get("messageId"), why=str(exc))
            return True
        return _failed(record, exc, started)
    except SitesBusy as exc:
        waits = deferral.busy_waits(record)
        if waits < deferral.MAX_BUSY_WAITS and _sent_back(settings, record, deferral.busy_delay(waits), waits + 1):
            log("message_waits_for_sites", message_id=record.get("messageId"), waits=waits + 1, why=str(exc))
            return True
        return _failed(record, exc, started)
    except Exception as exc:  # every failure goes back to SQS: retried, then dead-lettered
        return _failed(record, exc, started)
    return True


def hand_back(settings: Settings, records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Send back the messages this invocation has no time for; those that cannot be sent back
    are reported as failures, so SQS hands them out again."""
    failures = []
    for record in records:
        if _sent_back(settings, record, 0, deferral.busy_waits(record)):
            log("message_handed_back", message_id=record.get("messageId"))
        else:
            failures.append({"itemIdentifier": record["messageId"]})
    return failures


def _sent_back(settings: Settings, record: dict[str, Any], delay_seconds: int, waits: int) -> bool:
    try:
        deferral.send_back(settings, record, delay_seconds, waits=waits)
    except Exception as exc:
        log("send_back_failed", level=40, message_id=record.get("messageId"), error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def _failed(record: dict[str, Any], exc: Exception, started: float) -> bool:
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


def _ms_left(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() if callable(remaining) else 900_000
