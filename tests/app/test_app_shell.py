"""Across the app: navigation, the shared sidebar, readable errors, and a consistent look."""

from __future__ import annotations

import socket
import time

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.aws import client
from pipeline.sites import Site, put_sites
from tests.app.conftest import APP, TIMEOUT

PAGES = {
    "pages/live.py": "Live",
    "pages/records.py": "Records",
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


def test_refresh_data_shows_what_changed_behind_the_apps_back(seeded, stack, open_page):
    """A site registered elsewhere (the CLI, another analyst) stays out of the cached list
    until the user presses Refresh data; then the Site picker offers it."""
    at = open_page("pages/records.py")
    assert "site-99" not in at.selectbox(key="records_site").options
    put_sites(stack, [Site("site-99", name="Depot")])
    at.run()
    assert "site-99" not in at.selectbox(key="records_site").options, "the list is cached until refreshed"
    refresh = next(b for b in at.sidebar.button if b.label == "Refresh data")
    refresh.click().run()
    assert not at.exception
    assert "site-99" in at.selectbox(key="records_site").options


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
