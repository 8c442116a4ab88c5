"""Names and keys both sides share: the tables' keys and indexes, and the sparse anomaly
index's shards.

The Lambda reads and writes by these keys (`record_store`, `file_outcomes`); the operations
side creates the tables from them (`ops/bootstrap`), and tests/infra checks that terraform/
declares the same ones, so the embedded stack and AWS cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.settings import Settings

ANOMALY_INDEX = "anomalies"
ANOMALY_SHARDS = 8
FILES_BY_DAY_INDEX = "by-processed-day"


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str
    projection: str = "ALL"  # or KEYS_ONLY: the index only finds items, which are then read


@dataclass(frozen=True)
class TableSpec:
    """Keys and indexes of one DynamoDB table; every attribute named here is a string."""

    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def create_request(self, name: str) -> dict[str, Any]:
        keys = [self.hash_key] + ([self.range_key] if self.range_key else [])
        index_keys = [k for i in self.indexes for k in (i.hash_key, i.range_key)]
        attributes = list(dict.fromkeys(keys + index_keys))
        request: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
            "KeySchema": _key_schema(self.hash_key, self.range_key),
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": _key_schema(i.hash_key, i.range_key),
                    "Projection": {"ProjectionType": i.projection},
                }
                for i in self.indexes
            ]
        return request


def table_specs(settings: Settings) -> dict[str, TableSpec]:
    """Table name -> its keys. Records keep the original `energy_data` attribute names."""
    return {
        settings.table: TableSpec("site_id", "timestamp", (Index(ANOMALY_INDEX, "anomaly_shard", "timestamp"),)),
        settings.rollup_table: TableSpec("site_id", "day"),
        settings.sites_table: TableSpec("site_id"),
        settings.files_table: TableSpec(
            "source_key", None, (Index(FILES_BY_DAY_INDEX, "processed_day", "processed_at", "KEYS_ONLY"),)
        ),
    }


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema
