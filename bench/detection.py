"""Detection quality: precision and recall per anomaly kind on simulated, labelled data.

The simulator (fixed seeds) injects every kind of anomaly and keeps the truth; the files
go through the real path (S3 upload -> SQS -> handler -> DynamoDB) on a fresh embedded
stack, one day a file, and what was stored is scored against the labels. Missing
intervals are scored per site and hour (the rollups keep them by hour).

    python bench/detection.py [--quick] [--sites N] [--days N] [--rate R] [--seed S]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_aws.stack import start_stack
from pipeline import raw_files
from pipeline.ops.simulation import ANOMALY_KINDS, encode, make_sites, simulate
from pipeline.record_store import site_records
from pipeline.rollups import hour_of, site_rollups
from pipeline.sites import put_sites

TARGET_PRECISION, TARGET_RECALL = 0.95, 0.90


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, to check the script works")
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--rate", type=float, default=0.03, help="anomaly events per reading")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.quick:
        args.sites, args.days = 4, 3

    stack = start_stack(run_lambda=False)
    settings = stack.settings
    sites = make_sites(args.sites)
    put_sites(settings, sites)
    # Files arrive as the readings are made, so the data ends now (a reading is "in the
    # future" relative to the time it is processed).
    start = datetime.now(UTC) - timedelta(days=args.days)
    truth: set[tuple[str, str, str]] = set()
    began = time.perf_counter()
    readings = 0
    for day in range(args.days):
        end = start + timedelta(days=day + 1) - timedelta(minutes=15)
        simulated = simulate(sites, end, 96, args.rate, seed=args.seed)
        readings += len(simulated.readings)
        for label in simulated.labels:
            when = hour_of(label.timestamp) if label.kind == "missing_intervals" else label.timestamp
            truth.add((label.site_id, when, label.kind))
        key = f"raw/{end:%Y/%m/%d}/day-{day:03d}.json"
        raw_files.upload(settings, key, encode(simulated.readings))
        stack.runner.drain(timeout=600)  # one day after the other, as a site would send them
    elapsed = time.perf_counter() - began

    found: set[tuple[str, str, str]] = set()
    for site in sites:
        for record in site_records(settings, site.site_id):
            found.update((record.site_id, record.timestamp, reason) for reason in record.anomaly_reasons)
        for rollup in site_rollups(settings, site.site_id, "0", "9"):
            if rollup.missing_intervals:
                found.add((rollup.site_id, rollup.hour, "missing_intervals"))
    stack.stop()

    kinds = list(ANOMALY_KINDS) + sorted({k for _, _, k in found} - set(ANOMALY_KINDS))
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}")
    print(f"data: {args.sites} sites x {args.days} days, {readings} readings, seed {args.seed}, {elapsed:.1f}s\n")
    print("| kind | injected | detected | true positives | precision | recall | target met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    worst_p, worst_r = 1.0, 1.0
    for kind in kinds:
        labelled = {t for t in truth if t[2] == kind}
        detected = {f for f in found if f[2] == kind}
        hits = len(labelled & detected)
        precision = hits / len(detected) if detected else 1.0
        recall = hits / len(labelled) if labelled else 1.0
        worst_p, worst_r = min(worst_p, precision), min(worst_r, recall)
        met = "yes" if precision >= TARGET_PRECISION and recall >= TARGET_RECALL else "NO"
        print(f"| {kind} | {len(labelled)} | {len(detected)} | {hits} | {precision:.3f} | {recall:.3f} | {met} |")
    hits = len(truth & found)
    overall_p, overall_r = hits / max(1, len(found)), hits / max(1, len(truth))
    print(f"| **overall** | {len(truth)} | {len(found)} | {hits} | {overall_p:.3f} | {overall_r:.3f} | |")
    missed = Counter(k for _, _, k in truth - found)
    wrong = Counter(k for _, _, k in found - truth)
    print(f"\nmissed by kind: {dict(missed)}; false alarms by kind: {dict(wrong)}")
    print(
        f"ratio: worst precision {worst_p:.3f} (target >= {TARGET_PRECISION}), "
        f"worst recall {worst_r:.3f} (target >= {TARGET_RECALL})"
    )
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
