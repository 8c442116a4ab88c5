"""Raw files, end to end: parse -> validate -> derive -> detect -> store -> alert.

`assessment.assess` is the pure middle (no AWS), `process_object` one file's whole trip,
`process_batch` an invocation's. Bad data never raises: it is quarantined and the outcome
says so. Anything that raises is an AWS or programming failure, which the caller leaves to
be retried and, in the end, dead-lettered.

A small file (up to `SMALL_FILE_BYTES`, one chunk of rows) is read in one GET and held as
its rows; the small files of a batch that name the same sites are stored together, as one
group (`pipeline.storing`). A big file is read twice as a stream, never held whole. The
first pass only checks that it can be read (`scan_rows`) and counts its chunks: a file that
cannot is quarantined whole, by a server-side copy. The second pass stores it in chunks of
`chunk_readings` rows (fewer when their text passes `chunk_mb`), each judged, claimed,
stored and released on its own, so memory is bounded by the chunk, not the file. The claim
that ends a chunk records the file's progress and moves its sites' alert episodes
(`pipeline.episodes`); an invocation running short of time stops between chunks (`Paused`)
and the next one goes on from there (`pipeline.progress`). The last chunk sends the file's
one message, when its chunks changed an episode's state, and records its outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial

from pipeline import raw_files
from pipeline.alerts import Findings
from pipeline.assessment import Assessment
from pipeline.aws import client
from pipeline.episodes import Notice
from pipeline.events import ObjectCreated
from pipeline.file_outcomes import PARTIAL, PROCESSED, QUARANTINED, FileOutcome, record_outcome
from pipeline.formats import RawRow, UnreadableFile, iter_rows, scan_rows
from pipeline.local_time import SiteClocks
from pipeline.logs import log
from pipeline.progress import Progress, load_progress, save_progress
from pipeline.record_store import Stored
from pipeline.settings import Settings
from pipeline.sites import site_items
from pipeline.storing import Part, store_group
from pipeline.timestamps import now_text
from pipeline.validation import SITE_ID, validate_rows

PAUSE_MARGIN_MS = 5_000  # besides twice the last chunk's time, kept back when deciding to go on
SMALL_FILE_BYTES = 1024 * 1024  # read in one GET; those of one chunk are stored with the batch's others
GROUP_FILES = 500  # most small files stored together (their outcomes are written one by one)


class Paused(Exception):
    """The invocation is short of time between two chunks of a file; its progress is saved
    and the rest is for the next invocation (the handler sends the message back)."""


@dataclass(frozen=True)
class Skipped:
    source_key: str
    why: str


@dataclass(frozen=True)
class Opened:
    """A file that can be read, before anything of it is stored: `rows` holds a small file's
    only chunk, `body` the bytes of a small file of several chunks; a big file is read again
    as a stream, chunk by chunk."""

    common: dict
    bucket: str | None
    chunks: int
    body: bytes | None = None
    rows: list[RawRow] | None = None
    started: float = 0.0

    @property
    def key(self) -> str:
        return self.common["source_key"]


def now_iso() -> str:
    """The processing time of a file starting now (a seam: tests set the clock here)."""
    return now_text()


def process_object(
    settings: Settings,
    key: str,
    *,
    bucket: str | None = None,
    event_time: str | None = None,
    time_left_ms: Callable[[], int] | None = None,
) -> FileOutcome | Skipped:
    """One file, end to end."""
    opened = open_file(settings, key, bucket=bucket, event_time=event_time)
    if not isinstance(opened, Opened):
        return opened
    if opened.rows is not None:
        outcome = _store_small(settings, [opened])[0]
        _log_outcome(outcome)
        return outcome
    return _store_file(settings, opened, time_left_ms)


@dataclass(frozen=True)
class Message:
    """An SQS message's files. `alone`: its small files form groups of their own, never
    joined by another message's (a redelivery, or a group sent back whole): a try that
    failed half-way must come back as the same group to be resumed exactly."""

    id: str
    objects: Sequence[ObjectCreated]
    alone: bool = False


@dataclass(frozen=True)
class FailedGroup:
    message_ids: list[str]
    objects: list[ObjectCreated]  # the group's files, in upload order
    error: Exception


@dataclass
class BatchResult:
    started: list[str] = field(default_factory=list)  # the messages begun, in order
    errors: dict[str, Exception] = field(default_factory=dict)  # the first error of each that failed
    failed_groups: list[FailedGroup] = field(default_factory=list)


def process_batch(
    settings: Settings, messages: Sequence[Message], *, time_left_ms: Callable[[], int], reserve_ms: int
) -> BatchResult:
    """The files of an invocation's messages: big ones one by one as they come, small ones
    (one chunk, read in one GET) stored together by the sites they name, at most
    `GROUP_FILES` or one chunk's worth at a time (`store_group`). A file named twice is
    stored once.

    The messages are taken in upload order (their files' S3 event times; SQS hands them out
    in any order): each group then holds files older than the next group's, so the series
    rules see a site's readings in time order and readings newer than what a site stored
    need no existence read. Starts a message only with more than `reserve_ms` left.
    """
    messages = sorted(messages, key=lambda m: min((o.event_time or "" for o in m.objects), default=""))
    result = BatchResult()
    waiting: dict[str, tuple[Opened, Message, list[str]]] = {}  # by key: the file, where it came from
    held = Held(settings)

    def flush() -> None:
        for failed in _store_waiting(settings, list(waiting.values()), lambda: time_left_ms() >= reserve_ms):
            result.failed_groups.append(failed)
            for message_id in failed.message_ids:
                result.errors.setdefault(message_id, failed.error)
        waiting.clear()
        held.clear()

    for message in messages:
        if time_left_ms() < reserve_ms:
            break
        result.started.append(message.id)
        try:
            for obj in message.objects:
                if obj.key in waiting:
                    waiting[obj.key][2].append(message.id)
                    continue
                opened = open_file(settings, obj.key, bucket=obj.bucket, event_time=obj.event_time)
                if not isinstance(opened, Opened):
                    continue
                if opened.rows is None:
                    _store_file(settings, opened, time_left_ms)
                    continue
                if waiting and not held.fits(opened):
                    flush()
                held.add(opened)
                waiting[obj.key] = (opened, message, [message.id])
        except Exception as exc:
            result.errors.setdefault(message.id, exc)
    flush()
    return result


def open_file(
    settings: Settings, key: str, *, bucket: str | None = None, event_time: str | None = None
) -> Opened | FileOutcome | Skipped:
    """Check that the file can be read, holding no more than one chunk: a file that cannot
    is quarantined whole (and its outcome returned) before anything of it is stored."""
    started = time.monotonic()
    if not key.startswith(settings.raw_prefix):
        return _skipped(key, f"not under {settings.raw_prefix}")
    s3 = client(settings, "s3")
    limits = settings.limits()
    common = {"source_key": key, "processed_at": now_iso(), "uploaded_at": event_time}
    try:
        with raw_files.open_object(settings, key, bucket) as stream:
            common["version"] = stream.etag
            if stream.size <= SMALL_FILE_BYTES:
                body = b"".join(stream.chunks())
                rows, chunks = _first_chunk(iter_rows(key, [body], limits), settings)
                if chunks == 1:
                    return Opened(common, bucket, 1, None, rows, started)
                return Opened(
                    common, bucket, _chunk_count(scan_rows(key, [body], limits), settings), body, None, started
                )
            chunks = _chunk_count(scan_rows(key, stream.chunks(), limits), settings)
    except s3.exceptions.NoSuchKey:
        return _skipped(key, "deleted before it was processed")
    except UnreadableFile as exc:
        return _quarantine_whole(settings, key, bucket, exc, common, started)
    return Opened(common, bucket, chunks, started=started)


def _first_chunk(rows: Iterable[RawRow], settings: Settings) -> tuple[list[RawRow], int]:
    """A small file's rows when they make one chunk (1), else the rows of its first chunk and 2:
    the file is then stored as a big one."""
    kept: list[RawRow] = []
    ended = False
    for row, ends_chunk in _chunk_ends(rows, settings):
        if ended:
            return kept, 2
        kept.append(row)
        ended = ends_chunk
    return kept, 1  # `iter_rows` lets no empty file by


@dataclass
class Held:
    """What the small files waiting to be stored hold: at most `GROUP_FILES` files and one
    chunk's worth of rows (`chunk_readings`, `chunk_mb`), so a batch's memory is bounded
    like a big file's."""

    settings: Settings
    files: int = 0
    rows: int = 0
    chars: int = 0

    def fits(self, opened: Opened) -> bool:
        rows, chars = _size(opened)
        return (
            self.files < GROUP_FILES
            and self.rows + rows <= self.settings.chunk_readings
            and self.chars + chars <= self.settings.chunk_mb * 2**20
        )

    def add(self, opened: Opened) -> None:
        rows, chars = _size(opened)
        self.files, self.rows, self.chars = self.files + 1, self.rows + rows, self.chars + chars

    def clear(self) -> None:
        self.files = self.rows = self.chars = 0


def _store_waiting(
    settings: Settings, waiting: Sequence[tuple[Opened, Message, list[str]]], has_time: Callable[[], bool]
) -> Iterator[FailedGroup]:
    """Store the small files waiting, one group per set of sites (per message too, for a
    message stored alone), each only while `has_time`; yield each group that failed or was
    not begun (`Paused`: nothing of it written, its messages go back to the queue)."""
    groups: dict[tuple[str, frozenset[str]], list[tuple[Part, Opened, list[str]]]] = {}
    for opened, message, message_ids in waiting:
        try:
            part = _part(settings, opened, opened.rows or [], 0, True, _fresh(opened))
        except Exception as exc:
            yield FailedGroup(message_ids, [_created(opened)], exc)
            continue
        groups.setdefault((message.id if message.alone else "", part.sites), []).append((part, opened, message_ids))
    for members in groups.values():
        if not has_time():
            message_ids = list(dict.fromkeys(m for _, _, ids in members for m in ids))
            yield FailedGroup(message_ids, [_created(o) for _, o, _ in members], Paused("no time left to store it"))
            continue
        try:
            for outcome in store_group(settings, [part for part, _, _ in members]):
                _log_outcome(outcome)  # type: ignore[arg-type]
        except Exception as exc:
            members.sort(key=lambda member: member[0].order)
            message_ids = list(dict.fromkeys(m for _, _, ids in members for m in ids))
            yield FailedGroup(message_ids, [_created(opened) for _, opened, _ in members], exc)


def _size(opened: Opened) -> tuple[int, int]:
    """A small file's rows and the characters of their text."""
    rows = opened.rows or []
    return len(rows), sum(r.size for r in rows)


def _created(opened: Opened) -> ObjectCreated:
    return ObjectCreated(opened.bucket or "", opened.key, opened.common.get("uploaded_at"))


def _store_small(settings: Settings, files: Sequence[Opened]) -> list[FileOutcome]:
    """Small files as one group (their outcomes, in their order)."""
    parts = [_part(settings, f, f.rows or [], 0, True, _fresh(f)) for f in files]
    by_key = {o.source_key: o for o in store_group(settings, parts)}  # type: ignore[union-attr]
    return [by_key[f.key] for f in files]  # type: ignore[misc]


def _fresh(opened: Opened) -> Progress:
    return Progress(opened.common["version"], opened.common["processed_at"])


def _store_file(settings: Settings, opened: Opened, time_left_ms: Callable[[], int] | None) -> FileOutcome:
    """A big file, chunk by chunk, going on from its saved progress."""
    key, limits = opened.key, settings.limits()
    common, version = opened.common, opened.common["version"]
    progress = load_progress(settings, key, version) if opened.chunks > 1 else None
    progress = progress or Progress(version, common["processed_at"])
    if progress.chunks_done:
        log("file_resumed", source_key=key, chunks_done=progress.chunks_done)
    with raw_files.open_object(settings, key, opened.bucket) if opened.body is None else nullcontext() as stream:
        source = [opened.body] if stream is None else stream.chunks()
        batches = _with_last(_batched(iter_rows(key, source, limits), settings))
        for number, (batch, last) in enumerate(batches):
            if number < progress.chunks_done:
                continue
            chunk_started = time.monotonic()
            part = _part(settings, opened, batch, number, last, progress)
            done = store_group(settings, [part])[0]
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
        settings,
        key,
        opened.bucket,
        UnreadableFile("empty_file", "the file holds no readings"),
        common,
        opened.started,
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
    record_outcome(settings, outcome, with_files=())
    log("file_quarantined", level=30, source_key=key, reason=exc.reason, detail=exc.detail)
    return outcome


def _part(
    settings: Settings,
    opened: Opened,
    rows: list[RawRow],
    number: int,
    last: bool,
    progress: Progress,
) -> Part:
    """One chunk of the file, validated (its rejects quarantined), with the report that
    records its progress or, for the last chunk, returns the file's outcome and what its
    alert is to say (`storing` sends the group's alert, then records the outcomes)."""
    common, key = opened.common, opened.key
    version = common["version"]
    validated = validate_rows(rows, SiteClocks(partial(site_timezones, settings, rows)))
    if validated.rejects:
        raw_files.quarantine_rejects(settings, key, validated.rejects, part=number)

    def report(
        assessment: Assessment, stored: Stored, processed_at: str, notices: Sequence[Notice]
    ) -> tuple[Progress | FileOutcome, Findings | None]:
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
            return done, None
        outcome = FileOutcome(
            status=QUARANTINED if not done.readings else PARTIAL if done.rejected else PROCESSED,
            anomalies=findings.anomaly_count,
            episode_changes=findings.notice_count,
            duration_ms=_ms(opened.started),
            **done.counts(),
            **{**common, "processed_at": done.processed_at},
        )
        return outcome, findings

    uploaded_at = common.get("uploaded_at") or ""
    whole = number == 0 and last
    return Part(key, version, number, progress.processed_at, validated.readings, report, uploaded_at, whole)


def site_timezones(settings: Settings, rows: Sequence[RawRow]) -> dict[str, str]:
    """The timezones of the sites `rows` name, for reading their wall-clock timestamps (one
    BatchGetItem, made only for a chunk that has such a timestamp)."""
    named = {row.value.get("site_id") for row in rows if isinstance(row.value, dict)}
    site_ids = [s for s in named if isinstance(s, str) and SITE_ID.fullmatch(s)]
    return {site_id: item["timezone"] for site_id, item in site_items(settings, site_ids).items() if "timezone" in item}


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
