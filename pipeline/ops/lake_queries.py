"""The ready queries of the Explore page and `python -m pipeline sql --ready NAME`: SQL over the
lake's `records` view that DuckDB and Athena both run as written (docs/lake.md lists what
differs between the two and how these avoid it: UTC dates, ratios and divisions in DOUBLE
(DuckDB's `/` on integers is a float division, Trino's an integer one), UNNEST in FROM).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadyQuery:
    name: str
    title: str
    sql: str
    # the chart the page first offers: x, y and colour columns, and the mark
    x: str
    y: str
    color: str | None = None
    mark: str = "line"


DAILY_ENERGY = ReadyQuery(
    "daily-energy",
    "Daily energy per site",
    """SELECT site_id,
       CAST("timestamp" AS DATE) AS day,
       SUM(energy_generated_kwh) AS generated_kwh,
       SUM(energy_consumed_kwh) AS consumed_kwh,
       SUM(net_energy_kwh) AS net_kwh,
       COUNT(*) AS readings,
       SUM(CASE WHEN anomaly THEN 1 ELSE 0 END) AS anomalies
FROM records
GROUP BY site_id, CAST("timestamp" AS DATE)
ORDER BY site_id, day""",
    x="day",
    y="net_kwh",
    color="site_id",
)

MONTHLY_SELF_SUFFICIENCY = ReadyQuery(
    "monthly-self-sufficiency",
    "Monthly self-sufficiency per site (share of consumption met by the site's own generation)",
    """SELECT site_id,
       CAST(date_trunc('month', "timestamp") AS DATE) AS month,
       SUM(energy_generated_kwh) AS generated_kwh,
       SUM(energy_consumed_kwh) AS consumed_kwh,
       ROUND(CAST(SUM(LEAST(energy_generated_kwh, energy_consumed_kwh)) AS DOUBLE)
             / NULLIF(CAST(SUM(energy_consumed_kwh) AS DOUBLE), 0), 4) AS self_sufficiency
FROM records
GROUP BY site_id, CAST(date_trunc('month', "timestamp") AS DATE)
ORDER BY site_id, month""",
    x="month",
    y="self_sufficiency",
    color="site_id",
)

ANOMALY_RATE = ReadyQuery(
    "anomaly-rate",
    "Anomaly rate by reason and month (share of the month's readings flagged for the reason)",
    """WITH monthly AS (
    SELECT CAST(date_trunc('month', "timestamp") AS DATE) AS month, COUNT(*) AS readings
    FROM records
    GROUP BY CAST(date_trunc('month', "timestamp") AS DATE)
), flagged AS (
    SELECT CAST(date_trunc('month', r."timestamp") AS DATE) AS month, t.reason, COUNT(*) AS flagged
    FROM records r CROSS JOIN UNNEST(r.anomaly_reasons) AS t(reason)
    GROUP BY CAST(date_trunc('month', r."timestamp") AS DATE), t.reason
)
SELECT f.month, f.reason, f.flagged, m.readings,
       ROUND(CAST(f.flagged AS DOUBLE) / m.readings, 6) AS rate
FROM flagged f JOIN monthly m ON f.month = m.month
ORDER BY f.month, f.flagged DESC, f.reason""",
    x="month",
    y="rate",
    color="reason",
    mark="bar",
)

COMPLETENESS = ReadyQuery(
    "completeness",
    "Data completeness per site (measured readings against those its cadence implies)",
    """WITH spaced AS (
    SELECT site_id,
           date_diff('second', lag("timestamp") OVER (PARTITION BY site_id ORDER BY "timestamp"), "timestamp") AS gap_s
    FROM records
), cadence AS (  -- a site's cadence: its most common spacing between readings
    SELECT site_id, gap_s FROM (
        SELECT site_id, gap_s, row_number() OVER (PARTITION BY site_id ORDER BY COUNT(*) DESC, gap_s) AS gap_rank
        FROM spaced WHERE gap_s > 0
        GROUP BY site_id, gap_s
    ) ranked WHERE gap_rank = 1
), counted AS (
    SELECT site_id, MIN("timestamp") AS first_reading, MAX("timestamp") AS last_reading,
           SUM(CASE WHEN estimated THEN 0 ELSE 1 END) AS measured,
           SUM(CASE WHEN estimated THEN 1 ELSE 0 END) AS estimated
    FROM records
    GROUP BY site_id
), expected AS (
    SELECT n.*, c.gap_s,
           COALESCE(CAST(ROUND(CAST(date_diff('second', n.first_reading, n.last_reading) AS DOUBLE) / c.gap_s)
                         AS BIGINT), 0) + 1 AS expected
    FROM counted n LEFT JOIN cadence c ON c.site_id = n.site_id
)
SELECT site_id, first_reading, last_reading, CAST(gap_s AS DOUBLE) / 60 AS cadence_minutes,
       expected, measured, estimated, ROUND(CAST(measured AS DOUBLE) / expected, 4) AS completeness
FROM expected
ORDER BY completeness, site_id""",
    x="site_id",
    y="completeness",
    mark="bar",
)

READY = (DAILY_ENERGY, MONTHLY_SELF_SUFFICIENCY, ANOMALY_RATE, COMPLETENESS)
BY_NAME = {query.name: query for query in READY}
