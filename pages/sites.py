"""Sites: the registry, with each site's recent completeness and anomaly rate, edited in place."""

import streamlit as st

from dashboard import actions, app_shell, data, errors, numfmt, page_parts, site_editor
from dashboard.timefmt import user_timezone
from dashboard.untrusted_text import plain
from pipeline.ops import site_registry
from pipeline.ops.site_fields import MAX_PROBLEMS, Refused, SiteChange

WINDOWS = {"24 hours": 24, "7 days": 7 * 24, "30 days": 30 * 24}
APPLIES = (
    "Changes apply to the next file processed: processing reads each site's item for every chunk "
    "of a file it stores. Records already stored keep their flags."
)

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header("Sites", "location_on", "Every site the pipeline knows: what it is, and how well it reports.")
generation = st.session_state.setdefault("sites_generation", 0)  # a new one starts the widgets afresh


def save(changes: list[SiteChange], verb: str) -> None:
    with errors.guarded(settings, "saving the sites"):
        saved = actions.save_sites(settings, changes)
    page_parts.flash(site_editor.saved_message(verb, saved))
    st.session_state["sites_generation"] = generation + 1
    st.rerun()


def refused(exc: Refused, what: str) -> None:
    problems = "\n".join(f"- {plain(p)}" for p in exc.problems[:MAX_PROBLEMS])
    more = len(exc.problems) - MAX_PROBLEMS
    st.error(f"**{what}**\n\n{problems}" + (f"\n\n… and {more} more" if more > 0 else ""), icon=":material/block:")


def import_panel(expanded: bool) -> None:
    with st.expander("Import sites from a file", icon=":material/upload_file:", expanded=expanded):
        st.caption(
            "CSV with a header, or a JSON list of objects: site_id, name, kind, capacity_kw, interval_minutes, "
            "latitude, longitude, timezone and thresholds.<setting> (see the Sites documentation). "
            "All or nothing: a file with any bad row changes nothing."
        )
        upload = st.file_uploader("Sites file", type=["csv", "json"], key=f"sites_upload:{generation}")
        if upload is not None and st.button("Import", icon=":material/upload:", key="sites_import"):
            try:
                changes = site_registry.parse_import(upload.getvalue())
            except Refused as exc:
                refused(exc, "Not imported: nothing was written.")
                return
            save(changes, "Imported")


with errors.guarded(settings, "listing the sites"):
    version = data.data_version(settings)
    entries = data.registry(settings, version)
if not entries:
    page_parts.empty_state("No sites yet: import a file of your sites below, or simulate some data.", link=True)
    import_panel(expanded=True)
    st.stop()

sites = [site for site, _ in entries]
label = st.segmented_control(
    "Completeness and anomaly rate over", list(WINDOWS), default="24 hours", key="sites_window"
)
hours = WINDOWS[label or "24 hours"]
with errors.guarded(settings, "reading the hourly rollups"):
    window = data.site_window(settings, tuple(s.site_id for s in sites), hours, version)
frame = site_editor.editor_frame(entries, window, hours, tz)

st.caption(f"**{numfmt.count(len(sites), 'sites')}** · Edit cells, then save. {APPLIES}")
edited = st.data_editor(
    frame,
    key=f"sites_editor:{generation}",
    column_config=site_editor.column_config(sites, hours, tz),
    disabled=["site_id", *site_editor.STATS],
    hide_index=True,
    num_rows="fixed",
    height=min(38 + 35 * len(frame), 600),
)
pending = site_editor.edits(frame, edited)
save_col, undo_col, csv_col, json_col = st.columns(4)
if save_col.button(
    f"Save {numfmt.count(len(pending), 'sites')}" if pending else "Save",
    type="primary",
    icon=":material/save:",
    disabled=not pending,
    key="sites_save",
):
    try:
        save(site_registry.parse_edits(pending), "Saved")
    except Refused as exc:
        refused(exc, "Not saved: fix these cells (your edits are kept).")
if undo_col.button("Discard edits", icon=":material/undo:", disabled=not pending, key="sites_discard"):
    st.session_state["sites_generation"] = generation + 1
    st.rerun()
csv_col.download_button(
    "Export CSV",
    site_registry.export_csv(sites),
    file_name="sites.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
json_col.download_button(
    "Export JSON",
    site_registry.export_json(sites),
    file_name="sites.json",
    mime="application/json",
    icon=":material/download:",
    on_click="ignore",
)
import_panel(expanded=False)
