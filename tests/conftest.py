"""Fixtures shared by every test: an embedded AWS per session, a fresh stack per test."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_aws.runner import LambdaContext, Runner, load_handler  # noqa: E402
from local_aws.server import EmbeddedServer, start_server  # noqa: E402
from pipeline.ops.bootstrap import bootstrap  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

EVENTS = Path(__file__).resolve().parent / "events"

# The longest tests start first, so that with xdist workers (`make test`) they run beside
# the many short ones instead of alone at the end (`pytest --durations=30` shows where time goes).
SLOWEST_FIRST = (
    "tests/integration/test_pipeline_flow.py::test_a_100000_reading_file_is_stored_completely",
    "tests/reliability/test_kill_and_restart.py",
    "tests/infra/test_terraform_cli.py",
    "tests/e2e/",
    "tests/bench/",
    "tests/reliability/",
    "tests/infra/test_checkov.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable: within a rank, the collection order (every worker collects the same list)."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(SLOWEST_FIRST) if path.startswith(prefix)), len(SLOWEST_FIRST))

    items.sort(key=rank)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedServer]:
    server = start_server(0)
    yield server
    server.stop()


@pytest.fixture
def settings(moto_server: EmbeddedServer) -> Settings:
    """GIVEN a freshly bootstrapped stack (bucket, queues, tables, topic) on the embedded AWS."""
    moto_server.reset()
    settings = Settings.from_env({}).with_endpoint(moto_server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    return settings


@pytest.fixture
def runner(settings: Settings) -> Runner:
    """The Lambda runner with failed messages visible again at once, so retries are quick."""
    return Runner(settings, retry_delay_seconds=0, wait_seconds=0)


@pytest.fixture
def handler() -> Callable:
    return load_handler()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def wait_for(condition: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    """Poll `condition` until it returns something truthy; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
