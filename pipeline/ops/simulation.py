"""Simulated sites and readings, deterministic for a seed, with ground-truth labels.

Solar sites follow the sun at their location, wind sites a Weibull wind speed through a
power curve, and every site consumes along a daily profile with morning and evening peaks.
Anomalies are injected at a chosen rate and labelled with their kind, so detection can be
scored against the truth. Uploading them: `simulated_uploads`.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pipeline.sites import Site
from pipeline.solar import sun_elevation_degrees
from pipeline.timestamps import utc_text

ANOMALY_KINDS = (
    "negative_generation",
    "negative_consumption",
    "generation_above_capacity",
    "solar_at_night",
    "spike_consumption",
    "flatline_consumption",
    "missing_intervals",
    "future_timestamp",
    "sentinel_value",
)
FORMATS = ("json", "jsonl", "csv")
EVENT_EVERY = 8  # an anomaly can start only every 8th interval, so their effects never overlap
FLATLINE_LENGTH = 6  # readings repeating one value; the 4th onwards are flatline anomalies
FLATLINE_FLAGGED_FROM = 3
INTERVAL_MINUTES = 15
WIND_KNOT = timedelta(hours=3)


@dataclass(frozen=True)
class Label:
    site_id: str
    timestamp: str
    kind: str


@dataclass(frozen=True)
class Simulated:
    readings: list[dict[str, Any]]
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
                interval_minutes=INTERVAL_MINUTES,
            )
        )
    return sites


def simulate(
    sites: Sequence[Site], end: datetime, readings_per_site: int, anomaly_rate: float = 0.02, seed: int = 0
) -> Simulated:
    """Readings for the `readings_per_site` intervals ending at `end` (UTC), with labels.

    Every value is a function of (seed, site, interval) alone, so files that overlap in
    time carry the same readings. `anomaly_rate` is the expected share of anomaly events
    per reading; each event is one of ANOMALY_KINDS that fits the moment (night-time
    generation only at night, and so on).
    """
    if readings_per_site < 1:
        raise ValueError("readings per site must be at least 1")
    if not 0 <= anomaly_rate <= 1:
        raise ValueError("the anomaly rate must be between 0 and 1")
    readings: list[dict[str, Any]] = []
    labels: list[Label] = []
    for site in sites:
        step = timedelta(minutes=site.interval_minutes or INTERVAL_MINUTES)
        last = _floor(end.astimezone(UTC), step)
        slots = [last - i * step for i in range(readings_per_site - 1, -1, -1)]
        series = _Series(site, step, anomaly_rate, seed, last)
        for when in slots:
            site_readings, site_labels = series.at(when)
            readings += site_readings
            labels += site_labels
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


def file_name(when: datetime, seed: int = 0, fmt: str = "json") -> str:
    """The name a simulated file is uploaded under (`raw_files.raw_key` adds the day's folder).

    The app's Simulate page and the scheduled simulator in AWS name files alike, so a file's
    origin reads the same in the raw bucket and the ledger whichever of them sent it.
    """
    return f"sim-{when.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-s{seed}.{fmt}"


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def _timestamp(moment: datetime) -> str:
    return utc_text(moment)


class _Series:
    """One site's readings; what happens in an interval depends only on (seed, site, time)."""

    def __init__(self, site: Site, step: timedelta, anomaly_rate: float, seed: int, newest: datetime) -> None:
        self.site, self.step, self.seed, self.newest = site, step, seed, newest
        self.event_chance = min(1.0, anomaly_rate * EVENT_EVERY)
        self.rated = float(site.capacity_kw or 100) * step.total_seconds() / 3600

    def _rng(self, when: datetime, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.site.site_id}:{when.isoformat()}:{purpose}")

    def normal(self, when: datetime) -> tuple[float, float]:
        return _normal_reading(self.site, when, self._rng(when, "value"), self._wind_speed(when))

    def _wind_speed(self, when: datetime) -> float:
        """Wind changes over hours, not from one reading to the next: interpolate between
        Weibull-distributed speeds drawn every three hours."""
        knot = WIND_KNOT.total_seconds()
        before = datetime.fromtimestamp((when.timestamp() // knot) * knot, UTC)
        share = (when - before) / WIND_KNOT
        speeds = [
            random.Random(f"{self.seed}:{self.site.site_id}:{t.isoformat()}:wind").weibullvariate(7.5, 2.0)
            for t in (before, before + WIND_KNOT)
        ]
        return speeds[0] + (speeds[1] - speeds[0]) * share

    def event(self, when: datetime) -> str | None:
        """The anomaly that starts at `when`, if any."""
        slot = int(when.timestamp() // self.step.total_seconds())
        rng = self._rng(when, "event")
        if slot % EVENT_EVERY or rng.random() >= self.event_chance:
            return None
        return rng.choice(self._kinds_at(when))

    def _kinds_at(self, when: datetime) -> list[str]:
        kinds = ["negative_generation", "negative_consumption", "spike_consumption", "flatline_consumption"]
        kinds += ["missing_intervals", "future_timestamp", "sentinel_value"]
        if self.site.kind == "solar" and self.site.latitude is not None and self.site.longitude is not None:
            lat, lon = float(self.site.latitude), float(self.site.longitude)
            elevations = [sun_elevation_degrees(lat, lon, when + k * self.step) for k in (-1, 0, 1)]
            if max(elevations) < -6:
                kinds.append("solar_at_night")
            elif min(elevations) > 0:
                kinds.append("generation_above_capacity")
        else:
            kinds.append("generation_above_capacity")
        return kinds

    def at(self, when: datetime) -> tuple[list[dict[str, Any]], list[Label]]:
        """The readings reported for the interval `when` (none, one, or one plus a stray)."""
        generated, consumed = self.normal(when)
        labels: list[Label] = []
        for back in range(1, FLATLINE_LENGTH):
            started = when - back * self.step
            kind = self.event(started)
            if kind == "flatline_consumption":
                consumed = self.normal(started)[1]
                if back >= FLATLINE_FLAGGED_FROM:
                    labels.append(Label(self.site.site_id, _timestamp(when), kind))
            if kind == "missing_intervals" and back <= self._gap_length(started):
                return [], []
        reading = {
            "site_id": self.site.site_id,
            "timestamp": _timestamp(when),
            "energy_generated_kwh": generated,
            "energy_consumed_kwh": consumed,
        }
        readings = [reading]
        kind = self.event(when)
        rng = self._rng(when, "anomaly")
        if kind == "missing_intervals":  # found when the next reading arrives, maybe in the next file
            labels.append(Label(self.site.site_id, _timestamp(when + self.step), kind))
        elif kind == "future_timestamp":
            # a meter with a wrong clock: a stray reading months after the file's newest interval
            stray = dict(reading, timestamp=_timestamp(self.newest + timedelta(days=rng.randint(60, 400))))
            readings.append(stray)
            labels.append(Label(self.site.site_id, stray["timestamp"], kind))
        elif kind in VALUE_INJECTIONS:
            VALUE_INJECTIONS[kind](reading, self.rated, rng)
            labels.append(Label(self.site.site_id, reading["timestamp"], kind))
        return readings, labels

    def _gap_length(self, started: datetime) -> int:
        return 1 + int(self._rng(started, "gap").random() * 3)


def _normal_reading(site: Site, when: datetime, rng: random.Random, wind_speed: float) -> tuple[float, float]:
    hours = (site.interval_minutes or INTERVAL_MINUTES) / 60
    capacity = float(site.capacity_kw or 100)
    latitude, longitude = float(site.latitude or 50), float(site.longitude or 0)
    if site.kind == "wind":
        speed = wind_speed * rng.uniform(0.95, 1.05)
        fraction = 0.0 if speed < 3 or speed > 25 else min(1.0, ((speed - 3) / 9) ** 3) * rng.uniform(0.97, 1.0)
    else:
        elevation = sun_elevation_degrees(latitude, longitude, when)
        fraction = (elevation / 90) ** 0.8 * rng.uniform(0.55, 1.0) if elevation > 0 else 0.0
    local_hour = (when.hour + when.minute / 60 + longitude / 15) % 24
    demand = 0.35 + 0.25 * _peak(local_hour, 8, 1.5) + 0.45 * _peak(local_hour, 19, 2.0)
    consumed = capacity * 0.4 * hours * demand * rng.uniform(0.85, 1.15)
    return round(capacity * hours * fraction, 3), round(consumed, 3)


def _peak(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return max(0.0, 1 - (distance / width) ** 2)


VALUE_INJECTIONS: dict[str, Callable[[dict[str, Any], float, random.Random], None]] = {
    # well beyond an idle inverter's standby draw, which the rule allows
    "negative_generation": lambda r, rated, rng: r.update(
        energy_generated_kwh=-round(rated * rng.uniform(0.1, 0.8), 3)
    ),
    "negative_consumption": lambda r, rated, rng: r.update(energy_consumed_kwh=-round(rng.uniform(0.5, 20), 3)),
    "generation_above_capacity": lambda r, rated, rng: r.update(
        energy_generated_kwh=round(rated * rng.uniform(1.2, 2), 3)
    ),
    "solar_at_night": lambda r, rated, rng: r.update(energy_generated_kwh=round(rated * rng.uniform(0.1, 0.4), 3)),
    "sentinel_value": lambda r, rated, rng: r.update(
        {rng.choice(["energy_generated_kwh", "energy_consumed_kwh"]): rng.choice([-9999, 65535, -32768, -1000000])}
    ),
    "spike_consumption": lambda r, rated, rng: r.update(
        energy_consumed_kwh=round(r["energy_consumed_kwh"] * rng.uniform(5, 8) + 1, 3)
    ),
}
