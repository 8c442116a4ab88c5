"""Simulated files uploaded as a site would, with their labels kept beside them, and the log
of those uploads read back from S3 (what the Simulate page and `simulate` show).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipeline import raw_files
from pipeline.ops.browse import files_on, list_days
from pipeline.ops.simulated_files import upload_file
from pipeline.ops.simulation import Label, make_sites
from pipeline.settings import Settings
from pipeline.sites import put_sites
from pipeline.timestamps import utc_text

LABELS_PREFIX = "simulated/"


@dataclass(frozen=True)
class Upload:
    key: str
    uploaded_at: str
    sites: int
    readings: int
    anomalies_injected: int
    labels: list[Label]


def upload_simulated(
    settings: Settings,
    sites: int = 5,
    readings_per_site: int = 4,
    anomaly_rate: float = 0.02,
    seed: int = 0,
    when: datetime | None = None,
    fmt: str = "json",
) -> Upload:
    """Register the sites, upload one simulated file and keep its labels beside it.

    Readings depend on (seed, site, interval) only, so with one seed every upload agrees
    with the last where their intervals overlap, as a real site's meter would.
    """
    when = (when or datetime.now(UTC)).astimezone(UTC)
    site_list = make_sites(sites, seed=0)  # the same fleet every time; the seed varies readings
    put_sites(settings, site_list)
    sent = upload_file(settings, site_list, readings_per_site, when, anomaly_rate, seed, fmt)
    key, simulated = sent.key, sent.simulated
    uploaded_at = utc_text(when)
    upload = Upload(key, uploaded_at, len(site_list), len(simulated.readings), len(simulated.labels), simulated.labels)
    raw_files.upload(settings, f"{LABELS_PREFIX}{key}.json", json.dumps(asdict(upload)).encode())
    return upload


def upload_log(settings: Settings, limit: int = 50) -> list[Upload]:
    """The latest simulated uploads, newest first, read back from S3.

    Only the newest days are listed (sidecars sit under `simulated/raw/YYYY/MM/DD/`), so the
    log costs the same after a month of continuous uploads as after one.
    """
    prefix = f"{LABELS_PREFIX}{settings.raw_prefix}"
    objects: list[raw_files.RawObject] = []
    for day in list_days(settings, prefix):
        objects += files_on(settings, day, prefix)
        if len(objects) >= limit:
            break
    uploads = []
    for obj in objects[:limit]:
        data = json.loads(raw_files.read(settings, obj.key)[0])
        data["labels"] = [Label(**label) for label in data["labels"]]
        uploads.append(Upload(**data))
    return uploads
