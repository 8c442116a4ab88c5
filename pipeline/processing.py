"""One raw file, end to end: parse -> validate -> derive -> detect -> store -> alert.

`build_records` is the pure middle (no AWS), `process_object` the whole trip. Bad data
never raises: it is quarantined and the outcome says so. Anything that raises is an AWS
or programming failure, which the caller leaves to be retried and, in the end,
dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline import raw_files
from pipeline.alerts import send_file_alert
from pipeline.anomalies import detect
from pipeline.aws import client
from pipeline.file_outcomes import PARTIAL, PROCESSED, QUARANTINED, FileOutcome, record_outcome
from pipeline.formats import UnreadableFile, decode_rows
from pipeline.logs import log
from pipeline.record_store import store_records
from pipeline.records import Record, derive
from pipeline.rollups import change_token
from pipeline.settings import Settings
from pipeline.sites import Site, get_sites, register_unknown
from pipeline.validation import Reading, Validated, validate_rows


@dataclass(frozen=True)
class Skipped:
    source_key: str
    why: str


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_records(
    readings: Sequence[Reading], sites: dict[str, Site], source_key: str, processed_at: str
) -> list[Record]:
    return [derive(r, detect(r, sites.get(r.site_id)), source_key, processed_at) for r in readings]


def process_object(
    settings: Settings, key: str, *, bucket: str | None = None, event_time: str | None = None
) -> FileOutcome | Skipped:
    started = time.monotonic()
    if not key.startswith(settings.raw_prefix):
        return _skipped(key, f"not under {settings.raw_prefix}")
    s3 = client(settings, "s3")
    try:
        body, version = raw_files.read(settings, key, bucket)
    except s3.exceptions.NoSuchKey:
        return _skipped(key, "deleted before it was processed")
    processed_at = now_iso()
    common = {"source_key": key, "version": version, "processed_at": processed_at, "uploaded_at": event_time}
    try:
        validated = validate_rows(decode_rows(key, body))
    except UnreadableFile as exc:
        raw_files.quarantine_file(settings, key, body, exc.reason, exc.detail)
        outcome = FileOutcome(status=QUARANTINED, error=str(exc), duration_ms=_ms(started), **common)
        record_outcome(settings, outcome)
        log("file_quarantined", level=30, source_key=key, reason=exc.reason, detail=exc.detail)
        return outcome
    outcome = _store(settings, validated, common, started)
    log(
        "file_processed",
        source_key=key,
        status=outcome.status,
        readings=outcome.readings,
        written=outcome.written,
        unchanged=outcome.unchanged,
        duplicates=outcome.duplicates,
        rejected=outcome.rejected,
        anomalies=outcome.anomalies,
        alert_message_id=outcome.alert_message_id,
        duration_ms=outcome.duration_ms,
    )
    return outcome


def _store(settings: Settings, validated: Validated, common: dict, started: float) -> FileOutcome:
    key, version = common["source_key"], common["version"]
    if validated.rejects:
        raw_files.quarantine_rejects(settings, key, validated.rejects)
    site_ids = {r.site_id for r in validated.readings}
    sites = get_sites(settings, site_ids)
    register_unknown(settings, site_ids, sites)
    records = build_records(validated.readings, sites, key, common["processed_at"])
    stored = store_records(settings, records, change_token(key, version))
    anomalies = [r for r in records if r.anomaly]
    message_id = send_file_alert(settings, key, version, anomalies)
    status = QUARANTINED if not records else PARTIAL if validated.rejects else PROCESSED
    outcome = FileOutcome(
        status=status,
        readings=len(records),
        written=stored.written,
        unchanged=stored.unchanged,
        duplicates=validated.duplicates,
        rejected=len(validated.rejects),
        anomalies=len(anomalies),
        duration_ms=_ms(started),
        alert_message_id=message_id,
        **common,
    )
    record_outcome(settings, outcome)
    return outcome


def _skipped(key: str, why: str) -> Skipped:
    log("file_skipped", source_key=key, why=why)
    return Skipped(key, why)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
