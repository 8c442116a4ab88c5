"""One raw file, end to end: parse -> validate -> derive -> detect -> store -> alert.

`assess` is the pure middle (no AWS), `process_object` the whole trip. Bad data
never raises: it is quarantined and the outcome says so. Anything that raises is an AWS
or programming failure, which the caller leaves to be retried and, in the end,
dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline import raw_files
from pipeline.alerts import send_file_alert
from pipeline.anomalies import Gap, History, detect_file
from pipeline.aws import client
from pipeline.dynamo import backoff
from pipeline.file_outcomes import PARTIAL, PROCESSED, QUARANTINED, FileOutcome, record_outcome
from pipeline.formats import UnreadableFile, decode_rows
from pipeline.logs import log
from pipeline.record_store import Stored, existing_records, store_records
from pipeline.records import Record, derive
from pipeline.rollup_rebuild import rebuild_days
from pipeline.rollups import change_token, gap_deltas
from pipeline.settings import Settings
from pipeline.site_claims import Inflight, SitesBusy, claimed, site_states
from pipeline.sites import Site, register_unknown, site_items
from pipeline.validation import Reading, Validated, validate_rows

CLAIM_ATTEMPTS = 5  # ~1 s of waiting in the invocation; longer waits go back to the queue (deferral)


@dataclass(frozen=True)
class Skipped:
    source_key: str
    why: str


@dataclass(frozen=True)
class Assessment:
    records: list[Record]
    gaps: list[Gap]
    histories: dict[str, History]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assess(
    readings: Sequence[Reading],
    sites: Mapping[str, Site],
    source_key: str,
    processed_at: str,
    histories: Mapping[str, History] | None = None,
    before: Mapping[tuple[str, str], Record] | None = None,
) -> Assessment:
    """Records with their anomaly reasons, the gaps found and the sites' new histories.

    `before` holds the records already stored for these readings: a reading seen again
    keeps the series reasons it was given the first time (see `detect_file`).
    """
    now = datetime.strptime(processed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    judged = {key: record.anomaly_reasons for key, record in (before or {}).items()}
    detection = detect_file(readings, sites, histories or {}, now, judged)
    records = [derive(r, detection.reasons[(r.site_id, r.timestamp)], source_key, processed_at) for r in readings]
    return Assessment(records, detection.gaps, detection.histories)


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
        missing_intervals=outcome.missing_intervals,
        alert_message_id=outcome.alert_message_id,
        duration_ms=outcome.duration_ms,
    )
    return outcome


def _store(settings: Settings, validated: Validated, common: dict, started: float) -> FileOutcome:
    key = common["source_key"]
    if validated.rejects:
        raw_files.quarantine_rejects(settings, key, validated.rejects)

    def report(assessment: Assessment, stored: Stored, processed_at: str) -> FileOutcome:
        anomalies = [r for r in assessment.records if r.anomaly]
        message_id = send_file_alert(settings, key, common["version"], anomalies, assessment.gaps)
        status = QUARANTINED if not assessment.records else PARTIAL if validated.rejects else PROCESSED
        outcome = FileOutcome(
            status=status,
            readings=len(assessment.records),
            written=stored.written,
            unchanged=stored.unchanged,
            duplicates=validated.duplicates,
            rejected=len(validated.rejects),
            anomalies=len(anomalies),
            missing_intervals=sum(g.missing for g in assessment.gaps),
            duration_ms=_ms(started),
            alert_message_id=message_id,
            **{**common, "processed_at": processed_at},
        )
        record_outcome(settings, outcome)
        return outcome

    for attempt in range(CLAIM_ATTEMPTS):
        try:
            return _judge_and_store(settings, validated.readings, common, report)
        except SitesBusy:
            if attempt == CLAIM_ATTEMPTS - 1:
                raise  # still busy: the message goes back to the queue
            log("sites_busy", level=20, source_key=key, attempt=attempt + 1)
            backoff(attempt)
    raise AssertionError("unreachable")


def _judge_and_store(
    settings: Settings,
    readings: Sequence[Reading],
    common: dict,
    report: Callable[[Assessment, Stored, str], FileOutcome],
) -> FileOutcome:
    """Judge the readings against their sites' histories and the records already stored,
    then store them and report the file while holding the sites: a file of the same site
    that got in between raises `SitesBusy` before anything of this one is written.

    A retry of a try that failed half-way finds it in flight on its sites and repeats it
    exactly: same histories, same processing time, the rollup days it moved left alone.
    """
    key, version = common["source_key"], common["version"]
    token = change_token(key, version)
    site_ids = {r.site_id for r in readings}
    items = site_items(settings, site_ids)
    register_unknown(settings, site_ids, items)
    sites = {site_id: Site.from_item(item) for site_id, item in items.items()}
    states = site_states(items, site_ids, token)
    resumed = {site_id: state.resumed for site_id, state in states.items() if state.resumed is not None}
    processed_at = next(iter(resumed.values())).processed_at if resumed else common["processed_at"]
    before = existing_records(settings, [(r.site_id, r.timestamp) for r in readings])
    judged_against = {site_id: state.history for site_id, state in states.items()}
    assessment = assess(readings, sites, key, processed_at, judged_against, before)
    days = _days_moved(assessment)
    inflight = {
        site_id: Inflight(token, state.history, processed_at, days.get(site_id, ()), state.repair)
        for site_id, state in states.items()
    }
    versions = {site_id: state.version for site_id, state in states.items()}
    with claimed(settings, versions, assessment.histories, token, inflight) as lease:
        for site_id, state in states.items():
            if state.repair:
                changed = rebuild_days(settings, site_id, state.repair)
                days_rebuilt = sorted({c.day for c in changed})
                log("abandoned_try_repaired", level=30, source_key=key, site_id=site_id, days_rebuilt=days_rebuilt)
        stored = store_records(
            settings,
            assessment.records,
            before,
            token,
            gap_deltas(assessment.gaps),
            resuming=resumed.keys(),
            lease=lease,
        )
        lease.check()
        return report(assessment, stored, processed_at)


def _days_moved(assessment: Assessment) -> dict[str, tuple[str, ...]]:
    """The rollup days each site's records and gaps move."""
    days: dict[str, set[str]] = {}
    for record in assessment.records:
        days.setdefault(record.site_id, set()).add(record.timestamp[:10])
    for gap in assessment.gaps:
        days.setdefault(gap.site_id, set()).add(gap.first_missing[:10])
    return {site_id: tuple(sorted(found)) for site_id, found in days.items()}


def _skipped(key: str, why: str) -> Skipped:
    log("file_skipped", source_key=key, why=why)
    return Skipped(key, why)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
