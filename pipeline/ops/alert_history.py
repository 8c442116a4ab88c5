"""Alerts that were sent, as the app shows them: which files alerted, and what was delivered.

The list comes from the files table, which records every alert it sent (message id,
subject and text, one per alerted file version), so it is complete on every backend and
needs no mailbox. Where a local subscription queue exists (the embedded stack subscribes
one to the topic), `delivered_alerts` reads what SNS actually delivered to it.

`delivered_alerts` looks at the queue without consuming it (`queues`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from pipeline.aws import client, error_code
from pipeline.file_outcomes import FileOutcome, outcomes_on
from pipeline.ops.queues import peek_messages
from pipeline.settings import Settings

PEEK_VISIBILITY_SECONDS = 2
MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True)
class SentAlert:
    message_id: str
    sent_at: str
    subject: str
    message: str


def sent_alerts(settings: Settings, days: Sequence[str], limit: int = 100) -> list[FileOutcome]:
    """Files whose alert was sent, processed on `days` (YYYY-MM-DD, UTC), newest first."""
    found: list[FileOutcome] = []
    for day in days:
        found += outcomes_on(settings, day, limit - len(found), alerted_only=True)
        if len(found) >= limit:
            break
    return sorted(found, key=lambda o: o.processed_at, reverse=True)[:limit]


def delivered_alerts(settings: Settings, limit: int = 200) -> dict[str, SentAlert]:
    """Messages in the local alert subscription, by SNS message id; empty where there is none."""
    sqs = client(settings, "sqs")
    try:
        url = sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) in MISSING_QUEUE:
            return {}
        raise
    seen: dict[str, SentAlert] = {}
    for message in peek_messages(settings, url, limit, PEEK_VISIBILITY_SECONDS):
        try:
            envelope = json.loads(message["Body"])
            message_id = envelope["MessageId"]
        except (ValueError, KeyError, TypeError):
            continue
        seen.setdefault(
            message_id,
            SentAlert(
                message_id, envelope.get("Timestamp", ""), envelope.get("Subject", ""), envelope.get("Message", "")
            ),
        )
    return seen
