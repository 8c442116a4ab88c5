"""Simulate: send simulated readings to the raw bucket, once or every few minutes."""

from datetime import UTC, datetime

import streamlit as st

from dashboard import app_shell, data, display, errors, page_parts
from dashboard.continuous import DEFAULT_INTERVAL_SECONDS, INTERVALS_SECONDS, Plan, simulator, upload
from dashboard.timefmt import duration, shown, to_local, user_timezone
from dashboard.untrusted_text import plain
from pipeline.ops.simulation import FORMATS

settings = app_shell.start_page()
tz = user_timezone()
sim = simulator()
page_parts.header(
    "Simulate", "science", "Upload simulated readings to the raw bucket; the pipeline processes each file on arrival."
)

with st.container(border=True):
    st.markdown("**Each file holds**")
    sites_col, readings_col, rate_col, format_col = st.columns(4)
    sites = sites_col.number_input("Sites", min_value=1, max_value=100, value=5, step=1, key="sim_sites")
    readings = readings_col.number_input(
        "Readings per site",
        min_value=1,
        max_value=5000,
        value=4,
        step=1,
        key="sim_readings",
        help="15-minute intervals",
    )
    rate = rate_col.number_input(
        "Anomaly rate (%)", min_value=0.0, max_value=100.0, value=2.0, step=0.5, format="%.1f", key="sim_rate"
    )
    fmt = format_col.selectbox("Format", FORMATS, key="sim_format", format_func=str.upper)
    plan = Plan(int(sites), int(readings), float(rate) / 100, fmt)
    st.caption(
        f"{plan.readings_per_file:,} readings per file: the last {int(readings)} intervals of every site up to "
        f"now, with about {rate:g} % made anomalous (negative or above-capacity values)."
    )

once_col, continuous_col = st.columns(2)
with once_col.container(border=True, height="stretch"):
    st.markdown("**:material/upload_file: One file**")
    st.caption("Upload one file now.")
    if st.button("Upload one file", type="primary", icon=":material/upload:", key="sim_once"):
        with errors.guarded(settings, "uploading"):
            key = upload(settings, plan)
        data.clear_after_upload()
        st.toast(f"Uploaded {plain(key.rsplit('/', 1)[-1])}", icon=":material/cloud_done:")

with continuous_col.container(border=True, height="stretch"):
    st.markdown("**:material/autorenew: Continuous**")
    state = sim.state()
    interval = st.select_slider(
        "Upload every",
        INTERVALS_SECONDS,
        value=state.interval_seconds if state.running else DEFAULT_INTERVAL_SECONDS,
        format_func=duration,
        key="sim_interval",
    )
    start_col, stop_col = st.columns(2)
    label = "Restart with these settings" if state.running else "Start continuous upload"
    if start_col.button(label, icon=":material/play_arrow:", key="sim_start", width="stretch"):
        sim.start(settings, plan, int(interval))
        data.clear_after_upload()
        st.rerun()
    if state.running and stop_col.button("Stop", icon=":material/stop:", key="sim_stop", width="stretch"):
        sim.stop()
        st.rerun()
    if state.running:
        st.caption(
            f"Running in the app's background since {shown(datetime.fromtimestamp(state.started_at or 0, UTC), tz)}: "
            f"every {duration(state.interval_seconds)}, {state.files_sent:,} files sent; it keeps going when you "
            "switch pages or close the tab."
        )
    else:
        st.caption("Runs in the background of the app; stop it here or from the sidebar.")

st.subheader("Upload log", anchor=False)
with errors.guarded(settings, "reading the upload log"):
    log = data.upload_log_frame(settings, 50, sim.state().files_sent, data.data_version(settings))
if log.empty:
    st.info("No simulated uploads yet: upload one file above.", icon=":material/lightbulb:")
    st.stop()
shown_log = log.assign(
    uploaded_at=to_local(log["uploaded_at"], tz),
    status=[display.status_label(s) for s in log["status"]],
)
st.dataframe(
    shown_log[["key", "uploaded_at", "readings", "anomalies_injected", "status"]],
    hide_index=True,
    column_config={
        "key": st.column_config.TextColumn("File key", width="large"),
        "uploaded_at": display.when_column("Uploaded", tz),
        "readings": st.column_config.NumberColumn("Readings", format="%d"),
        "anomalies_injected": st.column_config.NumberColumn("Anomalies injected", format="%d"),
        "status": "Status",
    },
    height=min(38 + 35 * len(log), 320),
)
st.caption(f"The latest {len(log)} simulated uploads, read back from `s3://{settings.bucket}/simulated/`.")

latest = log.iloc[0]
st.subheader("Latest file", anchor=False)
with errors.guarded(settings, "reading the latest file"):
    table, values, problem = data.raw_rows(settings, latest["key"], latest["uploaded_at"])
st.caption(f"{plain(latest['key'])}, read back from S3")
if table is not None:
    st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 320))
