"""The ready queries' answers computed in Python from records as DynamoDB holds them: the
reference the lake's SQL must equal (tests/integration/test_lake_sql.py) and the baseline of
`bench/lake.py` (Queries per site, then this)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pipeline.records import Record
from pipeline.timestamps import parse_utc

Row = tuple[Any, ...]  # the lake's fields, in its order, without written_at


def record_row(r: Record) -> Row:
    """A record as the lake's row (`lake.COLUMNS` without `written_at`)."""
    return (
        r.site_id,
        parse_utc(r.timestamp),
        r.energy_generated_kwh,
        r.energy_consumed_kwh,
        r.net_energy_kwh,
        r.anomaly,
        list(r.anomaly_reasons),
        r.estimated,
        r.estimate_method,
        r.edited,
        r.source_key or None,
        parse_utc(r.processed_at) if r.processed_at else None,
    )


def answers(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Each ready query's rows (pipeline/ops/lake_queries.py), in its order, from rows sorted
    by site and time."""
    daily: dict[tuple[str, date], list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0, 0])
    monthly: dict[tuple[str, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    per_month: Counter[date] = Counter()
    flagged: Counter[tuple[date, str]] = Counter()
    by_site: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        site, t, gen, cons, net, anomaly, reasons = row[:7]
        day = daily[(site, t.date())]
        day[0] += gen
        day[1] += cons
        day[2] += net
        day[3] += 1
        day[4] += int(anomaly)
        month_start = t.date().replace(day=1)
        month = monthly[(site, month_start)]
        month[0] += gen
        month[1] += cons
        month[2] += min(gen, cons)
        per_month[month_start] += 1
        for reason in reasons:
            flagged[(month_start, reason)] += 1
        by_site[site].append(row)
    return {
        "daily-energy": [(s, d, *v) for (s, d), v in sorted(daily.items())],
        "monthly-self-sufficiency": [
            (s, m, g, c, round(float(both) / float(c), 4) if c else None)
            for (s, m), (g, c, both) in sorted(monthly.items())
        ],
        "anomaly-rate": sorted(
            ((m, reason, n, per_month[m], round(n / per_month[m], 6)) for (m, reason), n in flagged.items()),
            key=lambda r: (r[0], -r[2], r[1]),
        ),
        "completeness": sorted(
            (_completeness(site, mine) for site, mine in by_site.items()), key=lambda r: (r[7], r[0])
        ),
    }


INTERVALS = ((288, 1), (144, 5), (96, 10), (48, 15), (24, 30), (1, 60))  # (more than N a day, minutes)


def _completeness(site: str, rows: list[Row]) -> Row:
    per_day = Counter(r[1].date() for r in rows)
    usual = max(Counter(per_day.values()).items(), key=lambda count_days: (count_days[1], count_days[0]))[0]
    minutes = next((m for above, m in INTERVALS if usual > above), 1440)
    expected = round((rows[-1][1] - rows[0][1]).total_seconds() / (minutes * 60)) + 1
    measured = sum(1 for r in rows if not r[7])
    completeness = round(measured / expected, 4)
    return (site, rows[0][1], rows[-1][1], minutes, expected, measured, len(rows) - measured, completeness)


def rows_of(records: Iterable[Record]) -> list[Row]:
    return [record_row(r) for r in records]
