"""The Lambda entry point: SQS batch in, partial failures out.

Each SQS message carries an S3 notification. The batch's small files are stored together
by the sites they name (`processing.process_batch`), big ones one by one. A message whose
files were all processed or quarantined succeeds; one that hit an AWS failure is reported in `batchItemFailures`, so
SQS retries just that message and, past `maxReceiveCount`, moves it to the dead-letter
queue. Waiting is not failing: a file whose sites another file holds, a big file that
stopped between two chunks for want of time, and the messages the invocation has no time
left for go back to the queue as new messages (`pipeline.deferral`) and do not spend their
receive count. Every log line names the invocation's request id.
Plain S3 events (a direct invocation) are accepted too.

`compact` is a second entry point in the same package: the data lake's compaction, which
EventBridge invokes on a schedule (terraform/lake.tf, pipeline/lake_compaction.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline import deferral
from pipeline.aws import is_transient
from pipeline.events import MalformedEvent, ObjectCreated, objects_in_notification, objects_in_sqs_body
from pipeline.lake_compaction import compact as compact_lake
from pipeline.logs import configure, log, log_context
from pipeline.processing import Message, Paused, process_batch, process_object
from pipeline.settings import Settings
from pipeline.site_claims import SitesBusy

RESERVE_MS = 10_000  # a message is started only with this much of the invocation left
COMPACTION_RESERVE_S = 120  # a compaction batch is started only with this much left

configure()


def handler(event: dict[str, Any], context: Any, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings.from_env()
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        records = event.get("Records") or []
        if records and records[0].get("eventSource") == "aws:s3":
            for obj in objects_in_notification(event):
                process_object(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time)
            return {"batchItemFailures": []}
        return {"batchItemFailures": process_messages(records, settings, lambda: _ms_left(context))}


def compact(event: dict[str, Any], context: Any, settings: Settings | None = None) -> dict[str, Any]:
    """The data lake's compaction, on EventBridge's schedule (terraform/lake.tf): the landing
    area merged into its days until little time is left; the next run goes on from there."""
    settings = settings or Settings.from_env()
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        report = compact_lake(
            settings, seconds_left=lambda: _ms_left(context) / 1000, reserve_seconds=COMPACTION_RESERVE_S
        )
        return {"summary": report.summary(), "set_aside": report.set_aside}


def process_messages(
    records: list[dict[str, Any]], settings: Settings, time_left_ms: Callable[[], int]
) -> list[dict[str, str]]:
    """Process the files the messages name, small ones grouped by site; the messages to retry."""
    started = time.monotonic()
    failures: list[dict[str, str]] = []
    messages: list[Message] = []
    by_id = {record["messageId"]: record for record in records}
    for record in records:
        try:
            objects = objects_in_sqs_body(record["body"])
        except MalformedEvent as exc:
            _failed(record, exc, started)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        alone = deferral.stored_alone(record) or len(objects) > 1
        messages.append(Message(record["messageId"], objects, alone=alone))
    result = process_batch(settings, messages, time_left_ms=time_left_ms, reserve_ms=RESERVE_MS)
    errors = dict(result.errors)
    files = {message.id: {obj.key for obj in message.objects} for message in messages}
    for group in result.failed_groups:
        keys = {obj.key for obj in group.objects}
        # busy sites or no time left: nothing of the group was written, its messages wait apart
        shared = len(group.message_ids) > 1 and not isinstance(group.error, (SitesBusy, Paused))
        # sent back together only when the group is all that failed of each of its messages
        whole = all(errors.get(m) is group.error and files[m] <= keys for m in group.message_ids)
        if shared and whole and _sent_together(settings, by_id[group.message_ids[0]], group.objects, group.error):
            for message_id in group.message_ids:
                errors.pop(message_id, None)
    for message_id in result.started:
        if message_id in errors and not _settled(settings, by_id[message_id], errors[message_id], started):
            failures.append({"itemIdentifier": message_id})
    not_started = [by_id[message.id] for message in messages[len(result.started) :]]
    return failures + hand_back(settings, not_started)


def _sent_together(settings: Settings, record: dict[str, Any], objects: list[ObjectCreated], exc: Exception) -> bool:
    """Send a group's files back as one message (its retry then resumes the same try)."""
    try:
        deferral.send_group(settings, record, objects)
    except Exception as send_exc:
        log(
            "send_back_failed",
            level=40,
            message_id=record.get("messageId"),
            error=f"{type(send_exc).__name__}: {send_exc}",
        )
        return False
    keys = [obj.key for obj in objects]
    log("group_retried_together", level=30, files=len(keys), keys=keys[:20], error=f"{type(exc).__name__}: {exc}")
    return True


def _settled(settings: Settings, record: dict[str, Any], exc: Exception, started: float) -> bool:
    """Whether a message whose files did not all end stored is settled without a retry: a big
    file that paused, or sites that stay busy, send it back as a new message (`deferral`)."""
    if isinstance(exc, Paused):  # a big file goes on in the next invocation, from where it stopped
        if _sent_back(settings, record, 0, deferral.busy_waits(record)):
            log("message_continues_later", message_id=record.get("messageId"), why=str(exc))
            return True
        return _failed(record, exc, started)
    if isinstance(exc, SitesBusy):
        waits = deferral.busy_waits(record)
        if waits < deferral.MAX_BUSY_WAITS and _sent_back(settings, record, deferral.busy_delay(waits), waits + 1):
            log("message_waits_for_sites", message_id=record.get("messageId"), waits=waits + 1, why=str(exc))
            return True
    return _failed(record, exc, started)  # every failure goes back to SQS: retried, then dead-lettered


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
