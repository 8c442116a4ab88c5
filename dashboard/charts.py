"""Altair charts for the Live page. Each takes an already aggregated frame (see aggregate).

Estimated energy is always drawn apart from measured energy (paler bars, ringed points)
and named "estimated" wherever it appears.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.aggregate import ESTIMATE, Period, natural_key

GENERATED, CONSUMED, ANOMALY = "#15803d", "#ea580c", "#dc2626"
ESTIMATE_RING = "#64748b"
HEIGHT = 300


def _site_axis(frame: pd.DataFrame) -> alt.X:
    return alt.X("site_id:N", title="Site", sort=list(frame["site_id"]), axis=alt.Axis(labelAngle=0))


# Estimated parts: the same hue, paler, so a bar reads as one measure with a part no meter measured.
ESTIMATED_GENERATED, ESTIMATED_CONSUMED = "#86efac", "#fdba74"
SERIES_COLORS = {
    "Generated": GENERATED,
    "Generated (estimated)": ESTIMATED_GENERATED,
    "Consumed": CONSUMED,
    "Consumed (estimated)": ESTIMATED_CONSUMED,
}


def energy_by_site(parts: pd.DataFrame) -> alt.Chart:
    """Generated and consumed energy per site, side by side; an estimated part (see
    `aggregate.energy_parts`) is stacked on the measured one in a paler shade, labelled
    "estimated" in the legend, and only when there is one."""
    series = [name for name in SERIES_COLORS if name in set(parts["series"])] or ["Generated", "Consumed"]
    estimated = bool((parts["part"] == ESTIMATE).any())
    tooltip = [
        alt.Tooltip("site_id:N", title="Site"),
        alt.Tooltip("measure:N", title="Measure"),
        alt.Tooltip("measured_kwh:Q", title="Measured (kWh)", format=",.1f"),
    ]
    if estimated:
        tooltip += [
            alt.Tooltip("estimated_kwh:Q", title="Estimated (kWh)", format=",.1f"),
            alt.Tooltip("estimated_share:Q", title="Estimated share", format=".1%"),
        ]
    sites = list(dict.fromkeys(parts["site_id"]))
    # The subtitle and the legend's second row take ~50 px: the bars keep the height they had.
    height = HEIGHT + 50 if estimated else HEIGHT
    return (
        alt.Chart(
            parts.assign(stack=(parts["part"] == ESTIMATE).astype(int)), height=height, title=_energy_title(estimated)
        )
        .mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
        .encode(
            x=alt.X("site_id:N", title="Site", sort=sites, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("measure:N", sort=["Generated", "Consumed"]),
            y=alt.Y("kwh:Q", title="Energy (kWh)", stack="zero"),
            color=alt.Color(
                "series:N",
                title=None,
                sort=series,
                scale=alt.Scale(domain=series, range=[SERIES_COLORS[name] for name in series]),
                legend=alt.Legend(orient="top", columns=2 if estimated else alt.Undefined),
            ),
            order=alt.Order("stack:Q", sort="ascending"),
            tooltip=tooltip,
        )
    )


def _energy_title(estimated: bool) -> str | alt.TitleParams:
    if not estimated:
        return "Generated vs consumed per site"
    return alt.TitleParams(
        "Generated vs consumed per site",
        subtitle="Pale parts are estimated (missing intervals filled in, no meter reading)",
        subtitleColor="#64748b",
    )


def anomalies_by_site(per_site: pd.DataFrame) -> alt.Chart:
    frame = per_site.assign(anomaly_rate=per_site["anomaly_rate"].fillna(0))
    return (
        alt.Chart(frame, height=HEIGHT, title="Anomalies per site")
        .mark_bar(color=ANOMALY, cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
        .encode(
            x=_site_axis(per_site),
            y=alt.Y("anomalies:Q", title="Anomalous readings", axis=alt.Axis(tickMinStep=1)),
            tooltip=[
                alt.Tooltip("site_id:N", title="Site"),
                alt.Tooltip("anomalies:Q", title="Anomalies", format=","),
                alt.Tooltip("readings:Q", title="Readings", format=","),
                alt.Tooltip("anomaly_rate:Q", title="Anomaly rate", format=".1%"),
            ],
        )
    )


def net_over_time(series: pd.DataFrame, period: Period, zone: str) -> alt.LayerChart:
    """Net energy (generated − consumed) per site and time bucket; above zero exports.

    The line is measured + estimated net (`aggregate.net_series`), so a filled gap is not
    drawn as a dip; buckets that hold estimates get a hollow grey ring, their tooltip gives
    the measured and estimated parts, and the title says the line includes estimates.
    """
    estimated = series[series["estimated_readings"] > 0] if "estimated_readings" in series else series.iloc[0:0]
    tooltip = [
        alt.Tooltip("site_id:N", title="Site"),
        alt.Tooltip("time:T", title="From", format="%d %b %H:%M"),
        alt.Tooltip("net_kwh:Q", title="Net (kWh)", format=",.2f"),
    ]
    if not estimated.empty:
        tooltip += [
            alt.Tooltip("measured_net_kwh:Q", title="Measured net (kWh)", format=",.2f"),
            alt.Tooltip("estimated_net_kwh:Q", title="Estimated net (kWh)", format=",.2f"),
            alt.Tooltip("estimated_readings:Q", title="Estimated intervals", format=","),
        ]
    x = alt.X("time:T", title=f"Time ({zone})")
    y = alt.Y("net_kwh:Q", title=f"Net energy per {period.bucket_unit} (kWh)")
    lines = (
        alt.Chart(series)
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone", strokeWidth=2)
        .encode(
            x=x,
            y=y,
            color=alt.Color("site_id:N", title="Site", sort=sorted(series["site_id"].unique(), key=natural_key)),
            tooltip=tooltip,
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#94a3b8").encode(y="y:Q")
    layers: list[alt.Chart] = [zero, lines]
    title: str | alt.TitleParams = f"Net energy over time ({period.bucket_label})"
    if not estimated.empty:
        rings = (
            alt.Chart(estimated)
            .mark_point(shape="circle", size=110, filled=False, strokeWidth=2, color=ESTIMATE_RING)
            .encode(x=x, y=y, tooltip=tooltip)
        )
        layers.append(rings)
        title = alt.TitleParams(
            f"Net energy over time ({period.bucket_label}, including estimates)",
            subtitle="Ringed points hold estimated intervals; hover for the measured and estimated parts",
            subtitleColor="#64748b",
        )
    return alt.layer(*layers).properties(height=HEIGHT, title=title)
