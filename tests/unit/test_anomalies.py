"""Every rule with cases that must and must not trigger it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pipeline.anomalies import Context, Gap, History, Thresholds, detect_file, is_spike, value_reasons
from pipeline.sites import Site
from pipeline.validation import Reading

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
# 100 kW at 15-minute cadence: 25 kWh a reading at most. Vienna-ish: the sun is up at 11:00 UTC
# and down at 22:00 UTC in late November.
SOLAR = Site(
    "site-1", kind="solar", capacity_kw=Decimal(100), interval_minutes=15, latitude=Decimal(48), longitude=Decimal(16)
)
WIND = Site("site-2", kind="wind", capacity_kw=Decimal(100), interval_minutes=15)


def reading(generated="10", consumed="5", ts="2026-11-29T11:00:00Z", site="site-1") -> Reading:
    return Reading(site, ts, Decimal(generated), Decimal(consumed))


def reasons(r: Reading, site: Site | None = SOLAR, now: datetime = NOW) -> tuple[str, ...]:
    return value_reasons(r, Context(site, Thresholds.for_site(site), now))


@pytest.mark.parametrize(
    ("generated", "consumed", "site", "expected"),
    [
        ("10", "5", SOLAR, ()),
        ("0", "0", SOLAR, ()),
        ("-0.001", "5", SOLAR, ()),  # an idle inverter's standby draw, within 3% of the rated 25 kWh
        ("-0.76", "5", SOLAR, ("negative_generation",)),
        ("-0.001", "5", None, ("negative_generation",)),  # capacity unknown and no standby learned yet
        ("10", "-1", SOLAR, ("negative_consumption",)),
        ("-10", "-1", None, ("negative_generation", "negative_consumption")),
        ("25", "5", SOLAR, ()),  # exactly the rated energy of 15 minutes
        ("25.001", "5", SOLAR, ("generation_above_capacity",)),
        ("5000", "5", None, ()),  # no capacity known: the rule cannot judge
        ("5000", "5", Site("site-1"), ()),
    ],
)
def test_value_rules(generated, consumed, site, expected):
    assert reasons(reading(generated, consumed), site) == expected


def test_capacity_scales_with_the_reading_interval():
    hourly = Site("site-1", capacity_kw=Decimal(100), interval_minutes=60)
    assert reasons(reading("99"), hourly) == ()
    assert reasons(reading("101"), hourly) == ("generation_above_capacity",)


def test_solar_generation_at_night():
    night = "2026-11-28T22:00:00Z"
    assert reasons(reading("5", ts=night)) == ("solar_at_night",)
    assert reasons(reading("0.4", ts=night)) == ()  # under 2% of the rated 25 kWh: meter noise
    assert reasons(reading("5", ts="2026-11-29T11:00:00Z")) == ()  # midday
    assert reasons(reading("5", ts=night, site="site-2"), WIND) == ()  # wind blows at night
    assert reasons(reading("5", ts=night), Site("site-1", kind="solar")) == ()  # location unknown


def test_night_threshold_can_be_set_per_site():
    lenient = Site(**{**SOLAR.__dict__, "thresholds": {"night_generation_share": Decimal("0.5")}})
    assert reasons(reading("5", ts="2026-11-28T22:00:00Z"), lenient) == ()


def test_future_timestamps_beyond_the_tolerance():
    assert reasons(reading(ts="2026-11-29T12:14:00Z")) == ()  # clock skew within 15 minutes
    assert reasons(reading(ts="2026-11-29T12:16:00Z")) == ("future_timestamp",)


def test_a_future_timestamp_at_night_is_not_also_solar_at_night():
    # "now" is 2026-11-29T12:00Z: 22:00 that day is night at the site, but the time is wrong
    assert reasons(reading("5", ts="2026-11-29T22:00:00Z")) == ("future_timestamp",)


@pytest.mark.parametrize(
    ("value", "recent", "spike"),
    [
        ("13", ["1.7", "1.6", "1.8", "1.7", "1.5"], True),
        ("3", ["1.7", "1.6", "1.8", "1.7", "1.5"], False),  # a busy quarter hour, not a fault
        ("13", ["1.7", "1.6", "1.8"], False),  # too little history to judge
        ("-13", ["1.7", "1.6", "1.8", "1.7", "1.5"], False),  # negatives have their own rule
        ("0.2", ["0", "0", "0", "0.01", "0"], False),  # the floor keeps tiny values quiet
    ],
)
def test_spike_is_a_robust_distance_from_the_recent_median(value, recent, spike):
    assert is_spike(Decimal(value), [Decimal(v) for v in recent], Thresholds(), Decimal("0.05")) is spike


def series(consumed: list[str], start="2026-11-29T08:00:00Z", step=15, site="site-2", generated=None):
    first = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return [
        Reading(site, (first + timedelta(minutes=step * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                Decimal(generated[i] if generated else "7"), Decimal(c))
        for i, c in enumerate(consumed)
    ]  # fmt: skip


def flagged(detection, reason):
    return [ts for (_, ts), found in sorted(detection.reasons.items()) if reason in found]


def test_spike_in_a_series_and_the_window_forgets_it():
    readings = series(
        ["1.7", "1.6", "1.8", "1.7", "1.5", "13", "1.6", "1.7"], generated=["7", "8", "9", "8", "7", "9", "8", "7"]
    )
    detection = detect_file(readings, {"site-2": WIND}, {}, NOW)
    assert flagged(detection, "spike_consumption") == ["2026-11-29T09:15:00Z"]
    assert Decimal(13) not in detection.histories["site-2"].consumed


def test_flatline_from_the_fourth_identical_non_zero_value():
    readings = series(["2.1", "3.3", "3.3", "3.3", "3.3", "3.3", "2.9"], generated=[str(i) for i in range(1, 8)])
    flat = flagged(detect_file(readings, {"site-2": WIND}, {}, NOW), "flatline_consumption")
    assert flat == ["2026-11-29T09:00:00Z", "2026-11-29T09:15:00Z"]  # the 4th and 5th 3.3


def test_repeated_zeros_are_not_a_flatline():
    readings = series(["1", "2", "3", "4", "5", "6"], generated=["0"] * 6)
    assert flagged(detect_file(readings, {"site-2": WIND}, {}, NOW), "flatline_generation") == []


def test_flatline_continues_across_files_through_the_history():
    first = detect_file(series(["3.3", "3.3"]), {"site-2": WIND}, {}, NOW)
    second = detect_file(series(["3.3", "3.3"], start="2026-11-29T08:30:00Z"), {"site-2": WIND}, first.histories, NOW)
    assert flagged(second, "flatline_consumption") == ["2026-11-29T08:45:00Z"]


def test_missing_intervals_are_a_gap_of_the_site():
    readings = series(["1", "1.1", "1.2"], step=15)
    readings.insert(2, Reading("site-2", "2026-11-29T09:15:00Z", Decimal(7), Decimal("1.3")))  # after 08:30, 3 missing
    readings.pop()
    detection = detect_file(readings, {"site-2": WIND}, {}, NOW)
    assert detection.gaps == [Gap("site-2", "2026-11-29T08:30:00Z", 3)]
    assert all("missing" not in r for found in detection.reasons.values() for r in found)


def test_no_gap_within_the_cadence_or_for_a_site_of_unknown_cadence():
    assert detect_file(series(["1", "1.1", "1.2"]), {"site-2": WIND}, {}, NOW).gaps == []
    assert detect_file(series(["1", "1.1"], step=60), {}, {}, NOW).gaps == []


def test_gap_between_files_is_found_with_the_history():
    history = History(last_timestamp="2026-11-29T07:00:00Z")
    detection = detect_file(series(["1"]), {"site-2": WIND}, {"site-2": history}, NOW)
    assert detection.gaps == [Gap("site-2", "2026-11-29T07:15:00Z", 3)]


def test_a_future_reading_does_not_move_the_history():
    readings = [*series(["1", "1.1"]), Reading("site-2", "2027-03-01T00:00:00Z", Decimal(1), Decimal(1))]
    detection = detect_file(readings, {"site-2": WIND}, {}, NOW)
    assert detection.histories["site-2"].last_timestamp == "2026-11-29T08:15:00Z"
    assert detection.reasons[("site-2", "2027-03-01T00:00:00Z")] == ("future_timestamp",)


def test_a_reading_seen_again_keeps_its_series_judgement():
    readings = series(["1.7", "1.6", "1.8", "1.7", "1.5", "13"])
    first = detect_file(readings, {"site-2": WIND}, {}, NOW)
    judged = dict(first.reasons)
    again = detect_file(readings, {"site-2": WIND}, first.histories, NOW, judged)
    assert again.reasons == first.reasons and again.histories == {} and again.gaps == []


def test_every_rule_setting_has_a_range_that_holds_its_default_and_a_sentence():
    from dataclasses import fields

    from pipeline.anomalies import Thresholds

    for setting in fields(Thresholds):
        low, high = setting.metadata["range"]
        assert low <= setting.default <= high and setting.metadata["doc"], setting.name


# Standby draw and sentinels on real-shaped data -------------------------------------------

# A 5 kW rooftop inverter reporting every 5 minutes: 0.4167 kWh a reading at most. Vienna-ish,
# so the sun is down from about 16:00 UTC in late November.
ROOF = Site(
    "roof", kind="solar", capacity_kw=Decimal(5), interval_minutes=5, latitude=Decimal(48), longitude=Decimal(16)
)
ROOF_UNKNOWN_SIZE = Site("roof", kind="solar", interval_minutes=5, latitude=Decimal(48), longitude=Decimal(16))
# What real meters report for an idle inverter: 24 W to 120 W of standby, often the same value
# several readings in a row (register resolution).
STANDBY_NIGHT = ["-0.004", "-0.004", "-0.004", "-0.004", "-0.004", "-0.002", "-0.006", "-0.01", "-0.003", "-0.008"]


def night(generated: list[str], start="2026-11-28T20:00:00Z", site="roof", step=5) -> list[Reading]:
    first = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return [
        Reading(site, (first + timedelta(minutes=step * i)).strftime("%Y-%m-%dT%H:%M:%SZ"), Decimal(g),
                Decimal("0.05") + Decimal(i) / 1000)
        for i, g in enumerate(generated)
    ]  # fmt: skip


def all_flagged(detection) -> dict[str, tuple[str, ...]]:
    return {ts: found for (_, ts), found in sorted(detection.reasons.items()) if found}


def test_a_night_of_standby_draw_is_normal_and_a_real_negative_is_not():
    readings = night([*STANDBY_NIGHT, "-0.5", "-0.005"])
    found = all_flagged(detect_file(readings, {"roof": ROOF}, {}, NOW))
    assert found == {readings[10].timestamp: ("negative_generation",)}  # -0.5 kWh in 5 minutes is 6 kW


def test_standby_share_can_be_set_per_site():
    strict = Site(**{**ROOF.__dict__, "thresholds": {"standby_share": Decimal(0)}})
    assert reasons(reading("-0.002", "0.1", ts="2026-11-28T20:00:00Z", site="roof"), strict) == ("negative_generation",)


def test_a_site_of_unknown_capacity_learns_its_standby_draw_from_its_nights():
    learning = ["-0.004", "-0.006", "-0.005", "-0.003", "-0.008", "-0.004", "-0.006", "-0.005"]
    first = detect_file(night(learning), {"roof": ROOF_UNKNOWN_SIZE}, {}, NOW)
    assert len(all_flagged(first)) == 8  # nothing learned yet: flagged as before
    saved = History.from_item(first.histories["roof"].to_item())  # as the site's item keeps it
    later = night(["-0.002", "-0.01", "-0.5", "-0.007"], start="2026-11-28T20:40:00Z")
    second = detect_file(later, {"roof": ROOF_UNKNOWN_SIZE}, {"roof": saved}, NOW)
    assert all_flagged(second) == {later[2].timestamp: ("negative_generation",)}
    assert Decimal("0.5") not in second.histories["roof"].standby
    assert len(second.histories["roof"].standby) == 8  # bounded


def test_daytime_negatives_of_a_solar_site_are_never_learned_as_standby():
    day = night(["-2"] * 12, start="2026-11-29T10:00:00Z")
    detection = detect_file(day, {"roof": ROOF_UNKNOWN_SIZE}, {}, NOW)
    assert len(all_flagged(detection)) == 12
    assert detection.histories["roof"].standby == ()


def test_histories_stored_before_standby_was_learned_still_load_and_stay_the_same():
    old_item = {"consumed": [Decimal("1.5")], "generated_run": 2, "consumed_run": 1, "last_timestamp": "2026-11-29Z"}
    history = History.from_item(old_item)
    assert history.standby == ()
    assert history.to_item() == old_item


@pytest.mark.parametrize(
    ("generated", "consumed"),
    [
        ("-9999", "5"),  # would be a negative generation
        ("65535", "5"),  # would be above capacity
        ("-1000000", "5"),
        ("9999.99", "5"),
        ("10", "-32768"),  # would be a negative consumption
        ("10", "32767"),
        ("10", "-999"),
        ("10", "99999"),
        ("-9999.0", "-9999"),
    ],
)
def test_sentinels_in_either_column_are_told_as_such_and_nothing_else(generated, consumed):
    assert reasons(reading(generated, consumed)) == ("sentinel_value",)
    assert reasons(reading(generated, consumed, ts="2026-11-28T22:00:00Z")) == ("sentinel_value",)  # at night


def test_values_near_sentinels_are_judged_as_readings():
    assert reasons(reading("-9998", "5")) == ("negative_generation",)
    assert reasons(reading("10", "9999.5")) == ()
    assert reasons(reading("65535", "5", ts="2026-12-01T00:00:00Z")) == ("sentinel_value", "future_timestamp")


def test_the_series_rules_neither_judge_nor_remember_a_sentinel():
    readings = series(
        ["1.7", "1.6", "1.8", "1.7", "1.5", "65535", "1.6", "1.7"],
        generated=["-9999", "8", "9", "8", "7", "9", "8", "7"],
    )
    detection = detect_file(readings, {"site-2": WIND}, {}, NOW)
    assert all_flagged(detection) == {
        "2026-11-29T08:00:00Z": ("sentinel_value",),
        "2026-11-29T09:15:00Z": ("sentinel_value",),
    }
    history = detection.histories["site-2"]
    assert Decimal(65535) not in history.consumed and history.last_timestamp == "2026-11-29T09:45:00Z"
    assert detection.gaps == []  # a sentinel is a reading the site did send


def test_a_logger_stuck_on_its_no_data_code_is_one_sentinel_a_reading_not_a_flatline():
    readings = series(["1", "2", "3", "4", "5", "6"], generated=["-9999"] * 6)
    found = all_flagged(detect_file(readings, {"site-2": WIND}, {}, NOW))
    assert set(found.values()) == {("sentinel_value",)} and len(found) == 6
