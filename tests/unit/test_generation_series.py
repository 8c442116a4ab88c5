"""Series rules for solar generation: spikes, drops, stuck and interpolated runs, daytime zeros.

The days are shaped like a real 100 kW array's (25 kWh a 15-minute reading at most): a sine
from 07:00 to 17:00 UTC peaking at 20 kWh, sent a day per file as a site would.
"""

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pipeline.anomalies import History, detect_file
from pipeline.sites import Site
from pipeline.validation import Reading

NOW = datetime(2026, 7, 1, tzinfo=UTC)
SITE = Site("pv-1", kind="solar", capacity_kw=Decimal(100), interval_minutes=15)  # location unknown
# Near London: in June the sun rises about 03:45 UTC and is 20 degrees up some two and a half hours later.
LOCATED = replace(SITE, latitude=Decimal("51.5"), longitude=Decimal(0))
FIRST = date(2026, 6, 1)


def clear_day(peak: float = 20.0, first: int = 28, last: int = 68) -> list[Decimal]:
    """96 quarter-hour readings: zero at night, a sine through the day (07:00-17:00 UTC)."""
    return [
        Decimal(str(round(peak * math.sin(math.pi * (q - first) / (last - first)), 3)))
        if first < q < last
        else Decimal(0)
        for q in range(96)
    ]


def readings(day: int, values: list[Decimal], site: Site = SITE, skip: tuple[int, ...] = ()) -> list[Reading]:
    start = datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), UTC)
    return [
        Reading(site.site_id, (start + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ"), value, Decimal(0))
        for q, value in enumerate(values)
        if q not in skip
    ]


def run(days: list[list[Decimal]], site: Site = SITE, skip: dict[int, tuple[int, ...]] | None = None):
    """Each day as its own file, in order; every reading's reasons and the final history."""
    history, found = History(), {}
    for number, values in enumerate(days):
        detection = detect_file(
            readings(number, values, site, (skip or {}).get(number, ())),
            {site.site_id: site},
            {site.site_id: history},
            NOW,
        )
        history = detection.histories.get(site.site_id, history)
        found.update({ts: reasons for (_, ts), reasons in detection.reasons.items()})
    return found, history


def flagged(found, reason, day=None):
    prefix = "" if day is None else (FIRST + timedelta(days=day)).isoformat()
    return [ts for ts, reasons in sorted(found.items()) if reason in reasons and ts.startswith(prefix)]


def at(day: int, quarter: int) -> str:
    moment = datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), UTC) + timedelta(minutes=15 * quarter)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_clear_and_cloudy_days_raise_nothing():
    cloudy = [v * Decimal("0.45") for v in clear_day()]
    broken = clear_day()
    for q in (40, 41, 50, 55):  # passing clouds dim the panels to a third
        broken[q] = (broken[q] / 3).quantize(Decimal("0.001"))
    found, _ = run([clear_day(), cloudy, cloudy, clear_day(), broken, clear_day(19.5)])
    assert [ts for ts, reasons in found.items() if reasons] == []


def test_a_fall_to_almost_nothing_for_one_interval_is_a_drop():
    fallen = clear_day()
    fallen[48] = Decimal("0.9")  # noon: 20 kWh, then 0.9, then 20 again
    found, _ = run([clear_day()] * 4 + [fallen])
    assert flagged(found, "drop_generation") == [at(4, 48)]
    assert found[at(4, 49)] == ()  # the recovery is no spike


def test_no_drop_is_judged_after_a_missing_reading_or_before_the_shape_is_known():
    fallen = clear_day()
    fallen[48] = Decimal("0.9")
    found, _ = run([clear_day()] * 4 + [fallen], skip={4: (47,)})
    assert flagged(found, "drop_generation") == []
    found, _ = run([clear_day(), fallen])  # one day is not enough to know the site's shape
    assert flagged(found, "drop_generation") == []
    snowed = [Decimal(0)] * 96
    found, _ = run([clear_day(), snowed, snowed, fallen])  # nor are days under snow
    assert flagged(found, "drop_generation") == []


def test_a_jump_far_above_the_hours_best_is_a_spike_and_a_brighter_day_is_not():
    jumped = clear_day(14)
    jumped[36] = Decimal(22)  # 09:00: 8.2 kWh on these days, 12.9 at most in the next hour
    found, _ = run([clear_day(14)] * 4 + [jumped])
    assert flagged(found, "spike_generation") == [at(4, 36)]
    brighter = clear_day(24)  # a clearer day than any before: 70% above, rising with the sun
    found, _ = run([clear_day(14)] * 4 + [brighter])
    assert flagged(found, "spike_generation") == []


def test_a_stuck_value_is_a_flatline_but_clipping_and_standby_are_not():
    stuck = clear_day()
    stuck[40:50] = [Decimal("12.345")] * 10
    clipped = clear_day(30)
    clipped = [min(v, Decimal(25)) for v in clipped]  # the inverter holds its rated 25 kWh for hours
    standby = [Decimal("-0.001") if v == 0 else v for v in clear_day()]  # the night draw repeats
    found, _ = run([clipped, standby, stuck])
    assert flagged(found, "flatline_generation") == [at(2, q) for q in range(43, 50)]


def test_a_straight_line_through_a_gap_is_interpolated():
    filled = clear_day()
    start, end = filled[40], filled[52]
    for k in range(1, 12):  # a logger filled three hours by a straight line
        filled[40 + k] = start + (end - start) * k / 12
    found, _ = run([clear_day(), filled])
    assert flagged(found, "interpolated_generation") == [at(1, q) for q in range(44, 53)]
    assert flagged(found, "interpolated_generation", day=0) == []  # a sine is no straight line
    cooling = [Decimal(f"-0.0{10 + q}") if q < 20 else v for q, v in enumerate(clear_day())]
    found, _ = run([cooling])  # an inverter's standby draw creeping up through the night
    assert flagged(found, "interpolated_generation") == []


def test_a_day_under_snow_is_one_daytime_zero_where_the_sun_is_known():
    snowed = [Decimal(0)] * 96
    found, _ = run([clear_day(first=16, last=82), snowed], site=LOCATED)  # 04:00-20:30 UTC in June
    [first] = flagged(found, "daytime_zero")
    assert at(1, 20) <= first <= at(1, 28)  # one finding, between 05:00 and 07:00 UTC


def test_without_a_location_the_shape_says_when_the_site_should_generate():
    snowed = [Decimal(0)] * 96
    found, _ = run([clear_day()] * 3 + [snowed])
    # 08:00: the first hour whose best (20 sin(7 pi / 40) = 10.4 kWh) is 30% of the rated 25 kWh
    assert flagged(found, "daytime_zero") == [at(3, 32)]


def test_history_stays_small_and_reads_items_stored_before_the_shape():
    _, history = run([clear_day()] * 40)
    item = history.to_item()
    assert len(json.dumps(item, default=str)) < 2000
    assert History.from_item(item) == history
    old = {"consumed": [Decimal(1)], "generated_run": 2, "consumed_run": 1, "last_timestamp": "2026-06-01T00:00:00Z"}
    assert History.from_item(old) == History(
        last_timestamp="2026-06-01T00:00:00Z", consumed=(Decimal(1),), generated_run=2, consumed_run=1
    )


def test_a_day_delivered_again_keeps_its_generation_findings():
    fallen = clear_day()
    fallen[48] = Decimal("0.9")
    _, history = run([clear_day()] * 4)
    day = readings(4, fallen)
    first = detect_file(day, {SITE.site_id: SITE}, {SITE.site_id: history}, NOW)
    again = detect_file(day, {SITE.site_id: SITE}, first.histories, NOW, dict(first.reasons))
    assert again.reasons[(SITE.site_id, at(4, 48))] == ("drop_generation",)
    assert again.reasons == first.reasons and again.histories == {}
