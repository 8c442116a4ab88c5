"""The CLI run in-process against the test's embedded stack."""

import io
import os

import pytest

from pipeline.ops.cli import main


@pytest.fixture
def cli(settings, monkeypatch):
    """Run the CLI in-process against the test's stack; returns (exit code, stdout)."""
    for name in [n for n in os.environ if n.startswith("ENERGY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ENERGY_BACKEND", "local")
    monkeypatch.setenv("AWS_ENDPOINT_URL", settings.endpoint_url)

    def run(*argv):
        out = io.StringIO()
        return main(list(argv), out=out), out.getvalue()

    return run
