"""Frames as the pages show them: local times, readable column names, units, highlighting."""

from __future__ import annotations

import math
from datetime import tzinfo

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard.timefmt import TABLE_FORMAT, to_local, zone_label

ANOMALY_STYLE = "background-color: #fde2e1; color: #7f1d1d"
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


def highlight_anomalies(frame: pd.DataFrame, flag: str = "anomaly") -> Styler:
    """Anomalous rows in red. Only ever called on one page of rows: Styler is slow at scale."""

    def style(row: pd.Series) -> list[str]:
        return [ANOMALY_STYLE if row[flag] else ""] * len(row)

    return frame.style.apply(style, axis=1)


def records_view(frame: pd.DataFrame, tz: tzinfo) -> pd.DataFrame:
    return frame.assign(timestamp=to_local(frame["timestamp"], tz))


RECORD_COLUMNS_CONFIG = {
    "timestamp": "Time",
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
