"""Anomaly alerts: one SNS message per processed file that has anomalies.

The body keeps the original system's lines for each anomaly, so mail rules and people
used to them keep working, and is capped so a file full of anomalies stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.anomalies import Gap
from pipeline.aws import client
from pipeline.file_outcomes import claim_alert, record_alert, release_alert
from pipeline.records import Record
from pipeline.settings import ConfigError, Settings

SUBJECT_LIMIT = 99  # SNS takes ASCII subjects of fewer than 100 characters, without line breaks


@dataclass(frozen=True)
class Alert:
    subject: str
    message: str


def compose_alert(source_key: str, anomalies: Sequence[Record], gaps: Sequence[Gap], max_listed: int) -> Alert:
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
        for r in anomalies[:max_listed]
    ]
    rest = len(anomalies) - max_listed
    if rest > 0:
        blocks.append(f"... and {_count(rest, 'more anomaly', 'more anomalies')} in this file.")
    if gaps:
        lines = [
            f"Site: {g.site_id} missed {_count(g.missing, 'reading', 'readings')} from {g.first_missing}"
            for g in gaps[:max_listed]
        ]
        if len(gaps) > max_listed:
            lines.append(f"... and {_count(len(gaps) - max_listed, 'more gap', 'more gaps')}.")
        blocks.append("Missing readings:\n" + "\n".join(lines))
    sites = len({r.site_id for r in anomalies} | {g.site_id for g in gaps})
    found = ", ".join(
        part
        for part in (
            _count(len(anomalies), "anomaly", "anomalies") if anomalies else "",
            _count(len(gaps), "gap", "gaps") if gaps else "",
        )
        if part
    )
    header = f"{found} at {_count(sites, 'site', 'sites')} in {source_key}"
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


def send_file_alert(
    settings: Settings, source_key: str, version: str, anomalies: Sequence[Record], gaps: Sequence[Gap] = ()
) -> str | None:
    """Publish the file's alert unless this file version's alert was already sent."""
    if not (anomalies or gaps) or not claim_alert(settings, source_key, version):
        return None
    alert = compose_alert(source_key, anomalies, gaps, settings.alert_max_lines)
    try:
        response = client(settings, "sns").publish(
            TopicArn=topic_arn(settings),
            Subject=alert.subject,
            Message=alert.message,
            MessageAttributes={"source_key": {"DataType": "String", "StringValue": source_key}},
        )
    except Exception:
        release_alert(settings, source_key, version)
        raise
    record_alert(settings, source_key, response["MessageId"], alert.subject, alert.message)
    return response["MessageId"]
