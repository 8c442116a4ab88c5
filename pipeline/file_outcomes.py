"""What happened to each raw file: the ledger the app and operators read.

One item per raw object in the files table. The same item also carries the file's alert
claim (`pipeline.alert_claims`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from pipeline.aws import client
from pipeline.dynamo import batch_get, marshal, query
from pipeline.schema import FILES_BY_DAY_INDEX
from pipeline.settings import Settings

PROCESSED, PARTIAL, QUARANTINED = "processed", "partial", "quarantined"


@dataclass(frozen=True)
class FileOutcome:
    source_key: str
    version: str
    status: str
    processed_at: str
    readings: int = 0  # distinct valid readings
    written: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    anomalies: int = 0
    missing_intervals: int = 0
    estimated: int = 0  # estimates written for missing intervals (`pipeline.estimates`)
    episode_changes: int = 0  # alert episodes the file started, reminded or resolved: its message lists them
    error: str | None = None
    uploaded_at: str | None = None
    duration_ms: int = 0
    alert_message_id: str | None = None
    alert_subject: str | None = None
    alert_message: str | None = None  # the alert as sent, so it can be read back where no mailbox is

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FileOutcome:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in item.items() if k in known}
        for f in fields(cls):
            if f.type == "int" and f.name in values:
                values[f.name] = int(values[f.name])
        return cls(**values)


def record_outcome(settings: Settings, outcome: FileOutcome) -> None:
    """SET every field but the alert ones, which belong to the alert claim; the file is
    done, so the progress of its chunks goes."""
    data = {
        k: v for k, v in asdict(outcome).items() if k != "source_key" and not k.startswith("alert_") and v is not None
    }
    data["processed_day"] = outcome.processed_at[:10]
    names = {f"#f{i}": k for i, k in enumerate(data)}
    client(settings, "dynamodb").update_item(
        TableName=settings.files_table,
        Key=marshal({"source_key": outcome.source_key}),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(data))) + " REMOVE progress",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=marshal({f":f{i}": v for i, v in enumerate(data.values())}),
    )


def file_outcomes(settings: Settings, source_keys: Iterable[str]) -> dict[str, FileOutcome]:
    """Outcomes of the files among `source_keys` that have finished processing."""
    keys = [{"source_key": k} for k in dict.fromkeys(source_keys)]
    items = batch_get(settings, settings.files_table, keys)
    return {item["source_key"]: FileOutcome.from_item(item) for item in items if "status" in item}


def outcomes_on(settings: Settings, day: str, limit: int = 100, *, alerted_only: bool = False) -> list[FileOutcome]:
    """Files processed on `day` (YYYY-MM-DD, UTC), newest first; only those that sent an
    alert with `alerted_only`."""
    request: dict[str, Any] = {}
    if alerted_only:
        request["FilterExpression"] = "attribute_exists(alert_message_id)"
    items = query(
        settings,
        TableName=settings.files_table,
        IndexName=FILES_BY_DAY_INDEX,
        KeyConditionExpression="processed_day = :d",
        ExpressionAttributeValues=marshal({":d": day}),
        ScanIndexForward=False,
        PaginationConfig={"MaxItems": limit},
        **request,
    )
    return [FileOutcome.from_item(item) for item in items]
