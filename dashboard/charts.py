"""Altair charts for the Live page. Each takes an already aggregated frame (see aggregate)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.aggregate import Period, natural_key

GENERATED, CONSUMED, ANOMALY = "#15803d", "#ea580c", "#dc2626"
HEIGHT = 300


def _site_axis(frame: pd.DataFrame) -> alt.X:
    return alt.X("site_id:N", title="Site", sort=list(frame["site_id"]), axis=alt.Axis(labelAngle=0))


def energy_by_site(per_site: pd.DataFrame) -> alt.Chart:
    """Generated and consumed energy per site, side by side."""
    long = per_site.melt(
        id_vars="site_id", value_vars=["generated_kwh", "consumed_kwh"], var_name="measure", value_name="kwh"
    )
    long["measure"] = long["measure"].map({"generated_kwh": "Generated", "consumed_kwh": "Consumed"})
    return (
        alt.Chart(long, height=HEIGHT, title="Generated vs consumed per site")
        .mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
        .encode(
            x=_site_axis(per_site),
            xOffset=alt.XOffset("measure:N", sort=["Generated", "Consumed"]),
            y=alt.Y("kwh:Q", title="Energy (kWh)"),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=["Generated", "Consumed"],
                scale=alt.Scale(domain=["Generated", "Consumed"], range=[GENERATED, CONSUMED]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("site_id:N", title="Site"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("kwh:Q", title="Energy (kWh)", format=",.1f"),
            ],
        )
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
    """Net energy (generated − consumed) per site and time bucket; above zero exports."""
    lines = (
        alt.Chart(series)
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone", strokeWidth=2)
        .encode(
            x=alt.X("time:T", title=f"Time ({zone})"),
            y=alt.Y("net_kwh:Q", title=f"Net energy per {period.bucket_unit} (kWh)"),
            color=alt.Color("site_id:N", title="Site", sort=sorted(series["site_id"].unique(), key=natural_key)),
            tooltip=[
                alt.Tooltip("site_id:N", title="Site"),
                alt.Tooltip("time:T", title="From", format="%d %b %H:%M"),
                alt.Tooltip("net_kwh:Q", title="Net (kWh)", format=",.2f"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#94a3b8").encode(y="y:Q")
    return alt.layer(zero, lines).properties(height=HEIGHT, title=f"Net energy over time ({period.bucket_label})")
