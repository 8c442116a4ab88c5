"""Records: one site's stored readings for chosen days, newest first, anomalies highlighted."""

from datetime import timedelta

import streamlit as st

from dashboard import app_shell, data, display, edit_panel, errors, page_parts
from dashboard.timefmt import shown, today, user_timezone, utc_bounds, zone_label
from dashboard.untrusted_text import plain

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header("Records", "table_rows", "Stored readings of one site, newest first. Anomalous readings are red.")

with errors.guarded(settings, "listing the sites"):
    version = data.data_version(settings)
    sites = data.site_ids(settings, version)
if not sites:
    page_parts.empty_state()
    st.stop()

# The site is deep-linkable: /records?site=site-3
wanted = st.query_params.get("site")
if wanted is not None and wanted not in sites:
    st.warning(
        f"There is no site called “{plain(wanted)}”; showing {plain(sites[0])} instead.",
        icon=":material/search_off:",
    )
if st.session_state.get("records_site") not in sites:
    st.session_state["records_site"] = wanted if wanted in sites else sites[0]

site_col, days_col, only_col = st.columns([2, 2, 1], vertical_alignment="bottom")
site = site_col.selectbox("Site", sites, key="records_site")
st.query_params["site"] = site
last_day = today(tz)
days = days_col.date_input(
    f"Days ({zone_label(tz)})", value=(last_day - timedelta(days=6), last_day), format="YYYY-MM-DD", key="records_days"
)
anomalies_only = only_col.toggle("Anomalies only", key="records_anomalies")
first, last = (days[0], days[-1]) if isinstance(days, tuple) and days else (last_day, last_day)
start, end = utc_bounds(first, last, tz)

with errors.guarded(settings, f"querying the records of {site}"):
    frame = data.record_frame(settings, site, start, end, anomalies_only, version)
if frame.empty:
    what = "anomalies" if anomalies_only else "readings"
    st.info(
        f"No {what} for {plain(site)} from {first:%d %b %Y} to {last:%d %b %Y}: widen the days"
        + (" or show all readings." if anomalies_only else "."),
        icon=":material/event_busy:",
    )
    st.stop()

st.caption(
    f"{display.record_counts(frame)} · "
    f"{shown(frame['timestamp'].iloc[-1], tz)} to {shown(frame['timestamp'].iloc[0], tz)}"
)
page_count = display.pages(len(frame))
page = 1
if page_count > 1:
    page = st.pagination(page_count, key=f"records_page:{site}:{start}:{end}:{anomalies_only}")
rows = display.page_of(frame, page)
picked = st.dataframe(
    display.highlight_records(display.records_view(rows, tz)),
    column_config=display.record_columns(tz),
    hide_index=True,
    height=min(38 + 35 * len(rows), 600),
    on_select="rerun",
    selection_mode="single-row",
    key=f"records_table:{site}:{start}:{end}:{anomalies_only}:{page}:{edit_panel.table_generation()}",
)
with errors.guarded(settings, "preparing the CSV"):
    csv = data.record_csv(settings, site, start, end, anomalies_only, version)
st.download_button(
    f"Download CSV ({len(frame):,} rows)",
    csv,
    file_name=f"{site}_{first:%Y%m%d}-{last:%Y%m%d}{'_anomalies' if anomalies_only else ''}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)

# One reading: its values, audit trail and the analyst's edits (dashboard/edit_panel.py)
chosen = [i for i in picked.selection.rows if i < len(rows)]
if chosen:
    edit_panel.reading_panel(settings, site, rows["timestamp"].iloc[chosen[0]], tz, leaves_table=anomalies_only)
else:
    st.caption("Select a row to see its audit trail, correct it or mark it as a false positive.")
