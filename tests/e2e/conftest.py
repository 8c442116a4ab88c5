"""The app as users run it: `streamlit run` on its own embedded stack, driven by headless
Chromium (Debian's, through Playwright: never Playwright's own download)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_aws.runner import Runner
from pipeline.ops.simulated_uploads import upload_simulated
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def streamlit_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free port of 127.0.0.1 with `env`; its URL once healthy."""
    port = _free_port()
    log = log_path.open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env | {"PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with {server.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit was not healthy within {START_TIMEOUT}s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def app_env(**values: str) -> dict[str, str]:
    """This process's environment without its AWS_ and ENERGY_ settings, plus `values`."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ENERGY_"))} | values


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """GIVEN `streamlit run streamlit_app.py` with ENERGY_BACKEND=local and no endpoint:
    the app starts its own embedded AWS and Lambda runner."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium: run `make browser`")
    data = tmp_path_factory.mktemp("e2e-data")  # the embedded stack's own port and data, not the project's
    env = app_env(ENERGY_BACKEND="local", ENERGY_LOCAL_PORT=str(_free_port()), ENERGY_DATA_DIR=str(data))
    with streamlit_server(env, tmp_path_factory.mktemp("e2e") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser) -> Iterator[object]:
    """A browser profile in Berlin, so times show converted from UTC."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="Europe/Berlin")
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture
def fresh_app(settings: Settings, runner: Runner, tmp_path: Path) -> Iterator[str]:
    """GIVEN three sites with stored readings (the test's embedded AWS), and a `streamlit run`
    on it that nobody has opened yet."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium: run `make browser`")
    upload_simulated(settings, sites=3, readings_per_site=8, anomaly_rate=0.3, seed=7)
    runner.drain(timeout=60)
    env = app_env(
        ENERGY_BACKEND="local",
        AWS_ENDPOINT_URL=settings.endpoint_url or "",
        AWS_REGION=settings.region,
        ENERGY_DATA_DIR=str(tmp_path / "data"),  # the lake's local copy, not the project's
    )
    with streamlit_server(env, tmp_path / "streamlit.log") as url:
        yield url
