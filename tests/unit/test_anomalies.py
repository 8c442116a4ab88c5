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
        ("-0.001", "5", SOLAR, ("negative_generation",)),
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
