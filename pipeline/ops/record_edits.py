"""Analysts' edits of stored records: a correction of a reading's values, or a flagged
reading marked as a false positive, each kept in the record's audit trail.

An edit is the analyst's word on the reading: the record's reasons are cleared, its values
before the first edit stay in `original`, and every edit appends who, when, why and the
old and new values to `edits`. Processing never writes over an edited record again
(`record_store.store_records`), so reprocessing the raw file keeps the edit and sends no
alert for it.

The rollups move by exactly the edit's difference. Their day items are read, added to and
written back, which is only right while nobody else moves them: an edit holds the site's
lease like any file (`site_claims.claimed`), and marks itself in flight with the record's
day. Rollups move before the record is written; a process that dies in between leaves that
mark, and the next file or rebuild that claims the site takes the try over as abandoned and
rebuilds the day from the records. An edit that fails with an error hands the site back at
once (the mark stays, so the day is still rebuilt), instead of holding it for a retry that
no edit makes.

`corrected`, `dismissed` and `audit_rows` are pure; the rest reads and writes DynamoDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pipeline.anomalies import SENTINEL_VALUE, is_sentinel
from pipeline.aws import client
from pipeline.dynamo import backoff, marshal, query, unmarshal
from pipeline.record_store import store_records
from pipeline.records import Record
from pipeline.rollup_rebuild import rebuild_days
from pipeline.settings import Settings
from pipeline.site_claims import Inflight, SitesBusy, claimed, failed_lease, site_states
from pipeline.sites import site_items
from pipeline.timestamps import now_text
from pipeline.validation import MAX_ABS_KWH, SITE_ID, check_energy, normalise_timestamp

CORRECTED = "corrected"
FALSE_POSITIVE = "false_positive"
MAX_WHY_CHARS = 500
MAX_BY_CHARS = 256
MAX_EDITS = 100  # with the bounds above, a record's trail stays far below DynamoDB's 400 KB item limit
EDIT_ATTEMPTS = 8  # ~5 s of waiting for a file of the site to be stored, as rebuild-rollups waits
VALUE_NAMES = {"energy_generated_kwh": "generated", "energy_consumed_kwh": "consumed"}
REASON_SENTENCES = {
    "missing": "is empty",
    "not_number": "is not a number",
    "not_finite": "is not a finite number",
    "out_of_range": f"is beyond ±{MAX_ABS_KWH:,} kWh",
}


class EditRefused(ValueError):
    """An edit that cannot be made as asked; the message is a sentence for the analyst."""


class NoSuchReading(EditRefused):
    """The site has no stored reading at that time."""


@dataclass(frozen=True)
class AuditRow:
    """One edit of one reading, as the history lists it."""

    timestamp: str  # the reading's
    at: str
    by: str
    action: str
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    why: str


# --- pure: what an edit makes of a record ---------------------------------------------------


def corrected(
    old: Record,
    *,
    by: str,
    why: str,
    at: str,
    generated: object = None,
    consumed: object = None,
) -> Record:
    """The record with the analyst's values (a value not given is kept) and no reasons."""
    if generated is None and consumed is None:
        raise EditRefused("Give a corrected generated or consumed value (or both).")
    new_generated = (
        check_value(generated, "energy_generated_kwh") if generated is not None else old.energy_generated_kwh
    )
    new_consumed = check_value(consumed, "energy_consumed_kwh") if consumed is not None else old.energy_consumed_kwh
    for kept, given, name in ((new_generated, generated, "generated"), (new_consumed, consumed, "consumed")):
        if given is None and SENTINEL_VALUE in old.anomaly_reasons and is_sentinel(kept):
            raise EditRefused(
                f"The {name} value {kept} is a meter's “no data” code, not energy: give a corrected {name} value too."
            )
    new = replace(
        old,
        energy_generated_kwh=new_generated,
        energy_consumed_kwh=new_consumed,
        net_energy_kwh=new_generated - new_consumed,
        anomaly_reasons=(),
    )
    if new.values() == old.values():
        raise EditRefused(
            f"The reading at {old.timestamp} already has these values and no reasons: nothing to correct."
        )
    return _with_entry(old, new, CORRECTED, by, why, at)


def dismissed(old: Record, *, by: str, why: str, at: str) -> Record:
    """The flagged record marked as a false positive: its reasons cleared, its values kept."""
    if not old.anomaly_reasons:
        raise EditRefused(
            f"The reading at {old.timestamp} is not flagged: there is nothing to mark as a false positive."
        )
    if SENTINEL_VALUE in old.anomaly_reasons:
        raise EditRefused(
            f"The reading at {old.timestamp} holds a meter's “no data” code, not energy: correct its values instead."
        )
    return _with_entry(old, replace(old, anomaly_reasons=()), FALSE_POSITIVE, by, why, at)


def audit_entry(old: Record, new: Record, action: str, by: str, why: str, at: str) -> dict[str, Any]:
    return {"at": at, "by": by, "action": action, "why": why, "old": old.values(), "new": new.values()}


def check_why(why: object) -> str:
    text = why.strip() if isinstance(why, str) else ""
    if not text:
        raise EditRefused("Say why: an edit needs a reason for the audit trail.")
    if len(text) > MAX_WHY_CHARS:
        raise EditRefused(f"The reason is {len(text):,} characters long; keep it within {MAX_WHY_CHARS}.")
    return text


def check_by(by: object) -> str:
    text = by.strip() if isinstance(by, str) else ""
    if not text:
        raise EditRefused("Say who is editing: the audit trail records a name.")
    if len(text) > MAX_BY_CHARS:
        raise EditRefused(f"The name is {len(text):,} characters long; keep it within {MAX_BY_CHARS}.")
    return text


def audit_rows(records: Iterable[Record]) -> list[AuditRow]:
    """Every edit of `records`, oldest first."""
    rows = [
        AuditRow(r.timestamp, e["at"], e["by"], e["action"], e.get("old") or {}, e.get("new") or {}, e.get("why", ""))
        for r in records
        for e in r.edits
    ]
    return sorted(rows, key=lambda row: (row.at, row.timestamp))


def describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What an edit changed, e.g. `generated 12.5 -> 20; reasons negative_generation -> none`."""
    parts = []
    for name, label in VALUE_NAMES.items():
        if old.get(name) != new.get(name):
            parts.append(f"{label} {old.get(name)} -> {new.get(name)}")
    before, after = (", ".join(side.get("anomaly_reasons") or ()) or "none" for side in (old, new))
    if before != after:
        parts.append(f"reasons {before} -> {after}")
    return "; ".join(parts) or "no change"


def reading_key(site_id: object, timestamp: object) -> tuple[str, str]:
    """The (site, UTC timestamp) an analyst names; a time without an offset is UTC."""
    if not isinstance(site_id, str) or not SITE_ID.fullmatch(site_id):
        raise EditRefused(f"“{site_id}” is not a site id (1-64 letters, digits, '-', '_' or '.').")
    moment = normalise_timestamp(timestamp)
    if moment is None:
        raise EditRefused(f"“{timestamp}” is not a time: give one in ISO 8601, e.g. 2026-12-04T06:00:00Z.")
    return site_id, moment


def _with_entry(old: Record, new: Record, action: str, by: str, why: str, at: str) -> Record:
    if len(old.edits) >= MAX_EDITS:
        raise EditRefused(
            f"The reading at {old.timestamp} has been edited {len(old.edits)} times, the most a reading keeps."
        )
    entry = audit_entry(old, new, action, check_by(by), check_why(why), at)
    return replace(new, original=old.original or old.values(), edits=(*old.edits, entry))


def check_value(value: object, name: str) -> Decimal:
    """An analyst's value, held to the rules a meter's reading is held to (`validation`)."""
    number, reasons = check_energy(value, name)
    if number is None:
        code = reasons[0].removeprefix(f"{name}_") if reasons else "not_number"
        raise EditRefused(f"The {VALUE_NAMES[name]} value “{value}” {REASON_SENTENCES.get(code, 'is not valid')}.")
    return number


# --- AWS: the edit itself, and reading edits back -------------------------------------------


def correct(
    settings: Settings,
    site_id: str,
    timestamp: str,
    *,
    by: str,
    why: str,
    generated: object = None,
    consumed: object = None,
) -> Record:
    """Correct a stored reading's values (at least one); returns the record as stored."""
    return _edit(
        settings,
        site_id,
        timestamp,
        lambda old, at: corrected(old, by=by, why=why, at=at, generated=generated, consumed=consumed),
    )


def dismiss(settings: Settings, site_id: str, timestamp: str, *, by: str, why: str) -> Record:
    """Mark a flagged reading as a false positive; returns the record as stored."""
    return _edit(settings, site_id, timestamp, lambda old, at: dismissed(old, by=by, why=why, at=at))


def get_record(settings: Settings, site_id: str, timestamp: str, *, consistent: bool = False) -> Record | None:
    """One stored record by its key (GetItem), None when there is none."""
    found = client(settings, "dynamodb").get_item(
        TableName=settings.table,
        Key=marshal({"site_id": site_id, "timestamp": timestamp}),
        ConsistentRead=consistent,
    )
    return Record.from_item(unmarshal(found["Item"])) if "Item" in found else None


def edited_records(settings: Settings, site_id: str, start: str = "0000", end: str = "9999") -> Iterator[Record]:
    """A site's edited records with `start <= timestamp <= end`: one Query on the key, filtered."""
    yield from (
        Record.from_item(item)
        for item in query(
            settings,
            TableName=settings.table,
            KeyConditionExpression="site_id = :s AND #t BETWEEN :a AND :b",
            FilterExpression="attribute_exists(original)",
            ExpressionAttributeNames={"#t": "timestamp"},
            ExpressionAttributeValues=marshal({":s": site_id, ":a": start, ":b": end}),
        )
    )


def _edit(settings: Settings, site_id: str, timestamp: str, change: Callable[[Record, str], Record]) -> Record:
    """Apply `change` to the stored record while holding the site's lease (see the module's docstring)."""
    site_id, timestamp = reading_key(site_id, timestamp)
    current = get_record(settings, site_id, timestamp)
    if current is None:
        raise NoSuchReading(f"Site {site_id} has no stored reading at {timestamp}.")
    change(current, now_text())  # refuse what cannot be done before taking the site from files
    token = f"edit-{uuid.uuid4().hex[:12]}"
    for attempt in range(EDIT_ATTEMPTS):
        state = site_states(site_items(settings, [site_id]), [site_id], token)[site_id]
        now = now_text()
        inflight = Inflight(token, state.history, now, (timestamp[:10],), state.repair, episodes=state.episodes)
        try:
            with claimed(settings, {site_id: state.version}, {}, token, {site_id: inflight}) as held:
                if state.repair:
                    rebuild_days(settings, site_id, state.repair)
                old = get_record(settings, site_id, timestamp, consistent=True)
                try:
                    new = change(old, now) if old is not None else None
                except EditRefused as exc:  # changed since it was read: refuse, and let the site go
                    refusal: EditRefused | None = exc
                else:
                    refusal = None
                if old is not None and new is not None:
                    store_records(settings, [new], {old.key: old}, token, lease=held, keep_edited=False)
        except SitesBusy:
            if attempt == EDIT_ATTEMPTS - 1:
                raise SitesBusy(f"Site {site_id} is being stored by a file; try the edit again in a moment.") from None
            backoff(attempt)
            continue
        except Exception:
            _hand_back(settings, site_id, token)
            raise
        if refusal is not None:
            raise refusal
        if new is None:
            raise NoSuchReading(f"Site {site_id} has no stored reading at {timestamp}.")
        return new
    raise AssertionError("unreachable")


def _hand_back(settings: Settings, site_id: str, token: str) -> None:
    """Free the site a failed edit held (nobody retries an edit), keeping its in-flight mark:
    the next file or rebuild that claims the site rebuilds the edit's day from the records.
    The version moves on, as a release moves it: a file that read the site meanwhile reads again."""
    dynamodb = client(settings, "dynamodb")
    try:
        dynamodb.update_item(
            TableName=settings.sites_table,
            Key=marshal({"site_id": site_id}),
            UpdateExpression="SET history_version = history_version + :one REMOVE lease, lease_until",
            ConditionExpression="lease = :failed",
            ExpressionAttributeValues=marshal({":failed": failed_lease(token), ":one": 1}),
        )
    except Exception:  # the lease then runs out on its own, LEASE_SECONDS later
        pass
