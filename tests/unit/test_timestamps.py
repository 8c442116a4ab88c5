"""The stored time form, in and out, and a reading's time kept as both text and datetime."""

from datetime import UTC, datetime, timedelta, timezone

from pipeline.formats import RawRow
from pipeline.timestamps import epoch_text, parse_utc, utc_text
from pipeline.validation import normalise_timestamp, validate_row

CET = timezone(timedelta(hours=1))


def test_times_are_written_in_utc_to_the_second():
    assert utc_text(datetime(2026, 11, 29, 7, 15, 30, 999_999, tzinfo=CET)) == "2026-11-29T06:15:30Z"
    assert utc_text(datetime(2026, 11, 29, 6, 0)) == "2026-11-29T06:00:00Z"  # a naive time is UTC
    assert epoch_text(0) == "1970-01-01T00:00:00Z"


def test_a_year_before_1000_keeps_four_digits_so_the_text_still_sorts():
    assert utc_text(datetime(100, 1, 1, 5, tzinfo=UTC)) == "0100-01-01T05:00:00Z"
    assert normalise_timestamp("0100-01-01T05:00:00+01:00") == "0100-01-01T04:00:00Z"


def test_stored_text_reads_back_as_the_same_utc_moment():
    assert parse_utc("2026-11-29T06:00:00Z") == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert parse_utc("2026-11-29T06:00:00") == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert parse_utc("2026-11-29T07:00:00+01:00") == datetime(2026, 11, 29, 6, tzinfo=UTC)


def test_a_validated_reading_carries_its_time_as_text_and_as_a_utc_datetime():
    row = {
        "site_id": "s",
        "timestamp": "2026-11-29T07:00:00.7+01:00",
        "energy_generated_kwh": 1,
        "energy_consumed_kwh": 0,
    }
    reading, reasons = validate_row(RawRow(1, row))
    assert reasons == ()
    assert reading is not None
    assert reading.timestamp == "2026-11-29T06:00:00Z"
    assert reading.moment == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert reading.moment.utcoffset() == timedelta(0)
