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
from pipeline.dynamo import batch_get, marshal, unmarshal, unpack
from pipeline.settings import Settings

METADATA = ("kind", "capacity_kw", "interval_minutes", "latitude", "longitude", "name", "timezone", "thresholds")
KINDS = ("solar", "wind", "consumer", "hybrid")


@dataclass(frozen=True)
class Site:
    site_id: str
    kind: str | None = None  # one of KINDS, or None when unknown
    capacity_kw: Decimal | None = None
    interval_minutes: int | None = None  # the reading cadence; None when unknown
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    name: str | None = None
    timezone: str | None = None  # an IANA name such as "Europe/Berlin"; None means UTC
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
            timezone=item.get("timezone"),
            thresholds=item.get("thresholds"),
        )


def put_sites(settings: Settings, sites: Iterable[Site]) -> None:
    """Register or update sites' metadata, leaving what the pipeline keeps with them alone."""
    for site in sites:
        update_metadata(settings, site.site_id, {k: v for k, v in site.to_item().items() if k != "site_id"})


def update_metadata(settings: Settings, site_id: str, values: Mapping[str, object | None]) -> None:
    """Set the metadata in `values` (None removes the attribute), creating the site if new.

    Only the named attributes are written: the series history, the version and the lease
    that processing keeps on the item stay as they are, and so does its claim condition
    (a registry write never moves `history_version`). The next file of the site reads the
    new values when it reads the site's item, once per chunk it stores.
    """
    unknown = set(values) - set(METADATA)
    if unknown:
        raise ValueError(f"not site metadata: {', '.join(sorted(unknown))}")
    if not values:  # a site known by its id alone: registered, nothing of an existing one touched
        register_unknown(settings, [site_id], {})
        return
    pairs = list(enumerate(values.values()))
    sets = [f"#a{i} = :a{i}" for i, v in pairs if v is not None]
    removes = [f"#a{i}" for i, v in pairs if v is None]
    clauses = ([f"SET {', '.join(sets)}"] if sets else []) + ([f"REMOVE {', '.join(removes)}"] if removes else [])
    request: dict[str, Any] = {
        "TableName": settings.sites_table,
        "Key": marshal({"site_id": site_id}),
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(values)},
    }
    if sets:
        request["ExpressionAttributeValues"] = marshal({f":a{i}": v for i, v in pairs if v is not None})
    client(settings, "dynamodb").update_item(**request)


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


@dataclass(frozen=True)
class Activity:
    """What the pipeline keeps on a site's item, as a person reads it."""

    last_reading: str | None  # the newest reading the series rules judged
    history_version: int  # moves on each time a file claims or lets go of the site
    lease_until: int | None  # seconds since the epoch while a file holds the site, else None

    @classmethod
    def from_item(cls, item: Mapping[str, Any], now: float) -> Activity:
        until = item.get("lease_until")
        held = "lease" in item and until is not None and int(until) >= now
        return cls(
            last_reading=(unpack(item.get("history")) or {}).get("last_timestamp"),
            history_version=int(item.get("history_version", 0)),
            lease_until=int(until) if held else None,
        )


def get_site_item(settings: Settings, site_id: str) -> dict[str, Any] | None:
    """The site's whole item (metadata and what the pipeline keeps), None when not registered."""
    found = client(settings, "dynamodb").get_item(
        TableName=settings.sites_table, Key=marshal({"site_id": site_id}), ConsistentRead=True
    )
    return unmarshal(found["Item"]) if "Item" in found else None


def list_registry(settings: Settings, now: float) -> list[tuple[Site, Activity]]:
    """Every site with its metadata and activity (the newest reading time is read from the
    packed history, ~1 KB a site; not the in-flight record or the episodes)."""
    wanted = [*METADATA, "history", "history_version", "lease", "lease_until"]
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    entries = [
        (Site.from_item(item), Activity.from_item(item, now))
        for page in client(settings, "dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=settings.sites_table,
            ProjectionExpression=", ".join(["site_id", *(f"#a{i}" for i in range(len(wanted)))]),
            ExpressionAttributeNames=names,
        )
        for item in map(unmarshal, page["Items"])
    ]
    return sorted(entries, key=lambda entry: entry[0].site_id)
