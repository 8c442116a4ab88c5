from decimal import Decimal

import pytest

from pipeline.formats import NonFinite, RawRow
from pipeline.validation import Reading, normalise_timestamp, validate_row, validate_rows

GOOD = {
    "site_id": "site-1",
    "timestamp": "2026-11-29T06:00:00Z",
    "energy_generated_kwh": Decimal("12.5"),
    "energy_consumed_kwh": Decimal("8.1"),
}


def check(**changes):
    return validate_row(RawRow(1, {**GOOD, **changes}))


def test_a_good_row_becomes_a_reading():
    reading, reasons = check()
    assert reasons == ()
    assert reading == Reading("site-1", "2026-11-29T06:00:00Z", Decimal("12.5"), Decimal("8.1"))


@pytest.mark.parametrize(
    ("site_id", "reason"),
    [
        (None, "site_id_missing"),
        ("", "site_id_missing"),
        ("a" * 65, "site_id_invalid"),
        ("site 1", "site_id_invalid"),
        ("site/1", "site_id_invalid"),
        (7, "site_id_invalid"),
    ],
)
def test_site_id_rules(site_id, reason):
    assert check(site_id=site_id) == (None, (reason,))


@pytest.mark.parametrize("site_id", ["a" * 64, "Site_1.north-2"])
def test_site_ids_that_pass(site_id):
    assert check(site_id=site_id)[0].site_id == site_id


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-11-29T06:00:00Z", "2026-11-29T06:00:00Z"),
        ("2026-11-29T08:00:00+02:00", "2026-11-29T06:00:00Z"),
        ("2026-11-29T06:00:00.987Z", "2026-11-29T06:00:00Z"),
        ("2026-11-29 06:00", "2026-11-29T06:00:00Z"),
        ("2026-11-29T06:00:00", "2026-11-29T06:00:00Z"),  # no offset: taken as UTC
    ],
)
def test_timestamps_are_normalised_to_utc(given, stored):
    assert check(timestamp=given)[0].timestamp == stored


@pytest.mark.parametrize(
    "given", ["2026-11-29", "yesterday", "2026-13-01T00:00:00Z", 1764396000, "2026-11-29T25:00:00Z"]
)
def test_bad_timestamps(given):
    assert check(timestamp=given) == (None, ("timestamp_invalid",))


def test_missing_timestamp():
    assert check(timestamp=None) == (None, ("timestamp_missing",))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "energy_generated_kwh_not_number"),
        (None, "energy_generated_kwh_missing"),
        ("", "energy_generated_kwh_missing"),
        ("twelve", "energy_generated_kwh_not_number"),
        (NonFinite("NaN"), "energy_generated_kwh_not_finite"),
        (NonFinite("Infinity"), "energy_generated_kwh_not_finite"),
        ("NaN", "energy_generated_kwh_not_finite"),
        ("inf", "energy_generated_kwh_not_finite"),
        (Decimal("1000000.5"), "energy_generated_kwh_out_of_range"),
        ([1], "energy_generated_kwh_not_number"),
    ],
)
def test_energy_rules(value, reason):
    assert check(energy_generated_kwh=value) == (None, (reason,))


def test_numeric_strings_are_accepted_exactly():
    assert check(energy_consumed_kwh=" 8.10 ")[0].energy_consumed_kwh == Decimal("8.10")


def test_every_reason_of_a_row_is_reported():
    _, reasons = validate_row(RawRow(3, {"site_id": "", "timestamp": "x", "energy_generated_kwh": True}))
    assert reasons == (
        "site_id_missing",
        "timestamp_invalid",
        "energy_generated_kwh_not_number",
        "energy_consumed_kwh_missing",
    )


def test_non_object_rows_and_undecodable_rows():
    assert validate_row(RawRow(1, [1, 2])) == (None, ("row_not_object",))
    assert validate_row(RawRow(1, "{oops", error="row_not_json")) == (None, ("row_not_json",))


def test_decimals_keep_their_text_and_round_past_six_places():
    reading, _ = check(energy_generated_kwh=Decimal("0.3"), energy_consumed_kwh=Decimal("0.1234567"))
    assert reading.energy_generated_kwh - Decimal("0.1") == Decimal("0.2")
    assert reading.energy_consumed_kwh == Decimal("0.123457")
    assert str(check(energy_generated_kwh=Decimal("-0"))[0].energy_generated_kwh) == "0"


def test_duplicate_rows_in_a_file_are_one_reading_and_the_last_wins():
    rows = [RawRow(1, GOOD), RawRow(2, {**GOOD, "energy_consumed_kwh": "9"}), RawRow(3, {**GOOD, "site_id": "site-2"})]
    validated = validate_rows(rows)
    assert validated.duplicates == 1
    assert [(r.site_id, r.energy_consumed_kwh) for r in validated.readings] == [
        ("site-1", Decimal("9")),
        ("site-2", Decimal("8.1")),
    ]


def test_normalise_timestamp_refuses_non_strings():
    assert normalise_timestamp(None) is None
