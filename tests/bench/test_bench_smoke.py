"""The benchmarks still run: each script at tiny sizes (`--quick`) prints its table and ratio.

No timing is asserted (figures belong in docs/performance.md, not in tests): a benchmark
that no longer runs against the current pipeline fails here instead of rotting. One test
starts every script at once, each in a process session of its own, so they fill the time
other tests spend waiting, and kills every session when it ends: a script that hangs takes
its own servers (`bench/hostile.py` runs the embedded AWS in a child process) down with it.
(One test rather than one per script: pytest-xdist would split those over workers, each
starting its own.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
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
    "lake",
)
TIMEOUT_SECONDS = 420

pytestmark = pytest.mark.slow


def start(name: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"} | {"ENERGY_BACKEND": "local"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_session(process: subprocess.Popen[str]) -> None:
    """The script, or whatever it left running."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def problem(process: subprocess.Popen[str], deadline: float) -> str | None:
    """What is wrong with the script's run, or None: it succeeded and printed the machine, a
    markdown table and a ratio line."""
    try:
        out, err = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_session(process)
        _, err = process.communicate()
        return f"still running after {TIMEOUT_SECONDS}s:\n{err[-2000:]}"
    if process.returncode != 0:
        return f"failed:\n{err[-3000:]}"
    lines = out.splitlines()
    if not any(line.startswith("machine: ") and "cores" in line and "moto" in line for line in lines):
        return f"no machine line in:\n{out}"
    header = next((i for i, line in enumerate(lines) if line.startswith("| ")), None)
    if header is None or len(lines) < header + 3:
        return f"no markdown table in:\n{out}"
    if not set(lines[header + 1].replace("|", "").split()) <= {"---", "---:"}:
        return "the table has no separator row"
    if not lines[header + 2].startswith("| "):
        return "the table has no rows"
    ratios = [line for line in lines if line.startswith("ratio: ")]
    if not ratios or not all(" = " in line and "x (" in line for line in ratios):
        return f"no well-formed ratio line in:\n{out}"
    return None


def test_every_benchmark_prints_its_table_and_ratio() -> None:
    # GIVEN every benchmark started at once with tiny sizes
    started = {name: start(name) for name in SCRIPTS}
    deadline = time.monotonic() + TIMEOUT_SECONDS
    try:
        # WHEN each finishes
        problems = {name: found for name, process in started.items() if (found := problem(process, deadline))}
    finally:
        for process in started.values():
            kill_session(process)

    # THEN each succeeded and printed the machine, a markdown table and a ratio line
    assert not problems, "\n\n".join(f"bench/{name}.py --quick {found}" for name, found in problems.items())
