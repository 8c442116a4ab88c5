"""One raw file, end to end: parse -> validate -> derive -> detect -> store -> alert.

`assess` is the pure middle (no AWS), `process_object` the whole trip. Bad data
never raises: it is quarantined and the outcome says so. Anything that raises is an AWS
or programming failure, which the caller leaves to be retried and, in the end,
dead-lettered.

A file is read twice as a stream, never held whole. The first pass only checks that it can
be read (`scan_rows`) and counts its chunks: a file that cannot is quarantined whole, by a
server-side copy. The second pass stores it in chunks of `chunk_readings` rows (fewer when
their text passes `chunk_mb`), each judged, claimed, stored and released on its own, so
memory is bounded by the chunk, not the file. The claim that ends a chunk records the
file's progress and moves its sites' alert episodes (`pipeline.episodes`); an invocation
running short of time stops between chunks (`Paused`) and the next one goes on from there
(`pipeline.progress`). The last chunk sends the file's one message, when its chunks changed
an episode's state, and records its outcome.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from pipeline import raw_files
from pipeline.alerts import send_file_alert
from pipeline.anomalies import Gap, History, detect_file
from pipeline.aws import client
from pipeline.dynamo import backoff
from pipeline.episodes import Notice, advance_sites
from pipeline.file_outcomes import PARTIAL, PROCESSED, QUARANTINED, FileOutcome, record_outcome
from pipeline.formats import RawRow, UnreadableFile, iter_rows, scan_rows
from pipeline.local_time import SiteClocks
from pipeline.logs import log
from pipeline.progress import Progress, load_progress, save_progress
from pipeline.record_store import Stored, existing_records, store_records
from pipeline.records import Record, derive, estimated
from pipeline.rollup_rebuild import rebuild_days
from pipeline.rollups import change_token, gap_deltas
from pipeline.settings import Settings
from pipeline.site_claims import Inflight, SitesBusy, claimed, site_states
from pipeline.sites import Site, register_unknown, site_items
from pipeline.timestamps import now_text, parse_utc, utc_text
from pipeline.validation import SITE_ID, Reading, validate_rows

CLAIM_ATTEMPTS = 5  # ~1 s of waiting in the invocation; longer waits go back to the queue (deferral)
PAUSE_MARGIN_MS = 5_000  # besides twice the last chunk's time, kept back when deciding to go on


class Paused(Exception):
    """The invocation is short of time between two chunks of a file; its progress is saved
    and the rest is for the next invocation (the handler sends the message back)."""


@dataclass(frozen=True)
class Skipped:
    source_key: str
    why: str


@dataclass(frozen=True)
class Assessment:
    records: list[Record]
    gaps: list[Gap]
    histories: dict[str, History]
    estimates: list[Record] = field(default_factory=list)  # for the gaps' intervals, not readings


def now_iso() -> str:
    """The processing time of a file starting now (a seam: tests set the clock here)."""
    return now_text()


def assess(
    readings: Sequence[Reading],
    sites: Mapping[str, Site],
    source_key: str,
    processed_at: datetime,
    histories: Mapping[str, History] | None = None,
    before: Mapping[tuple[str, str], Record] | None = None,
) -> Assessment:
    """Records with their anomaly reasons, the gaps found and the sites' new histories.

    `processed_at` is the rules' clock (a future timestamp is judged against it) and, to
    the second, the records' `processed_at`. `before` holds the records already stored for
    these readings: a reading seen again keeps the series reasons it was given the first
    time (see `detect_file`).
    """
    stamp = utc_text(processed_at)
    judged = {key: record.anomaly_reasons for key, record in (before or {}).items()}
    detection = detect_file(readings, sites, histories or {}, processed_at, judged)
    records = [derive(r, detection.reasons[(r.site_id, r.timestamp)], source_key, stamp) for r in readings]
    estimates = [estimated(e, source_key, stamp) for e in detection.estimates]
    return Assessment(records, detection.gaps, detection.histories, estimates)


def process_object(
    settings: Settings,
    key: str,
    *,
    bucket: str | None = None,
    event_time: str | None = None,
    time_left_ms: Callable[[], int] | None = None,
) -> FileOutcome | Skipped:
    started = time.monotonic()
    if not key.startswith(settings.raw_prefix):
        return _skipped(key, f"not under {settings.raw_prefix}")
    s3 = client(settings, "s3")
    limits = settings.limits()
    common = {"source_key": key, "processed_at": now_iso(), "uploaded_at": event_time}
    try:
        with raw_files.open_object(settings, key, bucket) as stream:
            common["version"] = stream.etag
            chunks = _chunk_count(scan_rows(key, stream.chunks(), limits), settings)
    except s3.exceptions.NoSuchKey:
        return _skipped(key, "deleted before it was processed")
    except UnreadableFile as exc:
        return _quarantine_whole(settings, key, bucket, exc, common, started)
    progress = load_progress(settings, key, common["version"]) if chunks > 1 else None
    progress = progress or Progress(common["version"], common["processed_at"])
    if progress.chunks_done:
        log("file_resumed", source_key=key, chunks_done=progress.chunks_done)
    with raw_files.open_object(settings, key, bucket) as stream:
        batches = _with_last(_batched(iter_rows(key, stream.chunks(), limits), settings))
        for number, (batch, last) in enumerate(batches):
            if number < progress.chunks_done:
                continue
            chunk_started = time.monotonic()
            done = _store_chunk(settings, batch, number, last, progress, common, started)
            if isinstance(done, FileOutcome):
                _log_outcome(done)
                return done
            progress = done
            chunk_ms = (time.monotonic() - chunk_started) * 1000
            if time_left_ms is not None and time_left_ms() < 2 * chunk_ms + PAUSE_MARGIN_MS:
                log("file_paused", source_key=key, chunks_done=progress.chunks_done)
                raise Paused(f"{key}: {progress.chunks_done} chunks stored, the rest in the next invocation")
    # the first pass lets no empty file by; an object replaced between the passes may still be one
    return _quarantine_whole(
        settings, key, bucket, UnreadableFile("empty_file", "the file holds no readings"), common, started
    )


def _quarantine_whole(
    settings: Settings, key: str, bucket: str | None, exc: UnreadableFile, common: dict, started: float
) -> FileOutcome:
    """Keep a file that cannot be read as readings beside the reason, without reading it."""
    if "version" not in common:  # refused from its size alone, before its body was opened
        head = client(settings, "s3").head_object(Bucket=bucket or settings.bucket, Key=key)
        common["version"] = head["ETag"].strip('"')
    raw_files.quarantine_copy(settings, key, exc.reason, exc.detail, bucket=bucket)
    outcome = FileOutcome(status=QUARANTINED, error=str(exc), duration_ms=_ms(started), **common)
    record_outcome(settings, outcome)
    log("file_quarantined", level=30, source_key=key, reason=exc.reason, detail=exc.detail)
    return outcome


def _store_chunk(
    settings: Settings,
    rows: list[RawRow],
    number: int,
    last: bool,
    progress: Progress,
    common: dict,
    started: float,
) -> Progress | FileOutcome:
    """Store one chunk of the file; the claim that stores it also records the progress or,
    for the last chunk, sends the alert and records the outcome."""
    key, version = common["source_key"], common["version"]
    validated = validate_rows(rows, SiteClocks(partial(site_timezones, settings, rows)))
    if validated.rejects:
        raw_files.quarantine_rejects(settings, key, validated.rejects, part=number)

    def report(
        assessment: Assessment, stored: Stored, processed_at: str, notices: Sequence[Notice]
    ) -> Progress | FileOutcome:
        anomalies = [r for r in assessment.records if r.anomaly]
        findings = progress.findings.add(anomalies, assessment.gaps, settings.alert_max_lines, notices)
        done = replace(progress, processed_at=processed_at).add(
            findings,
            readings=len(assessment.records),
            written=stored.written,
            unchanged=stored.unchanged,
            duplicates=validated.duplicates,
            rejected=len(validated.rejects),
            missing_intervals=sum(g.missing for g in assessment.gaps),
            estimated=stored.estimated,
        )
        if not last:
            save_progress(settings, key, done)
            return done
        outcome = FileOutcome(
            status=QUARANTINED if not done.readings else PARTIAL if done.rejected else PROCESSED,
            anomalies=findings.anomaly_count,
            episode_changes=findings.notice_count,
            duration_ms=_ms(started),
            alert_message_id=send_file_alert(settings, key, version, findings),
            **done.counts(),
            **{**common, "processed_at": done.processed_at},
        )
        record_outcome(settings, outcome)
        return outcome

    for attempt in range(CLAIM_ATTEMPTS):
        try:
            return _judge_and_store(settings, validated.readings, number, progress.processed_at, common, report)
        except SitesBusy:
            if attempt == CLAIM_ATTEMPTS - 1:
                raise  # still busy: the handler sends the message back to wait
            log("sites_busy", level=20, source_key=key, attempt=attempt + 1)
            backoff(attempt)
    raise AssertionError("unreachable")


def site_timezones(settings: Settings, rows: Sequence[RawRow]) -> dict[str, str]:
    """The timezones of the sites `rows` name, for reading their wall-clock timestamps (one
    BatchGetItem, made only for a chunk that has such a timestamp)."""
    named = {row.value.get("site_id") for row in rows if isinstance(row.value, dict)}
    site_ids = [s for s in named if isinstance(s, str) and SITE_ID.fullmatch(s)]
    return {site_id: item["timezone"] for site_id, item in site_items(settings, site_ids).items() if "timezone" in item}


def _judge_and_store(
    settings: Settings,
    readings: Sequence[Reading],
    chunk: int,
    processed_at: str,
    common: dict,
    report: Callable[[Assessment, Stored, str, Sequence[Notice]], Progress | FileOutcome],
) -> Progress | FileOutcome:
    """Judge one chunk's readings against their sites' histories and the records already
    stored, then store them and report while holding the sites: a file of the same site
    that got in between raises `SitesBusy` before anything of this one is written.

    A retry of a try that failed half-way finds it in flight on its sites and repeats it
    exactly: same histories and alert episodes, same processing time, the rollup days it
    moved left alone. A reading already stored as it is counts into no episode again,
    unless it is a resumed try's own record (equal to the letter, on a resumed site).
    """
    key, version = common["source_key"], common["version"]
    lease = change_token(key, version)
    token = f"{lease}.{chunk}"
    attempt = f"{lease}#{uuid.uuid4().hex[:12]}"  # two deliveries of the file never hold its sites at once
    site_ids = {r.site_id for r in readings}
    items = site_items(settings, site_ids)
    register_unknown(settings, site_ids, items)
    sites = {site_id: Site.from_item(item) for site_id, item in items.items()}
    states = site_states(items, site_ids, token, lease)
    resumed = {site_id: state.resumed for site_id, state in states.items() if state.resumed is not None}
    processed_at = next(iter(resumed.values())).processed_at if resumed else processed_at
    before = existing_records(settings, [(r.site_id, r.timestamp) for r in readings])
    judged_against = {site_id: state.history for site_id, state in states.items()}
    # The file's processing time is stored text (in its progress, or in the in-flight try
    # being repeated), the same for every chunk and try; the rules read it as their clock.
    assessment = assess(readings, sites, key, parse_utc(processed_at), judged_against, before)
    if assessment.estimates:
        before = {**before, **existing_records(settings, [e.key for e in assessment.estimates])}
        assessment = replace(assessment, estimates=_fillable(assessment.estimates, before))
    days = _days_moved(assessment)
    counted = {  # already counted into the episodes: stored as they are, or an analyst's since
        r.key
        for r in assessment.records
        if (old := before.get(r.key))
        and (old.edited or (old.same_values(r) and not (r.site_id in resumed and old == r)))
    }
    episodes, notices = advance_sites(
        {site_id: state.episodes for site_id, state in states.items()},
        assessment.records,
        assessment.gaps,
        settings.episode_policy(),
        counted,
    )
    inflight = {
        site_id: Inflight(token, state.history, processed_at, days.get(site_id, ()), state.repair, state.episodes)
        for site_id, state in states.items()
    }
    versions = {site_id: state.version for site_id, state in states.items()}
    with claimed(settings, versions, assessment.histories, attempt, inflight, episodes) as held:
        for site_id, state in states.items():
            if state.repair:
                changed = rebuild_days(settings, site_id, state.repair)
                days_rebuilt = sorted({c.day for c in changed})
                log("abandoned_try_repaired", level=30, source_key=key, site_id=site_id, days_rebuilt=days_rebuilt)
        stored = store_records(
            settings,
            assessment.records + assessment.estimates,
            before,
            token,
            gap_deltas(assessment.gaps),
            resuming=resumed.keys(),
            lease=held,
        )
        held.check()
        return report(assessment, stored, processed_at, notices)


def _fillable(estimates: Sequence[Record], before: Mapping[tuple[str, str], Record]) -> list[Record]:
    """The estimates whose interval holds no reading: a reading stored there (one dated in
    the future, say, which the series rules never saw) is never replaced by a guess."""
    return [e for e in estimates if (old := before.get(e.key)) is None or old.estimated]


def _days_moved(assessment: Assessment) -> dict[str, tuple[str, ...]]:
    """The rollup days each site's records, estimates and gaps move."""
    days: dict[str, set[str]] = {}
    for record in assessment.records + assessment.estimates:
        days.setdefault(record.site_id, set()).add(record.timestamp[:10])
    for gap in assessment.gaps:
        days.setdefault(gap.site_id, set()).add(gap.first_missing[:10])
    return {site_id: tuple(sorted(found)) for site_id, found in days.items()}


def _batched(rows: Iterable[RawRow], settings: Settings) -> Iterator[list[RawRow]]:
    """The file's chunks (see `_chunk_ends`)."""
    batch: list[RawRow] = []
    for row, ends_chunk in _chunk_ends(rows, settings):
        batch.append(row)
        if ends_chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _chunk_count(rows: Iterable[RawRow], settings: Settings) -> int:
    """How many chunks the file makes; the first pass counts them, holding no row."""
    chunks = ended = 0
    for _, ends_chunk in _chunk_ends(rows, settings):
        chunks, ended = chunks + ends_chunk, ends_chunk
    return chunks + (0 if ended else 1)


def _chunk_ends(rows: Iterable[RawRow], settings: Settings) -> Iterator[tuple[RawRow, bool]]:
    """Each row, and whether a chunk ends with it: after `chunk_readings` rows, or earlier
    once their text reaches `chunk_mb` (long rows, each within the row limit, must not add
    up to a chunk too big to hold). The cut depends only on the file, so every pass and
    every invocation cuts it the same way."""
    count = chars = 0
    most_chars = settings.chunk_mb * 2**20
    for row in rows:
        count, chars = count + 1, chars + row.size
        ends_chunk = count == settings.chunk_readings or chars >= most_chars
        if ends_chunk:
            count = chars = 0
        yield row, ends_chunk


def _with_last(batches: Iterator[list[RawRow]]) -> Iterator[tuple[list[RawRow], bool]]:
    """Each batch with whether it is the last (one batch read ahead)."""
    current = next(batches, None)
    for following in batches:
        yield current, False  # type: ignore[misc]
        current = following
    if current is not None:
        yield current, True


def _log_outcome(outcome: FileOutcome) -> None:
    log(
        "file_processed",
        source_key=outcome.source_key,
        status=outcome.status,
        readings=outcome.readings,
        written=outcome.written,
        unchanged=outcome.unchanged,
        duplicates=outcome.duplicates,
        rejected=outcome.rejected,
        anomalies=outcome.anomalies,
        missing_intervals=outcome.missing_intervals,
        estimated=outcome.estimated,
        alert_message_id=outcome.alert_message_id,
        duration_ms=outcome.duration_ms,
    )


def _skipped(key: str, why: str) -> Skipped:
    log("file_skipped", source_key=key, why=why)
    return Skipped(key, why)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
