"""The Sites page's table: the registry as editable text cells, and the edits back as rows.

The editable columns are the import file's columns and hold text, as a CSV cell would, so
an edit goes through exactly the check an import does (`site_registry.parse_edits`):
numbers keep the digits typed, and an emptied cell clears the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.display import when_column
from dashboard.numfmt import count
from dashboard.timefmt import to_local
from dashboard.untrusted_text import plain
from pipeline.ops.site_fields import FIELDS, PREFIX, rule_settings, timezones
from pipeline.ops.site_registry import Saved, export_rows, threshold_columns
from pipeline.sites import KINDS, Activity, Site

STATS = ("last_reading", "completeness", "anomaly_rate")


def editable_columns(sites: Sequence[Site]) -> list[str]:
    return [*FIELDS[1:], *threshold_columns(sites)]


def editor_frame(
    entries: Sequence[tuple[Site, Activity]], window: pd.DataFrame, hours: int, tz: tzinfo
) -> pd.DataFrame:
    """One row per site: its id, the window's figures, then its metadata as text.

    Completeness is readings received over readings expected from the site's cadence in
    the window (None without a cadence); the anomaly rate is anomalies over readings.
    """
    sites = [site for site, _ in entries]
    frame = pd.DataFrame(export_rows(sites), columns=["site_id", *editable_columns(sites)])
    readings = window["readings"].reindex(frame["site_id"]).to_numpy(dtype=float)
    anomalies = window["anomalies"].reindex(frame["site_id"]).to_numpy(dtype=float)
    expected = np.array([hours * 60 / s.interval_minutes if s.interval_minutes else np.nan for s in sites])
    last = pd.Series([activity.last_reading for _, activity in entries], dtype="object")
    frame.insert(1, "last_reading", to_local(last, tz))
    frame.insert(2, "completeness", readings / expected)
    frame.insert(3, "anomaly_rate", anomalies / np.where(readings > 0, readings, np.nan))
    return frame


def edits(original: pd.DataFrame, edited: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The cells that differ, per site, as text ("" for a cleared cell)."""
    found: dict[str, dict[str, str]] = {}
    columns = [c for c in original.columns if c != "site_id" and c not in STATS]
    for (_, before), (_, after) in zip(original.iterrows(), edited.iterrows(), strict=True):
        for column in columns:
            old, new = _text(before[column]), _text(after[column])
            if old != new:
                found.setdefault(str(before["site_id"]), {})[column] = new
    return found


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def column_config(sites: Sequence[Site], hours: int, tz: tzinfo) -> dict:
    window = f"the last {hours} complete hours" if hours <= 48 else f"the last {hours // 24} days"
    config = {
        "site_id": st.column_config.TextColumn("site_id", pinned=True),
        "last_reading": when_column("last reading", tz, "The newest reading the series rules judged"),
        "completeness": st.column_config.NumberColumn(
            "completeness",
            format="percent",
            help=f"Readings received over readings expected from interval_minutes in {window}",
        ),
        "anomaly_rate": st.column_config.NumberColumn(
            "anomaly rate", format="percent", help=f"Anomalous readings over readings in {window}"
        ),
        "name": st.column_config.TextColumn("name", max_chars=200),
        "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS)),
        "capacity_kw": st.column_config.TextColumn("capacity_kw", help="Rated power in kW, greater than 0"),
        "interval_minutes": st.column_config.TextColumn("interval_minutes", help="Reading cadence: 1 to 1440"),
        "latitude": st.column_config.TextColumn("latitude", help="-90 to 90"),
        "longitude": st.column_config.TextColumn("longitude", help="-180 to 180"),
        "timezone": st.column_config.SelectboxColumn(
            "timezone", options=sorted(timezones()), help="IANA name; empty means UTC"
        ),
    }
    for column in threshold_columns(sites):
        setting = rule_settings().get(column.removeprefix(PREFIX))
        help = (
            f"{setting.doc}: {setting.low:g} to {setting.high:g}; empty means the default, {setting.default:g}"
            if setting
            else "no longer a rule setting: clear it"
        )
        config[column] = st.column_config.TextColumn(column, help=help)
    return config


def saved_message(verb: str, saved: Sequence[Saved], shown: int = 5) -> str:
    """`Saved 1 site. site-1: capacity_kw 10 -> 5` (Markdown, the data escaped)."""
    changed = [s for s in saved if s.changes or s.new]
    if not changed:
        return "Nothing changed: the sites already had these values."
    lines = [plain(f"{s.site_id}: {'new' if s.new else '; '.join(s.changes)}") for s in changed[:shown]]
    more = f" … and {len(changed) - shown} more" if len(changed) > shown else ""
    return f"{verb} {count(len(changed), 'sites')}. " + " · ".join(lines) + more
