"""From hourly rollups to what the Live page shows: periods, KPIs, per-site totals, series.

Pure pandas on the rollup frame (`data.ROLLUP_COLUMNS`), so it is tested without AWS and
the charts only ever receive a few hundred aggregated points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import pandas as pd

from dashboard.timefmt import to_local_naive

HOUR = "%Y-%m-%dT%H:00:00Z"


@dataclass(frozen=True)
class Period:
    label: str
    hours: int

    @property
    def bucket(self) -> str:
        """Bucket for the line chart: at most ~170 points per site."""
        if self.hours <= 48:
            return "h"
        if self.hours <= 14 * 24:
            return "6h"
        return "D"

    @property
    def bucket_label(self) -> str:
        return {"h": "hourly", "6h": "6-hourly", "D": "daily"}[self.bucket]

    @property
    def bucket_unit(self) -> str:
        return {"h": "hour", "6h": "6 hours", "D": "day"}[self.bucket]


PERIODS = (
    Period("6 h", 6),
    Period("24 h", 24),
    Period("7 days", 7 * 24),
    Period("30 days", 30 * 24),
    Period("90 days", 90 * 24),
)
DEFAULT_PERIOD = PERIODS[1]


def period(label: str | None) -> Period:
    return next((p for p in PERIODS if p.label == label), DEFAULT_PERIOD)


def natural_key(site_id: str) -> tuple[str, int, str]:
    """site-2 before site-10."""
    head, _, tail = site_id.rpartition("-")
    return (head, int(tail), "") if tail.isdigit() else (site_id, -1, site_id)


@dataclass(frozen=True)
class Window:
    """The hours of the period (inclusive bounds) and of the period before it."""

    start_hour: str
    end_hour: str
    previous_start_hour: str
    previous_end_hour: str


def window(period: Period, now: datetime | None = None) -> Window:
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=period.hours - 1)
    previous_end = start - timedelta(hours=1)
    previous_start = start - timedelta(hours=period.hours)
    return Window(start.strftime(HOUR), end.strftime(HOUR), previous_start.strftime(HOUR), previous_end.strftime(HOUR))


@dataclass(frozen=True)
class Totals:
    generated_kwh: float = 0.0
    consumed_kwh: float = 0.0
    net_kwh: float = 0.0
    self_supplied_kwh: float = 0.0
    readings: int = 0
    anomalies: int = 0

    @property
    def self_sufficiency(self) -> float | None:
        """Σ min(generated, consumed) / Σ consumed: the share of demand met on site."""
        return self.self_supplied_kwh / self.consumed_kwh if self.consumed_kwh > 0 else None

    @property
    def anomaly_rate(self) -> float | None:
        return self.anomalies / self.readings if self.readings else None


def totals(frame: pd.DataFrame) -> Totals:
    if frame.empty:
        return Totals()
    return Totals(
        generated_kwh=float(frame["generated_kwh"].sum()),
        consumed_kwh=float(frame["consumed_kwh"].sum()),
        net_kwh=float(frame["net_kwh"].sum()),
        self_supplied_kwh=float(frame["self_supplied_kwh"].sum()),
        readings=int(frame["readings"].sum()),
        anomalies=int(frame["anomalies"].sum()),
    )


def split(frame: pd.DataFrame, win: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(this period, the period before) rows of a frame that covers both."""
    hours = frame["hour"]
    current = frame[(hours >= win.start_hour) & (hours <= win.end_hour)]
    previous = frame[(hours >= win.previous_start_hour) & (hours <= win.previous_end_hour)]
    return current, previous


def per_site(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per site: energy totals, readings and anomalies."""
    columns = ["generated_kwh", "consumed_kwh", "net_kwh", "self_supplied_kwh", "readings", "anomalies"]
    if frame.empty:
        return pd.DataFrame(columns=["site_id", *columns])
    grouped = frame.groupby("site_id", as_index=False)[columns].sum()
    grouped["anomaly_rate"] = grouped["anomalies"] / grouped["readings"].where(grouped["readings"] > 0)
    order = sorted(grouped["site_id"], key=natural_key)
    return grouped.set_index("site_id").loc[order].reset_index()


def net_series(frame: pd.DataFrame, bucket: str, tz: tzinfo) -> pd.DataFrame:
    """Net energy per site and time bucket (local wall-clock time), oldest first."""
    if frame.empty:
        return pd.DataFrame(columns=["site_id", "time", "net_kwh"])
    local = frame.assign(time=to_local_naive(frame["hour"], tz).dt.floor(bucket))
    series = local.groupby(["site_id", "time"], as_index=False)["net_kwh"].sum()
    return series.sort_values(["time", "site_id"], ignore_index=True)
