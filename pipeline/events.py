"""Which S3 objects an event is about, for the two event shapes the handler accepts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    event_time: str | None = None


class MalformedEvent(ValueError):
    """The message is not an S3 notification this pipeline can act on."""


def objects_in_notification(notification: Mapping[str, Any]) -> list[ObjectCreated]:
    """Objects named by an S3 notification; the `s3:TestEvent` sent on set-up names none."""
    if notification.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in notification:
        raise MalformedEvent("no Records in the S3 notification")
    created = []
    for record in notification["Records"]:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        try:
            s3 = record["s3"]
            created.append(
                ObjectCreated(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), record.get("eventTime"))
            )
        except (KeyError, TypeError):
            raise MalformedEvent("an S3 record without bucket name or object key") from None
    return created


def objects_in_sqs_body(body: str) -> list[ObjectCreated]:
    try:
        notification = json.loads(body)
    except json.JSONDecodeError:
        raise MalformedEvent("the message body is not JSON") from None
    if not isinstance(notification, dict):
        raise MalformedEvent("the message body is not a JSON object")
    return objects_in_notification(notification)


def notification_body(bucket: str, key: str) -> str:
    """An S3 ObjectCreated notification as S3 sends it, for re-enqueueing a raw file."""
    return notifications_body([ObjectCreated(bucket, key)])


def notifications_body(objects: Sequence[ObjectCreated]) -> str:
    """One notification naming several objects (each with its event time, now when unknown):
    how a group of files that failed together is sent back to be stored together again."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    records = [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventTime": obj.event_time or now,
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": obj.bucket}, "object": {"key": quote_plus(obj.key, safe="/")}},
        }
        for obj in objects
    ]
    return json.dumps({"Records": records})
