"""Records: validated readings with what the pipeline derived from them.

A record is one item of the `energy_data` table, under the original attribute names.
Anomalous records also carry `anomaly_shard`, the key of a sparse index that lists recent
anomalies across all sites without a Scan; the shard spreads those writes over several
index partitions so that no single key takes every anomaly.

Not every record is a meter's reading as it came: an estimate fills a missing interval
(`estimate_method`, see `pipeline.estimates`), and an analyst may correct a record or
dismiss its reasons as a false positive (`pipeline.ops.record_edits`). An edited record keeps
the values it had before its first edit (`original`) and every edit made to it (`edits`:
who, when, old and new values, why); processing never writes over it again.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.anomalies import SENTINEL_VALUE
from pipeline.estimates import Estimate
from pipeline.schema import ANOMALY_SHARDS
from pipeline.validation import Reading


@dataclass(frozen=True, slots=True)
class Record:
    site_id: str
    timestamp: str
    energy_generated_kwh: Decimal
    energy_consumed_kwh: Decimal
    net_energy_kwh: Decimal
    anomaly_reasons: tuple[str, ...]
    source_key: str
    processed_at: str
    estimate_method: str | None = None  # "linear" or "profile": no meter sent this value
    original: Mapping[str, Any] | None = None  # the values before the first edit (`values`)
    edits: tuple[Mapping[str, Any], ...] = ()  # the audit trail, oldest first

    @property
    def anomaly(self) -> bool:
        return bool(self.anomaly_reasons)

    @property
    def estimated(self) -> bool:
        return self.estimate_method is not None

    @property
    def edited(self) -> bool:
        return self.original is not None

    def values(self) -> dict[str, Any]:
        """What an edit changes, as the audit trail and `original` keep it."""
        return {
            "energy_generated_kwh": self.energy_generated_kwh,
            "energy_consumed_kwh": self.energy_consumed_kwh,
            "anomaly_reasons": list(self.anomaly_reasons),
        }

    @property
    def holds_energy(self) -> bool:
        """False for a meter's "no data" code (-9999, 65535...): its values are no energy, and
        no total may add them."""
        return SENTINEL_VALUE not in self.anomaly_reasons

    @property
    def key(self) -> tuple[str, str]:
        return (self.site_id, self.timestamp)

    def same_values(self, other: Record) -> bool:
        """Equal as stored data, whatever file or run produced it."""
        return (
            self.energy_generated_kwh == other.energy_generated_kwh
            and self.energy_consumed_kwh == other.energy_consumed_kwh
            and self.anomaly_reasons == other.anomaly_reasons
            and self.estimate_method == other.estimate_method
            and self.edits == other.edits
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "site_id": self.site_id,
            "timestamp": self.timestamp,
            "energy_generated_kwh": self.energy_generated_kwh,
            "energy_consumed_kwh": self.energy_consumed_kwh,
            "net_energy_kwh": self.net_energy_kwh,
            "anomaly": self.anomaly,
            "anomaly_reasons": list(self.anomaly_reasons),
            "source_key": self.source_key,
            "processed_at": self.processed_at,
        }
        if self.anomaly:
            item["anomaly_shard"] = anomaly_shard(self.site_id, self.timestamp)
        if self.estimate_method is not None:
            item["estimated"] = True
            item["estimate_method"] = self.estimate_method
        if self.original is not None:
            item["original"] = dict(self.original)
            item["edits"] = [dict(edit) for edit in self.edits]
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Record:
        return cls(
            site_id=item["site_id"],
            timestamp=item["timestamp"],
            energy_generated_kwh=item["energy_generated_kwh"],
            energy_consumed_kwh=item["energy_consumed_kwh"],
            net_energy_kwh=item["net_energy_kwh"],
            anomaly_reasons=tuple(item.get("anomaly_reasons") or ()),
            source_key=item.get("source_key", ""),
            processed_at=item.get("processed_at", ""),
            estimate_method=item.get("estimate_method"),
            original=item.get("original"),
            edits=tuple(item.get("edits") or ()),
        )


def derive(reading: Reading, reasons: tuple[str, ...], source_key: str, processed_at: str) -> Record:
    return Record(
        site_id=reading.site_id,
        timestamp=reading.timestamp,
        energy_generated_kwh=reading.energy_generated_kwh,
        energy_consumed_kwh=reading.energy_consumed_kwh,
        net_energy_kwh=reading.energy_generated_kwh - reading.energy_consumed_kwh,
        anomaly_reasons=reasons,
        source_key=source_key,
        processed_at=processed_at,
    )


def estimated(estimate: Estimate, source_key: str, processed_at: str) -> Record:
    """The record of an estimate, from the file whose arrival revealed the gap."""
    return Record(
        site_id=estimate.site_id,
        timestamp=estimate.timestamp,
        energy_generated_kwh=estimate.energy_generated_kwh,
        energy_consumed_kwh=estimate.energy_consumed_kwh,
        net_energy_kwh=estimate.energy_generated_kwh - estimate.energy_consumed_kwh,
        anomaly_reasons=(),
        source_key=source_key,
        processed_at=processed_at,
        estimate_method=estimate.method,
    )


def anomaly_shard(site_id: str, timestamp: str) -> str:
    return str(zlib.crc32(f"{site_id}|{timestamp}".encode()) % ANOMALY_SHARDS)
