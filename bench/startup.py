"""Startup: how long the embedded stack takes to come back with 100,000 stored readings.

It stores the readings through the real pipeline (files uploaded to S3, processed by the
runner), stops the stack normally (the last snapshot), forgets moto's memory as a new
process would, and starts again from the data directory. Baseline: an empty start in the
same run. It also times one snapshot at full size (how long requests wait while it runs)
and prints the data directory's size. Target: startup with 100k readings <= 20 s.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from moto.core.base_backend import BackendDict  # noqa: E402

from bench.common import bench_sites, parse_args, progress, quiet_logs, report, seconds, timed  # noqa: E402
from bench.ingest import make_files  # noqa: E402
from local_aws.persistence import size_on_disk  # noqa: E402
from local_aws.stack import EmbeddedStack, start_stack  # noqa: E402
from pipeline import raw_files  # noqa: E402
from pipeline.aws import client  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sites import put_sites  # noqa: E402

TARGET_SECONDS = 20.0
FULL = (10_000, 10)  # readings per file, files
QUICK = (200, 2)


def start(data_dir: Path) -> EmbeddedStack:
    return start_stack(Settings.from_env({}), 0, run_lambda=False, data_dir=data_dir)


def stored(settings: Settings) -> int:
    pages = client(settings, "dynamodb").get_paginator("scan").paginate(TableName=settings.table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    size, count = QUICK if args.quick else FULL
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="energy-startup-") as tmp:
        data_dir = Path(tmp) / "data"
        empty_seconds, stack = timed(lambda: start(data_dir))
        empty_size = size_on_disk(data_dir)
        settings = stack.settings
        sites = bench_sites(10)
        put_sites(settings, sites)
        files = make_files(sites, size, count, datetime(2026, 1, 1, tzinfo=UTC))
        progress(f"storing {sum(f.distinct for f in files):,} readings in {count} files")
        stack.runner.start()
        for f in files:
            raw_files.upload(settings, f.key, f.body)
        stack.runner.drain(timeout=1800)
        stack.runner.stop()
        readings = stored(settings)
        assert stack.persistence is not None
        snapshot_seconds, _ = timed(stack.persistence.snapshot)
        stop_seconds, _ = timed(stack.stop)
        BackendDict.reset()  # what a new process would have: nothing in memory
        progress("restarting from the data directory")
        full_seconds, again = timed(lambda: start(data_dir))
        back = stored(again.settings)
        again.stop()
        if back != readings:
            raise SystemExit(f"restart brought back {back} of {readings} readings")
        full_size = size_on_disk(data_dir)

    rows = [
        ["empty (baseline)", "0", seconds(empty_seconds), f"{empty_size / 1e6:,.2f} MB"],
        [f"{readings:,} readings", f"{readings:,}", seconds(full_seconds), f"{full_size / 1e6:,.1f} MB"],
    ]
    met = full_seconds <= TARGET_SECONDS
    report(
        "Startup from the data directory",
        ["stack", "readings", "startup", "data dir"],
        rows,
        [
            f"figure: startup with {readings:,} readings = {full_seconds:,.2f} s "
            f"(target <= {TARGET_SECONDS:.0f} s): {'met' if met else 'MISSED'}",
            f"ratio: full/empty startup = {full_seconds / empty_seconds:,.2f}x (no target)",
        ],
        notes=[
            f"one snapshot at full size (requests wait meanwhile): {seconds(snapshot_seconds)}",
            f"normal stop (runner, last snapshot, server): {seconds(stop_seconds)}",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
