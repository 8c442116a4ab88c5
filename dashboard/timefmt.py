"""Times as the analyst reads them: stored in UTC, shown in the browser's timezone.

Everything the pipeline stores is a UTC string `YYYY-MM-DDTHH:MM:SSZ` (`pipeline.timestamps`
reads and writes it; `parse_utc` and `utc_text` are its functions); the browser tells
Streamlit its timezone (`st.context.timezone`). Where it does not (a test, an old browser),
times are shown in UTC and say so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from pipeline.timestamps import parse_utc, utc_text

SHOWN = "%d %b %Y, %H:%M:%S"
TABLE_FORMAT = "D MMM YYYY, HH:mm:ss"  # st.column_config.DatetimeColumn (moment.js)


def user_timezone() -> tzinfo:
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def zone_label(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or "UTC"


def to_local(values: pd.Series, tz: tzinfo) -> pd.Series:
    """UTC strings (or UTC datetimes) -> timezone-aware datetimes in `tz`."""
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_convert(zone_label(tz))


def to_local_naive(values: pd.Series, tz: tzinfo) -> pd.Series:
    """Local wall-clock times without a zone, for charts: Vega shows them as they are."""
    return to_local(values, tz).dt.tz_localize(None)


def shown(moment: datetime | str | None, tz: tzinfo) -> str:
    """`29 Nov 2026, 07:15:00 CET` (empty for nothing)."""
    if not moment:
        return "—"
    if isinstance(moment, str):
        moment = parse_utc(moment)
    local = moment.astimezone(tz)
    return f"{local.strftime(SHOWN)} {local.tzname() or zone_label(tz)}"


def utc_bounds(first: date, last: date, tz: tzinfo) -> tuple[str, str]:
    """Inclusive UTC string bounds covering the local days `first`..`last`."""
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) - timedelta(seconds=1)
    return utc_text(start), utc_text(end)


def today(tz: tzinfo) -> date:
    return datetime.now(tz).date()


def ago(seconds: float) -> str:
    """`just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 days ago`."""
    if seconds < 2:
        return "just now"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def duration(seconds: float) -> str:
    """`12 s`, `3 min 20 s`, `2 h 5 min`; `< 1 s` below a second (stored times have whole seconds)."""
    if seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
