"""Process: parse + validate + derive + detect in memory, against the floor of `json.loads`.

Ours: `formats.decode_rows` (exact Decimals, row numbers), `validation.validate_rows`
(every rule, timestamps normalised to UTC, duplicates folded) and the pipeline's pure
middle that derives `net_energy_kwh` and runs every anomaly rule (`assessment.assess`, or
`build_records` where that is what the pipeline offers). No AWS is involved.

Floor: `json.loads` of the same bytes, which any processing has to pay at least. The
target is that our whole pure path costs at most 4x that floor.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import json  # noqa: E402
import time  # noqa: E402

from bench.common import (  # noqa: E402
    bench_sites,
    derive_and_detect,
    markdown_table,
    number,
    parse_args,
    progress,
    ratio_line,
    report,
    seconds,
    timed,
)
from pipeline.formats import decode_rows  # noqa: E402
from pipeline.ops.simulation import encode, simulate  # noqa: E402
from pipeline.sites import Site  # noqa: E402
from pipeline.timestamps import now_utc  # noqa: E402
from pipeline.validation import validate_rows  # noqa: E402

TARGET = 4.0
SITES = 10
# (readings, repeats): each repeat times the floor and ours back to back; the best of each counts.
FULL = ((1_000, 7), (10_000, 5))
QUICK = ((200, 2),)
PROFILE_AT = 10_000
KEY = "raw/2026/01/01/bench-process.json"


def make_body(readings: int) -> tuple[bytes, dict[str, Site]]:
    sites = bench_sites(SITES)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulated = simulate(sites, now, max(1, readings // len(sites)), anomaly_rate=0.02, seed=readings)
    return encode(simulated.readings, "json"), {s.site_id: s for s in sites}


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    plan = QUICK if args.quick else FULL
    name, derive = derive_and_detect()
    processed_at = now_utc()
    rows, stage_rows, ratios = [], [], []
    profiled = None
    for size, repeats in plan:
        body, sites = make_body(size)
        count = len(json.loads(body))
        gc.collect()

        def ours(body: bytes = body, sites: dict[str, Site] = sites) -> list[Any]:
            return derive(validate_rows(decode_rows(KEY, body)).readings, sites, KEY, processed_at)

        records = ours()
        distinct = len({(r["site_id"], r["timestamp"]) for r in json.loads(body)})
        if len(records) != distinct:
            raise SystemExit(f"ours made {len(records)} records of {distinct} distinct readings")
        floor_times, our_times = [], []
        for _ in range(repeats):  # interleaved, so a noisy moment hits both
            floor_times.append(timed(lambda body=body: json.loads(body))[0])
            our_times.append(timed(ours)[0])
        floor, mine = min(floor_times), min(our_times)
        progress(f"process {number(count)} readings: json.loads {seconds(floor)}, ours {seconds(mine)}")
        ratio = mine / floor
        ratios.append((count, ratio))
        rows.append(
            [
                number(count),
                f"{len(body) / 1e6:,.2f}",
                number(count / floor),
                f"{floor * 1e6 / count:,.2f}",
                number(count / mine),
                f"{mine * 1e6 / count:,.2f}",
                f"{ratio:.1f}x",
            ]
        )
        # Where ours spends it, stage by stage (best of the repeats).
        rows_ = decode_rows(KEY, body)
        validated = validate_rows(rows_)
        decode_t = best(lambda body=body: decode_rows(KEY, body), repeats)
        validate_t = best(lambda rows_=rows_: validate_rows(rows_), repeats)
        derive_t = best(lambda v=validated, s=sites: derive(v.readings, s, KEY, processed_at), repeats)
        if size == PROFILE_AT or (args.quick and profiled is None):
            profiled = ours
        stage_rows.append(
            [number(count)] + [f"{t * 1e6 / count:,.2f}" for t in (floor, decode_t, validate_t, derive_t)]
        )
    largest, worst = max(ratios)
    report(
        "Process: parse + validate + derive + detect, in memory",
        [
            "readings",
            "file MB",
            "json.loads readings/s",
            "json.loads µs/reading",
            "ours readings/s",
            "ours µs/reading",
            "ours/json.loads",
        ],
        rows,
        ratio_line(
            "ours/json.loads (time)",
            worst,
            f"<= {TARGET:g}x",
            worst <= TARGET,
            f"at {number(largest)} readings; " + ", ".join(f"{number(c)}: {r:.1f}x" for c, r in ratios),
        ),
        [
            f"ours = decode_rows + validate_rows + {name} (derive and every anomaly rule) with "
            f"{SITES} registered sites; best of the interleaved repeats.",
            "floor = json.loads of the same bytes (floats, no validation): the least any processing pays.",
        ],
    )
    print("\nStage by stage, µs per reading:\n")
    print(markdown_table(["readings", "json.loads", "decode_rows", "validate_rows", name], stage_rows))
    if profiled is not None and not args.quick:
        print_profile(profiled)
    return 0


def print_profile(fn: Callable[[], object], top: int = 12) -> None:
    """cProfile of one run: the functions that cost the most themselves."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    ranked = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in ranked:
        where = Path(filename).name if filename != "~" else "builtin"
        rows.append([f"`{where}:{line} {function}`", number(calls), f"{own / total * 100:,.1f}%", f"{cumulative:,.3f}"])
    print(f"\nProfile of ours at {number(PROFILE_AT)} readings (own time, cProfile overhead included):\n")
    print(markdown_table(["function", "calls", "own time share", "cumulative s"], rows))


if __name__ == "__main__":
    sys.exit(main())
