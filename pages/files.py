"""Files: raw files in S3 by day, newest first, each with what processing made of it."""

from datetime import date

import streamlit as st

from dashboard import app_shell, data, display, errors, numfmt, page_parts
from dashboard.continuous import simulator
from dashboard.timefmt import user_timezone
from dashboard.untrusted_text import plain

FILES_PER_PAGE = 50
JSON_ROWS = 200

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header("Files", "folder_open", "Raw files as they landed in the bucket, newest first, with their outcome.")
stamp = data.listing_stamp(simulator().state().files_sent)

with errors.guarded(settings, "listing the raw bucket"):
    days = data.raw_days(settings, stamp)
if not days:
    page_parts.empty_state(f"No files yet in `s3://{settings.bucket}/{settings.raw_prefix}`: simulate some first.")
    st.stop()

day_col, filter_col = st.columns([1, 2], vertical_alignment="bottom")
day = day_col.selectbox(
    "Day (UTC, as in the key)", days, format_func=lambda d: f"{date.fromisoformat(d):%a %d %b %Y}", key="files_day"
)
needle = filter_col.text_input("Filter by name", placeholder="part of a file name, e.g. s42 or .csv", key="files_q")

with errors.guarded(settings, f"listing the files of {day}"):
    files = data.day_files(settings, day, stamp)
if needle:
    files = files[files["name"].str.contains(needle.strip(), case=False, regex=False)]
if files.empty:
    st.info(f"No file of {plain(day)} has “{plain(needle)}” in its name.", icon=":material/search_off:")
    st.stop()

page_count = display.pages(len(files), FILES_PER_PAGE)
page = st.pagination(page_count, key=f"files_page:{day}:{needle}") if page_count > 1 else 1
visible = display.page_of(files, page, FILES_PER_PAGE)
with errors.guarded(settings, "reading the file outcomes"):
    outcomes = data.outcome_frame(settings, tuple(visible["key"]), data.data_version(settings))

listing = display.files_view(visible, outcomes, tz)
st.dataframe(
    listing,
    hide_index=True,
    column_config={
        "name": st.column_config.TextColumn("File", width=330),
        "uploaded": display.when_column("Uploaded", tz),
        "size_kb": st.column_config.NumberColumn("Size", format="%.1f KB", width="small"),
        "status": st.column_config.TextColumn("Status", width="small"),
        "written": st.column_config.NumberColumn("Stored", format="%d", width="small", help="Records stored"),
        "rejected": st.column_config.NumberColumn("Quarantined", format="%d", width="small", help="Rows quarantined"),
        "anomalies": st.column_config.NumberColumn("Anomalies", format="%d", width="small"),
        "alert": st.column_config.TextColumn("Alert", width="small"),
    },
    placeholder="—",
)
first = (page - 1) * FILES_PER_PAGE + 1
st.caption(f"Files {first:,}–{first + len(visible) - 1:,} of {len(files):,} on {plain(day)} (UTC day of the key).")

# --- one file ---------------------------------------------------------------------------
key = st.selectbox(
    "Inspect a file", visible["key"], format_func=lambda k: k.rsplit("/", 1)[-1], key=f"files_pick:{day}:{page}"
)
chosen = visible.set_index("key").loc[key]
outcome = outcomes.loc[key]
name = chosen["name"]

with st.container(border=True):
    st.subheader(plain(name), anchor=False)
    st.caption(f"{plain(f's3://{settings.bucket}/{key}')} · {numfmt.size(int(chosen['size']))}")
    processed = isinstance(outcome["status"], str)
    cells = st.columns(5)
    cells[0].metric("Outcome", display.status_label(outcome["status"]))
    cells[1].metric("Records stored", numfmt.count(outcome["written"], "records") if processed else "—")
    cells[2].metric("Rows quarantined", numfmt.count(outcome["rejected"], "rows") if processed else "—")
    cells[3].metric("Anomalies", numfmt.count(outcome["anomalies"], "readings") if processed else "—")
    cells[4].metric("Alert", ("sent" if isinstance(outcome["alert_message_id"], str) else "none") if processed else "—")
    if not processed:
        st.caption("Not processed yet: the pipeline picks files up within seconds of their upload.")
    elif outcome["estimated"]:
        st.caption(
            f"The file's readings revealed missing intervals: {numfmt.count(outcome['estimated'], 'estimates')} "
            "stored for them, marked as estimates and counted apart from readings."
        )

    size = int(chosen["size"])
    with errors.guarded(settings, f"reading {name}"):
        preview = data.raw_preview(settings, key, chosen["etag"])
        rejected = data.rejects(settings, key, str(outcome["processed_at"])) if processed else None
    problem, table, values = preview.problem, preview.table, preview.values
    if problem:
        st.error(
            f"This file cannot be read as readings ({plain(problem)}); it is quarantined whole.",
            icon=":material/block:",
        )
    if preview.row_errors:
        st.warning(
            "Some rows cannot be decoded and are quarantined: "
            + "; ".join(data.explain(code) for code in preview.row_errors)
            + ".",
            icon=":material/warning:",
        )
    is_csv = key.removesuffix(".gz").endswith(".csv")
    labels = ["Table", "Text" if is_csv or problem else "JSON"]
    if rejected is not None and not rejected.empty:
        labels.append(f"Quarantined rows ({len(rejected)})")
    tabs = st.tabs(labels)
    with tabs[0]:
        if table is not None:
            st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 420))
            if preview.more:
                st.caption(f"Showing the first {len(table):,} rows: download the file for the rest.")
        else:
            st.caption("No table: the file has no readable rows.")
    with tabs[1]:
        if is_csv or problem or values is None:
            with errors.guarded(settings, f"reading {name}"):
                text, cut = data.raw_text(settings, key, chosen["etag"])
            st.code(text, language="text", height=420)
            if cut:
                st.caption("Showing the start of the file: download it for the rest.")
        else:
            st.json(values[:JSON_ROWS], expanded=2)
            if len(values) > JSON_ROWS or preview.more:
                st.caption(f"Showing the first {min(len(values), JSON_ROWS):,} rows: download the file for the rest.")
    if len(tabs) > 2:
        with tabs[2]:
            st.dataframe(
                rejected,
                hide_index=True,
                column_config={"row": st.column_config.NumberColumn("Row", format="%d"), "reasons": "Reasons"},
            )
    if size <= data.INLINE_DOWNLOAD_BYTES:
        with errors.guarded(settings, f"reading {name}"):
            body = data.raw_body(settings, key, chosen["etag"])
        icon = ":material/download:"
        st.download_button(
            f"Download {plain(name)}", body, file_name=name, icon=icon, on_click="ignore", key="files_download"
        )
    else:
        st.link_button(
            f"Download {plain(name)} ({numfmt.size(size)})",
            data.download_link(settings, key),
            icon=":material/download:",
        )
