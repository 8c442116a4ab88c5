"""Wall-clock timestamps read in the site's timezone, across both DST changes of a year.

Europe/Berlin: summer time starts 2026-03-29 at 02:00 (clocks jump to 03:00, UTC+1 -> UTC+2)
and ends 2026-10-25 at 03:00 (clocks go back to 02:00, UTC+2 -> UTC+1). The expected UTC
times below are written out by hand from those rules, not computed.
"""

from decimal import Decimal

from pipeline.formats import RawRow
from pipeline.local_time import SiteClocks
from pipeline.validation import validate_rows


def rows(site: str, *stamps: str) -> list[RawRow]:
    return [
        RawRow(n, {"site_id": site, "timestamp": ts, "energy_generated_kwh": "1", "energy_consumed_kwh": "2"})
        for n, ts in enumerate(stamps, 1)
    ]


def stamps(validated) -> list[str]:
    return [r.timestamp for r in validated.readings]


def test_a_wall_time_is_read_in_the_site_timezone_and_an_offset_wins():
    validated = validate_rows(
        rows("berlin-1", "2026-01-15T12:00:00", "2026-07-15T12:00:00", "2026-07-15T12:00:00+00:00", "2026-07-15 13:00"),
        SiteClocks(lambda: {"berlin-1": "Europe/Berlin"}),
    )
    assert stamps(validated) == [
        "2026-01-15T11:00:00Z",  # winter: UTC+1
        "2026-07-15T10:00:00Z",  # summer: UTC+2
        "2026-07-15T12:00:00Z",  # an offset is exact: the timezone is not asked
        "2026-07-15T11:00:00Z",
    ]


def test_a_site_without_timezone_reads_wall_times_as_utc():
    validated = validate_rows(rows("site-9", "2026-07-15T12:00:00"), SiteClocks(lambda: {"berlin-1": "Europe/Berlin"}))
    assert stamps(validated) == ["2026-07-15T12:00:00Z"]


def test_the_skipped_hour_is_refused_and_the_day_has_23_distinct_hours():
    day = [f"2026-03-29T{h:02d}:{m:02d}:00" for h in range(24) for m in (0, 15, 30, 45)]
    validated = validate_rows(rows("berlin-1", *day), SiteClocks(lambda: {"berlin-1": "Europe/Berlin"}))
    assert [r.row for r in validated.rejects] == [9, 10, 11, 12]  # 02:00-02:45 do not exist that night
    assert {r.reasons for r in validated.rejects} == {("timestamp_in_dst_gap",)}
    utc = stamps(validated)
    assert len(utc) == len(set(utc)) == 92 and utc == sorted(utc)
    assert utc[7:9] == ["2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"]  # 01:45 CET, then 03:00 CEST


def test_the_repeated_hour_gives_two_distinct_passes_in_file_order():
    night = [f"2026-10-25T{h:02d}:{m:02d}:00" for h in (1, 2) for m in (0, 15, 30, 45)]
    night += [f"2026-10-25T02:{m:02d}:00" for m in (0, 15, 30, 45)]  # the meter counts through 02:xx again
    night += ["2026-10-25T03:00:00"]
    validated = validate_rows(rows("berlin-1", *night), SiteClocks(lambda: {"berlin-1": "Europe/Berlin"}))
    assert validated.rejects == [] and validated.duplicates == 0
    assert stamps(validated) == [
        "2026-10-24T23:00:00Z",
        "2026-10-24T23:15:00Z",
        "2026-10-24T23:30:00Z",
        "2026-10-24T23:45:00Z",
        "2026-10-25T00:00:00Z",  # 02:00 CEST, first pass
        "2026-10-25T00:15:00Z",
        "2026-10-25T00:30:00Z",
        "2026-10-25T00:45:00Z",
        "2026-10-25T01:00:00Z",  # 02:00 CET, second pass
        "2026-10-25T01:15:00Z",
        "2026-10-25T01:30:00Z",
        "2026-10-25T01:45:00Z",
        "2026-10-25T02:00:00Z",
    ]


def test_the_timezones_are_read_only_when_a_row_has_a_wall_time():
    asked = []

    def load():
        asked.append(1)
        return {"berlin-1": "Europe/Berlin"}

    validate_rows(rows("berlin-1", "2026-07-15T12:00:00Z", "2026-07-15T12:15:00+02:00"), SiteClocks(load))
    assert asked == []
    validate_rows(rows("berlin-1", "2026-07-15T12:30:00", "2026-07-15T12:45:00"), SiteClocks(load))
    assert asked == [1]


def test_an_unknown_timezone_stored_on_a_site_reads_as_utc():
    validated = validate_rows(rows("x-1", "2026-07-15T12:00:00"), SiteClocks(lambda: {"x-1": "Mars/Olympus"}))
    assert stamps(validated) == ["2026-07-15T12:00:00Z"] and validated.readings[0].energy_generated_kwh == Decimal(1)
