"""Sending a message back to its queue as a new one: waiting without spending receives.

SQS counts every receive of a message and dead-letters it past `maxReceiveCount`, whatever
kept it from being deleted. A file that waits for its sites (another file holds them), or
that the invocation has no time left for, is not failing: the handler sends a copy of its
message back to the queue, after a delay, and reports the original as done. The copy
carries how often it waited for busy sites, so a site that stays held still ends, in the
end, as a failure that reaches the dead-letter queue. The files of a group that failed
half-way go back together, as one message (`send_group`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.aws import client
from pipeline.events import ObjectCreated, notifications_body
from pipeline.settings import Settings

BUSY_WAITS = "busy_waits"  # message attribute: how often the file waited for busy sites
TOGETHER = "stored_together"  # message attribute: the files of a group sent back whole
MAX_BUSY_WAITS = 30  # ~25 minutes of waiting, with the delays below
MAX_DELAY_SECONDS = 60

_queue_urls: dict[tuple[Settings, str], str] = {}


def busy_waits(record: Mapping[str, Any]) -> int:
    """How often this message's file already waited for busy sites (Lambda's SQS record shape)."""
    attribute = (record.get("messageAttributes") or {}).get(BUSY_WAITS) or {}
    try:
        return int(attribute.get("stringValue", 0))
    except (TypeError, ValueError):
        return 0


def stored_alone(record: Mapping[str, Any]) -> bool:
    """Whether the message's files must be stored as a group of their own: a redelivery (its
    first try may have failed half-way) or a group sent back whole (`send_group`)."""
    redelivered = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)) > 1
    return redelivered or TOGETHER in (record.get("messageAttributes") or {})


def busy_delay(waits: int) -> int:
    """Seconds before the next look at busy sites: longer each time, at most a minute."""
    return min(MAX_DELAY_SECONDS, 5 * (waits + 1))


def send_back(settings: Settings, record: Mapping[str, Any], delay_seconds: int = 0, *, waits: int = 0) -> None:
    """Send the SQS `record`'s body back to the queue it came from, as a new message."""
    client(settings, "sqs").send_message(
        QueueUrl=_queue_url(settings, record["eventSourceARN"]),
        MessageBody=record["body"],
        DelaySeconds=max(0, min(900, delay_seconds)),
        MessageAttributes={BUSY_WAITS: {"DataType": "Number", "StringValue": str(waits)}},
    )


def send_group(settings: Settings, record: Mapping[str, Any], objects: Sequence[ObjectCreated]) -> None:
    """Send the files of a group that failed half-way back as one new message, so that they
    come back together and the group's retry resumes its try (`processing.Message.alone`)."""
    client(settings, "sqs").send_message(
        QueueUrl=_queue_url(settings, record["eventSourceARN"]),
        MessageBody=notifications_body(objects),
        MessageAttributes={TOGETHER: {"DataType": "Number", "StringValue": str(len(objects))}},
    )


def _queue_url(settings: Settings, arn: str) -> str:
    """The URL of the queue an `arn:aws:sqs:region:account:name` names (cached)."""
    key = (settings, arn)
    if key not in _queue_urls:
        *_, account, name = arn.split(":")
        _queue_urls[key] = client(settings, "sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]
    return _queue_urls[key]
