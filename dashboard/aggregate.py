"""From hourly rollups to what the Live page shows: periods, KPIs, per-site totals, series.

Pure pandas on the rollup frame (`data.ROLLUP_COLUMNS`), so it is tested without AWS and
the charts only ever receive a few hundred aggregated points.

Measured and estimated energy stay apart. `generated_kwh`, `consumed_kwh`, `net_kwh`,
`self_supplied_kwh`, `readings` and `anomalies` count meter readings only; estimates of
missing intervals (`pipeline.estimates`) arrive in `estimated_*` and are added where a
figure says so, never silently: the KPI totals keep meaning "measured", the estimated
share is shown beside them.
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
    estimated_generated_kwh: float = 0.0
    estimated_consumed_kwh: float = 0.0
    estimated_readings: int = 0

    @property
    def self_sufficiency(self) -> float | None:
        """Σ min(generated, consumed) / Σ consumed: the share of demand met on site."""
        return self.self_supplied_kwh / self.consumed_kwh if self.consumed_kwh > 0 else None

    @property
    def anomaly_rate(self) -> float | None:
        return self.anomalies / self.readings if self.readings else None

    @property
    def estimated(self) -> bool:
        return self.estimated_readings > 0

    @property
    def estimated_generation_share(self) -> float | None:
        """Estimated / (measured + estimated) generation: how much of the period's energy no meter measured."""
        return share(self.estimated_generated_kwh, self.generated_kwh)

    @property
    def estimated_consumption_share(self) -> float | None:
        return share(self.estimated_consumed_kwh, self.consumed_kwh)


def share(estimated: float, measured: float) -> float | None:
    """The estimated part of measured + estimated energy; None when there is no energy at all."""
    whole = measured + estimated
    return estimated / whole if whole else None


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
        estimated_generated_kwh=float(_measure(frame, "estimated_generated_kwh").sum()),
        estimated_consumed_kwh=float(_measure(frame, "estimated_consumed_kwh").sum()),
        estimated_readings=int(_measure(frame, "estimated_readings").sum()),
    )


ESTIMATED = ("estimated_generated_kwh", "estimated_consumed_kwh", "estimated_readings")


def _measure(frame: pd.DataFrame, column: str) -> pd.Series:
    """A measure of the frame, zeros where the frame predates it (estimates are optional)."""
    return frame[column] if column in frame else pd.Series(0.0, index=frame.index)


def with_estimates(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every estimated measure present (zero where it had none)."""
    missing = {column: 0 for column in ESTIMATED if column not in frame}
    return frame.assign(**missing) if missing else frame


def split(frame: pd.DataFrame, win: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(this period, the period before) rows of a frame that covers both."""
    hours = frame["hour"]
    current = frame[(hours >= win.start_hour) & (hours <= win.end_hour)]
    previous = frame[(hours >= win.previous_start_hour) & (hours <= win.previous_end_hour)]
    return current, previous


def per_site(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per site: measured energy totals, readings and anomalies, and the estimates apart."""
    columns = ["generated_kwh", "consumed_kwh", "net_kwh", "self_supplied_kwh", "readings", "anomalies", *ESTIMATED]
    if frame.empty:
        return pd.DataFrame(columns=["site_id", *columns])
    grouped = with_estimates(frame).groupby("site_id", as_index=False)[columns].sum()
    grouped["anomaly_rate"] = grouped["anomalies"] / grouped["readings"].where(grouped["readings"] > 0)
    order = sorted(grouped["site_id"], key=natural_key)
    return grouped.set_index("site_id").loc[order].reset_index()


MEASURED, ESTIMATE = "measured", "estimated"
ENERGY_MEASURES = {"Generated": "generated_kwh", "Consumed": "consumed_kwh"}


def energy_parts(per_site_frame: pd.DataFrame) -> pd.DataFrame:
    """The bars of "generated vs consumed": per site and measure, a measured part and (where
    there is any) an estimated part stacked on it. Every row also carries both parts and the
    estimated share of its site and measure, for the tooltip."""
    rows = []
    for site in per_site_frame.itertuples(index=False):
        for measure, column in ENERGY_MEASURES.items():
            measured = float(getattr(site, column))
            estimated = float(getattr(site, f"estimated_{column}", 0.0))
            both = {"measured_kwh": measured, "estimated_kwh": estimated, "estimated_share": share(estimated, measured)}
            rows.append({"site_id": site.site_id, "measure": measure, "part": MEASURED, "kwh": measured, **both})
            if estimated:
                rows.append({"site_id": site.site_id, "measure": measure, "part": ESTIMATE, "kwh": estimated, **both})
    columns = ["site_id", "measure", "part", "kwh", "measured_kwh", "estimated_kwh", "estimated_share"]
    parts = pd.DataFrame(rows, columns=columns)
    parts["series"] = parts["measure"].where(parts["part"] == MEASURED, parts["measure"] + " (estimated)")
    return parts


def net_series(frame: pd.DataFrame, bucket: str, tz: tzinfo) -> pd.DataFrame:
    """Net energy per site and time bucket (local wall-clock time), oldest first.

    `net_kwh` is measured + estimated net: a bucket whose gaps were estimated is not drawn
    as a dip that no site made. `measured_net_kwh` and `estimated_net_kwh` keep the parts
    apart, and `estimated_readings` marks the buckets that hold estimates.
    """
    columns = ["site_id", "time", "net_kwh", "measured_net_kwh", "estimated_net_kwh", "estimated_readings"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    full = with_estimates(frame)
    local = full.assign(
        time=to_local_naive(full["hour"], tz).dt.floor(bucket),
        measured_net_kwh=full["net_kwh"],
        estimated_net_kwh=full["estimated_generated_kwh"] - full["estimated_consumed_kwh"],
    )
    parts = ["measured_net_kwh", "estimated_net_kwh", "estimated_readings"]
    series = local.groupby(["site_id", "time"], as_index=False)[parts].sum()
    series["net_kwh"] = series["measured_net_kwh"] + series["estimated_net_kwh"]
    return series[columns].sort_values(["time", "site_id"], ignore_index=True)
