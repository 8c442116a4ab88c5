"""Live: KPIs and charts from the hourly rollups, refreshed in place while files arrive."""

from datetime import datetime

import streamlit as st

from dashboard import aggregate, app_shell, charts, data, errors, kpis, numfmt, page_parts
from dashboard.timefmt import duration, user_timezone, zone_label

REFRESH_SECONDS = (5, 10, 30, 60, 300)

settings = app_shell.start_page()
tz = user_timezone()
page_parts.header(
    "Live", "monitoring", "Energy and anomalies per site from the hourly rollups, with the period before."
)

with errors.guarded(settings, "listing the sites"):
    known_sites = data.site_ids(settings, data.data_version(settings))

# The controls live outside the fragment: changing them reruns the page and re-arms the timer.
period_col, sites_col, live_col, every_col = st.columns([3.6, 3.6, 1.2, 1.4], vertical_alignment="bottom")
period_label = period_col.segmented_control(
    "Period (the last …)",
    [p.label for p in aggregate.PERIODS],
    default=aggregate.DEFAULT_PERIOD.label,
    required=True,
    key="live_period",
)
period = aggregate.period(period_label)
chosen = sites_col.multiselect("Sites", known_sites, placeholder="All sites", key="live_sites")
live = live_col.toggle("Live", value=True, key="live_on", help="Refresh the figures below on their own")
every = every_col.selectbox(
    "Refresh every", REFRESH_SECONDS, index=1, format_func=duration, disabled=not live, key="live_every"
)


@st.fragment(run_every=every if live else None)
def live_view() -> None:
    with errors.guarded(settings, "reading the rollups"):
        version = data.data_version(settings)
        sites = chosen or data.site_ids(settings, version)
        if not sites:
            page_parts.empty_state()
            return
        win = aggregate.window(period)
        frame = data.rollup_frame(settings, tuple(sites), win.previous_start_hour, win.end_hour, version)
    current, previous = aggregate.split(frame, win)
    updated = f"Updated {datetime.now(tz):%H:%M:%S} ({zone_label(tz)})"
    if current.empty:
        page_parts.empty_state(
            f"No readings in the last {period.label} for {'these sites' if chosen else 'any site'}: "
            "pick a longer period, or simulate some data on the Simulate page."
        )
        st.caption(updated)
        return

    now = aggregate.totals(current)
    kpis.show(now, None if previous.empty else aggregate.totals(previous), period.label)

    per_site = aggregate.per_site(current)
    left, right = st.columns(2)
    left.altair_chart(charts.energy_by_site(aggregate.energy_parts(per_site)), width="stretch")
    right.altair_chart(charts.anomalies_by_site(per_site), width="stretch")
    series = aggregate.net_series(current, period.bucket, tz)
    st.altair_chart(charts.net_over_time(series, period, zone_label(tz)), width="stretch")
    refresh = f" · refreshes every {duration(every)}" if live else " · live refresh off"
    estimates = f" and {numfmt.count(now.estimated_readings, 'estimates')}" if now.estimated else ""
    st.caption(f"{updated}{refresh} · {now.readings:,} readings{estimates} at {numfmt.count(len(per_site), 'sites')}")


live_view()
