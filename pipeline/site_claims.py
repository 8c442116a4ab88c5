"""Claiming a file's sites: their histories saved, and a lease held while the file is stored.

What the series rules remember of each site lives on the site's item in the sites table,
with a version. Processing a file claims every site it carries in one transaction: the
claim saves the new histories, moves each version on and takes a lease, on the condition
that no other file changed the version since it was read and that no other file holds the
lease. So two files of one site are never stored at once: the one that loses raises
`SitesBusy` (a `TransientError`), is judged again a moment later (and in the end left to its
message's retry), and is counted against what the winner stored. The rollups can then be
read, added to and written back in batches (`rollups.apply_deltas`) instead of one
conditional update per site-hour.

A lease ends when the file is stored (`release`), or after `LEASE_SECONDS` if the process
holding it died; a retry of the same file version takes its own lease back at once.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pipeline.anomalies import History
from pipeline.aws import TransientError, client
from pipeline.dynamo import chunks, marshal
from pipeline.settings import Settings

LEASE_SECONDS = 900  # Lambda's longest timeout: a lease outlives any invocation that holds it
TRANSACTION_ITEMS = 100  # DynamoDB's limit on the actions of one transaction
CONFLICTS = {"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


class SitesBusy(TransientError):
    """Another file holds one of the sites, or changed it since it was read."""


def histories(items: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, History], dict[str, int]]:
    """Each site's history and its version, from the sites' items."""
    found = {site_id: History.from_item(item.get("history")) for site_id, item in items.items()}
    versions = {site_id: int(item.get("history_version", 0)) for site_id, item in items.items()}
    return found, versions


@contextmanager
def claimed(
    settings: Settings, versions: Mapping[str, int], moved: Mapping[str, History], token: str
) -> Iterator[None]:
    """Hold the sites in `versions` (as read) for the file version `token` while the body
    runs, saving the `moved` histories with the claim."""
    claim(settings, versions, moved, token)
    try:
        yield
    finally:
        release(settings, versions, token)


def claim(settings: Settings, versions: Mapping[str, int], moved: Mapping[str, History], token: str) -> None:
    dynamodb = client(settings, "dynamodb")
    now = _now()
    taken: list[str] = []
    for sites in chunks(sorted(versions), TRANSACTION_ITEMS):
        actions = [_claim_action(settings, site, versions[site], moved.get(site), token, now) for site in sites]
        try:
            dynamodb.transact_write_items(TransactItems=actions)
        except dynamodb.exceptions.TransactionCanceledException as exc:
            release(settings, taken, token)
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if not set(reasons) - {"None", None} <= CONFLICTS:
                raise
            busy = [site for site, code in zip(sites, reasons, strict=False) if code == "ConditionalCheckFailed"]
            which = ", ".join(busy or sites)
            raise SitesBusy(f"site {which} is held or was changed by another file") from None
        taken.extend(sites)


def release(settings: Settings, site_ids: Collection[str], token: str) -> None:
    """End this file's lease on each site, in one transaction per 100 sites; a lease that
    expired and went to another file stays theirs."""
    dynamodb = client(settings, "dynamodb")
    for sites in chunks(sorted(site_ids), TRANSACTION_ITEMS):
        actions = [{"Update": _release_action(settings, site, token)} for site in sites]
        try:
            dynamodb.transact_write_items(TransactItems=actions)
        except dynamodb.exceptions.TransactionCanceledException:
            for site in sites:  # some lease is no longer ours: release the others one by one
                try:
                    dynamodb.update_item(**_release_action(settings, site, token))
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    pass


def _release_action(settings: Settings, site_id: str, token: str) -> dict[str, Any]:
    return {
        "TableName": settings.sites_table,
        "Key": marshal({"site_id": site_id}),
        "UpdateExpression": "REMOVE lease, lease_until",
        "ConditionExpression": "lease = :t",
        "ExpressionAttributeValues": marshal({":t": token}),
    }


def _claim_action(
    settings: Settings, site_id: str, version: int, history: History | None, token: str, now: int
) -> dict[str, Any]:
    values: dict[str, Any] = {
        ":next": version + 1,
        ":seen": version,
        ":t": token,
        ":now": now,
        ":until": now + LEASE_SECONDS,
    }
    update = "SET history_version = :next, lease = :t, lease_until = :until"
    if history is not None:
        update += ", history = :h"
        values[":h"] = history.to_item()
    return {
        "Update": {
            "TableName": settings.sites_table,
            "Key": marshal({"site_id": site_id}),
            "UpdateExpression": update,
            "ConditionExpression": (
                "(attribute_not_exists(history_version) OR history_version = :seen)"
                " AND (attribute_not_exists(lease) OR lease = :t OR lease_until < :now)"
            ),
            "ExpressionAttributeValues": marshal(values),
        }
    }


def _now() -> int:
    """Seconds since the epoch: leases are compared on the clocks of the processes that hold them."""
    return int(time.time())
