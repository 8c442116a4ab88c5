"""Simulated sites and readings, deterministic for a seed, with ground-truth labels.

Solar sites follow the sun at their location, wind sites a Weibull wind speed through a
power curve, and every site consumes along a daily profile with morning and evening peaks.
Anomalies are injected at a chosen rate and labelled with their kind, so detection can be
scored against the truth.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pipeline import raw_files
from pipeline.settings import Settings
from pipeline.sites import Site, put_sites
from pipeline.solar import sun_elevation_degrees

ANOMALY_KINDS = ("negative_generation", "negative_consumption", "generation_above_capacity")
FORMATS = ("json", "jsonl", "csv")
LABELS_PREFIX = "simulated/"


@dataclass(frozen=True)
class Label:
    site_id: str
    timestamp: str
    kind: str


@dataclass(frozen=True)
class Simulated:
    readings: list[dict[str, Any]]
    labels: list[Label]


@dataclass(frozen=True)
class Upload:
    key: str
    uploaded_at: str
    sites: int
    readings: int
    anomalies_injected: int
    labels: list[Label]


def make_sites(count: int, seed: int = 0) -> list[Site]:
    """`count` sites named site-1.., two solar for every wind site, across Europe's latitudes."""
    if not 1 <= count <= 1000:
        raise ValueError("the number of sites must be between 1 and 1000")
    rng = random.Random(f"sites:{seed}")
    sites = []
    for number in range(1, count + 1):
        kind = "wind" if number % 3 == 0 else "solar"
        sites.append(
            Site(
                site_id=f"site-{number}",
                kind=kind,
                capacity_kw=Decimal(rng.choice([50, 100, 250, 500, 1000])),
                latitude=Decimal(str(round(rng.uniform(36, 58), 3))),
                longitude=Decimal(str(round(rng.uniform(-9, 24), 3))),
                name=f"{kind.title()} site {number}",
            )
        )
    return sites


def simulate(
    sites: Sequence[Site], end: datetime, readings_per_site: int, anomaly_rate: float = 0.02, seed: int = 0
) -> Simulated:
    """Readings for the `readings_per_site` intervals ending at `end` (UTC), with labels."""
    if readings_per_site < 1:
        raise ValueError("readings per site must be at least 1")
    if not 0 <= anomaly_rate <= 1:
        raise ValueError("the anomaly rate must be between 0 and 1")
    rng = random.Random(f"readings:{seed}:{end.isoformat()}")
    readings: list[dict[str, Any]] = []
    labels: list[Label] = []
    for site in sites:
        step = timedelta(minutes=site.interval_minutes)
        last = _floor(end.astimezone(UTC), step)
        for i in range(readings_per_site - 1, -1, -1):
            when = last - i * step
            generated, consumed = _normal_reading(site, when, rng)
            reading = {
                "site_id": site.site_id,
                "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "energy_generated_kwh": generated,
                "energy_consumed_kwh": consumed,
            }
            if rng.random() < anomaly_rate:
                kind = rng.choice(ANOMALY_KINDS)
                _inject(reading, kind, site, rng)
                labels.append(Label(site.site_id, reading["timestamp"], kind))
            readings.append(reading)
    return Simulated(readings, labels)


def encode(readings: Sequence[dict[str, Any]], fmt: str = "json") -> bytes:
    if fmt == "json":
        return json.dumps(list(readings), indent=1).encode()
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in readings).encode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(readings[0]) if readings else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(readings)
        return out.getvalue().encode()
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def upload_simulated(
    settings: Settings,
    sites: int = 5,
    readings_per_site: int = 4,
    anomaly_rate: float = 0.02,
    seed: int | None = None,
    when: datetime | None = None,
    fmt: str = "json",
) -> Upload:
    """Register the sites, upload one simulated file and keep its labels beside it."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    seed = random.randrange(1_000_000) if seed is None else seed
    site_list = make_sites(sites, seed=0)  # the same fleet every time; the seed varies readings
    simulated = simulate(site_list, when, readings_per_site, anomaly_rate, seed)
    put_sites(settings, site_list)
    key = raw_files.raw_key(f"sim-{when:%Y%m%dT%H%M%S%fZ}-s{seed}.{fmt}", when, settings)
    uploaded_at = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw_files.upload(
        settings,
        key,
        encode(simulated.readings, fmt),
        metadata={"readings": str(len(simulated.readings)), "anomalies-injected": str(len(simulated.labels))},
    )
    upload = Upload(key, uploaded_at, len(site_list), len(simulated.readings), len(simulated.labels), simulated.labels)
    raw_files.upload(settings, f"{LABELS_PREFIX}{key}.json", json.dumps(asdict(upload)).encode())
    return upload


def upload_log(settings: Settings, limit: int = 50) -> list[Upload]:
    """The latest simulated uploads, newest first, read back from S3."""
    objects = sorted(raw_files.list_objects(settings, LABELS_PREFIX), key=lambda o: o.last_modified, reverse=True)
    uploads = []
    for obj in objects[:limit]:
        data = json.loads(raw_files.read(settings, obj.key)[0])
        data["labels"] = [Label(**label) for label in data["labels"]]
        uploads.append(Upload(**data))
    return uploads


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def _normal_reading(site: Site, when: datetime, rng: random.Random) -> tuple[float, float]:
    hours = site.interval_minutes / 60
    capacity = float(site.capacity_kw or 100)
    latitude, longitude = float(site.latitude or 50), float(site.longitude or 0)
    if site.kind == "wind":
        speed = rng.weibullvariate(7.5, 2.0)
        fraction = 0.0 if speed < 3 or speed > 25 else min(1.0, ((speed - 3) / 9) ** 3)
    else:
        elevation = sun_elevation_degrees(latitude, longitude, when)
        clouds = rng.uniform(0.55, 1.0)
        fraction = (elevation / 90) ** 0.8 * clouds if elevation > 0 else 0.0
    local_hour = (when.hour + when.minute / 60 + longitude / 15) % 24
    demand = 0.35 + 0.25 * _peak(local_hour, 8, 1.5) + 0.45 * _peak(local_hour, 19, 2.0)
    consumed = capacity * 0.4 * hours * demand * rng.uniform(0.85, 1.15)
    return round(capacity * hours * fraction, 3), round(consumed, 3)


def _peak(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return max(0.0, 1 - (distance / width) ** 2)


def _inject(reading: dict[str, Any], kind: str, site: Site, rng: random.Random) -> None:
    if kind == "negative_generation":
        reading["energy_generated_kwh"] = -round(rng.uniform(0.5, 20), 3)
    elif kind == "negative_consumption":
        reading["energy_consumed_kwh"] = -round(rng.uniform(0.5, 20), 3)
    else:
        most = float(site.capacity_kw or 100) * site.interval_minutes / 60
        reading["energy_generated_kwh"] = round(most * rng.uniform(1.2, 2.0), 3)
