"""The benchmarks still run: each script at tiny sizes (`--quick`) prints its table and ratio.

No timing is asserted (figures belong in docs/performance.md, not in tests): a benchmark
that no longer runs against the current pipeline fails here instead of rotting. Each test
runs its script in a session of its own and kills the whole session when it ends, so a
script that hangs takes its own servers (`bench/hostile.py` runs the embedded AWS in a
child process) down with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
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

pytestmark = pytest.mark.slow


def run_quick(name: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"} | {"ENERGY_BACKEND": "local"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the script, or what it left running
    if timed_out:
        out, err = process.communicate()
        pytest.fail(f"bench/{name}.py --quick still running after {TIMEOUT_SECONDS}s:\n{err[-2000:]}")
    return process.returncode, out, err


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_benchmark_prints_its_table_and_ratio(name: str) -> None:
    # GIVEN the benchmark started with tiny sizes
    # WHEN it finishes
    code, out, err = run_quick(name)

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
