"""The Records page's panel for one reading: its values (and the original ones once edited),
its audit trail, and the analyst's two edits, a correction and a false-positive mark.

The reading is read afresh by its key (one GetItem) rather than from the cached table, so
the panel shows what an edit is made against; the edit itself is `pipeline.ops.record_edits`,
through `dashboard.actions`, which clears the loaders it makes stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

import pandas as pd
import streamlit as st

from dashboard import actions, errors, page_parts
from dashboard.timefmt import shown
from dashboard.untrusted_text import plain
from pipeline.aws import TransientError
from pipeline.ops.record_edits import (
    CORRECTED,
    MAX_WHY_CHARS,
    EditRefused,
    describe_change,
    get_record,
)
from pipeline.records import Record
from pipeline.settings import Settings

ACTIONS = {CORRECTED: "Corrected", "false_positive": "False positive"}
GENERATION = "records_table_generation"


def table_generation() -> int:
    """Part of the Records table's key: an edit that takes the chosen row out of the table
    (every edit clears the reasons, so under "Anomalies only") moves it on, which drops the
    selection instead of leaving it on whichever row slid into that place."""
    return st.session_state.get(GENERATION, 0)


def values_frame(record: Record) -> pd.DataFrame:
    """The reading's values now and, once edited, before its first edit."""
    rows = {
        "Generated (kWh)": (str(record.energy_generated_kwh), "energy_generated_kwh"),
        "Consumed (kWh)": (str(record.energy_consumed_kwh), "energy_consumed_kwh"),
        "Reasons": (", ".join(record.anomaly_reasons) or "none", "anomaly_reasons"),
    }
    frame = pd.DataFrame({"Now": [now for now, _ in rows.values()]}, index=list(rows))
    if record.original is not None:
        original = record.original
        frame["Original"] = [
            str(original.get("energy_generated_kwh")),
            str(original.get("energy_consumed_kwh")),
            ", ".join(original.get("anomaly_reasons") or ()) or "none",
        ]
    return frame


def trail_frame(record: Record) -> pd.DataFrame:
    """The audit trail, oldest first: when (UTC), who, what, the change, why."""
    rows = [
        (
            e.get("at", ""),
            e.get("by", ""),
            ACTIONS.get(e.get("action", ""), e.get("action", "")),
            describe_change(e.get("old") or {}, e.get("new") or {}),
            e.get("why", ""),
        )
        for e in record.edits
    ]
    return pd.DataFrame(rows, columns=["When (UTC)", "By", "Action", "Change", "Why"])


def reading_panel(settings: Settings, site_id: str, timestamp: str, tz: tzinfo, *, leaves_table: bool = False) -> None:
    """Draw the panel for the reading of `site_id` at `timestamp` (UTC); `leaves_table`: an
    edit takes the reading out of the table shown above."""
    st.subheader(f"Reading of {plain(site_id)} at {shown(timestamp, tz)}")
    with errors.guarded(settings, f"reading the record at {timestamp}"):
        record = get_record(settings, site_id, timestamp, consistent=True)
    if record is None:
        st.info("This reading is no longer stored.", icon=":material/search_off:")
        return
    notes = []
    if record.estimated:
        notes.append(f"An estimate ({plain(record.estimate_method)}): no meter sent these values.")
    if record.edited:
        notes.append(f"Edited {len(record.edits)} time(s); the original values are kept.")
    notes.append(f"From {plain(record.source_key or 'an unknown file')}.")
    st.caption(" ".join(notes))
    st.dataframe(values_frame(record), key="records_reading_values")
    if record.edits:
        st.markdown("**Audit trail**")
        st.dataframe(trail_frame(record), hide_index=True, key="records_reading_trail")

    form_key = f"{site_id}:{timestamp}"
    fix, false_positive = st.columns(2)
    with fix.form(f"records_correct:{form_key}", border=True):
        st.markdown("**Correct this reading**")
        fields = [f"records_fix_{name}:{form_key}" for name in ("generated", "consumed", "why")]
        generated = st.text_input("Generated (kWh)", str(record.energy_generated_kwh), key=fields[0])
        consumed = st.text_input("Consumed (kWh)", str(record.energy_consumed_kwh), key=fields[1])
        why = st.text_input("Why", max_chars=MAX_WHY_CHARS, key=fields[2], placeholder="required")
        if st.form_submit_button("Save correction", icon=":material/edit:"):
            changed_generated = _changed(generated, record.energy_generated_kwh)
            changed_consumed = _changed(consumed, record.energy_consumed_kwh)
            _edit(
                settings,
                "correcting the reading",
                lambda: actions.correct_reading(settings, site_id, timestamp, changed_generated, changed_consumed, why),
                "Correction saved",
                fields,
                leaves_table=leaves_table,
                anything=changed_generated is not None or changed_consumed is not None,
            )
    if record.anomaly_reasons:
        with false_positive.form(f"records_dismiss:{form_key}", border=True):
            st.markdown(f"**Flagged:** {plain(', '.join(record.anomaly_reasons))}")
            fields = [f"records_fp_why:{form_key}"]
            why = st.text_input("Why is it a false positive?", max_chars=MAX_WHY_CHARS, key=fields[0])
            if st.form_submit_button("Mark as false positive", icon=":material/flag:"):
                _edit(
                    settings,
                    "marking the reading",
                    lambda: actions.dismiss_reading(settings, site_id, timestamp, why),
                    "Marked as a false positive",
                    fields,
                    leaves_table=leaves_table,
                )
    else:
        false_positive.caption("Not flagged: nothing to mark as a false positive.")
    with errors.guarded(settings, "asking AWS who you are"):
        by = actions.editor(settings)
    st.caption(f"Edits are recorded as {plain(by)}, with the time and your reason.")


def _changed(text: str, stored: object) -> str | None:
    """The value to correct to, None when the field still holds the stored value."""
    text = text.strip()
    return None if text == str(stored) else text


def _edit(
    settings: Settings,
    what: str,
    edit: Callable[[], Record],
    done: str,
    fields: list[str],
    *,
    anything: bool = True,
    leaves_table: bool = False,
) -> None:
    """Make the edit, or say in a sentence why not (the form keeps what was typed); once
    made, the form is emptied and the page reruns with the loaders cleared."""
    if not anything:
        st.error("Change the generated or consumed value first.", icon=":material/edit_off:")
        return
    with errors.guarded(settings, what):
        try:
            edit()
        except EditRefused as exc:
            st.error(plain(exc), icon=":material/block:")
            return
        except TransientError as exc:  # a file holds the site, or AWS kept throttling
            st.warning(f"{plain(exc)} The edit was not saved; try again.", icon=":material/hourglass:")
            return
    for key in fields:
        st.session_state.pop(key, None)
    if leaves_table:
        st.session_state[GENERATION] = table_generation() + 1
    page_parts.flash(done)
    st.rerun()
