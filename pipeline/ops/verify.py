"""Does the stack keep its promises? The invariants of DESIGN.md checked on live data.

Four checks, each giving findings a person can act on:

- files: every raw file (by upload day from `since`) has an outcome for its current version
  in the files table, or sits in the dead-letter queue. Files uploaded in the last few
  minutes, or any while the raw-events queue holds messages, are "pending": SQS cannot be
  looked into without counting a receive towards the dead-letter limit, so verify never
  receives from that queue.
- records: every record (timestamp from `since`) names a file whose outcome is processed or
  partial, and no file is named by more records than the readings it stored (estimates,
  which name the file that revealed their gap, are counted apart).
- rollups: per site, day and hour, the rollup's reading measures equal the sums over the
  records (so a record lost or added shows as a readings count that differs).
- alerts: no alert text was delivered twice for the same file (where the local alert
  subscription exists; it is peeked at, never consumed), and every file that changed an
  alert episode's state records its alert as sent.

Reads are listings by day, one Query per site (sites come from the small sites table) and
batched gets; nothing scans the records table. The report is data, saved as JSON under the
bucket's reports/ prefix where the app reads it back.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline.aws import client, error_code
from pipeline.file_outcomes import PARTIAL, PROCESSED, FileOutcome, file_outcomes
from pipeline.ops.browse import day_prefix, list_days
from pipeline.ops.dead_letters import list_dead_letters
from pipeline.ops.queues import peek_messages, queue_depth
from pipeline.raw_files import RawObject, list_objects
from pipeline.record_store import site_records
from pipeline.records import Record
from pipeline.rollup_rebuild import Difference, differences, expected_days, site_start, stored_days
from pipeline.settings import Settings
from pipeline.sites import list_sites
from pipeline.timestamps import FORMAT, utc_text

FILES, RECORDS, ROLLUPS, ALERTS = "files", "records", "rollups", "alerts"
CHECKS = (FILES, RECORDS, ROLLUPS, ALERTS)
SETTLE_SECONDS = 300  # a file younger than this may still be on its way through the queue
DEAD_LETTER_LIMIT = 1000
DELIVERY_LIMIT = 1000
PEEK_VISIBILITY_SECONDS = 2
MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class UnreadableReport(ValueError):
    """The saved report is not one verify wrote (damaged or replaced)."""


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    subject: str  # a file key, or "site day"
    problem: str


@dataclass(frozen=True)
class Report:
    checked_at: str
    since: str | None  # YYYY-MM-DD, None for everything
    findings: tuple[Finding, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    pending: tuple[str, ...] = ()  # files on their way, not wrong
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Raises ValueError, KeyError or TypeError for anything but a report `to_dict` wrote."""
        checked_at = utc_text(datetime.strptime(data["checked_at"], FORMAT))  # strict: only the stored form
        since = data.get("since")
        if since is not None:
            since = date.fromisoformat(since).isoformat()
        return cls(
            checked_at=checked_at,
            since=since,
            findings=tuple(Finding(**f) for f in data.get("findings", [])),
            counts={k: int(v) for k, v in data.get("counts", {}).items()},
            pending=tuple(data.get("pending", [])),
            duration_ms=int(data.get("duration_ms", 0)),
        )


# --- the pure part ----------------------------------------------------------------------


def file_state(obj: RawObject, outcome: FileOutcome | None, dead: bool, queued: bool, now: datetime, settle: float):
    """ "ok", "dead", "pending", or the problem with one raw file."""
    if outcome is not None and outcome.version == obj.etag:
        return "ok"
    if dead:
        return "dead"
    if queued or (now - obj.last_modified).total_seconds() < settle:
        return "pending"
    if outcome is not None:
        return f"its outcome ({outcome.status}) is for an older version; this version was never processed"
    return "no outcome in the files table and not in the dead-letter queue"


def ledger_findings(
    named: Mapping[str, int], outcomes: Mapping[str, FileOutcome], pending: Collection[str] = ()
) -> list[Finding]:
    """Records (counted per source file in `named`) that their file's outcome does not explain;
    a file still on its way (a big one is stored chunk by chunk) has no outcome yet."""
    found = []
    for key, count in sorted(named.items()):
        outcome = outcomes.get(key)
        if outcome is None and key in pending:
            continue
        records = f"{count} record names" if count == 1 else f"{count} records name"
        if outcome is None:
            found.append(Finding(RECORDS, key, f"{records} this file, which has no outcome"))
        elif outcome.status not in (PROCESSED, PARTIAL):
            found.append(Finding(RECORDS, key, f"{records} this file, whose outcome is {outcome.status}"))
        elif count > outcome.readings:
            found.append(Finding(RECORDS, key, f"{records} this file, which stored only {outcome.readings} readings"))
    return found


def rollup_findings(diffs: Iterable[Difference]) -> list[Finding]:
    """One finding per site and day, listing each hour and measure that differs."""
    by_day: dict[tuple[str, str], list[str]] = {}
    for d in diffs:
        by_day.setdefault((d.site_id, d.day), []).append(
            f"{d.hour}:00 {d.measure} is {d.stored} in the rollup, {d.expected} in the records"
        )
    return [Finding(ROLLUPS, f"{site} {day}", "; ".join(parts)) for (site, day), parts in sorted(by_day.items())]


def alert_findings(deliveries: Iterable[tuple[str, str]]) -> list[Finding]:
    """The same alert text delivered more than once for a file. A new version of a file has
    new readings and so a new text; the same text twice is the same alert sent twice."""
    counts = Counter(deliveries)
    return [
        Finding(ALERTS, key, f"the same alert was delivered {n} times")
        for (key, _), n in sorted(counts.items())
        if n > 1
    ]


def unsent_alert_findings(outcomes: Iterable[FileOutcome]) -> list[Finding]:
    """Files whose outcome changed an alert episode's state but records no alert sent: an
    alert lost between its claim and its publish (at most once means it is not sent again),
    or sent without its message id recorded. A file whose anomalies only continue open
    episodes has no alert of its own, and is not reported."""
    found = []
    for o in sorted(outcomes, key=lambda o: o.source_key):
        if o.episode_changes and o.alert_message_id is None:
            what = f"{o.episode_changes} alert episode changes"
            found.append(Finding(ALERTS, o.source_key, f"its outcome has {what} but no alert is recorded as sent"))
    return found


def render(report: Report) -> str:
    """The report as plain text for a terminal or a page."""
    scope = f"since {report.since}" if report.since else "all days"
    lines = [f"Verification at {report.checked_at} ({scope}): {'OK' if report.ok else 'PROBLEMS FOUND'}"]
    lines.append("Checked: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in report.counts.items()))
    if report.pending:
        lines.append(f"Pending (still on their way, not wrong): {len(report.pending)} file(s)")
    for check in CHECKS:
        found = [f for f in report.findings if f.check == check]
        if found:
            lines.append(f"{check}: {len(found)} problem(s)")
            lines += [f"  {f.subject}: {f.problem}" for f in found]
    return "\n".join(lines)


# --- the AWS edges -----------------------------------------------------------------------


def verify(
    settings: Settings, since: str | None = None, *, settle_seconds: float = SETTLE_SECONDS, now: datetime | None = None
) -> Report:
    started = time.monotonic()
    now = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    findings, pending = _check_files(settings, since, now, settle_seconds, counts)
    findings += _check_records_and_rollups(settings, since, counts, frozenset(pending))
    findings += _check_alerts(settings, counts)
    return Report(
        checked_at=utc_text(now),
        since=since,
        findings=tuple(findings),
        counts=counts,
        pending=tuple(pending),
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _check_files(
    settings: Settings, since: str | None, now: datetime, settle: float, counts: dict[str, int]
) -> tuple[list[Finding], list[str]]:
    days = [day for day in list_days(settings) if since is None or day >= since]
    objects = [obj for day in days for obj in list_objects(settings, day_prefix(settings, day))]
    outcomes = file_outcomes(settings, [obj.key for obj in objects])
    dead = {key for letter in list_dead_letters(settings, DEAD_LETTER_LIMIT) for key in letter.keys}
    queued = sum(queue_depth(settings, settings.queue)) > 0
    findings, pending, dead_seen = [], [], 0
    for obj in objects:
        state = file_state(obj, outcomes.get(obj.key), obj.key in dead, queued, now, settle)
        if state == "pending":
            pending.append(obj.key)
        elif state == "dead":
            dead_seen += 1
        elif state != "ok":
            findings.append(Finding(FILES, obj.key, state))
    counts.update(raw_files=len(objects), dead_lettered_files=dead_seen, pending_files=len(pending))
    current = [o for obj in objects if (o := outcomes.get(obj.key)) is not None and o.version == obj.etag]
    return findings + unsent_alert_findings(current), pending


def _counting(records: Iterator[Record], named: Counter[str], totals: Counter[str]) -> Iterator[Record]:
    for record in records:
        if record.estimated:  # an estimate is no reading of its file's
            totals["estimates"] += 1
        else:
            named[record.source_key] += 1
            totals["records"] += 1
        yield record


def _check_records_and_rollups(
    settings: Settings, since: str | None, counts: dict[str, int], pending: Collection[str]
) -> list[Finding]:
    named: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    diffs: list[Difference] = []
    sites = list_sites(settings)
    for site in sites:
        records = _counting(site_records(settings, site.site_id, site_start(since)), named, totals)
        expected = expected_days(records)
        stored = stored_days(settings, site.site_id, since)
        totals["rollup_days"] += len(stored)
        for day in sorted({d for _, d in expected} | set(stored)):
            hours = expected.get((site.site_id, day), {})
            diffs += differences(site.site_id, day, stored.get(day, {}).get("hours", {}), hours)
    counts.update(
        sites=len(sites), records=totals["records"], estimates=totals["estimates"], rollup_days=totals["rollup_days"]
    )
    return ledger_findings(named, file_outcomes(settings, named), pending) + rollup_findings(diffs)


def _check_alerts(settings: Settings, counts: dict[str, int]) -> list[Finding]:
    deliveries = alert_deliveries(settings)
    if deliveries is None:
        return []
    counts["alert_deliveries"] = len(deliveries)
    return alert_findings(deliveries)


def alert_deliveries(settings: Settings, limit: int = DELIVERY_LIMIT) -> list[tuple[str, str]] | None:
    """(source key, alert text) of every message in the local alert subscription, one per
    delivery; None where there is no such queue (on AWS alerts go to e-mail).

    Each message is hidden for a moment so the next receive moves on, then made visible
    again; messages another reader hides are waited for, briefly.
    """
    sqs = client(settings, "sqs")
    try:
        url = sqs.get_queue_url(QueueName=settings.alerts_queue)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) in MISSING_QUEUE:
            return None
        raise
    _wait_until_visible(sqs, url)
    return [_delivery(m["Body"]) for m in peek_messages(settings, url, limit, PEEK_VISIBILITY_SECONDS * 5)]


def _wait_until_visible(sqs: Any, url: str) -> None:
    deadline = time.monotonic() + PEEK_VISIBILITY_SECONDS + 1
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        if int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) == 0:
            return
        time.sleep(0.25)


def _delivery(body: str) -> tuple[str, str]:
    """The source key (a message attribute of every alert) and the text of one SNS envelope."""
    try:
        envelope = json.loads(body)
        key = envelope.get("MessageAttributes", {}).get("source_key", {}).get("Value")
        return (key or envelope.get("Subject") or "(unknown file)", envelope.get("Message", ""))
    except (ValueError, AttributeError):
        return ("(unreadable message)", body)


def report_key(settings: Settings, name: str = "latest") -> str:
    return f"{settings.reports_prefix}verify/{name}.json"


def save_report(settings: Settings, report: Report) -> str:
    """Write the report as the latest one, and a dated copy beside it; returns the latest key."""
    body = json.dumps(report.to_dict(), indent=2).encode()
    s3 = client(settings, "s3")
    stamp = report.checked_at.replace(":", "")
    for key in (report_key(settings, stamp), report_key(settings)):
        s3.put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType="application/json")
    return report_key(settings)


def last_report(settings: Settings) -> Report | None:
    """The latest saved report, or None when verify never ran on this stack."""
    s3 = client(settings, "s3")
    try:
        body = s3.get_object(Bucket=settings.bucket, Key=report_key(settings))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        return Report.from_dict(json.loads(body))
    except (ValueError, KeyError, TypeError) as exc:
        raise UnreadableReport(f"s3://{settings.bucket}/{report_key(settings)} is not a verify report ({exc})") from exc
