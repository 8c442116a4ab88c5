"""Across the app: navigation, the shared sidebar, readable errors, and a consistent look."""

from __future__ import annotations

import socket
import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data
from pipeline.aws import client
from pipeline.sites import register_unknown
from tests.app.conftest import APP, TIMEOUT
from tests.app.test_page_operations import send_dead_letter

PAGES = {
    "pages/live.py": "Live",
    "pages/records.py": "Records",
    "pages/explore.py": "Explore",
    "pages/simulate.py": "Simulate",
    "pages/files.py": "Files",
    "pages/sites.py": "Sites",
    "pages/operations.py": "Operations",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_has_its_title_icon_and_the_sidebar(open_page, text, page):
    at = open_page(page)
    title = at.title[0].value
    assert title.startswith(":material/") and title.endswith(PAGES[page])
    sidebar = "\n".join(str(e.value) for e in at.sidebar.markdown)
    assert "Local AWS endpoint" in sidebar
    assert "Stack healthy" in sidebar
    assert "Simulator stopped" in sidebar
    assert any(b.label == "Refresh data" for b in at.sidebar.button)


def refresh(at: AppTest) -> None:
    next(b for b in at.sidebar.button if b.label == "Refresh data").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_refresh_data_rereads_for_the_caller_only(seeded, stack, open_page):
    # GIVEN two people on the Records page
    mine, theirs = open_page("pages/records.py"), open_page("pages/records.py")
    assert "site-new" not in mine.selectbox(key="records_site").options
    # AND a site registered behind the app's back: no file processed, nothing tells the caches
    register_unknown(stack, ["site-new"], known={})
    mine.run()
    assert "site-new" not in mine.selectbox(key="records_site").options, "the list is cached until refreshed"

    # WHEN one of them presses Refresh data
    refresh(mine)

    # THEN they see the new site, and the other person's next run still shows what they had
    assert "site-new" in mine.selectbox(key="records_site").options
    theirs.run()
    assert not theirs.exception
    assert "site-new" not in theirs.selectbox(key="records_site").options


def test_dead_letters_are_listed_again_on_refresh_not_on_every_rerun(seeded, stack, open_page, monkeypatch):
    """Listing the DLQ receives its messages, so it is not cached for everyone: each session
    keeps its own listing for a while, and Refresh data lists again."""
    monkeypatch.setattr(data, "SHORT_TTL", 3600)  # a listing this session keeps, however slow the machine
    at = open_page("pages/operations.py")
    assert any(t.label == "Dead letters (0)" for t in at.tabs)
    send_dead_letter(stack, seeded[0].key)

    at.run()
    assert any(t.label == "Dead letters (0)" for t in at.tabs), "a rerun reuses the session's listing"
    other = open_page("pages/operations.py")
    assert any(t.label == "Dead letters (1)" for t in other.tabs), "another session lists for itself"

    refresh(at)
    assert any(t.label == "Dead letters (1)" for t in at.tabs)


def test_streamlit_still_runs_pages_files_alone(tmp_path):
    """Why app_shell.start_page may start the frame itself: with a `pages/` folder next to
    the entry script, Streamlit runs a page of it without the entry script (a deep link on a
    fresh server, and AppTest on every run). When this fails, Streamlit has changed: delete
    the fallback in app_shell.start_page (and this test)."""
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "other.py").write_text("import streamlit as st\nst.markdown('OTHER PAGE')\n")
    (tmp_path / "app.py").write_text(
        "import streamlit as st\n"
        "nav = st.navigation([st.Page(lambda: None, title='Home', default=True), st.Page('pages/other.py')])\n"
        "st.markdown('ENTRY')\n"
        "nav.run()\n"
    )
    at = AppTest.from_file(str(tmp_path / "app.py"))
    at.run()
    at.switch_page("pages/other.py").run()
    shown = [m.value for m in at.markdown]
    assert "OTHER PAGE" in shown
    assert "ENTRY" not in shown, "Streamlit ran the page inside its entry script: the fallback is no longer needed"


def test_missing_table_names_the_fix(seeded, stack, open_page, text):
    client(stack, "dynamodb").delete_table(TableName=stack.rollup_table)
    at = open_page("pages/live.py")
    said = text(at)
    assert "Stack not set up" in said
    assert "python -m pipeline bootstrap" in said
    assert "Stack needs attention" in said, "the sidebar says so too"


def test_unreachable_aws_is_a_message_not_a_traceback(stack, open_page, text, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    at = open_page("pages/records.py")
    said = text(at)
    assert "AWS unreachable" in said
    assert f"Cannot reach http://127.0.0.1:{port}" in said


def test_a_silent_endpoint_is_reported_within_seconds(stack, text, monkeypatch):
    """A port that accepts connections and never answers: each run says so instead of waiting 90 s."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:  # the kernel accepts; nobody answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        for page in (None, "pages/records.py", "pages/operations.py"):
            started = time.monotonic()
            (at.switch_page(page) if page else at).run()
            elapsed = time.monotonic() - started
            assert not at.exception, [e.value for e in at.exception]
            said = text(at)
            assert "AWS unreachable" in said and f"{url} accepted the connection but did not answer in time" in said
            assert elapsed < 20, f"{page or 'the first page'} took {elapsed:.1f} s"  # generous: ~9 s at worst
            assert not at.dataframe


def test_bad_configuration_is_a_message(stack, open_page, text, monkeypatch):
    monkeypatch.setenv("ENERGY_BACKEND", "azure")
    at = open_page()
    assert "Configuration error" in text(at)
    assert "ENERGY_BACKEND must be one of local, aws" in text(at)
