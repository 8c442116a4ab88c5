"""Does the data lake hold what DynamoDB holds? Day by day and site by site, from a day on.

One query over the lake's `records` view (DuckDB locally, Athena on AWS: `lake_sql.run`)
gives each site's readings, energies and anomalies per UTC day; a paginated Query per site
gives the same from DynamoDB. A day whose figures differ is reported with both sides, so an
operator sees where rows are missing from the lake (a write the pipeline never copied), or
are there and not in DynamoDB (a file whose tries failed after writing ahead and that waits
in the dead-letter queue: its redrive makes them agree). Aggregates rather than rows: one
scan of the lake whatever its size, and sums of exact decimals find a changed value as
surely as the rows would.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pipeline import lake
from pipeline.ops import lake_sql
from pipeline.record_store import site_records
from pipeline.settings import Settings
from pipeline.sites import list_sites

Figures = tuple[int, Decimal, Decimal, int]  # readings, generated, consumed, anomalies
MAX_LISTED = 50  # days listed in the report; the count says how many more differ


@dataclass(frozen=True)
class Difference:
    site_id: str
    day: date
    lake: Figures | None  # None: no reading of that site and day in the lake
    dynamodb: Figures | None

    def describe(self) -> str:
        return f"{self.site_id} {self.day}: lake {_figures(self.lake)}, DynamoDB {_figures(self.dynamodb)}"


@dataclass(frozen=True)
class LakeCheck:
    since: date
    sites: int
    days: int  # site-days compared
    differences: list[Difference]

    @property
    def ok(self) -> bool:
        return not self.differences

    def render(self) -> str:
        head = (
            f"{'OK' if self.ok else 'DIFFERENT'}: {self.days:,} site-days of {self.sites:,} sites since {self.since}, "
            f"the lake against DynamoDB: {len(self.differences):,} differ"
        )
        lines = [head, *(f"  {d.describe()}" for d in self.differences[:MAX_LISTED])]
        if len(self.differences) > MAX_LISTED:
            lines.append(f"  ... and {len(self.differences) - MAX_LISTED:,} more")
        return "\n".join(lines)


def check(settings: Settings, since: date, *, timeout_seconds: float = 300) -> LakeCheck:
    """Compare the lake with DynamoDB for every reading from `since` (UTC) on; the sites are
    the registry's and any the lake names."""
    in_lake = _lake_figures(settings, since, timeout_seconds)
    site_ids = sorted({s.site_id for s in list_sites(settings)} | {site for site, _ in in_lake})
    in_dynamodb = {}
    for site_id in site_ids:
        in_dynamodb.update(_dynamodb_figures(settings, site_id, since))
    keys = sorted(in_lake.keys() | in_dynamodb.keys())
    differences = [
        Difference(site, day, in_lake.get((site, day)), in_dynamodb.get((site, day)))
        for site, day in keys
        if in_lake.get((site, day)) != in_dynamodb.get((site, day))
    ]
    return LakeCheck(since, len(site_ids), len(keys), differences)


def _lake_figures(settings: Settings, since: date, timeout_seconds: float) -> dict[tuple[str, date], Figures]:
    answer = lake_sql.run(
        settings,
        f"""SELECT site_id, CAST("timestamp" AS DATE) AS day, COUNT(*) AS readings,
                   SUM(energy_generated_kwh) AS generated, SUM(energy_consumed_kwh) AS consumed,
                   SUM(CASE WHEN anomaly THEN 1 ELSE 0 END) AS anomalies
            FROM {lake.VIEW}
            WHERE "timestamp" >= TIMESTAMP '{since.isoformat()} 00:00:00'
            GROUP BY site_id, CAST("timestamp" AS DATE)""",
        timeout_seconds=timeout_seconds,
        max_rows=10_000_000,
    )
    return {
        (site, day): (int(readings), _exact(generated), _exact(consumed), int(anomalies))
        for site, day, readings, generated, consumed, anomalies in answer.rows
    }


def _dynamodb_figures(settings: Settings, site_id: str, since: date) -> dict[tuple[str, date], Figures]:
    days: dict[date, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0])
    for record in site_records(settings, site_id, start=since.isoformat()):
        day = days[date.fromisoformat(record.timestamp[:10])]
        day[0] += 1
        day[1] += record.energy_generated_kwh
        day[2] += record.energy_consumed_kwh
        day[3] += int(record.anomaly)
    return {(site_id, day): (n, _exact(g), _exact(c), a) for day, (n, g, c, a) in days.items()}


def _exact(value: object) -> Decimal:
    """A sum as a comparable Decimal, whatever its scale (DuckDB and Athena keep six places)."""
    return Decimal(str(value)).normalize() if value is not None else Decimal(0)


def _figures(figures: Figures | None) -> str:
    if figures is None:
        return "no readings"
    readings, generated, consumed, anomalies = figures
    return f"{readings:,} readings, {generated} kWh generated, {consumed} kWh consumed, {anomalies} anomalies"
