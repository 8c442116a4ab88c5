"""Explore: analysts' SQL over every record in the data lake, read-only, with a time and a row limit."""

import time
from datetime import UTC, datetime, timedelta

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from dashboard import app_shell, errors, explore, page_parts
from dashboard.timefmt import shown, user_timezone
from dashboard.untrusted_text import plain
from pipeline import lake, lake_compaction
from pipeline.ops import lake_check, lake_queries, lake_sql

SQL, READY = "explore_sql", "explore_ready"  # widget keys
RESULT, RUNS, COMPACTION = "explore_result", "explore_runs", "explore_compaction"  # the session's last of each
MAX_ROWS = 100_000  # the session holds its answer three times (rows, table, CSV); the CLI takes 1,000,000
COMPACT_SECONDS = 60  # "Compact now" stops between batches after this; the rest waits for the next run
CHECK, CHECK_DAYS = "explore_check_result", 30  # the session's last check, and the days it covers

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header(
    "Explore",
    "query_stats",
    "SQL over every record the pipeline has stored, in the data lake: read-only, with a time and a row limit.",
)
# The editor in a monospace font: st.text_area has no option for it (streamlit/streamlit#9345);
# a style-only st.html takes no room on the page, and the key's class names this one text area.
st.html(f'<style>.st-key-{SQL} textarea {{font-family: "Source Code Pro", ui-monospace, monospace;}}</style>')


def put_ready_sql() -> None:
    """Picking a ready query puts its SQL into the editor (replacing what was there)."""
    st.session_state[SQL] = lake_queries.BY_NAME[st.session_state[READY]].sql


st.session_state.setdefault(SQL, lake_queries.READY[0].sql)
ready = lake_queries.BY_NAME[
    st.selectbox(
        "Ready query",
        list(lake_queries.BY_NAME),
        format_func=lambda name: lake_queries.BY_NAME[name].title,
        key=READY,
        on_change=put_ready_sql,
        persist_state="session",
    )
]
sql = st.text_area("SQL", key=SQL, height=320, persist_state="session")
st.caption(
    f"Tables: `{lake.VIEW}` (every reading as DynamoDB holds it), and the raw rows behind it: "
    f"`{lake.LANDING_TABLE}` (each write's rows, every version, until compaction) and `{lake.COMPACTED_TABLE}` "
    '(one file per reading day). Times in the lake are UTC, so `CAST("timestamp" AS DATE)` is the UTC day. '
    "Only queries run: statements that would change anything are refused. Also `python -m pipeline sql`."
)
timeout_col, rows_col, run_col = st.columns([1, 1, 2], vertical_alignment="bottom")
timeout = timeout_col.number_input(
    "Time limit (s)", 1, 3600, lake_sql.DEFAULT_TIMEOUT_SECONDS, key="explore_timeout", persist_state="session"
)
max_rows = rows_col.number_input(
    "Row limit", 1, MAX_ROWS, lake_sql.DEFAULT_MAX_ROWS, step=1_000, key="explore_max_rows", persist_state="session"
)
if run_col.button("Run", type="primary", icon=":material/play_arrow:", key="explore_run"):
    # Each press queries afresh, never through st.cache_data: every processed file adds rows to
    # the lake, and a cached answer to the same SQL would show the lake as it was. The session
    # keeps only its last answer, so that choosing a chart does not run the query again.
    st.session_state.pop(RESULT, None)
    st.session_state[RUNS] = st.session_state.get(RUNS, 0) + 1
    try:
        with st.spinner(f"Running the query (at most {timeout:,} s)…", show_time=True):
            st.session_state[RESULT] = explore.ask(
                settings, sql, timeout_seconds=timeout, max_rows=max_rows, ready=ready, number=st.session_state[RUNS]
            )
    except lake_sql.QueryRefused as exc:
        st.error(f"**Not run:** {plain(exc)}.", icon=":material/block:")
    except lake_sql.QueryFailed as exc:
        st.error(f"**The query failed:** {plain(exc)}.", icon=":material/error:")
    except (ClientError, BotoCoreError) as exc:
        errors.show_error(exc, settings, "running the query")

result: explore.Result | None = st.session_state.get(RESULT)
if result is not None:
    st.caption(f"{explore.summary(result.answer)} · ran {shown(result.ran_at, tz)}")
    if result.sql != sql:
        st.caption(":material/edit: The SQL has changed since this ran: press Run for its rows.")
    frame = result.frame
    if result.lake_empty:
        page_parts.empty_state(
            "The lake has no rows yet: every record the pipeline stores is copied there. "
            "Simulate some on the Simulate page, then run the query again."
        )
    elif frame.empty:
        st.info("The query returned no rows.", icon=":material/search_off:")
    else:
        st.dataframe(frame, hide_index=True, height=min(38 + 35 * len(frame), 420))
        choice = explore.default_choice(frame, result.ready)
        if choice is None:
            st.caption("No column holds numbers: nothing to chart.")
        else:
            columns, numeric, key = list(frame.columns), explore.numeric_columns(frame), result.number
            mark_col, x_col, y_col, color_col = st.columns(4)
            mark = mark_col.selectbox(
                "Chart", explore.MARKS, explore.MARKS.index(choice.mark), str.title, key=f"explore_mark:{key}"
            )
            x = x_col.selectbox("x", columns, columns.index(choice.x), key=f"explore_x:{key}")
            y = y_col.selectbox("y", numeric, numeric.index(choice.y), key=f"explore_y:{key}")
            colors = [None, *columns]
            color = color_col.selectbox(
                "Colour",
                colors,
                colors.index(choice.color),
                lambda c: "none" if c is None else c,
                key=f"explore_color:{key}",
            )
            st.altair_chart(explore.chart(frame, explore.ChartChoice(mark, x, y, color)), width="stretch")
            if len(frame) > explore.CHART_ROWS:
                st.caption(f"The chart draws the first {explore.CHART_ROWS:,} rows: aggregate in SQL to see all.")
        st.download_button(
            f"Download CSV ({len(frame):,} rows)",
            result.csv,
            file_name=f"{result.ready.name if result.sql == result.ready.sql else 'query'}"
            f"_{result.ran_at:%Y%m%dT%H%M%SZ}.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            key="explore_download",
        )
elif not st.session_state.get(RUNS):
    st.caption("Press Run to query the lake.")

# --- the lake ---------------------------------------------------------------------------------
# Tracked (a key, on_change): the elements above come and go between runs, and an untracked
# expander whose place changed is drawn anew, closed, hiding what Compact now just reported.
with st.expander("Lake", icon=":material/database:", key="explore_lake", on_change="rerun"):
    where = f"`s3://{settings.bucket}/{settings.lake_prefix}`"
    if settings.backend == "aws":
        st.caption(
            f"The lake is in {where}; queries run in Athena (workgroup `{settings.athena_workgroup}`, "
            f"database `{settings.lake_database}`), which bills the bytes each scans."
        )
    else:
        st.caption(
            f"The lake is in {where}; queries run in DuckDB over a local copy of it, brought up to date "
            "before each query (only the files that changed are downloaded)."
        )
    if result is not None and result.answer.note:
        st.caption(f"Last run: {plain(result.answer.note)}.")
    st.caption(
        "Compaction merges the landing area's small files (one per write) into one file per reading day, "
        "keeping each reading's newest row, so that scans read fewer, larger files. "
        + ("It runs every hour on AWS. " if settings.backend == "aws" else "")
        + "Also `python -m pipeline lake compact`."
    )
    if st.button("Compact now", icon=":material/compress:", key="explore_compact_now"):
        deadline = time.monotonic() + COMPACT_SECONDS
        try:
            with st.spinner("Compacting the lake…", show_time=True):
                report = lake_compaction.compact(settings, seconds_left=lambda: deadline - time.monotonic())
            st.session_state[COMPACTION] = (datetime.now(UTC), report)
        except lake_compaction.CompactionError as exc:
            st.error(f"**Compaction stopped:** {plain(exc)}.", icon=":material/error:")
        except (ClientError, BotoCoreError) as exc:
            errors.show_error(exc, settings, "compacting the lake")
    if compaction := st.session_state.get(COMPACTION):
        when, report = compaction
        if report.landing_objects or report.set_aside:
            st.success(f"Compacted at {shown(when, tz)}: {plain(report.summary())}.", icon=":material/compress:")
        else:
            st.info(f"Nothing to compact at {shown(when, tz)}: the landing area is empty.", icon=":material/check:")
        for entry in report.set_aside:
            st.warning(f"Set aside (not the lake's Parquet): {plain(entry)}", icon=":material/warning:")
    st.caption(
        f"Check the lake against DynamoDB: each site's readings, energies and anomalies per UTC day over the "
        f"last {CHECK_DAYS} days, the days that differ listed with both sides. Also `python -m pipeline lake check`."
    )
    if st.button("Check against DynamoDB", icon=":material/fact_check:", key="explore_check"):
        try:
            with st.spinner("Comparing the lake with DynamoDB…", show_time=True):
                since = datetime.now(UTC).date() - timedelta(days=CHECK_DAYS)
                st.session_state[CHECK] = (datetime.now(UTC), lake_check.check(settings, since))
        except (lake_sql.QueryFailed, lake_sql.QueryRefused) as exc:
            st.error(f"**The check failed:** {plain(exc)}.", icon=":material/error:")
        except (ClientError, BotoCoreError) as exc:
            errors.show_error(exc, settings, "checking the lake")
    if checked := st.session_state.get(CHECK):
        when, found = checked
        first, *days = found.render().splitlines()
        if found.ok:
            st.success(f"Checked at {shown(when, tz)}: {plain(first)}.", icon=":material/fact_check:")
        else:
            st.warning(f"Checked at {shown(when, tz)}: {plain(first)}.", icon=":material/warning:")
            st.code("\n".join(line.strip() for line in days), language=None)
