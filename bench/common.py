"""What every benchmark shares: a fresh embedded stack, the machine note, tables and ratios.

Each benchmark runs our code and its baseline in the same process, on the same embedded
AWS, one after the other (interleaved where it repeats), so that a noisy machine slows
both and the ratio between them still holds. Absolute figures are for this machine only.

Run a benchmark as a script from the repository root (`python bench/ingest.py`) or as a
module (`python -m bench.ingest`); `--quick` gives tiny sizes for the smoke test.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_aws.runner import Runner  # noqa: E402
from local_aws.server import EmbeddedServer, start_server  # noqa: E402
from pipeline import assessment  # noqa: E402
from pipeline.logs import configure as configure_logs  # noqa: E402
from pipeline.ops.bootstrap import bootstrap  # noqa: E402
from pipeline.ops.simulation import make_sites  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sites import Site  # noqa: E402

T = TypeVar("T")
CADENCE_MINUTES = 15


# --- the machine -----------------------------------------------------------------------


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def machine_note() -> str:
    """The line every report starts with: what the figures were measured on."""
    try:
        load = f", load average {os.getloadavg()[0]:.1f} at start"
    except OSError:
        load = ""
    return (
        f"machine: {cores()} cores ({cpu_model()}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, moto {package_version('moto')}, boto3 {package_version('boto3')}{load}"
    )


# --- arguments -------------------------------------------------------------------------


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script still runs")
    return parser.parse_args(argv)


# --- the embedded stack ----------------------------------------------------------------


def quiet_logs() -> None:
    """The pipeline logs a JSON line per file; a benchmark prints only its table."""
    configure_logs()
    logging.getLogger("energy").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class BenchStack:
    server: EmbeddedServer
    settings: Settings

    def reset(self) -> Settings:
        """Forget every item and resource, then create the stack again: fresh tables, no keys."""
        self.server.reset()
        bootstrap(self.settings, local_alert_queue=True)
        return self.settings

    def runner(self) -> Runner:
        """The Lambda runner, drained once so the S3 test event of the set-up is gone."""
        runner = Runner(self.settings, wait_seconds=0, retry_delay_seconds=0)
        quiet_logs()  # loading the handler configures the pipeline's logger
        runner.drain(timeout=30)
        return runner


@contextmanager
def embedded_stack() -> Iterator[BenchStack]:
    """moto on a free 127.0.0.1 port in this process, with the whole stack bootstrapped."""
    quiet_logs()
    server = start_server(0)
    try:
        settings = Settings.from_env({}).with_endpoint(server.endpoint)
        bootstrap(settings, local_alert_queue=True)
        yield BenchStack(server, settings)
    finally:
        server.stop()


def bench_sites(count: int) -> list[Site]:
    """The simulator's fleet, every site with a known 15-minute cadence."""
    return [
        site if getattr(site, "interval_minutes", None) else replace(site, interval_minutes=CADENCE_MINUTES)
        for site in make_sites(count)
    ]


# --- the pipeline's pure middle ------------------------------------------------------

DeriveDetect = Callable[[Sequence[Any], dict[str, Site], str, datetime], list[Any]]


def derive_and_detect() -> tuple[str, DeriveDetect]:
    """The pipeline's pure readings -> records step, whatever it is called today.

    It was `build_records(readings, sites, key, processed_at)` and became
    `assess(...)` returning an object with `.records`; `processed_at` is an aware UTC
    datetime (the rules' clock). Extra parameters must have defaults, or this benchmark
    says which ones it cannot fill.
    """
    for name in ("assess", "build_records"):
        fn = getattr(assessment, name, None)
        if fn is None:
            continue
        params = list(inspect.signature(fn).parameters.values())
        unfilled = [p.name for p in params[4:] if p.default is inspect.Parameter.empty]
        if unfilled:
            raise SystemExit(f"assessment.{name} now needs {', '.join(unfilled)}: teach bench/common.py to pass it")

        def call(readings: Sequence[Any], sites: dict[str, Site], key: str, at: datetime, fn: Any = fn) -> list[Any]:
            result = fn(readings, sites, key, at)
            return list(getattr(result, "records", result))

        return f"assessment.{name}", call
    raise SystemExit("pipeline.assessment has neither assess nor build_records: update bench/common.py")


# --- timing ----------------------------------------------------------------------------


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- reporting -------------------------------------------------------------------------


def progress(message: str) -> None:
    """A line on stderr while a long benchmark runs; the report itself goes to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.2f} s"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub table; columns whose cells all look numeric are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]

    def numeric(column: int) -> bool:
        values = [row[column] for row in cells if row[column] not in ("", "-")]
        return bool(values) and all(_looks_numeric(v) for v in values)

    align = ["---:" if numeric(i) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    head = text.split(" ")[0].replace(",", "").rstrip("x%").lstrip("~<>")
    try:
        float(head)
    except ValueError:
        return False
    return True


def ratio_line(what: str, value: float, target: str | None, met: bool | None, detail: str = "") -> str:
    """`ratio: ours/baseline = 9.3x (target >= 8x): met`, with an honest MISSED when it is.

    With no target the line reports the figure alone.
    """
    extra = f"; {detail}" if detail else ""
    if target is None:
        return f"ratio: {what} = {value:,.2f}x (no target{extra})"
    verdict = "met" if met else "MISSED"
    return f"ratio: {what} = {value:,.2f}x (target {target}{extra}): {verdict}"


def report(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    ratio: str | Sequence[str],
    notes: Sequence[str] = (),
) -> None:
    print(f"\n## {title}\n")
    print(machine_note())
    print()
    print(markdown_table(headers, rows))
    print()
    for note in notes:
        print(f"- {note}")
    if notes:
        print()
    for line in [ratio] if isinstance(ratio, str) else ratio:
        print(line, flush=True)


# --- where the time goes ---------------------------------------------------------------


@dataclass
class CallStats:
    calls: int = 0
    seconds: float = 0.0


@contextmanager
def aws_calls() -> Iterator[dict[str, CallStats]]:
    """Count and time every boto3 API call made meanwhile, by `service.Operation`.

    The time of a call includes botocore's serialising and parsing, the HTTP round trip and
    moto's own work, which is the cost the pipeline pays for that call on this stack.
    """
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    stats: dict[str, CallStats] = {}

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return original(self, operation_name, api_params)
        finally:
            name = f"{self.meta.service_model.service_name}.{operation_name}"
            entry = stats.setdefault(name, CallStats())
            entry.calls += 1
            entry.seconds += time.perf_counter() - started

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield stats
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def call_rows(stats: dict[str, CallStats], total_seconds: float, top: int = 8) -> list[list[str]]:
    """The busiest operations first, with their share of `total_seconds`."""
    ranked = sorted(stats.items(), key=lambda kv: kv[1].seconds, reverse=True)[:top]
    return [
        [
            name,
            number(entry.calls),
            seconds(entry.seconds),
            f"{entry.seconds / entry.calls * 1000:,.2f}",
            f"{entry.seconds / total_seconds * 100:,.0f}%",
        ]
        for name, entry in ranked
    ]


CALL_HEADERS = ("AWS call", "calls", "time", "ms per call", "share of run")
