"""What happened to each raw file: the ledger the app and operators read.

One item per raw object in the files table. The same item also carries the file's alert
claim (`pipeline.alert_claims`).

The files of a day are found through a sparse index (`by-processed-day`, keys only): one
entry per group of files stored together (`pipeline.storing`), on the group's first file,
which names the others (`with_files`); they all share its processing time. An index entry
per file would cost a write unit per file, as much as the file's own outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from pipeline.aws import client
from pipeline.dynamo import batch_get, marshal, query
from pipeline.schema import FILES_BY_DAY_INDEX
from pipeline.settings import Settings

PROCESSED, PARTIAL, QUARANTINED = "processed", "partial", "quarantined"
QUERY_PAGE = 25  # index entries read at a time: one group of files each


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


def record_outcome(settings: Settings, outcome: FileOutcome, with_files: Sequence[str] | None = None) -> None:
    """SET every field that has a value (the alert ones when this try sent the file's alert:
    a retry that finds it sent leaves them as they are); the file is done, so the progress of
    its chunks goes. The first file of a group (`with_files`: the others, maybe none) enters
    the day's index for them all; the others leave it."""
    data = {k: v for k, v in asdict(outcome).items() if k != "source_key" and v is not None}
    removed = ["progress"]
    if with_files is None:
        removed += ["processed_day", "with_files"]
    else:
        data["processed_day"] = outcome.processed_at[:10]
        data["with_files"] = list(with_files)
    names = {f"#f{i}": k for i, k in enumerate(data)}
    client(settings, "dynamodb").update_item(
        TableName=settings.files_table,
        Key=marshal({"source_key": outcome.source_key}),
        UpdateExpression="SET "
        + ", ".join(f"#f{i} = :f{i}" for i in range(len(data)))
        + " REMOVE "
        + ", ".join(removed),
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
    alert with `alerted_only`. Reads the day's index entries newest first, and of each
    entry's group as many files as are still wanted (a group's files share its time)."""
    entries = query(
        settings,
        TableName=settings.files_table,
        IndexName=FILES_BY_DAY_INDEX,
        KeyConditionExpression="processed_day = :d",
        ExpressionAttributeValues=marshal({":d": day}),
        ScanIndexForward=False,
    )
    found: dict[str, FileOutcome] = {}
    for page in _pages(entries, max(1, min(QUERY_PAGE, limit))):
        leaders = {item["source_key"]: item for item in batch_get(settings, settings.files_table, page)}
        for key in (entry["source_key"] for entry in page):
            leader = leaders.get(key, {})
            if "status" not in leader or len(found) >= limit:
                continue
            members = list(leader.get("with_files", ()))
            wanted = members if alerted_only else members[: limit - len(found) - 1]
            for outcome in [FileOutcome.from_item(leader), *file_outcomes(settings, wanted).values()]:
                # a file stored again since (a new version, a later day) is listed under its newest entry
                if outcome.processed_at[:10] == day and (outcome.alert_message_id or not alerted_only):
                    found.setdefault(outcome.source_key, outcome)
        if len(found) >= limit:
            break
    return sorted(found.values(), key=lambda o: (o.processed_at, o.source_key), reverse=True)[:limit]


def _pages(entries: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for entry in entries:
        page.append({"source_key": entry["source_key"]})
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
