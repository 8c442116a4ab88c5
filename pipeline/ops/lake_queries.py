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
    "Data completeness per site (measured readings against those its meter's interval implies)",
    """WITH daily AS (
    SELECT site_id, CAST("timestamp" AS DATE) AS day, COUNT(*) AS readings
    FROM records
    GROUP BY site_id, CAST("timestamp" AS DATE)
), usual AS (  -- a site's usual readings a day: the count most of its days have
    SELECT site_id, readings FROM (
        SELECT site_id, readings,
               row_number() OVER (PARTITION BY site_id ORDER BY COUNT(*) DESC, readings DESC) AS usual_rank
        FROM daily
        GROUP BY site_id, readings
    ) ranked WHERE usual_rank = 1
), counted AS (
    SELECT site_id, MIN("timestamp") AS first_reading, MAX("timestamp") AS last_reading,
           SUM(CASE WHEN estimated THEN 0 ELSE 1 END) AS measured,
           SUM(CASE WHEN estimated THEN 1 ELSE 0 END) AS estimated
    FROM records
    GROUP BY site_id
), expected AS (  -- the meter's interval: the longest usual one that gives that many a day
    SELECT n.*,
           CASE WHEN u.readings > 288 THEN 1 WHEN u.readings > 144 THEN 5 WHEN u.readings > 96 THEN 10
                WHEN u.readings > 48 THEN 15 WHEN u.readings > 24 THEN 30 WHEN u.readings > 1 THEN 60
                ELSE 1440 END AS cadence_minutes
    FROM counted n JOIN usual u ON u.site_id = n.site_id
)
SELECT site_id, first_reading, last_reading, cadence_minutes,
       CAST(ROUND(CAST(date_diff('second', first_reading, last_reading) AS DOUBLE) / (cadence_minutes * 60))
            AS BIGINT) + 1 AS expected,
       measured, estimated,
       ROUND(CAST(measured AS DOUBLE) / (CAST(ROUND(CAST(date_diff('second', first_reading, last_reading) AS DOUBLE)
             / (cadence_minutes * 60)) AS BIGINT) + 1), 4) AS completeness
FROM expected
ORDER BY completeness, site_id""",
    x="site_id",
    y="completeness",
    mark="bar",
)

READY = (DAILY_ENERGY, MONTHLY_SELF_SUFFICIENCY, ANOMALY_RATE, COMPLETENESS)
BY_NAME = {query.name: query for query in READY}
