"""The newest anomalies across all sites up to a moment, for the operations view.

`record_store.recent_anomalies` reads the sparse anomaly index newest first with no upper
bound, so readings dated in the future (a `future_timestamp` anomaly, a site clock gone
wrong) always come first and can fill the whole list. This reads the same index shards
between two bounds and merges them, newest first.
"""

from __future__ import annotations

import heapq
from itertools import islice

from pipeline.bootstrap import ANOMALY_INDEX, ANOMALY_SHARDS
from pipeline.dynamo import marshal, query
from pipeline.records import Record
from pipeline.settings import Settings


def anomalies_between(settings: Settings, since: str, until: str, limit: int = 100) -> list[Record]:
    """Anomalous records with `since <= timestamp <= until` (UTC strings), newest first."""
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
