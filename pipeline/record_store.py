"""The `energy_data` table: storing records idempotently and reading them by key.

Storing compares each record with the item already there (BatchGetItem), writes only what
changed (BatchWriteItem) and moves the rollups by exactly that change. Reads are Queries on
the key or on the sparse anomaly index; nothing here scans the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from pipeline.bootstrap import ANOMALY_INDEX, ANOMALY_SHARDS
from pipeline.dynamo import batch_get, batch_write, marshal, query
from pipeline.records import Record
from pipeline.rollups import apply_deltas, deltas
from pipeline.settings import Settings


@dataclass(frozen=True)
class Stored:
    written: int  # new or changed records
    unchanged: int  # already stored with the same values


def existing_records(settings: Settings, records: Sequence[Record]) -> dict[tuple[str, str], Record]:
    keys = [{"site_id": r.site_id, "timestamp": r.timestamp} for r in records]
    return {
        (item["site_id"], item["timestamp"]): Record.from_item(item)
        for item in batch_get(settings, settings.table, keys)
    }


def store_records(settings: Settings, records: Sequence[Record], change_token: str) -> Stored:
    """Store `records`; rollups first, so a failure in between is mended by the redelivery."""
    before = existing_records(settings, records)
    changes = [(before.get(r.key), r) for r in records if r.key not in before or not before[r.key].same_values(r)]
    apply_deltas(settings, deltas(changes), change_token)
    batch_write(settings, settings.table, [new.to_item() for _, new in changes])
    return Stored(written=len(changes), unchanged=len(records) - len(changes))


def site_records(
    settings: Settings,
    site_id: str,
    start: str = "0000",
    end: str = "9999",
    *,
    anomalies_only: bool = False,
    newest_first: bool = False,
) -> Iterator[Record]:
    """A site's records with `start <= timestamp <= end` (UTC strings), following every page."""
    request: dict[str, object] = {
        "TableName": settings.table,
        "KeyConditionExpression": "site_id = :s AND #t BETWEEN :a AND :b",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": marshal({":s": site_id, ":a": start, ":b": end}),
        "ScanIndexForward": not newest_first,
    }
    if anomalies_only:
        request["FilterExpression"] = "anomaly = :yes"
        request["ExpressionAttributeValues"] = marshal({":s": site_id, ":a": start, ":b": end, ":yes": True})
    for item in query(settings, **request):
        yield Record.from_item(item)


def recent_anomalies(settings: Settings, limit: int = 100, since: str = "0000") -> list[Record]:
    """The newest anomalous records across all sites, from the sparse anomaly index."""
    per_shard = []
    for shard in range(ANOMALY_SHARDS):
        items = query(
            settings,
            TableName=settings.table,
            IndexName=ANOMALY_INDEX,
            KeyConditionExpression="anomaly_shard = :s AND #t >= :since",
            ExpressionAttributeNames={"#t": "timestamp"},
            ExpressionAttributeValues=marshal({":s": str(shard), ":since": since}),
            ScanIndexForward=False,
            PaginationConfig={"MaxItems": limit},
        )
        per_shard.append([Record.from_item(item) for item in items])
    merged = heapq.merge(*per_shard, key=lambda r: (r.timestamp, r.site_id), reverse=True)
    return list(islice(merged, limit))
