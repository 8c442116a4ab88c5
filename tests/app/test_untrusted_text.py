"""Text from data or links (file names, `?site=`, error details, alert subjects) shows as text.

A crafted name must not become a live link, a remote image or bold text anywhere the app
renders Markdown: the bodies the app sends carry the name escaped, and a reader sees it
character for character.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from pipeline.raw_files import raw_key, upload
from tests.app.conftest import markdown_sources, shown, unescaped

# A file name cannot hold "/" (it would be part of the key's path), so the links use %2F.
CRAFTED = "[click](http:%2F%2F127.0.0.1:9%2Fx)![img](http:%2F%2F127.0.0.1:9%2Fi.png)**bold**.json"
CRAFTED_SITE = "[x](http://127.0.0.1:9)"
PAGES = (
    "pages/live.py",
    "pages/records.py",
    "pages/explore.py",
    "pages/simulate.py",
    "pages/files.py",
    "pages/sites.py",
    "pages/operations.py",
)


def assert_no_live_markdown(at) -> None:
    """No body the app sent holds link or image syntax that Markdown would act on."""
    for source in markdown_sources(at):
        assert "](http" not in source, source
        assert "![" not in source, source
        assert "**bold**" not in source, source
        outside_code = re.sub(r"`[^`]*`", "", unescaped(source))  # code spans (configured names) never link
        assert "://" not in outside_code, f"a bare URL would still be autolinked: {source}"


@pytest.fixture
def crafted_file(stack, process) -> str:
    """GIVEN a processed file with a crafted name: one anomalous reading (an alert) and one bad row."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {"site_id": "site-1", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "energy_generated_kwh": -5,
         "energy_consumed_kwh": 1},
        {"site_id": "site-1", "timestamp": "not a time", "energy_generated_kwh": 1, "energy_consumed_kwh": 1},
    ]  # fmt: skip
    key = raw_key(CRAFTED, now, stack)
    upload(stack, key, json.dumps(rows).encode())
    process()
    return key


def test_a_crafted_file_name_shows_as_text_on_the_files_page(stack, crafted_file, open_page):
    at = open_page("pages/files.py")
    assert_no_live_markdown(at)
    assert at.subheader[0].value == (
        r"\[click\]\(http\:\%2F\%2F127\.0\.0\.1\:9\%2Fx\)"
        r"\!\[img\]\(http\:\%2F\%2F127\.0\.0\.1\:9\%2Fi\.png\)"
        r"\*\*bold\*\*\.json"
    )
    assert shown(at.subheader[0].value) == CRAFTED, "the reader sees the name as it is"
    assert shown(at.get("download_button")[0].label) == f"Download {CRAFTED}"
    assert any(f"s3://{stack.bucket}/{crafted_file}" in shown(c.value) for c in at.caption)


def test_a_crafted_file_name_shows_as_text_on_the_operations_page(crafted_file, open_page):
    at = open_page("pages/operations.py")
    assert_no_live_markdown(at)
    subjects = [shown(m.value) for m in at.markdown if "Energy alerts" in shown(m.value)]
    assert subjects and CRAFTED[:40] in subjects[0], "the alert subject names the file (cut at 99 characters), as text"
    last = next(m for m in at.metric if m.label == "Last processed file")
    assert shown(last.proto.help).startswith(crafted_file)


def test_an_unreadable_crafted_file_says_why_as_text(stack, process, open_page, text):
    upload(stack, raw_key(CRAFTED, datetime.now(UTC), stack), b"[not json](http://127.0.0.1:9/e)")
    process()
    at = open_page("pages/files.py")
    assert_no_live_markdown(at)
    assert "cannot be read as readings" in text(at)


def test_a_crafted_name_in_a_failing_query_shows_as_text(open_page, text, tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_DATA_DIR", str(tmp_path))  # the lake's local copy
    at = open_page("pages/explore.py")
    at.text_area(key="explore_sql").input(f'SELECT * FROM "{CRAFTED_SITE}"')
    at.button(key="explore_run").click().run()
    assert_no_live_markdown(at)
    assert f"Table with name {CRAFTED_SITE} does not exist" in text(at)


@pytest.mark.parametrize("page", PAGES)
def test_a_crafted_site_link_shows_as_text(seeded, open_page, page):
    at = open_page(page, site=CRAFTED_SITE)
    assert_no_live_markdown(at)


def test_an_unknown_site_from_a_link_is_named_as_text(seeded, open_page, text):
    at = open_page("pages/records.py", site=CRAFTED_SITE)
    warning = at.warning[0].value
    assert "\\[x\\]\\(http\\:\u2060\\/\\/127\\.0\\.0\\.1\\:9\\)" in warning
    assert f"There is no site called “{CRAFTED_SITE}”; showing site-1 instead." in text(at)
    assert at.selectbox(key="records_site").value == "site-1"
