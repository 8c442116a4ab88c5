"""The dead-letter queue: messages the pipeline gave up on, and sending them back.

SQS's own redrive (StartMessageMoveTask) is not available on every endpoint (moto lacks
it), so redrive here is receive -> send to the source queue -> delete, which works on all.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.aws import client
from pipeline.events import MalformedEvent, objects_in_sqs_body
from pipeline.ops.queues import peek_messages
from pipeline.settings import Settings
from pipeline.timestamps import epoch_text

PEEK_VISIBILITY_SECONDS = 30


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    sent_at: str
    receive_count: int
    keys: tuple[str, ...]
    body: str


def _url(settings: Settings, name: str) -> str:
    return client(settings, "sqs").get_queue_url(QueueName=name)["QueueUrl"]


def list_dead_letters(settings: Settings, limit: int = 100) -> list[DeadLetter]:
    """Look at what is in the DLQ without consuming it.

    Messages are hidden while the listing runs (so each is seen once) and made visible
    again at the end, so a redrive straight after a listing finds them all.
    """
    attributes = ("SentTimestamp", "ApproximateReceiveCount")
    messages = peek_messages(settings, _url(settings, settings.dlq), limit, PEEK_VISIBILITY_SECONDS, attributes)
    return sorted((_dead_letter(m) for m in messages), key=lambda d: d.sent_at)


def redrive(settings: Settings, limit: int | None = None) -> int:
    """Move dead letters back to the raw-events queue; returns how many moved."""
    sqs = client(settings, "sqs")
    dlq_url, queue_url = _url(settings, settings.dlq), _url(settings, settings.queue)
    moved = 0
    while limit is None or moved < limit:
        batch = 10 if limit is None else min(10, limit - moved)
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=batch, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not messages:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        ok = {e["Id"] for e in sent.get("Successful", [])}
        if ok:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if str(i) in ok
                ],
            )
        moved += len(ok)
        if len(ok) < len(messages):
            break  # what failed to send stays in the DLQ, visible again shortly
    return moved


def _dead_letter(message: dict) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent_ms = int(attributes.get("SentTimestamp", 0))
    try:
        keys = tuple(o.key for o in objects_in_sqs_body(message["Body"]))
    except MalformedEvent:
        keys = ()
    return DeadLetter(
        message_id=message["MessageId"],
        sent_at=epoch_text(sent_ms / 1000),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        keys=keys,
        body=message["Body"],
    )
