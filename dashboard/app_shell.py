"""The frame every page runs in: page config, the navigation, the shared sidebar.

`streamlit_app.py` is `app_shell.run()`; every page starts with `app_shell.start_page()`.

Why a page may have to start the frame itself: Streamlit still reads a `pages/` folder
next to the entry script as a legacy multipage app until `st.navigation` has run once in
the process ("If you call st.navigation in your app (in any session), Streamlit will
switch to ... Page-and-navigation"). So on a freshly started server a deep link such as
`/records?site=site-3` runs `pages/records.py` alone, without the page config, our
navigation and the sidebar; AppTest does the same on every run (it resets that state).
Such a run calls `run()` here, which calls `st.navigation` (switching the process over),
and the navigation runs this same page from the URL inside the frame, in the same run, so
the widget events of that run (a click) are not lost as they would be with a rerun.
Public API only; measured with tests/e2e/test_deep_links.py (a fresh server, a deep link
first). The other public way is to rename `pages/` (Streamlit's own advice, e.g. to
`app_pages/`), which makes this fallback unnecessary.

Waits on: Streamlit dropping the legacy `pages/` discovery (the flag
`PagesManager.uses_pages_directory`, kept "for now" by streamlit/streamlit#10276, whose
review notes the odd direct-URL behaviour with a `pages/` folder plus st.navigation; the
first-load deep-link report is streamlit/streamlit#9624). When
tests/app/test_app_shell.py::test_streamlit_still_runs_pages_files_alone fails, Streamlit
has changed: delete `_inside_frame` and the fallback in `start_page`.
"""

from __future__ import annotations

from contextvars import ContextVar

import streamlit as st

from dashboard import sidebar
from dashboard.errors import app_backend, stop_if_unreachable
from pipeline.settings import Settings

# True while the frame runs the chosen page (set in the script thread, per run).
_inside_frame: ContextVar[bool] = ContextVar("inside_frame", default=False)


def pages() -> dict[str, list[st.Page]]:
    return {
        "Analyse": [
            st.Page("pages/live.py", title="Live", icon=":material/monitoring:", default=True),
            st.Page("pages/records.py", title="Records", icon=":material/table_rows:"),
            st.Page("pages/explore.py", title="Explore", icon=":material/query_stats:"),
        ],
        "Data in": [
            st.Page("pages/simulate.py", title="Simulate", icon=":material/science:"),
            st.Page("pages/files.py", title="Files", icon=":material/folder_open:"),
            st.Page("pages/sites.py", title="Sites", icon=":material/location_on:"),
        ],
        "Operate": [
            st.Page("pages/operations.py", title="Operations", icon=":material/monitor_heart:"),
        ],
    }


def run() -> None:
    """The entry script: page config, the navigation and the sidebar, then the chosen page."""
    st.set_page_config(page_title="Energy pipeline", page_icon=":material/bolt:", layout="wide")
    navigation = st.navigation(pages())
    sidebar.show()
    token = _inside_frame.set(True)
    try:
        navigation.run()
    finally:
        _inside_frame.reset(token)


def start_page() -> Settings:
    """First line of every page: make sure it runs inside the frame, then the backend's settings."""
    if not _inside_frame.get():
        run()  # runs this page inside the frame (see the module docstring)
        st.stop()
    settings = app_backend().settings
    stop_if_unreachable(settings)
    return settings
