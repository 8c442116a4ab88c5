"""The Live page's KPI cards: this period's totals against the period before."""

from __future__ import annotations

import streamlit as st

from dashboard.aggregate import Totals
from dashboard.widgets import count, energy, energy_delta, percent, points_delta


def show(now: Totals, before: Totals | None, period_label: str) -> None:
    """Two rows of three cards; deltas only when the previous period has data."""
    vs = f"vs previous {period_label}"

    def card(column, label: str, value: str, change: str | None, **options: object) -> None:
        compared = before is not None
        column.metric(
            label,
            value,
            change if compared else None,
            delta_description=vs if compared else None,
            border=True,
            **options,  # type: ignore[arg-type]
        )

    was = before or Totals()
    energy_row = st.columns(3)
    card(energy_row[0], "Generated", energy(now.generated_kwh), energy_delta(now.generated_kwh - was.generated_kwh))
    card(
        energy_row[1],
        "Consumed",
        energy(now.consumed_kwh),
        energy_delta(now.consumed_kwh - was.consumed_kwh),
        delta_color="off",
    )
    card(
        energy_row[2],
        "Net",
        energy(now.net_kwh),
        energy_delta(now.net_kwh - was.net_kwh),
        help="Generated − consumed: above zero the sites export, below they draw from the grid",
    )
    quality_row = st.columns(3)
    card(
        quality_row[0],
        "Self-sufficiency",
        percent(now.self_sufficiency),
        points_delta(now.self_sufficiency, was.self_sufficiency),
        help="Σ min(generated, consumed) / Σ consumed: the share of demand met on site",
    )
    card(
        quality_row[1],
        "Anomalous readings",
        count(now.anomalies),
        f"{now.anomalies - was.anomalies:+,}",
        delta_color="inverse",
    )
    card(
        quality_row[2],
        "Anomaly rate",
        percent(now.anomaly_rate, 2),
        points_delta(now.anomaly_rate, was.anomaly_rate),
        delta_color="inverse",
        help=f"Of {now.readings:,} readings",
    )
