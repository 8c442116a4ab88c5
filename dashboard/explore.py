"""The Explore page's helpers: a lake query's answer (`pipeline.ops.lake_sql.Answer`) as its
table shows it, as its chart draws it, and in words.

The table keeps the values as the engine gave them (exact decimals, UTC dates and times, the
reasons as lists), so that what the analyst reads is what the CSV holds; only the chart
turns decimals into floats, which Vega-Lite needs and where no one reads the sixth digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import altair as alt
import pandas as pd

from dashboard.charts import HEIGHT
from pipeline import lake, raw_files
from pipeline.ops import lake_sql
from pipeline.ops.lake_queries import ReadyQuery
from pipeline.ops.lake_sql import Answer
from pipeline.settings import Settings

MARKS = ("line", "bar", "point")
# Drawn at most: a 100,000-point line took over 2 s to draw in Chromium here (Streamlit 1.67).
CHART_ROWS = 10_000
QUANTITATIVE, TEMPORAL, NOMINAL = "quantitative", "temporal", "nominal"


@dataclass(frozen=True)
class ChartChoice:
    mark: str
    x: str
    y: str
    color: str | None = None


@dataclass(frozen=True)
class Result:
    """One press of Run, kept in the session: choosing a chart reruns the page, not the query."""

    sql: str
    answer: Answer
    ready: ReadyQuery  # picked when it ran: its chart is the one first offered
    frame: pd.DataFrame
    csv: bytes
    lake_empty: bool  # no rows because the lake has none yet
    ran_at: datetime
    number: int  # this session's count of runs: keys the chart's controls, so a new answer gets its defaults


def ask(
    settings: Settings, sql: str, *, timeout_seconds: float, max_rows: int, ready: ReadyQuery, number: int
) -> Result:
    """Run the analyst's SQL (`lake_sql.run`: refused unless read-only, stopped at the time
    limit) and keep what the page shows of it; QueryRefused, QueryFailed and AWS errors
    are the caller's to show."""
    answer = lake_sql.run(settings, sql, timeout_seconds=timeout_seconds, max_rows=max_rows)
    empty = not answer.rows and lake_is_empty(settings)
    return Result(sql, answer, ready, table_frame(answer), answer.csv().encode(), empty, datetime.now(UTC), number)


def table_frame(answer: Answer) -> pd.DataFrame:
    """The rows as the engine returned them, under names a table can show (a query may
    give two columns the same name, or none)."""
    return pd.DataFrame.from_records(answer.rows, columns=unique_names(answer.columns))


def unique_names(columns: tuple[str, ...] | list[str]) -> list[str]:
    """`net, net` -> `net, net (2)`; an unnamed column is `column 3`."""
    names: list[str] = []
    for i, column in enumerate(columns, start=1):
        name = candidate = column or f"column {i}"
        n = 1
        while candidate in names:
            n += 1
            candidate = f"{name} ({n})"
        names.append(candidate)
    return names


def kind(values: pd.Series) -> str:
    """How a column is charted. Decimals and dates arrive as Python objects, not as pandas
    numbers and times, so the first value that is not null decides for them."""
    if pd.api.types.is_bool_dtype(values):
        return NOMINAL
    if pd.api.types.is_numeric_dtype(values):
        return QUANTITATIVE
    if pd.api.types.is_datetime64_any_dtype(values):
        return TEMPORAL
    present = values.dropna()
    first = present.iloc[0] if len(present) else None
    if isinstance(first, Decimal | int | float) and not isinstance(first, bool):
        return QUANTITATIVE
    if isinstance(first, date | datetime):
        return TEMPORAL
    return NOMINAL


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if kind(frame[c]) == QUANTITATIVE]


def default_choice(frame: pd.DataFrame, ready: ReadyQuery | None) -> ChartChoice | None:
    """The ready query's chart when its columns are there; otherwise the first time (else the
    first column) against the first other number. None when nothing is a number."""
    numeric = numeric_columns(frame)
    columns = list(frame.columns)
    if not numeric:
        return None
    if ready and ready.x in columns and ready.y in numeric and (ready.color is None or ready.color in columns):
        return ChartChoice(ready.mark, ready.x, ready.y, ready.color)
    temporal = [c for c in columns if kind(frame[c]) == TEMPORAL]
    x = temporal[0] if temporal else columns[0]
    y = next((c for c in numeric if c != x), numeric[0])
    return ChartChoice("line" if temporal else "bar", x, y)


def chart_values(values: pd.Series) -> pd.Series:
    """A column as Vega-Lite reads it: decimals as floats, dates and times as UTC times
    (which the chart's UTC scale shows as they are in the lake), lists as text."""
    column_kind = kind(values)
    if column_kind == QUANTITATIVE:
        return pd.to_numeric(values.map(lambda v: float(v) if isinstance(v, Decimal) else v), errors="coerce")
    if column_kind == TEMPORAL:
        return pd.to_datetime(values.map(_as_time), utc=True)
    if values.map(lambda v: isinstance(v, list)).any():
        return values.map(lambda v: ", ".join(map(str, v)) if isinstance(v, list) else v)
    return values


def _as_time(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)  # a UTC day starts at UTC midnight
    return value


def chart(frame: pd.DataFrame, choice: ChartChoice) -> alt.Chart:
    """The analyst's chart: one mark, x, y and an optional colour, in the order the query
    returned its rows (at most CHART_ROWS of them)."""
    wanted = list(dict.fromkeys(c for c in (choice.x, choice.y, choice.color) if c))
    shown = frame[wanted].head(CHART_ROWS)
    data = pd.DataFrame({c: chart_values(shown[c]) for c in wanted})
    tooltip = [_tooltip(data[c], c) for c in wanted]
    encoding = {"x": _axis(alt.X, data, choice.x), "y": _axis(alt.Y, data, choice.y), "tooltip": tooltip}
    if choice.color:
        encoding["color"] = alt.Color(field=_field(choice.color), type=kind(data[choice.color]), title=choice.color)
    base = alt.Chart(data, height=HEIGHT, title=f"{choice.y} by {choice.x}")
    if choice.mark == "bar":
        marked = base.mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
    elif choice.mark == "point":
        marked = base.mark_point(filled=True, size=40)
    else:
        marked = base.mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=2)
    return marked.encode(**encoding)


def _axis(channel: type[alt.X] | type[alt.Y], data: pd.DataFrame, column: str) -> alt.X | alt.Y:
    column_type = kind(data[column])
    if column_type == TEMPORAL:
        unit = _time_unit(data[column])
        if unit:  # ticks on whole days (months), not at noon between them
            return channel(field=_field(column), type=TEMPORAL, title=f"{column} (UTC)", timeUnit=unit)
        return channel(field=_field(column), type=TEMPORAL, title=f"{column} (UTC)", scale=alt.Scale(type="utc"))
    if column_type == NOMINAL:
        return channel(field=_field(column), type=NOMINAL, title=column, sort=None)  # the query's ORDER BY
    return channel(field=_field(column), type=QUANTITATIVE, title=column)


def _time_unit(times: pd.Series) -> str | None:
    """`utcyearmonth` for months (every time the first of a month, at midnight), `utcyearmonthdate`
    for days, None for times of day: a day or month column is drawn and labelled as such."""
    present = times.dropna()
    if present.empty or not (present == present.dt.normalize()).all():
        return None
    return "utcyearmonth" if (present.dt.day == 1).all() and len(present.dt.month.unique()) > 1 else "utcyearmonthdate"


def _tooltip(values: pd.Series, column: str) -> alt.Tooltip:
    column_kind = kind(values)
    if column_kind != TEMPORAL:
        return alt.Tooltip(field=_field(column), type=column_kind, title=column)
    unit = _time_unit(values)
    time_format = {"utcyearmonth": "%b %Y", "utcyearmonthdate": "%d %b %Y"}.get(unit or "", "%d %b %Y %H:%M:%S")
    return alt.Tooltip(
        field=_field(column), type=TEMPORAL, title=f"{column} (UTC)", format=time_format, formatType="utc"
    )


def _field(column: str) -> str:
    """A column name as a Vega-Lite field: dots and brackets would otherwise reach into nested data."""
    return column.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def summary(answer: Answer) -> str:
    """`**12 rows** in 0.21 s · DuckDB over a local copy of the lake`, with Athena's scan and
    its cost, and a word when the row limit cut the answer short."""
    rows = len(answer.rows)
    parts = [f"**{rows:,} {'row' if rows == 1 else 'rows'}** in {answer.seconds:.2f} s", answer.engine]
    if answer.bytes_scanned is not None and answer.cost_usd is not None:
        parts.append(f"scanned {answer.bytes_scanned / 1e6:,.1f} MB, ${answer.cost_usd:.6f}")
    if answer.truncated:
        first = "the first row is" if rows == 1 else f"the first {rows:,} rows are"
        parts.append(f"only {first} shown: raise the row limit or narrow the query")
    return " · ".join(parts)


def lake_is_empty(settings: Settings) -> bool:
    """True when the lake holds no object yet (nothing stored since it began): a query that
    found no rows then says so, rather than blaming the query."""
    for area in (lake.LANDING, lake.COMPACTED):
        if next(raw_files.list_objects(settings, f"{settings.lake_prefix}{area}/"), None) is not None:
            return False
    return True
