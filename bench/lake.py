"""The data lake: the ready queries over a year of a fleet, locally, against DynamoDB.

100 sites × one year at 15 minutes (3,504,000 readings) are seeded into the lake on the
embedded S3 as compaction leaves it (one Parquet object a reading day, written by the
pipeline's own writer) plus a day of recent writes still in the landing area, newer
versions of readings among them. Ours: each ready query (pipeline/ops/lake_queries.py) run
by `lake_sql.run` as the Explore page and `python -m pipeline sql` run it: DuckDB over the
local copy, which is synced first (timed on its own). Target: under 2 s each on 2 cores.

Baseline, in the same run: the same answers computed from DynamoDB, the way the app reads it
(a paginated Query per site, then the sums in Python: bench/lake_answers.py). Writing 3.5 M
items into the embedded DynamoDB would take this machine most of an hour, so the baseline
stores a sample of sites with their whole year, times them, and scales the time to the fleet
(Queries per site do not depend on each other); the lake's answer for the sample's sites
must equal the baseline's exactly. Also printed: the lake's size per million readings, what
building the local copy takes once, and what keeping it up to date takes after a compaction.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import embedded_stack, median, number, parse_args, progress, ratio_line, report, seconds, timed  # noqa: E402
from bench.lake_answers import answers, rows_of  # noqa: E402
from pipeline import lake  # noqa: E402
from pipeline.aws import client  # noqa: E402
from pipeline.dynamo import batch_write  # noqa: E402
from pipeline.lake_compaction import compact  # noqa: E402
from pipeline.ops import lake_cache, lake_queries, lake_sql  # noqa: E402
from pipeline.parquet import write_parquet  # noqa: E402
from pipeline.record_store import site_records  # noqa: E402
from pipeline.records import Record  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.timestamps import utc_text  # noqa: E402

TARGET_SECONDS = 2.0
CADENCE = timedelta(minutes=15)
START = datetime(2025, 1, 1, tzinfo=UTC)
REASONS = ("spike_generation", "negative_generation", "flatline_consumption", "zscore_consumption")
FULL = {"sites": 100, "days": 365, "sample_sites": 5, "repeats": 3}
QUICK = {"sites": 3, "days": 3, "sample_sites": 1, "repeats": 1}
MILLION = 1_000_000


def site_day(site: int, day: date, written_at: datetime) -> list[dict[str, Any]]:
    """A site's readings of a day as the lake's rows: a solar-shaped generation, a noisy
    consumption, 1% flagged, 0.5% estimated; the same for the same site and day."""
    rng = random.Random(site * 100_000 + day.toordinal())
    capacity = 5 + site % 20
    rows = []
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for i in range(96):
        hour = i / 4
        sun = max(0.0, 1 - abs(hour - 12.5) / 6.5)
        generated = Decimal(round(capacity * sun * rng.uniform(0.6, 1.0) / 4 * 1000)).scaleb(-3)
        consumed = Decimal(round(rng.uniform(0.2, 1.5) * 1000)).scaleb(-3)
        flagged = rng.random() < 0.01
        estimated = not flagged and rng.random() < 0.005
        rows.append(
            {
                "site_id": f"site-{site:03d}",
                "timestamp": moment + i * CADENCE,
                "energy_generated_kwh": generated,
                "energy_consumed_kwh": consumed,
                "net_energy_kwh": generated - consumed,
                "anomaly": flagged,
                "anomaly_reasons": [rng.choice(REASONS)] if flagged else [],
                "estimated": estimated,
                "estimate_method": "linear" if estimated else None,
                "edited": False,
                "source_key": f"raw/{day:%Y/%m/%d}/site-{site:03d}.csv",
                "processed_at": written_at,
                "written_at": written_at,
            }
        )
    return rows


def as_record(row: dict[str, Any]) -> Record:
    return Record(
        site_id=row["site_id"],
        timestamp=utc_text(row["timestamp"]),
        energy_generated_kwh=row["energy_generated_kwh"],
        energy_consumed_kwh=row["energy_consumed_kwh"],
        net_energy_kwh=row["net_energy_kwh"],
        anomaly_reasons=tuple(row["anomaly_reasons"]),
        source_key=row["source_key"],
        processed_at=utc_text(row["processed_at"]),
        estimate_method=row["estimate_method"],
    )


def seed(settings: Settings, sites: int, days: int, sample: int) -> tuple[int, int, int]:
    """The lake's days and a landing area, and the sample's records in DynamoDB; the rows
    written, the bytes of the compacted days, and the sample's records."""
    s3 = client(settings, "s3")
    written_at = START + timedelta(days=days + 1)
    rows_written = day_bytes = stored = 0
    last_day = (START + timedelta(days=days - 1)).date()
    for n in range(days):
        day = (START + timedelta(days=n)).date()
        rows = [row for site in range(sites) for row in site_day(site, day, written_at)]
        body = write_parquet(lake.COLUMNS, rows)
        s3.put_object(Bucket=settings.bucket, Key=lake.compacted_key(settings, day), Body=body)
        rows_written += len(rows)
        day_bytes += len(body)
        sample_records = [as_record(row) for row in rows if int(row["site_id"][5:]) < sample]
        if day == last_day:
            # the last day again, newer: corrected values of a quarter of its readings, as
            # recent writes wait in the landing area for the next compaction
            later = written_at + timedelta(hours=1)
            newer = [
                dict(row, energy_consumed_kwh=row["energy_consumed_kwh"] + 1, written_at=later) for row in rows[::4]
            ]
            for row in newer:
                row["net_energy_kwh"] = row["energy_generated_kwh"] - row["energy_consumed_kwh"]
            for start in range(0, len(newer), 100):  # a write per 100 readings, as groups of files make
                part = newer[start : start + 100]
                key = lake.landing_key(settings, later + timedelta(microseconds=start))
                s3.put_object(Bucket=settings.bucket, Key=key, Body=write_parquet(lake.COLUMNS, part))
            replaced = {(r["site_id"], r["timestamp"]): r for r in newer}
            sample_records = [as_record(replaced.get((r.site_id, _at(r)), _row(r, rows))) for r in sample_records]
        stored += batch_write(settings, settings.table, [r.to_item() for r in sample_records])
        if n % 30 == 29:
            progress(f"lake: {n + 1} of {days} days seeded ({number(rows_written)} readings)")
    return rows_written, day_bytes, stored


def _at(record: Record) -> datetime:
    return datetime.fromisoformat(record.timestamp.replace("Z", "+00:00"))


def _row(record: Record, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["site_id"] == record.site_id and r["timestamp"] == _at(record))


def main(argv: list[str] | None = None) -> int:
    options = parse_args(__doc__, argv)
    plan = QUICK if options.quick else FULL
    sites, days, sample, repeats = plan["sites"], plan["days"], plan["sample_sites"], plan["repeats"]
    with embedded_stack() as stack, TemporaryDirectory() as cache:
        settings = stack.settings
        seed_seconds, (readings, day_bytes, stored) = timed(lambda: seed(settings, sites, days, sample))
        progress(f"lake: {number(readings)} readings seeded in {seconds(seed_seconds)}")
        sync_seconds, synced = timed(lambda: lake_cache.sync(settings, Path(cache)))
        build_seconds, _ = timed(lambda: lake_sql.run(settings, "SELECT 1", cache_dir=Path(cache)))
        sample_ids = [f"site-{i:03d}" for i in range(sample)]
        fetch_seconds, sample_rows = timed(
            lambda: [row for s in sample_ids for row in rows_of(site_records(settings, s))]
        )
        if len(sample_rows) != stored:
            raise SystemExit(f"DynamoDB gave {len(sample_rows)} of the sample's {stored} records")
        python_seconds, reference = timed(lambda: answers(sample_rows))
        baseline_fleet = (fetch_seconds + python_seconds) * sites / sample
        rows, slowest = [], 0.0
        for query in lake_queries.READY:
            times = []
            for _ in range(repeats):
                took, answer = timed(
                    lambda q=query: lake_sql.run(settings, q.sql, cache_dir=Path(cache), max_rows=10**7)
                )
                times.append(took)
            took = median(times)
            slowest = max(slowest, took)
            on_the_sample = lake_sql.run(settings, on_sample(query.sql, sample_ids), cache_dir=Path(cache))
            if on_the_sample.rows != reference[query.name]:
                raise SystemExit(f"{query.name}: the lake's answer for the sample differs from DynamoDB's")
            rows.append(
                [
                    query.name,
                    number(len(answer.rows)),
                    seconds(took),
                    seconds(baseline_fleet),
                    f"{baseline_fleet / took:,.0f}x",
                    "yes",
                ]
            )
            progress(f"lake: {query.name} {seconds(took)}")
        compaction_seconds, compacted = timed(lambda: compact(settings))
        reload_seconds, _ = timed(lambda: lake_sql.run(settings, "SELECT 1", cache_dir=Path(cache)))
    per_million = day_bytes / readings * MILLION
    report(
        f"Data lake: the ready queries over {number(readings)} readings ({sites} sites × {days} days at 15 minutes)",
        [
            "ready query",
            "rows",
            "ours (DuckDB, local copy)",
            "baseline (DynamoDB Queries, fleet)",
            "baseline/ours",
            "same answer for the sample",
        ],
        rows,
        [
            f"slowest ready query: {seconds(slowest)} (target < {seconds(TARGET_SECONDS)}): "
            + ("met" if slowest < TARGET_SECONDS else "MISSED"),
            ratio_line("baseline/ours, slowest query", baseline_fleet / slowest, None, None),
        ],
        [
            f"lake size: {day_bytes / 1e6:,.1f} MB in {days} compacted day objects = "
            f"{per_million / 1e6:,.2f} MB per million readings ({day_bytes / readings:,.1f} bytes a reading), "
            "GZIP Parquet from the pipeline's writer",
            f"seeding (write + PUT, and the sample into DynamoDB): {seconds(seed_seconds)}; "
            f"the local copy: syncing its {synced.downloaded} objects {seconds(sync_seconds)}, then building its "
            f"database (the first query) {seconds(build_seconds)}, once, not in the query times; after a "
            f"compaction ({compacted.landing_objects} landing objects into {compacted.days_written} day(s), "
            f"{seconds(compaction_seconds)}), the next query's sync and load {seconds(reload_seconds)}",
            f"ours: median of {repeats} runs each, `lake_sql.run` (read-only check, sync, the local "
            "database up to date, query, fetch); the landing area's newer versions replace the days' rows "
            "in the local `records` table",
            f"baseline: a paginated Query per site of {sample} sample sites with their whole year ({number(stored)} "
            f"records): {seconds(fetch_seconds)}, answers in Python {seconds(python_seconds)}; "
            f"× {sites / sample:g} for the fleet = {seconds(baseline_fleet)}, for every query alike",
        ],
    )
    return 0 if slowest < TARGET_SECONDS or options.quick else 1


def on_sample(sql: str, site_ids: list[str]) -> str:
    """The query over the sample's sites only: `records` shadowed by a CTE of their rows."""
    listed = ", ".join(f"'{site}'" for site in site_ids)
    cte = f"records AS (SELECT * FROM main.records WHERE site_id IN ({listed}))"
    if sql.lstrip()[:4].upper() == "WITH":
        return f"WITH {cte}, {sql.lstrip()[4:].lstrip()}"
    return f"WITH {cte} {sql}"


if __name__ == "__main__":
    sys.exit(main())
