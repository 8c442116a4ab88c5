"""Anomaly alerts: one SNS message per processed file that has anomalies.

The body keeps the original system's lines for each anomaly, so mail rules and people
used to them keep working, and is capped so a file full of anomalies stays readable. A
big file is stored chunk by chunk, so what its alert will say is gathered as it goes
(`Findings`: the first anomalies and gaps in full, the rest counted) and kept with the
file's progress, never as a list that grows with the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pipeline.anomalies import Gap
from pipeline.aws import client
from pipeline.dynamo import persist
from pipeline.file_outcomes import claim_alert, record_alert, release_alert
from pipeline.records import Record
from pipeline.settings import ConfigError, Settings

SUBJECT_LIMIT = 99  # SNS takes ASCII subjects of fewer than 100 characters, without line breaks


@dataclass(frozen=True)
class Alert:
    subject: str
    message: str


@dataclass(frozen=True)
class Findings:
    """What a file's alert reports, gathered chunk by chunk in bounded space."""

    anomalies: tuple[Record, ...] = ()  # the first `max_listed`, in full
    gaps: tuple[Gap, ...] = ()
    anomaly_count: int = 0
    gap_count: int = 0
    sites: frozenset[str] = field(default_factory=frozenset)  # with an anomaly or a gap

    def __bool__(self) -> bool:
        return bool(self.anomaly_count or self.gap_count)

    def add(self, anomalies: Sequence[Record], gaps: Sequence[Gap], max_listed: int) -> Findings:
        return Findings(
            anomalies=(*self.anomalies, *anomalies[: max(0, max_listed - len(self.anomalies))]),
            gaps=(*self.gaps, *gaps[: max(0, max_listed - len(self.gaps))]),
            anomaly_count=self.anomaly_count + len(anomalies),
            gap_count=self.gap_count + len(gaps),
            sites=self.sites | {r.site_id for r in anomalies} | {g.site_id for g in gaps},
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "anomalies": [r.to_item() for r in self.anomalies],
            "gaps": [{"site_id": g.site_id, "first_missing": g.first_missing, "missing": g.missing} for g in self.gaps],
            "anomaly_count": self.anomaly_count,
            "gap_count": self.gap_count,
            "sites": sorted(self.sites),
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
        )


def compose_alert(source_key: str, findings: Findings, max_listed: int) -> Alert:
    anomalies, gaps = findings.anomalies[:max_listed], findings.gaps[:max_listed]
    blocks = [
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
        for r in anomalies
    ]
    rest = findings.anomaly_count - len(anomalies)
    if rest > 0:
        blocks.append(f"... and {_count(rest, 'more anomaly', 'more anomalies')} in this file.")
    if gaps:
        lines = [
            f"Site: {g.site_id} missed {_count(g.missing, 'reading', 'readings')} from {g.first_missing}" for g in gaps
        ]
        if findings.gap_count > len(gaps):
            lines.append(f"... and {_count(findings.gap_count - len(gaps), 'more gap', 'more gaps')}.")
        blocks.append("Missing readings:\n" + "\n".join(lines))
    found = ", ".join(
        part
        for part in (
            _count(findings.anomaly_count, "anomaly", "anomalies") if findings.anomaly_count else "",
            _count(findings.gap_count, "gap", "gaps") if findings.gap_count else "",
        )
        if part
    )
    header = f"{found} at {_count(len(findings.sites), 'site', 'sites')} in {source_key}"
    subject = f"Energy anomalies: {found} in {source_key.rsplit('/', 1)[-1]}"
    subject = "".join(c if " " <= c <= "~" else "?" for c in subject)[:SUBJECT_LIMIT]
    return Alert(subject, header + "\n\n" + "\n\n".join(blocks))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def topic_arn(settings: Settings) -> str:
    if settings.topic_arn:
        return settings.topic_arn
    if settings.backend == "aws":  # the function's role may publish, not create topics
        raise ConfigError("ENERGY_TOPIC_ARN must be set on the aws backend (terraform output app_environment)")
    # create_topic is idempotent and returns the ARN of the existing topic.
    return client(settings, "sns").create_topic(Name=settings.topic)["TopicArn"]


def send_file_alert(settings: Settings, source_key: str, version: str, findings: Findings) -> str | None:
    """Publish the file's alert unless this file version's alert was already sent.

    At most once: the claim is taken before publishing. A publish that fails gives the claim
    back, so the retry sends it; giving it back and recording what was sent are retried
    here, since the message's retry cannot redo either (a claim left behind keeps the retry
    from sending; a sent alert not recorded looks unsent). Only a process killed between
    claim and publish, or writes that keep failing, leave an alert unsent or unrecorded, and
    `verify` reports such a file (anomalies, no alert recorded).
    """
    if not findings or not claim_alert(settings, source_key, version):
        return None
    alert = compose_alert(source_key, findings, settings.alert_max_lines)
    try:
        response = client(settings, "sns").publish(
            TopicArn=topic_arn(settings),
            Subject=alert.subject,
            Message=alert.message,
            MessageAttributes={"source_key": {"DataType": "String", "StringValue": source_key}},
        )
    except Exception:
        release = partial(release_alert, settings, source_key, version)
        persist(release, "alert_claim_release_failed", source_key=source_key)
        raise
    message_id = response["MessageId"]
    record = partial(record_alert, settings, source_key, message_id, alert.subject, alert.message)
    persist(record, "alert_record_failed", source_key=source_key)
    return message_id
