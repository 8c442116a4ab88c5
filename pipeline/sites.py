"""Sites: what the pipeline knows about each place that reports readings.

The registry is small (one item per site) and is the only table the app lists whole; its
size grows with the number of sites, never with the number of readings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.aws import client
from pipeline.dynamo import batch_get, marshal, unmarshal
from pipeline.settings import Settings

DEFAULT_INTERVAL_MINUTES = 15


@dataclass(frozen=True)
class Site:
    site_id: str
    kind: str | None = None  # "solar", "wind" or None when unknown
    capacity_kw: Decimal | None = None
    interval_minutes: int = DEFAULT_INTERVAL_MINUTES
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    name: str | None = None

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"site_id": self.site_id, "interval_minutes": self.interval_minutes}
        for attr in ("kind", "capacity_kw", "latitude", "longitude", "name"):
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
            interval_minutes=int(item.get("interval_minutes", DEFAULT_INTERVAL_MINUTES)),
            latitude=item.get("latitude"),
            longitude=item.get("longitude"),
            name=item.get("name"),
        )


def put_sites(settings: Settings, sites: Iterable[Site]) -> None:
    dynamodb = client(settings, "dynamodb")
    for site in sites:
        dynamodb.put_item(TableName=settings.sites_table, Item=marshal(site.to_item()))


def get_sites(settings: Settings, site_ids: Iterable[str]) -> dict[str, Site]:
    """The registered sites among `site_ids` (BatchGetItem, 100 keys a call)."""
    keys = [{"site_id": s} for s in dict.fromkeys(site_ids)]
    return {item["site_id"]: Site.from_item(item) for item in batch_get(settings, settings.sites_table, keys)}


def register_unknown(settings: Settings, site_ids: Iterable[str], known: dict[str, Site]) -> None:
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
        for page in dynamodb.get_paginator("scan").paginate(TableName=settings.sites_table)
        for item in page["Items"]
    ]
    return sorted(sites, key=lambda s: s.site_id)
