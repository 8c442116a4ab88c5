"""The alert claim on a file's ledger item: the alert for a file version is sent only by the
invocation that wins a conditional write, which is what keeps alerts to one per file however
often its message is delivered; the message sent is recorded on the same item.

The same claim covers the episode changes that a file's abandoned try left unannounced,
when the file that took the try over sends them (`pipeline.storing`): they go out once,
by the one or the other.
"""

from __future__ import annotations

from functools import partial

from pipeline.aws import client
from pipeline.dynamo import marshal, unless_throttled
from pipeline.settings import Settings


def claim_alert(settings: Settings, source_key: str, version: str) -> bool:
    """True for exactly one caller per file version."""
    dynamodb = client(settings, "dynamodb")
    claim = partial(
        dynamodb.update_item,
        TableName=settings.files_table,
        Key=marshal({"source_key": source_key}),
        UpdateExpression="SET alert_version = :v",
        ConditionExpression="attribute_not_exists(alert_version) OR alert_version <> :v",
        ExpressionAttributeValues=marshal({":v": version}),
    )
    try:
        unless_throttled(claim)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def release_alert(settings: Settings, source_key: str, version: str) -> None:
    """Give the claim back after a failed send, so the retry sends it."""
    dynamodb = client(settings, "dynamodb")
    try:
        dynamodb.update_item(
            TableName=settings.files_table,
            Key=marshal({"source_key": source_key}),
            UpdateExpression="REMOVE alert_version",
            ConditionExpression="alert_version = :v",
            ExpressionAttributeValues=marshal({":v": version}),
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass


def record_alert(settings: Settings, source_key: str, message_id: str, subject: str, message: str) -> None:
    client(settings, "dynamodb").update_item(
        TableName=settings.files_table,
        Key=marshal({"source_key": source_key}),
        UpdateExpression="SET alert_message_id = :m, alert_subject = :s, alert_message = :b",
        ExpressionAttributeValues=marshal({":m": message_id, ":s": subject, ":b": message}),
    )
