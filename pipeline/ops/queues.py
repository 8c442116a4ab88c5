"""Looking at a queue without consuming it: how many messages it holds, and which.

SQS has no "peek": a receive hides what it returns. So each message is hidden while the
look goes on (each is seen once, and the next receive moves on to the others) and made
visible again at the end, so that whoever consumes the queue next finds them all.
"""

from __future__ import annotations

from typing import Any

from pipeline.aws import client
from pipeline.settings import Settings


def peek_messages(
    settings: Settings, url: str, limit: int, hide_seconds: int, attributes: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Up to `limit` messages of the queue at `url`, each once, all left on the queue."""
    sqs = client(settings, "sqs")
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    request: dict[str, Any] = {"QueueUrl": url, "VisibilityTimeout": hide_seconds}
    if attributes:
        request["MessageSystemAttributeNames"] = list(attributes)
    try:
        while len(seen) < limit:
            messages = sqs.receive_message(MaxNumberOfMessages=min(10, limit - len(seen)), **request).get(
                "Messages", []
            )
            fresh = [m for m in messages if m["MessageId"] not in seen]
            handles += [m["ReceiptHandle"] for m in messages]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
    finally:
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
    return list(seen.values())


def queue_depth(settings: Settings, queue: str) -> tuple[int, int]:
    """(waiting, in flight) messages of a queue; waiting counts the delayed ones too (a file
    sent back to wait for its sites is still on its way)."""
    attributes = client(settings, "sqs").get_queue_attributes(
        QueueUrl=client(settings, "sqs").get_queue_url(QueueName=queue)["QueueUrl"],
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes.get("ApproximateNumberOfMessagesDelayed", 0)
    )
    return waiting, int(attributes["ApproximateNumberOfMessagesNotVisible"])
