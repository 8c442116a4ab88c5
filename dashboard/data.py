"""Loaders: pipeline queries in, pandas frames out.

Every loader of stored data is `st.cache_data` with explicit, hashable arguments (the
frozen `Settings` among them) and a TTL. Loaders of processed data also take `version`:
the newest processed file (a one-item query cached for a few seconds) and this session's
last press of Refresh data. When a file is processed the key changes and the next rerun
reads fresh data; while nothing changes a live refresh costs one small query. Refresh
data (`refresh_view`) changes the key of the caller's session only: its next run reads
afresh, every other session keeps what it has cached. Actions that make everyone's data
stale (uploads, redrives, edits) clear the loaders they affect.

Reads that change something are never cached with `st.cache_data`: looking at an SQS
queue receives its messages (and makes them visible again), which bumps their receive
counts. Those run uncached, at most every few seconds per session (`_session_memo`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pandas as pd
import streamlit as st

from dashboard.aggregate import natural_key
from pipeline import file_outcomes, raw_files, record_store, rollups, sites
from pipeline.aws import caller_arn
from pipeline.formats import REASONS, NonFinite, RawRow, UnreadableFile, iter_rows, iter_text
from pipeline.ops import alert_history, browse, dead_letters, episode_marks, record_export, verify
from pipeline.ops.health import Health, stack_health
from pipeline.ops.simulated_uploads import upload_log as read_upload_log
from pipeline.records import Record
from pipeline.settings import Settings
from pipeline.timestamps import utc_text

VERSION_TTL = 2
SHORT_TTL = 10
TTL = 60
LONG_TTL = 600
HISTORY_TTL = 1800  # rollups older than RECENT_DAYS (see rollup_frame)
RECENT_DAYS = 2
PREVIEW_ROWS = 1_000  # rows a file preview reads, whatever the file's size
PREVIEW_CHUNK_BYTES = 64 * 1024
INLINE_DOWNLOAD_BYTES = 16 * 1024 * 1024  # larger files download through a presigned link

# Each rollup's measures as the charts read them; the estimated ones are never in the others.
ROLLUP_COLUMNS = ["site_id", "hour", *rollups.READING_MEASURES]
# The columns of `record_frame`, the one site's records the Records page shows.
RECORD_FRAME_COLUMNS = [
    "timestamp",
    "kind",  # reading, estimated (linear|profile), corrected, false positive: see `record_kind`
    "generated_kwh",
    "consumed_kwh",
    "net_kwh",
    "anomaly",
    "reasons",
    "estimate_method",  # "" for readings
    "edited",
]
OUTCOME_COLUMNS = [
    "status",
    "written",
    "estimated",
    "rejected",
    "anomalies",
    "alert_message_id",
    "processed_at",
    "uploaded_at",
]


def utc_day(offset_days: int = 0) -> str:
    return (datetime.now(UTC) - timedelta(days=offset_days)).strftime("%Y-%m-%d")


# --- freshness: what this session should see -------------------------------------------

_REFRESH_KEY = "data_refresh"
SESSION_MEMO_KEY = "data_memo"
T = TypeVar("T")


def refresh_token() -> str:
    """This session's last press of Refresh data ("" before the first): part of every
    loader's key through `version` and `listing_stamp`. Unique per press, so a session
    never picks up entries another session's refresh filled a while ago."""
    return st.session_state.get(_REFRESH_KEY, "")


def refresh_view() -> None:
    """Make the caller's next run read everything afresh; other sessions keep their caches."""
    st.session_state[_REFRESH_KEY] = uuid.uuid4().hex
    st.session_state.pop(SESSION_MEMO_KEY, None)


def data_version(settings: Settings) -> str:
    """What this session should see: the newest processed file and its last refresh."""
    return f"{newest_file(settings)}|{refresh_token()}"


@st.cache_data(ttl=VERSION_TTL, show_spinner=False)
def newest_file(settings: Settings) -> str:
    """The newest processed file today (key and time): changes whenever new data is stored."""
    latest = file_outcomes.outcomes_on(settings, utc_day(), limit=1)
    return f"{latest[0].processed_at}|{latest[0].source_key}|{latest[0].version}" if latest else utc_day()


def listing_stamp(uploads_sent: int) -> str:
    """The key of raw-bucket listings: the simulator's upload count and this session's refresh."""
    return f"{uploads_sent}|{refresh_token()}"


def _session_memo(name: str, key: Hashable, ttl: float, read: Callable[[], T]) -> T:
    """`read()` again only when `key` changed or `ttl` seconds passed, per session.

    For reads with side effects, which `st.cache_data` must not hold: the side effect
    happens in the caller's run, and the page stays as fast as with a cache.
    """
    memo = st.session_state.setdefault(SESSION_MEMO_KEY, {})
    now = time.monotonic()
    held = memo.get(name)
    if held is not None and held[0] == key and now - held[1] < ttl:
        return held[2]
    value = read()
    memo[name] = (key, now, value)
    return value


def _forget(name: str) -> None:
    st.session_state.get(SESSION_MEMO_KEY, {}).pop(name, None)


@st.cache_data(ttl=VERSION_TTL, show_spinner=False)
def health(settings: Settings) -> Health:
    return stack_health(settings)


# --- sites and processed data ----------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def site_ids(settings: Settings, version: str) -> list[str]:
    """Registered sites, in natural order (site-2 before site-10)."""
    ids = [s.site_id for s in sites.list_sites(settings)]
    return sorted(ids, key=natural_key)


def rollup_frame(
    settings: Settings, site_list: tuple[str, ...], start_hour: str, end_hour: str, version: str
) -> pd.DataFrame:
    """Hourly rollups of `site_list` between the two hours (inclusive), one row per site-hour.

    Each site's hours are read in two parts: the last RECENT_DAYS (and today), cached under
    `version` so every processed file shows at once; and the older history, which files
    rarely touch, cached for HISTORY_TTL from a day boundary. A live view over 90 days then
    re-reads a couple of days per new file, not 2,000 hourly items per site (moto serves a
    rollup in about a millisecond). Late data older than that shows within HISTORY_TTL, or
    at once with Refresh data.
    """
    cutoff = (datetime.now(UTC) - timedelta(days=RECENT_DAYS)).strftime("%Y-%m-%dT00:00:00Z")
    parts = []
    for site in site_list:
        if start_hour < cutoff:
            history = _site_rollups(
                settings, site, start_hour[:10] + "T00:00:00Z", _hour_before(cutoff), f"history|{refresh_token()}"
            )
            parts.append(history[history["hour"] >= start_hour])
        parts.append(_site_rollups(settings, site, max(start_hour, cutoff), end_hour, version))
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ROLLUP_COLUMNS)


def _hour_before(hour: str) -> str:
    moment = datetime.strptime(hour, "%Y-%m-%dT%H:00:00Z") - timedelta(hours=1)
    return moment.strftime("%Y-%m-%dT%H:00:00Z")


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Reading hourly rollups…", max_entries=512)
def _site_rollups(settings: Settings, site_id: str, start_hour: str, end_hour: str, version: str) -> pd.DataFrame:
    rows = [
        (r.site_id, r.hour, *(_number(getattr(r, measure)) for measure in rollups.READING_MEASURES))
        for r in rollups.site_rollups(settings, site_id, start_hour, end_hour)
    ]
    return pd.DataFrame(rows, columns=ROLLUP_COLUMNS)


def _number(value: Decimal | int) -> float | int:
    """kWh as floats for the charts; counts stay whole."""
    return float(value) if isinstance(value, Decimal) else value


@st.cache_data(ttl=SHORT_TTL, show_spinner=False, max_entries=4)
def _site_records(
    settings: Settings, site_id: str, start: str, end: str, anomalies_only: bool, version: str
) -> list[Record]:
    """A site's records in [start, end] (UTC strings), oldest first, from one key Query that
    the Records page's table and its CSV share (each is cached on its own, for longer).

    "Anomalies only" means anomalous readings: an estimate is never one of them.
    """
    records = record_store.site_records(settings, site_id, start, end, anomalies_only=anomalies_only)
    return [r for r in records if not (anomalies_only and r.estimated)]


@st.cache_data(ttl=LONG_TTL, show_spinner="Querying records…", max_entries=64)
def record_frame(
    settings: Settings, site_id: str, start: str, end: str, anomalies_only: bool, version: str
) -> pd.DataFrame:
    """A site's records in [start, end] (UTC strings), newest first.

    Each row says what it is (`kind`): a meter's reading, an estimate, or an analyst's edit.
    """
    records = reversed(_site_records(settings, site_id, start, end, anomalies_only, version))
    rows = [
        (
            r.timestamp,
            record_kind(r),
            float(r.energy_generated_kwh),
            float(r.energy_consumed_kwh),
            float(r.net_energy_kwh),
            r.anomaly,
            ", ".join(r.anomaly_reasons),
            r.estimate_method or "",
            r.edited,
        )
        for r in records
    ]
    return pd.DataFrame(rows, columns=RECORD_FRAME_COLUMNS)


READING, CORRECTED, FALSE_POSITIVE = "reading", "corrected", "false positive"
EDIT_KINDS = {"corrected": CORRECTED, "false_positive": FALSE_POSITIVE}


def record_kind(record: Record) -> str:
    """What a row is, in the analyst's words. An analyst's last edit names it ("corrected",
    "false positive"), then an estimate's method ("estimated (linear)"), else "reading"; an
    edited estimate stays marked as one ("corrected (estimated, linear)")."""
    if record.edited:
        action = str(record.edits[-1].get("action", "")) if record.edits else ""
        kind = EDIT_KINDS.get(action, CORRECTED)
        return f"{kind} (estimated, {record.estimate_method})" if record.estimated else kind
    if record.estimated:
        return f"estimated ({record.estimate_method})"
    return READING


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=16)
def record_csv(settings: Settings, site_id: str, start: str, end: str, anomalies_only: bool, version: str) -> bytes:
    """The whole selection, oldest first, as the CLI's `records` command writes it
    (`pipeline.ops.record_export`), for the download button."""
    return record_export.records_csv(_site_records(settings, site_id, start, end, anomalies_only, version))


@st.cache_data(ttl=TTL, show_spinner=False)
def recent_anomaly_frame(settings: Settings, limit: int, version: str) -> pd.DataFrame:
    """The newest anomalies up to now (future-dated readings are in the Records page)."""
    until = utc_text(datetime.now(UTC) + timedelta(minutes=15))
    rows = [
        (
            r.timestamp,
            r.site_id,
            float(r.energy_generated_kwh),
            float(r.energy_consumed_kwh),
            ", ".join(r.anomaly_reasons),
            r.source_key,
        )
        for r in record_store.recent_anomalies(settings, limit, until=until)
        if not r.estimated  # anomalous readings only
    ]
    columns = ["timestamp", "site_id", "generated_kwh", "consumed_kwh", "reasons", "source_key"]
    return pd.DataFrame(rows, columns=columns)


# --- the site registry -------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def registry(settings: Settings, version: str) -> list[tuple[sites.Site, sites.Activity]]:
    """Every site with its metadata and what the pipeline keeps (one Scan of the small sites table)."""
    return sites.list_registry(settings, datetime.now(UTC).timestamp())


def window_hours(hours: int) -> tuple[str, str]:
    """The first and last hour of the `hours` complete hours before this one (UTC)."""
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first, last = this_hour - timedelta(hours=hours), this_hour - timedelta(hours=1)
    return first.strftime("%Y-%m-%dT%H:00:00Z"), last.strftime("%Y-%m-%dT%H:00:00Z")


@st.cache_data(ttl=TTL, show_spinner="Reading hourly rollups…", max_entries=16)
def site_window(settings: Settings, site_list: tuple[str, ...], hours: int, version: str) -> pd.DataFrame:
    """Readings and anomalies per site over the last `hours` complete hours, indexed by
    site_id: from the rollups (read per site through `rollup_frame`'s caches), and cached
    whole, so a rerun with many sites is one lookup rather than one per site."""
    start, end = window_hours(hours)
    frame = rollup_frame(settings, site_list, start, end, version)
    totals = frame.groupby("site_id")[["readings", "anomalies"]].sum()
    return totals.reindex(list(site_list), fill_value=0)


def clear_after_record_edit() -> None:
    """A reading was corrected or marked as a false positive: the processed-data loaders
    keyed by `data_version` would not notice (no file was processed), so the record
    tables, the rollups behind the charts and the anomaly lists are read again."""
    for loader in (_site_records, record_frame, record_csv, _site_rollups, recent_anomaly_frame, site_window):
        loader.clear()


def clear_after_site_edit() -> None:
    """Sites were added or changed: the registry and the site lists are stale."""
    for loader in (registry, site_ids, site_window):
        loader.clear()


# --- raw files and their outcomes ------------------------------------------------------


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def upload_log_frame(settings: Settings, limit: int, stamp: int, version: str) -> pd.DataFrame:
    """The simulator's uploads read back from S3, with each file's processing status
    (`stamp` counts the background uploads, `version` the processed files)."""
    uploads = read_upload_log(settings, limit)
    outcomes = file_outcomes.file_outcomes(settings, [u.key for u in uploads])
    rows = [
        (
            u.key,
            u.uploaded_at,
            u.sites,
            u.readings,
            u.anomalies_injected,
            outcomes[u.key].status if u.key in outcomes else "waiting",
        )
        for u in uploads
    ]
    return pd.DataFrame(rows, columns=["key", "uploaded_at", "sites", "readings", "anomalies_injected", "status"])


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def raw_days(settings: Settings, stamp: str) -> list[str]:
    return browse.list_days(settings)


@st.cache_data(ttl=SHORT_TTL, show_spinner="Listing files…", max_entries=16)
def day_files(settings: Settings, day: str, stamp: str) -> pd.DataFrame:
    """Every raw file of a UTC day, newest first (all pages of the listing)."""
    rows = [(o.key, o.key.rsplit("/", 1)[-1], o.size, o.last_modified, o.etag) for o in browse.files_on(settings, day)]
    frame = pd.DataFrame(rows, columns=["key", "name", "size", "last_modified", "etag"])
    frame["last_modified"] = pd.to_datetime(frame["last_modified"], utc=True)
    return frame


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def outcome_frame(settings: Settings, keys: tuple[str, ...], version: str) -> pd.DataFrame:
    """Processing outcome of each key (NaN where not processed yet), indexed by key."""
    found = file_outcomes.file_outcomes(settings, keys)
    rows = {
        key: [getattr(found[key], column) for column in OUTCOME_COLUMNS]
        if key in found
        else [None] * len(OUTCOME_COLUMNS)
        for key in keys
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=OUTCOME_COLUMNS)


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=8)
def raw_body(settings: Settings, key: str, version: str) -> bytes:
    """A small raw file's bytes, for the download button; `version` (its ETag) makes a re-upload read again.

    Only for files up to `INLINE_DOWNLOAD_BYTES`: larger ones are downloaded through
    `raw_files.download_url`, never through the app's memory.
    """
    with raw_files.open_object(settings, key) as stream:
        if stream.size > INLINE_DOWNLOAD_BYTES:
            raise ValueError(f"{key} is {stream.size:,} bytes: download it through a presigned link")
        return b"".join(stream.chunks())


@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def download_link(settings: Settings, key: str) -> str:
    """A presigned link valid a little longer than it is cached, so a shown link always works."""
    return raw_files.download_url(settings, key, expires_seconds=900)


@dataclass(frozen=True)
class Preview:
    """The first rows of a raw file, read in bounded memory whatever the file holds."""

    table: pd.DataFrame | None  # the rows read, with their row number (and `error` when a row has one)
    values: list | None  # the same rows as JSON values
    problem: str | None  # why the file cannot be read at all: "code: sentence (detail)"
    more: bool  # the file has rows past the preview
    row_errors: tuple[str, ...] = ()  # codes of rows that could not be decoded, in order of first sight


def raw_rows(settings: Settings, key: str, version: str) -> tuple[pd.DataFrame | None, list | None, str | None]:
    """(table of the file's first rows, the rows as parsed JSON values, why it cannot be read)."""
    preview = raw_preview(settings, key, version)
    return preview.table, preview.values, preview.problem


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=32)
def raw_preview(settings: Settings, key: str, version: str, limit: int = PREVIEW_ROWS) -> Preview:
    """The first `limit` rows of a file, streamed: a huge or hostile file costs what its limits allow."""
    rows: list[RawRow] = []
    more = False
    try:
        with raw_files.open_object(settings, key, chunk_bytes=PREVIEW_CHUNK_BYTES) as stream:
            for row in iter_rows(key, stream.chunks(), settings.limits()):
                if len(rows) == limit:
                    more = True
                    break
                rows.append(row)
    except UnreadableFile as exc:
        return Preview(None, None, explain(exc.reason, exc.detail), False)
    values = [_plain(r.value) for r in rows]
    records = [v if isinstance(v, dict) else {"value": v} for v in values]
    table = pd.DataFrame.from_records(records)
    table.insert(0, "row", [r.number for r in rows])
    errors = tuple(dict.fromkeys(r.error for r in rows if r.error))
    if errors:
        table.insert(1, "error", [r.error for r in rows])
    return Preview(table, values, None, more, errors)


def explain(reason: str, detail: str = "") -> str:
    """A reason code with the sentence a person reads for it."""
    sentence = REASONS.get(reason)
    text = f"{reason}: {sentence}" if sentence else reason
    return f"{text} ({detail})" if detail else text


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=32)
def raw_text(settings: Settings, key: str, version: str, limit: int = 200_000) -> tuple[str, bool]:
    """(the start of the file as text, True when cut at `limit` characters), unzipped when gzipped.

    Reads only as far as `limit` characters need (a gzipped file is inflated that far and no
    further), so any file previews in bounded memory and time.
    """
    pieces: list[str] = []
    have = 0
    try:
        with raw_files.open_object(settings, key, chunk_bytes=PREVIEW_CHUNK_BYTES) as stream:
            for piece in iter_text(key, stream.chunks(), settings.limits(), errors="replace"):
                pieces.append(piece)
                have += len(piece)
                if have > limit:
                    break
    except UnreadableFile as exc:
        return f"(the text cannot be shown: {explain(exc.reason)})", False
    text = "".join(pieces)
    return text[:limit], len(text) > limit


def _plain(value: object) -> object:
    """A parsed row as plain JSON values: Decimals as numbers, NaN markers as their text,
    anything else JSON cannot hold as its text (rows nest at most `Limits.max_depth` deep)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, NonFinite):
        return value.text
    return str(value)


@st.cache_data(ttl=TTL, show_spinner=False)
def rejects(settings: Settings, source_key: str, version: str) -> pd.DataFrame:
    rows = [
        (r["row"], ", ".join(r["reasons"]), json.dumps(r["raw"], ensure_ascii=False))
        for r in raw_files.read_rejects(settings, source_key)
    ]
    return pd.DataFrame(rows, columns=["row", "reasons", "raw"])


# --- operations ------------------------------------------------------------------------


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def processed_files(settings: Settings, version: str, limit: int = 200) -> pd.DataFrame:
    """Files processed today and yesterday (UTC), newest first, with upload-to-stored lag."""
    outcomes = [o for day in (utc_day(), utc_day(1)) for o in file_outcomes.outcomes_on(settings, day, limit)]
    frame = pd.DataFrame(
        [
            (o.source_key, o.status, o.readings, o.written, o.rejected, o.anomalies, o.uploaded_at, o.processed_at)
            for o in outcomes[:limit]
        ],
        columns=["source_key", "status", "readings", "written", "rejected", "anomalies", "uploaded_at", "processed_at"],
    )
    uploaded = pd.to_datetime(frame["uploaded_at"], utc=True, format="ISO8601", errors="coerce")
    processed = pd.to_datetime(frame["processed_at"], utc=True, format="ISO8601", errors="coerce")
    frame["lag_seconds"] = (processed - uploaded).dt.total_seconds().clip(lower=0)
    return frame


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def quarantined(settings: Settings, version: str, files: int = 20) -> pd.DataFrame:
    """Rejected rows of the newest quarantined files (today and yesterday), with reasons."""
    frame = processed_files(settings, version)
    bad = frame[(frame["rejected"] > 0) | (frame["status"] == file_outcomes.QUARANTINED)].head(files)
    rows = []
    for key, status in zip(bad["source_key"], bad["status"], strict=True):
        rejected = raw_files.read_rejects(settings, key)
        for r in rejected:
            raw = json.dumps(r["raw"], ensure_ascii=False)
            rows.append((key, r["row"], ", ".join(r["reasons"]), raw))
        if status == file_outcomes.QUARANTINED and not rejected:
            error = _file_error(settings, key)
            rows.append((key, None, error, "(whole file)"))
    return pd.DataFrame(rows, columns=["source_key", "row", "reasons", "raw"])


def _file_error(settings: Settings, key: str) -> str:
    try:
        body, _ = raw_files.read(settings, raw_files.quarantine_key(settings, key, ".error.json"))
    except Exception:
        return "unreadable file"
    error = json.loads(body)
    return f"{error.get('reason')}: {error.get('detail')}"


def alert_frame(settings: Settings, version: str, limit: int = 50) -> pd.DataFrame:
    """Alerts sent since yesterday (from the files table), with their text; on the local
    backend also whether the local subscription received them, and the text it received."""
    sent = _sent_alerts(settings, version, limit)
    delivered = (
        _session_memo(
            "delivered_alerts", (settings, version), SHORT_TTL, lambda: alert_history.delivered_alerts(settings)
        )
        if settings.backend == "local"
        else {}
    )
    rows = []
    for o in sent:
        inbox = delivered.get(o.alert_message_id or "")
        subject = getattr(o, "alert_subject", None) or (inbox.subject if inbox else "")
        message = getattr(o, "alert_message", None) or (inbox.message if inbox else "")
        rows.append(
            (o.processed_at, o.source_key, o.anomalies, o.alert_message_id, inbox is not None, subject, message)
        )
    columns = ["sent_at", "source_key", "anomalies", "message_id", "delivered", "subject", "message"]
    return pd.DataFrame(rows, columns=columns)


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def _sent_alerts(settings: Settings, version: str, limit: int) -> list[file_outcomes.FileOutcome]:
    return alert_history.sent_alerts(settings, [utc_day(), utc_day(1)], limit)


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def episode_frame(settings: Settings, version: str) -> pd.DataFrame:
    """The open alert episodes, one row per site and rule."""
    rows = [
        (o.site_id, o.episode.rule, o.episode.state(), o.episode.started, o.episode.count, o.episode.acknowledged_by)
        for o in episode_marks.open_episodes(settings)
    ]
    return pd.DataFrame(rows, columns=["site_id", "rule", "state", "since", "count", "acknowledged_by"])


def dead_letter_frame(settings: Settings) -> pd.DataFrame:
    """What is in the DLQ, listed at most every SHORT_TTL seconds per session (uncached:
    listing receives the messages, see the module docstring)."""
    letters = _session_memo(
        "dead_letters", settings, SHORT_TTL, lambda: dead_letters.list_dead_letters(settings, limit=100)
    )
    rows = [
        (d.message_id, d.sent_at, d.receive_count, ", ".join(d.keys) or "(no S3 object in the message)")
        for d in letters
    ]
    return pd.DataFrame(rows, columns=["message_id", "sent_at", "receive_count", "files"])


def clear_after_upload() -> None:
    """A new raw file: listings, the upload log and freshness are stale."""
    for loader in (upload_log_frame, raw_days, day_files, outcome_frame, newest_file, health):
        loader.clear()


def clear_after_redrive() -> None:
    for loader in (health, newest_file, processed_files):
        loader.clear()
    _forget("dead_letters")


# --- verification ----------------------------------------------------------------------


@st.cache_data(ttl=SHORT_TTL, show_spinner=False)
def last_verification(settings: Settings) -> verify.Report | None:
    """The latest saved `verify` report (from the CLI or the page), None when never run."""
    return verify.last_report(settings)


# --- who is acting ---------------------------------------------------------------------


@st.cache_data(ttl=LONG_TTL, show_spinner=False)
def aws_identity(settings: Settings) -> str:
    """The AWS caller identity (STS), recorded for edits when nobody is signed in."""
    return caller_arn(settings)
