"""Sites: what the pipeline knows about each place that reports readings.

The registry is small (one item per site) and is the only table the app lists whole; its
size grows with the number of sites, never with the number of readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.aws import client
from pipeline.dynamo import batch_get, marshal, unmarshal
from pipeline.settings import Settings

METADATA = ("kind", "capacity_kw", "interval_minutes", "latitude", "longitude", "name", "thresholds")


@dataclass(frozen=True)
class Site:
    site_id: str
    kind: str | None = None  # "solar", "wind" or None when unknown
    capacity_kw: Decimal | None = None
    interval_minutes: int | None = None  # the reading cadence; None when unknown
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    name: str | None = None
    thresholds: dict[str, Decimal] | None = None  # per-site overrides of anomaly rule settings

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"site_id": self.site_id}
        for attr in METADATA:
            value = getattr(self, attr)
            if value is not None:
                item[attr] = value
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Site:
        return cls(
            site_id=item["site_id"],
            kind=item.get("kind"),
            capacity_kw=item.get("capacity_kw"),
            interval_minutes=int(item["interval_minutes"]) if "interval_minutes" in item else None,
            latitude=item.get("latitude"),
            longitude=item.get("longitude"),
            name=item.get("name"),
            thresholds=item.get("thresholds"),
        )


def put_sites(settings: Settings, sites: Iterable[Site]) -> None:
    """Register or update sites' metadata, leaving what the pipeline keeps with them alone."""
    dynamodb = client(settings, "dynamodb")
    for site in sites:
        data = {k: v for k, v in site.to_item().items() if k != "site_id"}
        if not data:
            continue
        names = {f"#a{i}": k for i, k in enumerate(data)}
        dynamodb.update_item(
            TableName=settings.sites_table,
            Key=marshal({"site_id": site.site_id}),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(data))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=marshal({f":a{i}": v for i, v in enumerate(data.values())}),
        )


def site_items(settings: Settings, site_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The whole items of the registered sites among `site_ids` (BatchGetItem, 100 a call)."""
    keys = [{"site_id": s} for s in dict.fromkeys(site_ids)]
    return {item["site_id"]: item for item in batch_get(settings, settings.sites_table, keys)}


def get_sites(settings: Settings, site_ids: Iterable[str]) -> dict[str, Site]:
    return {site_id: Site.from_item(item) for site_id, item in site_items(settings, site_ids).items()}


def register_unknown(settings: Settings, site_ids: Iterable[str], known: Mapping[str, object]) -> None:
    """Add sites seen in readings but never registered, so the app can list them."""
    dynamodb = client(settings, "dynamodb")
    for site_id in dict.fromkeys(site_ids):
        if site_id in known:
            continue
        try:
            dynamodb.put_item(
                TableName=settings.sites_table,
                Item=marshal(Site(site_id).to_item()),
                ConditionExpression="attribute_not_exists(site_id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # registered meanwhile by another invocation


def list_sites(settings: Settings) -> list[Site]:
    dynamodb = client(settings, "dynamodb")
    sites = [
        Site.from_item(unmarshal(item))
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=settings.sites_table,
            ProjectionExpression=", ".join(["site_id", *(f"#a{i}" for i in range(len(METADATA)))]),
            ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(METADATA)},
        )
        for item in page["Items"]
    ]
    return sorted(sites, key=lambda s: s.site_id)
