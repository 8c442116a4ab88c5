"""The benchmarks still run: each script at tiny sizes (`--quick`) prints its table and ratio.

No timing is asserted (figures belong in docs/performance.md, not in tests): a benchmark
that no longer runs against the current pipeline fails here instead of rotting. The
scripts start together, each in its own process, so the module takes about as long as
the slowest of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = (
    "ingest",
    "process",
    "dashboard",
    "memory",
    "startup",
    "soak",
    "hostile",
    "items",
    "parse",
    "realdata",
    "estimation",
    "cost",
)
TIMEOUT_SECONDS = 420

# One worker runs the whole module: its fixture starts every benchmark at once, per module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench")]


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"} | {"ENERGY_BACKEND": "local"}
    started = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SCRIPTS
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running after {TIMEOUT_SECONDS}s:\n{err[-2000:]}")
    return process.returncode, out, err


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_benchmark_prints_its_table_and_ratio(runs: dict[str, subprocess.Popen[str]], name: str) -> None:
    # GIVEN the benchmark started with tiny sizes
    # WHEN it finishes
    code, out, err = finished(runs[name])

    # THEN it succeeded and printed the machine, a markdown table and a ratio line
    assert code == 0, f"bench/{name}.py --quick failed:\n{err[-3000:]}"
    lines = out.splitlines()
    assert any(line.startswith("machine: ") and "cores" in line and "moto" in line for line in lines), out
    header = next((i for i, line in enumerate(lines) if line.startswith("| ")), None)
    assert header is not None, f"no markdown table in:\n{out}"
    assert set(lines[header + 1].replace("|", "").split()) <= {"---", "---:"}, "the table has no separator row"
    assert lines[header + 2].startswith("| "), "the table has no rows"
    ratios = [line for line in lines if line.startswith("ratio: ")]
    assert ratios, f"no ratio line in:\n{out}"
    assert all(" = " in line and "x (" in line for line in ratios), ratios
