"""The pure middle of processing: readings in, records with their reasons out (no AWS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.anomalies import Gap, History, detect_file
from pipeline.records import Record, derive, estimated
from pipeline.sites import Site
from pipeline.timestamps import utc_text
from pipeline.validation import Reading


@dataclass(frozen=True)
class Assessment:
    records: list[Record]
    gaps: list[Gap]
    histories: dict[str, History]
    estimates: list[Record] = field(default_factory=list)  # for the gaps' intervals, not readings


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
