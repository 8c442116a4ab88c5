"""AppTest on a moto-backed stack: the app reaches the session's embedded AWS through
AWS_ENDPOINT_URL (so it starts no stack of its own), and each test starts from an empty,
bootstrapped stack with every Streamlit cache cleared."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard.continuous import simulator  # noqa: E402
from dashboard.untrusted_text import WORD_JOINER  # noqa: E402
from local_aws.runner import Runner  # noqa: E402
from local_aws.server import EmbeddedServer  # noqa: E402
from pipeline.ops.bootstrap import bootstrap  # noqa: E402
from pipeline.ops.simulated_uploads import Upload, upload_simulated  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

APP = ROOT / "streamlit_app.py"
TIMEOUT = 60


@pytest.fixture
def stack(moto_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """GIVEN an empty stack that the app reaches as a shared local endpoint (no runner)."""
    for name in ("AWS_PROFILE", "ENERGY_LOCAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENERGY_BACKEND", "local")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    moto_server.reset()
    settings = Settings.from_env()
    bootstrap(settings, local_alert_queue=True)
    st.cache_data.clear()
    yield settings
    simulator().stop()
    st.cache_data.clear()


@pytest.fixture
def process(stack: Settings) -> Callable[[], None]:
    """Play Lambda until the raw-events queue is empty."""
    runner = Runner(stack, retry_delay_seconds=0, wait_seconds=0)
    return lambda: runner.drain(timeout=60)


@pytest.fixture
def seeded(stack: Settings, process: Callable[[], None]) -> list[Upload]:
    """GIVEN three processed files of 3 sites x 12 readings each (the last 9 hours), many anomalous."""
    now = datetime.now(UTC)
    uploads = [
        upload_simulated(
            stack, sites=3, readings_per_site=12, anomaly_rate=0.3, seed=i, when=now - timedelta(hours=3 * i)
        )
        for i in range(3)
    ]
    process()
    return uploads


@pytest.fixture
def open_page(stack: Settings) -> Callable[..., AppTest]:
    """Run the app as a browser would: the entry script, then `page` (a pages/ file)."""

    def open_(page: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        for name, value in query.items():
            at.query_params[name] = value
        at.run()
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


MARKDOWN_KINDS = ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def markdown_sources(at: AppTest) -> list[str]:
    """The Markdown bodies the app sent, as Streamlit will parse them (escapes and all)."""
    sources = []
    for kind in MARKDOWN_KINDS:
        sources.extend(str(e.value) for e in getattr(at, kind))
    sources.extend(str(e.value) for e in at.toast)
    sources.extend(str(e.label) for e in at.tabs)
    sources.extend(str(e.label) for e in at.get("download_button"))
    sources.extend(str(e.proto.help) for e in at.metric if e.proto.help)
    return sources


def unescaped(markdown: str) -> str:
    """The text Markdown finds once escapes are resolved (where GFM looks for bare URLs)."""
    return _ESCAPE.sub(r"\1", markdown)


def shown(markdown: str) -> str:
    """What a reader sees of Markdown text where data was escaped: the characters themselves."""
    return unescaped(markdown).replace(WORD_JOINER, "")


def page_text(at: AppTest) -> str:
    """Everything the page says in titles, markdown, captions and alerts, as one string, as read."""
    return "\n".join(shown(source) for source in markdown_sources(at))


@pytest.fixture
def text() -> Callable[[AppTest], str]:
    return page_text
