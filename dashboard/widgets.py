"""What every page shares: header, empty states, readable errors, number formats, sidebar."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from dashboard import data
from dashboard.backend import AWS, EMBEDDED, Backend, aws_account, backend
from dashboard.continuous import simulator
from dashboard.timefmt import ago, duration
from pipeline.aws import describe_error, error_code
from pipeline.settings import ConfigError, Settings

SIMULATE_PAGE = "pages/simulate.py"
NO_DATA = "No data yet: simulate some on the Simulate page, or upload files to the raw bucket."
# CommonMark lets a backslash precede any ASCII punctuation and then shows it as itself.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM's bare autolinks (`www.`, `http://`, `a@b.c`) are found in the text after escapes are
# resolved: an invisible word joiner at these places keeps them text.
_AUTOLINK_JOINTS = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?=@)")
WORD_JOINER = "\u2060"

# --- text from data ----------------------------------------------------------------------


def plain(text: object) -> str:
    """`text` as Markdown that shows exactly those characters: no link, image, emphasis, code.

    Everything Streamlit renders as Markdown (markdown, captions, alerts, toasts, titles,
    button, tab and metric labels, help tooltips) would otherwise turn a crafted file name,
    site id, query parameter or error detail into a live link or a remote image. Escaping
    every ASCII punctuation mark also disarms Streamlit's own directives (`:material/…:`,
    `:red[…]`, `$…$`), since none of them starts without one; bare URLs and addresses
    get a word joiner (invisible) where GFM would see a link. Never wrap the result in
    backticks: inside code spans escapes show.
    """
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_JOINTS.sub(WORD_JOINER, str(text)))


# --- numbers with units ----------------------------------------------------------------


def energy(kwh: float | None) -> str:
    """`812.4 kWh`, `3.23 MWh`, `412.6 MWh`, `4.56 GWh`: at most four significant digits."""
    if kwh is None:
        return "—"
    for unit, scale in (("GWh", 1e6), ("MWh", 1e3)):
        if abs(kwh) >= scale:
            value = kwh / scale
            return f"{value:,.2f} {unit}" if abs(value) < 100 else f"{value:,.1f} {unit}"
    return f"{kwh:,.1f} kWh"


def energy_delta(kwh: float) -> str:
    """Signed with an ASCII minus, which st.metric reads to pick the arrow and colour."""
    return f"{'+' if kwh >= 0 else '-'}{energy(abs(kwh))}"


def percent(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{share * 100:.{digits}f} %"


def points_delta(now: float | None, before: float | None) -> str | None:
    """Change of a share in percentage points, or None when either side is unknown."""
    if now is None or before is None:
        return None
    change = (now - before) * 100
    return f"{'+' if change >= 0 else '-'}{abs(change):.1f} pp"


def count(n: int | float | None, unit: str = "") -> str:
    """`1 file`, `2 files`, `1,024 readings` (unit given in the plural; `None` is a dash)."""
    if n is None or n != n:  # None or NaN
        return "—"
    n = int(n)
    if n == 1 and unit:
        first, _, rest = unit.partition(" ")
        unit = f"{first.removesuffix('s')} {rest}".strip()
    return f"{n:,} {unit}".strip()


def size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < 1024**2:
        return f"{n_bytes / 1024:.1f} KB"
    return f"{n_bytes / 1024**2:.1f} MB"


# --- page furniture --------------------------------------------------------------------


def header(title: str, icon: str, caption: str) -> None:
    st.title(f":material/{icon}: {title}", anchor=False)
    st.caption(caption)


def empty_state(message: str = NO_DATA, *, link: bool = True) -> None:
    st.info(message, icon=":material/lightbulb:")
    if link:
        st.page_link(SIMULATE_PAGE, label="Go to Simulate", icon=":material/arrow_forward:")


def error_headline(exc: BaseException) -> str:
    code = error_code(exc)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return "AWS unreachable"
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return "AWS not answering"
    if isinstance(exc, NoCredentialsError) or code in {"AccessDenied", "AccessDeniedException", "AuthorizationError"}:
        return "Missing permission"
    if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken"}:
        return "Credentials refused"
    if code in {"ResourceNotFoundException", "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue", "NotFound"}:
        return "Stack not set up"
    return "AWS request failed"


def show_error(exc: BaseException, settings: Settings | None, what: str = "") -> None:
    sentence = describe_error(exc, settings) if settings else str(exc)
    doing = f" while {plain(what)}" if what else ""
    st.error(f"**{error_headline(exc)}**{doing}. {plain(sentence)}", icon=":material/cloud_off:")


@contextmanager
def guarded(settings: Settings | None, what: str = "") -> Iterator[None]:
    """Turn AWS failures into a readable message and stop the page (no traceback)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        show_error(exc, settings, what)
        st.stop()


def page_setup() -> Settings:
    """First line of every page: make sure it runs inside the app's navigation, then the backend.

    Streamlit still treats a `pages/` folder as a v1 multipage app until `st.navigation`
    has run once in the process, so on a fresh server a deep link such as
    `/records?site=x` would run the page alone, without the page config and the sidebar
    (AppTest does the same on every run). Such a run switches the process to navigation
    mode and runs the entry script in its place: the entry picks this same page from the
    URL, and the widget events of this run (a click) are not lost as with a rerun.
    """
    from streamlit.runtime.pages_manager import PagesManager  # no public API for this
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if PagesManager.uses_pages_directory and ctx is not None:
        PagesManager.uses_pages_directory = False
        entry = Path(ctx.pages_manager.main_script_path)
        exec(compile(entry.read_text(), str(entry), "exec"), {"__name__": "__main__", "__file__": str(entry)})
        st.stop()
    settings = app_backend().settings
    stop_if_unreachable(settings)
    return settings


def stop_if_unreachable(settings: Settings) -> None:
    """One readable stop when AWS gives no answer at all.

    The health check (cached for a few seconds, and already run by the sidebar) has just
    waited for the endpoint; the page's own queries would wait as long again, one after the
    other, before the person learnt anything.
    """
    health = data.health(settings)
    if not health.reachable:
        problem = health.problems[0] if health.problems else "No answer."
        st.error(f"**AWS unreachable** while checking the stack. {plain(problem)}", icon=":material/cloud_off:")
        st.stop()


def app_backend() -> Backend:
    """The backend, or a readable stop when the configuration or the embedded stack fails."""
    try:
        return backend()
    except ConfigError as exc:
        st.error(f"**Configuration error.** {plain(exc)}", icon=":material/settings:")
    except (ClientError, BotoCoreError) as exc:
        show_error(exc, None, "starting the embedded AWS")
    except OSError as exc:
        st.error(f"**The embedded AWS could not start.** {plain(exc)}", icon=":material/cloud_off:")
    st.stop()
    raise AssertionError("unreachable")


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """A toast that survives the rerun that follows an action."""
    st.session_state["_flash"] = (message, icon)


def show_flash() -> None:
    if pending := st.session_state.pop("_flash", None):
        st.toast(pending[0], icon=pending[1])


# --- sidebar ---------------------------------------------------------------------------


def sidebar() -> None:
    show_flash()
    b = app_backend()
    with st.sidebar:
        _backend_panel(b)
        _simulator_panel(b.settings)
        st.divider()
        if st.button("Refresh data", icon=":material/refresh:", width="stretch", help="Reload everything from AWS"):
            st.cache_data.clear()
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
