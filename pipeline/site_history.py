"""Saving what the series rules remember of each site, with optimistic concurrency.

The history lives on the site's item in the sites table. Two files of one site processed
at once would both read version N; only one can write N+1, and the other raises
`TransientError`, so its message is retried and judged against the winner's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.anomalies import History
from pipeline.aws import TransientError, client
from pipeline.dynamo import marshal
from pipeline.settings import Settings


def histories(items: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, History], dict[str, int]]:
    """Each site's history and its version, from the sites' items."""
    found = {site_id: History.from_item(item.get("history")) for site_id, item in items.items()}
    versions = {site_id: int(item.get("history_version", 0)) for site_id, item in items.items()}
    return found, versions


def save_histories(settings: Settings, moved: Mapping[str, History], versions: Mapping[str, int]) -> None:
    dynamodb = client(settings, "dynamodb")
    for site_id, history in moved.items():
        version = versions.get(site_id, 0)
        try:
            dynamodb.update_item(
                TableName=settings.sites_table,
                Key=marshal({"site_id": site_id}),
                UpdateExpression="SET history = :h, history_version = :next",
                ConditionExpression="attribute_not_exists(history_version) OR history_version = :seen",
                ExpressionAttributeValues=marshal({":h": history.to_item(), ":next": version + 1, ":seen": version}),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            raise TransientError(f"site {site_id} was updated by another file meanwhile; retry") from None
