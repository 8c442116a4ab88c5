"""Anomaly alerts: at most one SNS message per processed file, listing the alert episodes
(`pipeline.episodes`) that the file started, reminded or resolved; none when it changed
no episode's state, however many anomalies it holds.

The body keeps the original system's lines for each anomaly, so mail rules and people
used to them keep working, and is capped so a file full of anomalies stays readable. A
big file is stored chunk by chunk, so what its alert will say is gathered as it goes
(`Findings`: the first anomalies, gaps and episode changes in full, the rest counted) and kept with the
file's progress, never as a list that grows with the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from pipeline.alert_claims import claim_alert, record_alert, release_alert
from pipeline.anomalies import Gap
from pipeline.aws import client
from pipeline.dynamo import persist
from pipeline.episodes import MISSING_DATA, REMINDER, RESOLVED, STARTED, Notice, Pending
from pipeline.records import Record
from pipeline.settings import ConfigError, Settings

SUBJECT_LIMIT = 99  # SNS takes ASCII subjects of fewer than 100 characters, without line breaks


@dataclass(frozen=True)
class Alert:
    subject: str
    message: str


class FileOutcomeAlert(NamedTuple):
    """What a file's ledger item records of the alert that covered it."""

    alert_message_id: str
    alert_subject: str
    alert_message: str  # the file's own part of the message


@dataclass(frozen=True)
class Findings:
    """What a file's alert reports, gathered chunk by chunk in bounded space."""

    anomalies: tuple[Record, ...] = ()  # the first `max_listed`, in full
    gaps: tuple[Gap, ...] = ()
    anomaly_count: int = 0
    gap_count: int = 0
    sites: frozenset[str] = field(default_factory=frozenset)  # with an anomaly or a gap
    notices: tuple[Notice, ...] = ()  # the first `max_listed` episode changes
    notice_counts: Mapping[str, int] = field(default_factory=dict)  # by kind, listed or not

    @property
    def notice_count(self) -> int:
        return sum(self.notice_counts.values())

    def __bool__(self) -> bool:
        return bool(self.anomaly_count or self.gap_count)

    def add(
        self, anomalies: Sequence[Record], gaps: Sequence[Gap], max_listed: int, notices: Sequence[Notice] = ()
    ) -> Findings:
        return Findings(
            anomalies=(*self.anomalies, *anomalies[: max(0, max_listed - len(self.anomalies))]),
            gaps=(*self.gaps, *gaps[: max(0, max_listed - len(self.gaps))]),
            anomaly_count=self.anomaly_count + len(anomalies),
            gap_count=self.gap_count + len(gaps),
            sites=self.sites | {r.site_id for r in anomalies} | {g.site_id for g in gaps},
            notices=(*self.notices, *notices[: max(0, max_listed - len(self.notices))]),
            notice_counts=dict(Counter(self.notice_counts) + Counter(n.kind for n in notices)),
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "anomalies": [r.to_item() for r in self.anomalies],
            "gaps": [{"site_id": g.site_id, "first_missing": g.first_missing, "missing": g.missing} for g in self.gaps],
            "anomaly_count": self.anomaly_count,
            "gap_count": self.gap_count,
            "sites": sorted(self.sites),
            "notices": [n.to_item() for n in self.notices],
            "notice_counts": dict(self.notice_counts),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> Findings:
        if not item:
            return cls()
        return cls(
            anomalies=tuple(Record.from_item(r) for r in item.get("anomalies", ())),
            gaps=tuple(Gap(g["site_id"], g["first_missing"], int(g["missing"])) for g in item.get("gaps", ())),
            anomaly_count=int(item.get("anomaly_count", 0)),
            gap_count=int(item.get("gap_count", 0)),
            sites=frozenset(item.get("sites", ())),
            notices=tuple(Notice.from_item(n) for n in item.get("notices", ())),
            notice_counts={kind: int(n) for kind, n in item.get("notice_counts", {}).items()},
        )


ACKNOWLEDGE = (
    "To stop the reminders of an episode: python -m pipeline alerts ack SITE RULE"
    " (or: alerts snooze SITE RULE --until 2026-12-31T08:00:00Z), or the Operations page of the app."
)


def compose_alert(source_key: str, findings: Findings, max_listed: int) -> Alert:
    """The file's message: its episode changes, then the original alert lines of the
    readings behind the episodes that started or were reminded, then how to acknowledge."""
    name = source_key.rsplit("/", 1)[-1]
    blocks = [*_file_blocks(source_key, findings, max_listed), ACKNOWLEDGE]
    return Alert(_subject(f"Energy alerts: {_summary(findings.notice_counts)} in {name}"), "\n\n".join(blocks))


def compose_group_alert(files: Sequence[tuple[str, Findings]], max_listed: int) -> Alert:
    """One message for the files of a group (a site's small files stored together): each
    file's part as its own message would have it, the first `max_listed` files in full and
    the rest by their changes' summary, then how to acknowledge, once."""
    if len(files) == 1:
        return compose_alert(*files[0], max_listed)
    counts: Counter[str] = Counter()
    for _, findings in files:
        counts.update(findings.notice_counts)
    summary = f"{_summary(counts)} in {len(files)} files"
    blocks = [f"{summary}:"]
    for source_key, findings in files[:max_listed]:
        blocks += _file_blocks(source_key, findings, max_listed)
    rest = files[max_listed:]
    if rest:
        more = "\n".join(f"{_summary(f.notice_counts)} in {key}" for key, f in rest)
        blocks.append(f"... and {_count(len(rest), 'more file', 'more files')}:\n{more}")
    blocks.append(ACKNOWLEDGE)
    return Alert(_subject(f"Energy alerts: {summary}"), "\n\n".join(blocks))


def _file_blocks(source_key: str, findings: Findings, max_listed: int) -> list[str]:
    """A file's episode changes, then the original lines of the readings behind the episodes
    that started or were reminded, then its gaps."""
    loud = {(n.site_id, n.rule) for n in findings.notices if n.kind != RESOLVED}
    anomalies = [r for r in findings.anomalies if any((r.site_id, why) in loud for why in r.anomaly_reasons)]
    gaps = [g for g in findings.gaps if (g.site_id, MISSING_DATA) in loud][:max_listed]
    changes = [_change_line(n) for n in findings.notices[:max_listed]]
    if findings.notice_count > len(changes):
        changes.append(f"... and {_count(findings.notice_count - len(changes), 'more change', 'more changes')}.")
    blocks = [f"{_summary(findings.notice_counts)} in {source_key}\n" + "\n".join(changes)]
    blocks += [
        "\n".join(
            [
                "Anomaly Detected!",
                f"Site: {r.site_id}",
                f"Timestamp: {r.timestamp}",
                f"Generated: {r.energy_generated_kwh}",
                f"Consumed: {r.energy_consumed_kwh}",
                f"Reasons: {', '.join(r.anomaly_reasons)}",
            ]
        )
        for r in anomalies[:max_listed]
    ]
    rest = findings.anomaly_count - len(anomalies[:max_listed])
    if rest > 0:
        blocks.append(f"... and {_count(rest, 'more anomaly', 'more anomalies')} in this file.")
    if gaps:
        lines = [
            f"Site: {g.site_id} missed {_count(g.missing, 'reading', 'readings')} from {g.first_missing}" for g in gaps
        ]
        blocks.append("Missing readings:\n" + "\n".join(lines))
    return blocks


def _summary(kinds: Mapping[str, int]) -> str:
    return ", ".join(
        _count(kinds[kind], one, many)
        for kind, one, many in (
            (STARTED, "episode started", "episodes started"),
            (REMINDER, "reminder", "reminders"),
            (RESOLVED, "resolved", "resolved"),
        )
        if kinds.get(kind)
    )


def _subject(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:SUBJECT_LIMIT]


def _change_line(notice: Notice) -> str:
    where = f"{notice.site_id} {notice.rule}"
    if notice.kind == STARTED:
        return f"STARTED   {where} at {notice.since} ({notice.count} so far)"
    if notice.kind == REMINDER:
        return f"REMINDER  {where} active since {notice.since}: {notice.new} more since the last message" + (
            f" ({notice.count} in all)"
        )
    return f"RESOLVED  {where} since {notice.since}: clean as of {notice.at} ({notice.count} in all)"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def topic_arn(settings: Settings) -> str:
    if settings.topic_arn:
        return settings.topic_arn
    if settings.backend == "aws":  # the function's role may publish, not create topics
        raise ConfigError("ENERGY_TOPIC_ARN must be set on the aws backend (terraform output app_environment)")
    # create_topic is idempotent and returns the ARN of the existing topic.
    return client(settings, "sns").create_topic(Name=settings.topic)["TopicArn"]


def send_alerts(
    settings: Settings, files: Sequence[tuple[str, str, Findings]], recorded_with_outcome: Collection[str] = ()
) -> dict[str, FileOutcomeAlert]:
    """Publish one message for the files (source key, version, findings) that changed an
    episode's state and whose alert was not sent yet; what was sent, by file (its own part
    of the message, which its ledger item keeps).

    At most once per file version: each file's alert is claimed before publishing, and the
    message covers the files whose claim this call won. A publish that fails, or a claim
    that fails after others were won, gives the claims back, so the retry sends them. What
    was sent is recorded on each file's ledger item here, except for the files in
    `recorded_with_outcome`, whose outcome, written next, carries it. Giving claims back and
    recording are retried in place, since the message's retry cannot redo either (a claim
    left behind keeps the retry from sending; a sent alert not recorded looks unsent). Only
    a process killed between claim and publish, or writes that keep failing, leave an alert
    unsent or unrecorded, and `verify` reports such a file (episode changes, no alert
    recorded).
    """
    won: list[tuple[str, str, Findings]] = []
    try:
        for key, version, findings in files:
            if findings.notices and claim_alert(settings, key, version):
                won.append((key, version, findings))
        if not won:
            return {}
        alert = compose_group_alert([(key, f) for key, _, f in won], settings.alert_max_lines)
        response = client(settings, "sns").publish(
            TopicArn=topic_arn(settings),
            Subject=alert.subject,
            Message=alert.message,
            MessageAttributes={"source_key": {"DataType": "String", "StringValue": won[0][0]}},
        )
    except Exception:
        for key, version, _ in won:
            persist(partial(release_alert, settings, key, version), "alert_claim_release_failed", source_key=key)
        raise
    sent = {}
    for key, _, findings in won:
        own = alert if len(won) == 1 else compose_alert(key, findings, settings.alert_max_lines)
        sent[key] = FileOutcomeAlert(response["MessageId"], alert.subject, own.message)
        if key not in recorded_with_outcome:
            record = partial(record_alert, settings, key, *sent[key])
            persist(record, "alert_record_failed", source_key=key)
    return sent


def recovered(pending: Pending) -> tuple[str, str, Findings]:
    """The episode changes a file's abandoned try left unannounced, to send as its alert
    (`send_alerts`, under the file's own claim: once sent, the file's retry, which finds its
    readings stored and so judges none of them again, sends nothing more; and an alert the
    file sent itself is not sent again). The anomalies behind them are not kept with the
    try, so the message lists the changes only."""
    return pending.source_key, pending.version, Findings(notices=pending.notices, notice_counts=dict(pending.counts))
