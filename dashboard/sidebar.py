"""The sidebar every page shares: which backend, how the stack is, the simulator, Refresh."""

from __future__ import annotations

import time

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from dashboard import data
from dashboard.backend import AWS, EMBEDDED, Backend, aws_account
from dashboard.continuous import simulator
from dashboard.errors import app_backend, error_headline
from dashboard.numfmt import count
from dashboard.page_parts import show_flash
from dashboard.timefmt import ago, duration
from dashboard.untrusted_text import plain
from pipeline.settings import Settings


def show() -> None:
    show_flash()
    b = app_backend()
    with st.sidebar:
        _backend_panel(b)
        _simulator_panel(b.settings)
        st.divider()
        again = "Read everything again from AWS for you (other sessions keep theirs)"
        if st.button("Refresh data", icon=":material/refresh:", width="stretch", help=again):
            data.refresh_view()
            st.rerun()


def _backend_panel(b: Backend) -> None:
    s = b.settings
    st.markdown(f"**:material/dns: {b.label}**")
    if b.kind == AWS:
        account = aws_account(s)
        where = f"account `{account or 'unknown'}` · `{s.region}`"
        if s.endpoint_url:
            where += f" · `{s.endpoint_url}`"
        st.caption(where)
    else:
        st.caption(f"`{s.endpoint_url}` · `{s.region}`")
    try:
        health = data.health(s)
    except (ClientError, BotoCoreError) as exc:
        st.badge(error_headline(exc), icon=":material/error:", color="red")
        return
    if health.ok:
        st.badge("Stack healthy", icon=":material/check_circle:", color="green")
    else:
        st.badge("Stack needs attention", icon=":material/warning:", color="orange")
        for problem in health.problems[:3]:
            st.caption(f":material/error: {plain(problem)}")
    if health.queue is not None and health.dlq is not None:
        dlq = f":red[{health.dlq.total} dead letters]" if health.dlq.total else "no dead letters"
        st.caption(f"Queue: {health.queue.visible} waiting, {health.queue.in_flight} in flight · {dlq}")
    if b.kind == EMBEDDED and b.stack is not None:
        stats = b.stack.runner.stats
        line = f"Lambda runner: {count(stats.succeeded, 'messages done')}, {stats.failed:,} failed"
        if stats.last_batch_at:
            line += f" · last batch {ago(time.time() - stats.last_batch_at)}"
        st.caption(line)


def _simulator_panel(settings: Settings) -> None:
    sim = simulator()

    @st.fragment(run_every=5 if sim.state().running else None)
    def panel() -> None:
        state = sim.state()
        if not state.running:
            st.markdown("**:material/pause_circle: Simulator stopped**")
            if state.files_sent:
                st.caption(f"Sent {count(state.files_sent, 'files')} in its last run.")
        else:
            st.markdown("**:material/play_circle: :green[Simulator running]**")
            st.caption(
                f"Every {duration(state.interval_seconds)} · {count(state.files_sent, 'files')} sent · "
                f"{count(state.plan.readings_per_file, 'readings')} per file"
            )
        if state.last_error:
            st.caption(f":red[:material/error: Last error: {plain(state.last_error)}]")
        if state.running and st.button("Stop simulation", icon=":material/stop_circle:", key="sidebar_stop"):
            sim.stop()
            st.rerun()

    panel()
