"""Estimates for missing intervals: linear across short gaps, the site's profile across long ones.

Every expected value below is worked out by hand in the comment beside it.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pipeline.anomalies import History, detect_file
from pipeline.estimates import MAX_ESTIMATES, Profile
from pipeline.sites import Site
from pipeline.validation import Reading

NOW = datetime(2028, 1, 1, tzinfo=UTC)
SITE = Site("site-1", kind="consumer", capacity_kw=Decimal(100), interval_minutes=15)
START = datetime(2026, 11, 1, tzinfo=UTC)


def reading(moment: datetime, generated: str, consumed: str, site: Site = SITE) -> Reading:
    return Reading(site.site_id, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), Decimal(generated), Decimal(consumed))


def detect(readings: list[Reading], history: History | None = None, site: Site = SITE):
    return detect_file(readings, {site.site_id: site}, {site.site_id: history or History()}, NOW)


def estimates_of(readings: list[Reading], history: History | None = None, site: Site = SITE) -> dict:
    found = detect(readings, history, site).estimates
    return {e.timestamp[11:16]: (e.energy_generated_kwh, e.energy_consumed_kwh, e.method) for e in found}


def test_a_one_hour_gap_is_filled_by_a_straight_line_between_the_readings_either_side():
    at = START.replace(hour=10)
    found = estimates_of([reading(at, "2", "1"), reading(at + timedelta(hours=1), "6", "3")])
    # 10:00 (2, 1) to 11:00 (6, 3): a quarter of the way each 15 minutes
    assert found == {
        "10:15": (Decimal(3), Decimal("1.5"), "linear"),
        "10:30": (Decimal(4), Decimal(2), "linear"),
        "10:45": (Decimal(5), Decimal("2.5"), "linear"),
    }


def test_the_gap_closing_reading_of_the_file_before_is_an_end_of_the_line():
    at = START.replace(hour=10)
    first = detect([reading(at, "2", "1")])
    found = estimates_of([reading(at + timedelta(minutes=45), "5", "1")], first.histories["site-1"])
    # 10:00 (2, 1) to 10:45 (5, 1): 10:15 is (3, 1), 10:30 (4, 1)
    assert found == {"10:15": (Decimal(3), Decimal(1), "linear"), "10:30": (Decimal(4), Decimal(1), "linear")}


def test_two_hours_missing_are_interpolated_and_a_quarter_more_is_not():
    at = START.replace(hour=10)
    two_hours = estimates_of([reading(at, "0", "0"), reading(at + timedelta(hours=2, minutes=15), "9", "0")])
    assert len(two_hours) == 8  # 10:15 ... 12:00
    assert {method for _, _, method in two_hours.values()} == {"linear"}
    assert two_hours["11:00"][0] == Decimal(4)  # 4 of the 9 quarter-hours from 10:00 to 12:15: 4 of the way to 9
    longer = estimates_of([reading(at, "0", "0"), reading(at + timedelta(hours=2, minutes=30), "9", "0")])
    assert longer == {}  # too long for a line, and the site has no profile yet


def days_of(count: int, base=lambda day, hour: hour + day) -> list[Reading]:
    """`count` days of quarter-hour readings. Quarter q (0-3) of hour h on day d generates
    base(d, h) + q/10 and consumes 1 + q/10 (steady values would be flatlines)."""
    found = []
    for q in range(count * 96):
        moment = START + timedelta(minutes=15 * q)
        quarter = Decimal(q % 4) / 10
        found.append(reading(moment, str(base(q // 96, moment.hour) + quarter), str(1 + quarter)))
    return found


def close(found: tuple, expected: tuple) -> bool:
    (generated, consumed, method), (want_generated, want_consumed, want_method) = found, expected
    near = Decimal("0.00001")
    return abs(generated - want_generated) < near and abs(consumed - want_consumed) < near and method == want_method


def test_a_long_gap_is_filled_with_the_average_of_each_hour_over_the_reference_days():
    history = detect(days_of(7)).histories["site-1"]
    last = START + timedelta(days=7) - timedelta(minutes=15)  # day 6, 23:45
    after = last + timedelta(hours=6, minutes=15)  # day 7, 06:00: 05:45 back to 00:00 missing
    found = estimates_of([reading(after, "1", "1")], history)
    assert len(found) == 24
    # hour h over days 0..6 and its quarters: h + (0+1+...+6)/7 + (0+.1+.2+.3)/4 = h + 3.15;
    # consumption 1 + 0.15 (to the profile's six places, rounded at each reading)
    assert close(found["00:00"], (Decimal("3.15"), Decimal("1.15"), "profile"))
    assert close(found["05:45"], (Decimal("8.15"), Decimal("1.15"), "profile"))


def test_the_profile_forgets_old_days_as_new_ones_come():
    history = detect(days_of(14, lambda day, hour: 20 if day < 7 else 2)).histories["site-1"]
    after = START + timedelta(days=14, hours=3)
    found = estimates_of([reading(after, "1", "1")], history)
    generated = found["01:00"][0]
    # a moving average over 7 days' worth of readings: the week at 20.15 still weighs
    # (1 - 1/28)^28 = 36.1% after a week at 2.15: 2.15 + 18 * 0.361 = 8.65
    assert Decimal("8.6") < generated < Decimal("8.7")


def test_hours_seen_on_fewer_than_half_the_reference_days_get_no_estimate():
    history = detect(days_of(3)).histories["site-1"]
    after = START + timedelta(days=3, hours=4)
    assert estimates_of([reading(after, "1", "1")], history) == {}  # 3 days of 7: not enough
    history = detect(days_of(4)).histories["site-1"]
    after = START + timedelta(days=4, hours=4)
    assert len(estimates_of([reading(after, "1", "1")], history)) == 16  # 00:00 ... 03:45


def test_a_flagged_reading_is_no_end_of_a_line_the_profile_fills_the_gap_instead():
    history = detect(days_of(7)).histories["site-1"]
    last = START + timedelta(days=7) - timedelta(minutes=15)
    found = estimates_of([reading(last + timedelta(minutes=45), "1", "-5")], history)  # negative consumption
    assert {method for _, _, method in found.values()} == {"profile"}
    assert close(found["00:00"], (Decimal("3.15"), Decimal("1.15"), "profile"))


def test_gaps_beyond_the_longest_estimated_are_left_missing():
    history = detect(days_of(7)).histories["site-1"]
    after = START + timedelta(days=15)  # eight days later
    detection = detect([reading(after, "1", "1")], history)
    assert detection.estimates == []
    assert detection.gaps[0].missing == 8 * 96  # from day 7 00:00 to day 14 23:45: still counted missing


def test_a_site_can_turn_estimates_off_or_shorten_the_line():
    at = START.replace(hour=10)
    pair = [reading(at, "2", "1"), reading(at + timedelta(hours=1), "6", "3")]
    assert estimates_of(pair, site=replace(SITE, thresholds={"estimate_max_hours": Decimal(0)})) == {}
    shorter = replace(SITE, thresholds={"interpolate_max_minutes": Decimal(30)})
    assert estimates_of(pair, site=shorter) == {}  # 45 minutes missing: too long for its line, and no profile


def test_a_file_of_readings_days_apart_makes_a_bounded_number_of_estimates():
    site = replace(SITE, interval_minutes=1)
    known = Profile((Decimal(1),) * 24, (Decimal(1),) * 24, (10_000,) * 24)
    history = History(last_timestamp="2026-11-01T00:00:00Z", profile=known)
    # 59 readings six days apart: 8,639 missing minutes before each, half a million in all
    apart = [reading(START + timedelta(days=6 * n), "1", "1", site) for n in range(1, 60)]
    detection = detect(apart, history, site)
    assert len(detection.estimates) == MAX_ESTIMATES
    assert sum(gap.missing for gap in detection.gaps) == 59 * (6 * 1440 - 1)  # all still counted missing


def test_the_profile_is_kept_with_the_site_history():
    history = detect(days_of(7)).histories["site-1"]
    assert history.profile.weight[5] == 28  # 4 readings an hour, 7 days
    assert History.from_item(history.to_item()) == history
    assert History.from_item(History().to_item()).profile == Profile()
