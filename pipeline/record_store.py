"""The `energy_data` table: storing records idempotently and reading them by key.

Storing compares each record with the item already there (BatchGetItem, skipped for readings
newer than anything the site stored: `storing`), writes only what changed (BatchWriteItem)
and moves the rollups by exactly that change. A record an analyst
edited is the analyst's: processing leaves it as it is. Reads are Queries on
the key or on the sparse anomaly index; nothing here scans the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

from pipeline.dynamo import batch_get, batch_write, marshal, query
from pipeline.lake import write_ahead
from pipeline.records import Record
from pipeline.rollups import Delta, RollupKey, apply_deltas, deltas
from pipeline.schema import ANOMALY_INDEX, ANOMALY_SHARDS
from pipeline.settings import Settings
from pipeline.site_claims import Lease


@dataclass(frozen=True)
class Stored:
    written: int  # new or changed readings
    unchanged: int  # already stored with the same values, or edited by an analyst
    estimated: int = 0  # new or changed estimates (not counted above)


def existing_records(settings: Settings, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Record]:
    """The stored records for (site_id, timestamp) keys (each asked once), 100 keys a call."""
    keys = [{"site_id": site_id, "timestamp": timestamp} for site_id, timestamp in dict.fromkeys(keys)]
    return {
        (item["site_id"], item["timestamp"]): Record.from_item(item)
        for item in batch_get(settings, settings.table, keys)
    }


Change = tuple[Record | None, Record]


def changes(
    records: Sequence[Record], before: Mapping[tuple[str, str], Record], *, keep_edited: bool = True
) -> list[Change]:
    """(old or None, new) for each record that differs from what `before` holds; a record an
    analyst edited stays as it is unless `keep_edited` is False (the edit itself)."""
    return [
        (old, r)
        for r in records
        if (old := before.get(r.key)) is None or not (old.same_values(r) or (keep_edited and old.edited))
    ]


def store_parts(
    settings: Settings,
    parts: Sequence[tuple[Sequence[Record], Mapping[tuple[str, str], Record]]],
    change_token: str,
    extra: Mapping[RollupKey, Delta] | None = None,
    *,
    resuming: Collection[str] = (),
    lease: Lease | None = None,
    keep_edited: bool = True,
) -> list[Stored]:
    """Write what changed, part after part: each part's records against `before`, what the
    table held once the parts before it were stored. Rollups go first and records after them
    (each preceded by its row in the data lake, `lake.write_ahead`), so that a retry resuming
    this try (its sites in `resuming`) finds every moved day marked with its token; each key
    is written once, as the last part left it. `extra` adds measures that are not readings
    (missing intervals) to the same rollup update. On a resumed site, a record stored by the
    earlier try (equal to the letter, processing time included) counts as written, as the
    first try would have said. `keep_edited=False` is for the edit itself (`record_edits`)."""
    planned = [changes(records, before, keep_edited=keep_edited) for records, before in parts]
    moves = deltas(change for part in planned for change in part)
    for key, delta in (extra or {}).items():
        moves[key] = {**moves.get(key, {}), **delta}
    apply_deltas(settings, moves, change_token, resuming=resuming)
    if lease is not None:
        lease.check()
    last = {new.key: new for part in planned for _, new in part}
    write_ahead(settings, last.values())
    batch_write(settings, settings.table, [new.to_item() for new in last.values()])
    return [_stored(records, before, part, resuming) for (records, before), part in zip(parts, planned, strict=True)]


def store_records(
    settings: Settings,
    records: Sequence[Record],
    before: Mapping[tuple[str, str], Record],
    change_token: str,
    *,
    lease: Lease | None = None,
    keep_edited: bool = True,
) -> Stored:
    """`store_parts` for one part."""
    return store_parts(settings, [(records, before)], change_token, lease=lease, keep_edited=keep_edited)[0]


def _stored(
    records: Sequence[Record],
    before: Mapping[tuple[str, str], Record],
    planned: Sequence[Change],
    resuming: Collection[str],
) -> Stored:
    readings = [r for r in records if not r.estimated]
    written = sum(1 for _, new in planned if not new.estimated)
    earlier = sum(1 for r in readings if r.site_id in resuming and before.get(r.key) == r)
    return Stored(
        written=written + earlier, unchanged=len(readings) - written - earlier, estimated=len(planned) - written
    )


def site_records(
    settings: Settings,
    site_id: str,
    start: str = "0000",
    end: str = "9999",
    *,
    anomalies_only: bool = False,
) -> Iterator[Record]:
    """A site's records with `start <= timestamp <= end` (UTC strings), oldest first, following every page."""
    request: dict[str, object] = {
        "TableName": settings.table,
        "KeyConditionExpression": "site_id = :s AND #t BETWEEN :a AND :b",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": marshal({":s": site_id, ":a": start, ":b": end}),
    }
    if anomalies_only:
        request["FilterExpression"] = "anomaly = :yes"
        request["ExpressionAttributeValues"] = marshal({":s": site_id, ":a": start, ":b": end, ":yes": True})
    for item in query(settings, **request):
        yield Record.from_item(item)


def recent_anomalies(settings: Settings, limit: int = 100, since: str = "0000", until: str = "9999") -> list[Record]:
    """The newest anomalous records across all sites with `since <= timestamp <= until`.

    Reads the sparse anomaly index shard by shard and merges them, newest first. Give an
    `until` (such as now) to keep readings dated in the future from filling the list.
    """
    per_shard = []
    for shard in range(ANOMALY_SHARDS):
        items = query(
            settings,
            TableName=settings.table,
            IndexName=ANOMALY_INDEX,
            KeyConditionExpression="anomaly_shard = :s AND #t BETWEEN :a AND :b",
            ExpressionAttributeNames={"#t": "timestamp"},
            ExpressionAttributeValues=marshal({":s": str(shard), ":a": since, ":b": until}),
            ScanIndexForward=False,
            PaginationConfig={"MaxItems": limit, "PageSize": limit},
        )
        per_shard.append([Record.from_item(item) for item in items])
    merged = heapq.merge(*per_shard, key=lambda r: (r.timestamp, r.site_id), reverse=True)
    return list(islice(merged, limit))
