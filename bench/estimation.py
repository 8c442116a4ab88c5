"""Estimation on real data: how close the estimates of missing intervals come to the readings.

The healthy series of `bench/realdata.py` (PV systems nobody here made, from the pvanalytics
wheel) lose readings on purpose: gaps of 1, 2, 6 and 24 hours, at random places (fixed seed)
after the first week, as many as fit without overlapping. Each series then goes through the
rules a UTC day per file (`anomalies.detect_file`, the handler's pure core: the estimates are
the ones the handler stores), and each estimate is compared with the reading taken out.

Baseline, in the same run: the "like day" estimate utilities use when they have nothing
better, the same interval on the day before (missing if the day before is missing too).
Reported per gap length: the share of removed intervals estimated, the error of the energy
estimated over all the gaps (what a monthly total would be off by) and the mean absolute
error per interval, both as a share of the removed energy; ratio: ours against like-day.

    python bench/estimation.py [--quick]
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.common import parse_args, progress, ratio_line, report  # noqa: E402
from bench.realdata import SERIES, Prepared, prepare, wheel  # noqa: E402
from pipeline.anomalies import History, detect_file  # noqa: E402
from pipeline.timestamps import utc_text  # noqa: E402
from pipeline.validation import Reading  # noqa: E402

GAP_HOURS = (1, 2, 6, 24)
WARM_UP_DAYS = 8  # the profile needs recent days before a long gap can be estimated
GAPS_PER_LENGTH = 40
QUICK_GAPS = 4
NOW = datetime(2100, 1, 1, tzinfo=UTC)  # no reading of the series is in the future
HEALTHY = ("inv-7539", "serf-east-15min", "mesa-tracker", "system-50")  # no labels, 15-minute cadence
QUICK_SERIES = ("inv-7539",)


@dataclass
class Tally:
    removed: int = 0
    estimated: int = 0
    actual_kwh: Decimal = Decimal(0)  # of the removed readings that got an estimate
    estimated_kwh: Decimal = Decimal(0)
    absolute_error: Decimal = Decimal(0)

    def add(self, actual: Decimal, estimate: Decimal | None) -> None:
        self.removed += 1
        if estimate is None:
            return
        self.estimated += 1
        self.actual_kwh += actual
        self.estimated_kwh += estimate
        self.absolute_error += abs(estimate - actual)

    @property
    def coverage(self) -> float:
        return self.estimated / self.removed if self.removed else 0.0

    @property
    def total_error(self) -> float:
        return float((self.estimated_kwh - self.actual_kwh) / self.actual_kwh) if self.actual_kwh else 0.0

    @property
    def mean_error(self) -> float:
        return float(self.absolute_error / self.actual_kwh) if self.actual_kwh else 0.0


def readings_of(prepared: Prepared) -> list[Reading]:
    return [
        Reading(r["site_id"], r["timestamp"], Decimal(repr(r["energy_generated_kwh"])), Decimal(0))  # type: ignore[arg-type]
        for _, rows in prepared.days
        for r in rows
    ]


def punch(readings: list[Reading], hours: int, count: int, seed: int) -> set[str]:
    """Timestamps of `count` non-overlapping gaps of `hours`, after the warm-up days; only
    gaps whose every interval had a reading (a real gap inside would not be ours to score)."""
    stamps = [r.timestamp for r in readings]
    present = set(stamps)
    first = datetime.fromisoformat(stamps[0]) + timedelta(days=WARM_UP_DAYS)
    starts = [t for t in stamps if datetime.fromisoformat(t) >= first and t[14:16] == "00"]
    chooser = random.Random(seed)
    chooser.shuffle(starts)
    taken: set[str] = set()  # the gaps and the readings either side of them
    removed: set[str] = set()
    for start in starts:
        if len(removed) == count * hours * 4:
            break
        moment = datetime.fromisoformat(start)
        gap = {utc_text(moment + timedelta(minutes=15 * q)) for q in range(hours * 4)}
        edges = {utc_text(moment + delta) for delta in (-timedelta(minutes=15), timedelta(hours=hours))}
        if gap | edges <= present and not (gap | edges) & taken:
            taken |= gap | edges
            removed |= gap
    return removed


def estimate(prepared: Prepared, removed: set[str]) -> dict[str, Decimal]:
    """The generation the rules estimate for each removed timestamp, a UTC day per file."""
    site = prepared.site
    history = History()
    found: dict[str, Decimal] = {}
    for _, rows in prepared.days:
        day = [
            Reading(site.site_id, r["timestamp"], Decimal(repr(r["energy_generated_kwh"])), Decimal(0))  # type: ignore[arg-type]
            for r in rows
            if r["timestamp"] not in removed
        ]
        if not day:
            continue
        detection = detect_file(day, {site.site_id: site}, {site.site_id: history}, NOW)
        history = detection.histories.get(site.site_id, history)
        found.update((e.timestamp, e.energy_generated_kwh) for e in detection.estimates)
    return found


def like_day(values: dict[str, Decimal], timestamp: str) -> Decimal | None:
    day_before = datetime.fromisoformat(timestamp) - timedelta(days=1)
    return values.get(utc_text(day_before))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    archive = wheel()
    chosen = [s for s in SERIES if s.site_id in (QUICK_SERIES if args.quick else HEALTHY)]
    count = QUICK_GAPS if args.quick else GAPS_PER_LENGTH
    ours = {hours: Tally() for hours in GAP_HOURS}
    baseline = {hours: Tally() for hours in GAP_HOURS}
    for series in chosen:
        prepared = prepare(series, archive, WARM_UP_DAYS + 6 if args.quick else None)
        readings = readings_of(prepared)
        values = {r.timestamp: r.energy_generated_kwh for r in readings}
        progress(f"estimation: {series.site_id}, {len(readings):,} readings")
        for number, hours in enumerate(GAP_HOURS):
            removed = punch(readings, hours, count, seed=number)
            found = estimate(prepared, removed)
            kept = {t: v for t, v in values.items() if t not in removed}
            for timestamp in sorted(removed):
                ours[hours].add(values[timestamp], found.get(timestamp))
                baseline[hours].add(values[timestamp], like_day(kept, timestamp))
    rows, lines = [], []
    for hours in GAP_HOURS:
        a, b = ours[hours], baseline[hours]
        method = "linear" if hours <= 2 else "profile"
        rows.append(
            [
                f"{hours} h",
                method,
                f"{a.removed:,}",
                f"{a.coverage * 100:.1f}%",
                f"{a.total_error * 100:+.1f}%",
                f"{a.mean_error * 100:.1f}%",
                f"{b.coverage * 100:.1f}%",
                f"{b.total_error * 100:+.1f}%",
                f"{b.mean_error * 100:.1f}%",
            ]
        )
        if a.mean_error:
            lines.append(
                ratio_line(f"{hours} h gaps, like-day error / our error", b.mean_error / a.mean_error, None, None)
            )
    report(
        "Estimation on real PV data (pvanalytics 0.2.2)",
        [
            "gap",
            "our method",
            "intervals removed",
            "ours: estimated",
            "ours: energy error",
            "ours: mean abs. error",
            "like-day: estimated",
            "like-day: energy error",
            "like-day: mean abs. error",
        ],
        rows,
        lines,
        [
            f"series: {', '.join(s.site_id for s in chosen)} (healthy, 15-minute; generation only, as the data has no "
            f"consumption); {count} gaps per length, at random whole hours after the first {WARM_UP_DAYS} days.",
            "energy error: (estimated - actual) / actual, summed over every estimated interval; mean abs. error: "
            "sum |estimated - actual| / sum actual. Both over the intervals each method estimated.",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
