"""Frames as the pages show them: local times, readable column names, units, highlighting."""

from __future__ import annotations

import math
from datetime import tzinfo

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard.numfmt import percent
from dashboard.timefmt import TABLE_FORMAT, to_local, zone_label

ANOMALY_STYLE = "background-color: #fde2e1; color: #7f1d1d"
# Blue-grey: no meter sent it. (The grid draws background and text colour; it ignores font-style.)
ESTIMATE_STYLE = "background-color: #eef2f6; color: #475569"
PAGE_ROWS = 100


def when_column(label: str, tz: tzinfo, help: str | None = None) -> st.column_config.DatetimeColumn:
    return st.column_config.DatetimeColumn(label, format=TABLE_FORMAT, help=help or f"In {zone_label(tz)}")


def kwh_column(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%.3f kWh", help=help)


def pages(rows: int, size: int = PAGE_ROWS) -> int:
    return max(1, math.ceil(rows / size))


def page_of(frame: pd.DataFrame, page: int, size: int = PAGE_ROWS) -> pd.DataFrame:
    start = (max(1, page) - 1) * size
    return frame.iloc[start : start + size]


def highlight_records(frame: pd.DataFrame) -> Styler:
    """Estimates in blue-grey, anomalous readings in red, readings plain. Only ever
    called on one page of rows: Styler is slow at scale."""

    def style(row: pd.Series) -> list[str]:
        if is_estimate_kind(str(row["kind"])):
            look = ESTIMATE_STYLE
        elif row["anomaly"]:
            look = ANOMALY_STYLE
        else:
            look = ""
        return [look] * len(row)

    return frame.style.apply(style, axis=1)


def is_estimate_kind(kind: str) -> bool:
    """True for "estimated (linear)" and an edited estimate's "corrected (estimated, linear)"."""
    return "estimate" in kind


def record_counts(frame: pd.DataFrame) -> str:
    """The caption's counts: readings and estimates apart, anomalous readings among the
    readings, edits when there are any ("**96 readings** · 8 estimated · 3 anomalies (3.1 %)")."""
    estimate = frame["kind"].map(lambda kind: is_estimate_kind(str(kind))).astype(bool)
    estimates = int(estimate.sum())
    readings = len(frame) - estimates
    anomalies = int((frame["anomaly"].astype(bool) & ~estimate).sum())
    parts = [f"**{readings:,} {'reading' if readings == 1 else 'readings'}**"]
    if estimates:
        parts.append(f"{estimates:,} estimated")
    rate = f" ({percent(anomalies / readings)})" if readings else ""
    parts.append(f"{anomalies:,} {'anomaly' if anomalies == 1 else 'anomalies'}{rate}")
    edited = int(frame["edited"].sum()) if "edited" in frame else 0
    if edited:
        parts.append(f"{edited:,} edited")
    return " · ".join(parts)


RECORD_VIEW_DROPS = ["estimate_method", "edited"]  # the kind column says both; the CSV keeps them apart


def records_view(frame: pd.DataFrame, tz: tzinfo) -> pd.DataFrame:
    shown = frame.drop(columns=[c for c in RECORD_VIEW_DROPS if c in frame])
    return shown.assign(timestamp=to_local(frame["timestamp"], tz))


KIND_HELP = (
    "reading: as the meter sent it · estimated (linear | profile): a missing interval filled in, "
    "no meter reading · corrected / false positive: edited by an analyst (original values kept)"
)

RECORD_COLUMNS_CONFIG = {
    "timestamp": "Time",
    "kind": st.column_config.TextColumn("Kind", help=KIND_HELP),
    "generated_kwh": kwh_column("Generated"),
    "consumed_kwh": kwh_column("Consumed"),
    "net_kwh": kwh_column("Net", "Generated − consumed; negative means drawn from the grid"),
    "anomaly": st.column_config.CheckboxColumn("Anomaly"),
    "reasons": st.column_config.TextColumn("Reasons", width="large"),
}


def record_columns(tz: tzinfo) -> dict:
    return RECORD_COLUMNS_CONFIG | {"timestamp": when_column("Time", tz)}


STATUS_LABELS = {
    "processed": "Processed",
    "partial": "Partly quarantined",
    "quarantined": "Quarantined",
}


def status_label(status: object) -> str:
    """Plain words: emoji are not in every browser's fonts."""
    if not isinstance(status, str) or status == "waiting":
        return "Waiting"
    return STATUS_LABELS.get(status, status.title())


def files_view(files: pd.DataFrame, outcomes: pd.DataFrame, tz: tzinfo) -> pd.DataFrame:
    """One row per raw file: name, upload time, size and what processing made of it."""
    found = outcomes.reindex(files["key"]).reset_index(drop=True)
    return pd.DataFrame(
        {
            "name": files["name"].reset_index(drop=True),
            "uploaded": files["last_modified"].dt.tz_convert(zone_label(tz)).reset_index(drop=True),
            "size_kb": (files["size"] / 1024).round(1).reset_index(drop=True),
            "status": [status_label(s) for s in found["status"]],
            "written": found["written"].astype("Int64"),
            "rejected": found["rejected"].astype("Int64"),
            "anomalies": found["anomalies"].astype("Int64"),
            "alert": ["sent" if isinstance(m, str) else "" for m in found["alert_message_id"]],
        }
    )
