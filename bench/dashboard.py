"""Dashboard: the Live page's data (all sites, last 7 days) as the stored history grows.

Ours: for each site of `sites.list_sites`, `rollups.site_rollups` for the last 7 days (one
key Query of small hourly items), into a pandas DataFrame.

Baseline: what the original dashboard did: Scan the whole `energy_data` table, page after
page, into pandas, then keep the last 7 days.

Both are timed on 10,000 and on 100,000 stored readings. The readings are 10 sites at a
15-minute cadence, newest first, so the last 7 days hold the same 6,720 readings at both
sizes and the extra readings are older history (about 10 days against 104): the
realistic case, where the dashboard reads a week and a Scan reads everything. The target
is that our time grows by less than 1.5x from 10k to 100k while the Scan grows with the
table.

Seeding stores what the pipeline would store (records from its own pure middle, rollups
from `rollups.deltas`) straight into moto's in-process store, as its BatchWriteItem would,
instead of running every file through the handler: the handler's one UpdateItem per
site-hour, or even BatchWriteItem over HTTP, would take most of the time budget. Seeding
is not timed; the check that rollups and Scan agree on the window guards it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import boto3  # noqa: E402
import pandas as pd  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.common import (  # noqa: E402
    CALL_HEADERS,
    CallStats,
    aws_calls,
    bench_sites,
    call_rows,
    derive_and_detect,
    embedded_stack,
    markdown_table,
    median,
    number,
    parse_args,
    progress,
    ratio_line,
    report,
    seconds,
    timed,
)
from pipeline import rollups  # noqa: E402
from pipeline.dynamo import batch_write, marshal  # noqa: E402
from pipeline.formats import RawRow  # noqa: E402
from pipeline.ops.simulation import simulate  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sites import Site, list_sites, put_sites  # noqa: E402
from pipeline.timestamps import utc_text  # noqa: E402
from pipeline.validation import validate_rows  # noqa: E402

TARGET_GROWTH = 1.5
SITES = 10
DAYS = 7
HOUR = "%Y-%m-%dT%H:00:00Z"
FULL = (10_000, 100_000)
QUICK = (200, 600)
CHUNK_PER_SITE = 1_000  # readings per site simulated and written at a time
# (ours, scan) repeats at each size; the median counts.
REPEATS = {10_000: (3, 1), 100_000: (3, 1)}


@dataclass
class Seeder:
    """Stores simulated history, newest first, as the pipeline would have stored it."""

    settings: Settings
    sites: list[Site]
    newest: datetime  # the last reading's interval end
    stored_per_site: int = 0
    days: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # the rollup items, by key
    stored: dict[tuple[str, str], Any] = field(default_factory=dict)  # what the table holds, by key
    source_key: str = "raw/bench/dashboard-seed.json"
    how: str = ""

    def grow_to(self, per_site: int) -> None:
        """Add older readings until each site has `per_site` of them."""
        _, derive = derive_and_detect()
        step = timedelta(minutes=self.sites[0].interval_minutes or 15)
        while self.stored_per_site < per_site:
            count = min(CHUNK_PER_SITE, per_site - self.stored_per_site)
            end = self.newest - self.stored_per_site * step
            simulated = simulate(self.sites, end, count, anomaly_rate=0.02, seed=self.stored_per_site)
            rows = [RawRow(i, r) for i, r in enumerate(simulated.readings, start=1)]
            readings = validate_rows(rows).readings
            records = derive(readings, {s.site_id: s for s in self.sites}, self.source_key, self.newest)
            # A reading may land on a key stored earlier (the simulator moves some into the future):
            # as in the pipeline, the rollups move by the difference.
            changes = [(self.stored.get(r.key), r) for r in records]
            self.write(self.settings.table, [r.to_item() for r in records])
            self.stored.update((r.key, r) for r in records)
            self._add_rollups(rollups.deltas(changes))
            self.stored_per_site += count

    def _add_rollups(self, moves: dict[tuple[str, str], dict[str, Decimal]]) -> None:
        """The day items these hourly deltas move, added to as the pipeline adds to them."""
        token = f"seed-{self.stored_per_site}"
        items = []
        for key, hour_deltas in rollups.by_day(moves).items():
            item = rollups.add_to_day(self.days.get(key), *key, hour_deltas, token)
            if item is not None:
                self.days[key] = item
                items.append(item)
        self.write(self.settings.rollup_table, items)

    def write(self, table: str, items: list[dict[str, Any]]) -> None:
        """Straight into moto's store when it runs in this process (what its BatchWriteItem does,
        item by item, without the HTTP round trips), else through BatchWriteItem."""
        backend = _moto_dynamodb(self.settings.region)
        if backend is None or table not in backend.tables:
            batch_write(self.settings, table, items)
            self.how = "BatchWriteItem"
            return
        for item in items:
            backend.put_item(table, marshal(item))
        self.how = "moto's store in this process"


def _moto_dynamodb(region: str) -> Any:
    """moto's DynamoDB backend of this process, or None where that is not reachable."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    except Exception:
        return None


def _iso(moment: datetime) -> str:
    return utc_text(moment)


# --- the two ways to get the Live page's data -------------------------------------------


def ours(settings: Settings, start_hour: str, end_hour: str) -> pd.DataFrame:
    rows = [
        {
            "site_id": r.site_id,
            "hour": r.hour,
            "generated_kwh": float(r.generated_kwh),
            "consumed_kwh": float(r.consumed_kwh),
            "net_kwh": float(r.net_kwh),
            "self_supplied_kwh": float(r.self_supplied_kwh),
            "readings": r.readings,
            "anomalies": r.anomalies,
        }
        for site in list_sites(settings)
        for r in rollups.site_rollups(settings, site.site_id, start_hour, end_hour)
    ]
    return pd.DataFrame(rows)


def original_table(settings: Settings) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=settings.region
    )
    resource = session.resource(
        "dynamodb", endpoint_url=settings.endpoint_url, config=Config(retries={"mode": "standard"})
    )
    return resource.Table(settings.table)


def scan_all(table: Any, start: str, end: str) -> pd.DataFrame:
    """The original `/all-records`: Scan everything, then let pandas keep the last 7 days."""
    response = table.scan()
    items = response["Items"]
    while "LastEvaluatedKey" in response:
        response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
        items.extend(response["Items"])
    frame = pd.DataFrame(items)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame[(frame["timestamp"] >= pd.Timestamp(start)) & (frame["timestamp"] < pd.Timestamp(end))]


@dataclass(frozen=True)
class Measured:
    stored: int
    in_window: int
    rollup_items: int
    ours: float
    scan: float
    calls: dict[str, Any]  # per run, on average
    ours_mean: float


def measure(settings: Settings, table: Any, stored: int, repeats: tuple[int, int], now: datetime) -> Measured:
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=DAYS * 24 - 1)
    start_hour, end_hour = start.strftime(HOUR), end.strftime(HOUR)
    ours_times, scan_times = [], []
    frame, scanned = pd.DataFrame(), pd.DataFrame()
    with aws_calls() as calls:
        for _ in range(repeats[0]):
            elapsed, frame = timed(lambda: ours(settings, start_hour, end_hour))
            ours_times.append(elapsed)
    for _ in range(repeats[1]):
        elapsed, scanned = timed(lambda: scan_all(table, _iso(start), _iso(end + timedelta(hours=1))))
        scan_times.append(elapsed)
    from_rollups = int(frame["readings"].sum()) if not frame.empty else 0
    in_window = len(scanned)
    if from_rollups != in_window:
        raise SystemExit(f"the rollups count {from_rollups} readings in the window, the Scan finds {in_window}")
    per_run = {name: CallStats(e.calls // repeats[0], e.seconds / repeats[0]) for name, e in calls.items()}
    mean = sum(ours_times) / len(ours_times)
    return Measured(stored, in_window, len(frame), median(ours_times), median(scan_times), per_run, mean)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    sizes = QUICK if args.quick else FULL
    now = datetime.now(UTC)
    newest = now.replace(minute=0, second=0, microsecond=0)
    results: list[Measured] = []
    with embedded_stack() as stack:
        settings = stack.settings
        sites = bench_sites(SITES)
        put_sites(settings, sites)
        seeder = Seeder(settings, sites, newest)
        table = original_table(settings)
        for size in sizes:
            seed_time, _ = timed(lambda size=size: seeder.grow_to(size // len(sites)))
            stored = seeder.stored_per_site * len(sites)
            progress(f"dashboard: seeded {number(stored)} readings ({seconds(seed_time)})")
            results.append(measure(settings, table, stored, REPEATS.get(size, (2, 1)), now))
            progress(f"dashboard {number(stored)}: ours {seconds(results[-1].ours)}, scan {seconds(results[-1].scan)}")
    seeder_how = seeder.how
    small, large = results[0], results[-1]
    growth_ours = large.ours / small.ours
    growth_scan = large.scan / small.scan
    rows = [
        [
            number(m.stored),
            number(m.in_window),
            number(m.rollup_items),
            seconds(m.ours),
            seconds(m.scan),
            f"{m.scan / m.ours:,.1f}x",
        ]
        for m in results
    ]
    rows.append(
        ["growth", f"{large.stored / small.stored:,.1f}x stored", "", f"{growth_ours:.2f}x", f"{growth_scan:.2f}x", ""]
    )
    report(
        "Dashboard: the Live page's data (all sites, last 7 days)",
        [
            "stored readings",
            "readings in last 7 days",
            "rollup rows read",
            "ours (rollup queries)",
            "baseline (Scan into pandas)",
            "baseline/ours",
        ],
        rows,
        ratio_line(
            f"ours at {number(large.stored)} / ours at {number(small.stored)}",
            growth_ours,
            f"< {TARGET_GROWTH:g}x",
            growth_ours < TARGET_GROWTH,
            f"the Scan grew {growth_scan:.2f}x; at {number(large.stored)} the Scan takes "
            f"{large.scan / large.ours:,.1f}x ours",
        ),
        [
            f"{SITES} simulated sites at 15-minute cadence; the newest reading in the current hour; older history "
            "makes the larger size.",
            "ours = list_sites + one rollups.site_rollups Query per site + DataFrame; median of "
            f"{'/'.join(str(REPEATS.get(s, (2, 1))[0]) for s in sizes)} runs. baseline = paginated Scan of energy_data "
            f"+ DataFrame + 7-day filter; median of {'/'.join(str(REPEATS.get(s, (2, 1))[1]) for s in sizes)} runs.",
            f"seeded through {seeder_how}, untimed; the rollup rows read and the readings in the window must agree "
            "with the Scan, or the run fails.",
        ],
    )
    for m in results:
        print(f"\nOurs at {number(m.stored)} stored readings, AWS calls per run (mean {seconds(m.ours_mean)}):\n")
        print(markdown_table(CALL_HEADERS, call_rows(m.calls, m.ours_mean)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
