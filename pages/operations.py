"""Operations: is the pipeline keeping up, and what needs a person (anomalies, bad rows, dead letters)."""

import time
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import actions, app_shell, data, display, errors, numfmt, page_parts
from dashboard.timefmt import ago, duration, parse_utc, shown, to_local, user_timezone, utc_text
from dashboard.untrusted_text import plain
from pipeline.ops import episode_marks, verify

VERIFY_DAYS = 7  # "Verify now" covers files uploaded, and readings dated, from this many days ago

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header(
    "Operations",
    "monitor_heart",
    "Pipeline health, recent anomalies, alerts, quarantine, dead letters and verification.",
)

with errors.guarded(settings, "checking the pipeline"):
    version = data.data_version(settings)
    health = data.health(settings)
    files = data.processed_files(settings, version)
    letters = data.dead_letter_frame(settings)

# --- health -----------------------------------------------------------------------------
for problem in health.problems:
    st.warning(plain(problem), icon=":material/warning:")
cells = st.columns(5)
if health.queue is not None:
    cells[0].metric(
        "Queued messages",
        numfmt.count(health.queue.total),
        help=f"{health.queue.visible} waiting, {health.queue.in_flight} being processed",
        border=True,
    )
if health.dlq is not None:
    cells[1].metric(
        "Dead letters",
        numfmt.count(health.dlq.total),
        help="Messages the pipeline gave up on after repeated failures: redrive them in the last tab",
        border=True,
    )
if files.empty:
    cells[2].metric("Last processed file", "none today", border=True)
else:
    last = files.iloc[0]
    cells[2].metric(
        "Last processed file",
        ago(time.time() - parse_utc(last["processed_at"]).timestamp()),
        help=f"{plain(last['source_key'])} at {shown(last['processed_at'], tz)}",
        border=True,
    )
    lags = files["lag_seconds"].dropna()
    if not lags.empty:
        cells[3].metric(
            "Lag, last file", duration(float(lags.iloc[0])), help="From upload to stored records", border=True
        )
        cells[4].metric(
            "Lag, median",
            duration(float(lags.median())),
            help=f"Median over the {len(lags):,} files processed since yesterday (UTC); "
            f"slowest {duration(float(lags.max()))}",
            border=True,
        )

with errors.guarded(settings, "reading anomalies, alerts and quarantine"):
    anomalies = data.recent_anomaly_frame(settings, 100, version)
    episodes = data.episode_frame(settings, version)
    alerts = data.alert_frame(settings, version)
    quarantined = data.quarantined(settings, version)

tab_anomalies, tab_episodes, tab_alerts, tab_quarantine, tab_letters = st.tabs(
    [
        f"Recent anomalies ({len(anomalies)})",
        f"Open alert episodes ({len(episodes)})",
        f"Alerts sent ({len(alerts)})",
        f"Quarantined rows ({len(quarantined)})",
        f"Dead letters ({len(letters)})",
    ]
)

with tab_anomalies:
    if anomalies.empty:
        st.info("No anomalies stored yet.", icon=":material/verified:")
    else:
        st.dataframe(
            anomalies.assign(timestamp=to_local(anomalies["timestamp"], tz)),
            hide_index=True,
            column_config={
                "timestamp": display.when_column("Time", tz),
                "site_id": "Site",
                "generated_kwh": display.kwh_column("Generated"),
                "consumed_kwh": display.kwh_column("Consumed"),
                "reasons": st.column_config.TextColumn("Reasons", width="medium"),
                "source_key": st.column_config.TextColumn("File", width="large"),
            },
        )
        st.caption("The newest anomalous readings up to now across all sites, from the anomaly index.")

with tab_episodes:
    if episodes.empty:
        st.info("No open alert episodes: every site is clean of every rule.", icon=":material/notifications_off:")
    else:
        st.dataframe(
            episodes,
            hide_index=True,
            column_config={
                "site_id": "Site",
                "rule": "Rule",
                "state": "State",
                "since": st.column_config.TextColumn("Since (reading time, UTC)"),
                "count": st.column_config.NumberColumn("Count", format="%d"),
                "acknowledged_by": "Acknowledged by",
            },
        )
        pick = st.selectbox(
            "Episode",
            episodes.index,
            format_func=lambda i: f"{episodes.at[i, 'site_id']} {episodes.at[i, 'rule']} ({episodes.at[i, 'state']})",
            key="ops_episode",
        )
        site_id, rule = episodes.at[pick, "site_id"], episodes.at[pick, "rule"]
        left, right = st.columns(2)
        name = left.text_input("Your name", key="ops_ack_name", help="Empty: your AWS identity (STS) is recorded")
        if left.button("Acknowledge", icon=":material/done_all:", key="ops_ack"):
            with errors.guarded(settings, "acknowledging"):
                try:
                    by = actions.acknowledge_episode(settings, site_id, rule, name)
                    page_parts.flash(f"{site_id} {rule} acknowledged by {by}")
                except episode_marks.NoOpenEpisode as exc:
                    page_parts.flash(str(exc), ":material/info:")
            st.rerun()
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        day = right.date_input("Snooze until (UTC)", tomorrow.date(), key="ops_snooze_day")
        hour = right.time_input("at", tomorrow.time().replace(second=0, microsecond=0), key="ops_snooze_time")
        if right.button("Snooze", icon=":material/snooze:", key="ops_snooze"):
            until = utc_text(datetime.combine(day, hour))
            with errors.guarded(settings, "snoozing"):
                try:
                    actions.snooze_episode(settings, site_id, rule, until)
                    page_parts.flash(f"{site_id} {rule} snoozed until {until}", ":material/snooze:")
                except episode_marks.NoOpenEpisode as exc:
                    page_parts.flash(str(exc), ":material/info:")
            st.rerun()
    st.caption(
        "One episode per site and rule: an alert when it starts, a reminder at most every "
        f"{settings.repeat_interval_minutes} minutes of readings while it stays active, and one when the site "
        f"has been clean of the rule for {settings.resolve_after_minutes} minutes. Acknowledging stops the "
        "reminders until it resolves; snoozing stops them until readings from that time arrive. "
        "Also `python -m pipeline alerts list|ack|snooze`."
    )

with tab_alerts:
    if alerts.empty:
        st.info("No alerts sent since yesterday (UTC).", icon=":material/notifications_off:")
    else:
        st.dataframe(
            alerts.drop(columns=["subject", "message"] + ([] if settings.backend == "local" else ["delivered"])).assign(
                sent_at=to_local(alerts["sent_at"], tz)
            ),
            hide_index=True,
            column_config={
                "sent_at": display.when_column("Sent", tz),
                "source_key": st.column_config.TextColumn("File", width="large"),
                "anomalies": st.column_config.NumberColumn("Anomalies", format="%d"),
                "message_id": "SNS message id",
                "delivered": st.column_config.CheckboxColumn(
                    "In local inbox", help="Received by the local subscription queue (embedded stack only)"
                ),
            },
        )
        pick = st.selectbox(
            "Read an alert",
            alerts.index,
            format_func=lambda i: f"{alerts.at[i, 'source_key'].rsplit('/', 1)[-1]} ({alerts.at[i, 'anomalies']})",
            key="ops_alert",
        )
        chosen = alerts.loc[pick]
        st.markdown(f"**{plain(chosen['subject'] or 'Alert')}**")
        st.code(chosen["message"] or "The text of this alert was not recorded.", language="text", height=300)
        if settings.backend == "local":
            st.caption(
                "Delivered to the local alert subscription."
                if chosen["delivered"]
                else "Not (yet) seen in the local alert subscription queue."
            )


with tab_quarantine:
    if quarantined.empty:
        st.info("No quarantined rows since yesterday (UTC).", icon=":material/verified:")
    else:
        st.dataframe(
            quarantined,
            hide_index=True,
            column_config={
                "source_key": st.column_config.TextColumn("File", width="medium"),
                "row": st.column_config.NumberColumn("Row", format="%d"),
                "reasons": st.column_config.TextColumn("Reasons", width="medium"),
                "raw": st.column_config.TextColumn("Row as received", width="large"),
            },
        )
        st.caption(f"Rows refused by validation, kept under `s3://{settings.bucket}/{settings.quarantine_prefix}`.")

with tab_letters:
    if letters.empty:
        st.success("The dead-letter queue is empty.", icon=":material/check_circle:")
    else:
        st.dataframe(
            letters.assign(sent_at=to_local(letters["sent_at"], tz)),
            hide_index=True,
            column_config={
                "message_id": "Message id",
                "sent_at": display.when_column("First sent", tz),
                "receive_count": st.column_config.NumberColumn("Receives", format="%d"),
                "files": st.column_config.TextColumn("Files", width="large"),
            },
        )
        if st.button(
            f"Redrive {len(letters)} message{'s' if len(letters) != 1 else ''}",
            type="primary",
            icon=":material/replay:",
            key="ops_redrive",
        ):
            with errors.guarded(settings, "redriving"):
                moved = actions.redrive_dead_letters(settings, len(letters))
            page_parts.flash(
                f"Redrove {moved} message{'s' if moved != 1 else ''} to the raw-events queue", ":material/replay:"
            )
            st.rerun()

# --- verification ------------------------------------------------------------------------
st.subheader("Verification")
st.caption(
    "Checks that every raw file has an outcome or is dead-lettered, that stored records match the files "
    "and the hourly rollups, and that no alert was delivered twice. Also `python -m pipeline verify`."
)
unreadable = False
with errors.guarded(settings, "reading the last verification"):
    try:
        report = data.last_verification(settings)
    except verify.UnreadableReport as exc:
        report, unreadable = None, True
        st.warning("The last saved report cannot be read; Verify now writes a new one.", icon=":material/warning:")
        st.text(str(exc))
if st.button("Verify now", icon=":material/fact_check:", key="ops_verify"):
    since = data.utc_day(VERIFY_DAYS)
    with st.spinner(f"Verifying files and readings since {since}…"), errors.guarded(settings, "verifying"):
        report = verify.verify(settings, since)
        verify.save_report(settings, report)
    data.last_verification.clear()
if report is None and not unreadable:
    st.info("The stack has not been verified yet: press Verify now.", icon=":material/help:")
elif report is not None:
    when = shown(report.checked_at, tz)
    if report.ok:
        st.success(f"Verified OK at {when}: nothing wrong found.", icon=":material/verified:")
    else:
        count = len(report.findings)
        st.error(f"{count} problem{'s' if count != 1 else ''} found at {when}.", icon=":material/error:")
    st.text(verify.render(report))  # plain text: findings quote keys and data, which may hold crafted text
