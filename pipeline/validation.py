"""Rows -> readings or rejects, with every reason a row is refused.

Rules (docs/data-contract.md's table repeats them for analysts):
- `site_id`: a string of 1-64 characters from letters, digits, `-`, `_`, `.`.
- `timestamp`: ISO 8601 with a time; normalised to UTC `YYYY-MM-DDTHH:MM:SSZ`. A timestamp
  without an offset is a wall-clock time of the site's timezone, UTC when it has none
  (`local_time`); fractions of a second are dropped.
- energies: finite numbers, or strings holding one (CSV has nothing else), at most
  1,000,000 kWh in magnitude. Booleans, null, NaN and Infinity are refused. Numbers are
  `Decimal` from their text, kept exactly to 6 decimal places (finer digits are rounded).
- Several rows for one (site, timestamp) in a file are one reading: the last one wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from pipeline.formats import NonFinite, RawRow
from pipeline.local_time import IN_DST_GAP, SiteClocks, utc_clocks
from pipeline.timestamps import parse_utc, utc_text

CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SITE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_ABS_KWH = Decimal(1_000_000)
KWH_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Reading:
    """A valid reading. `timestamp` is the stored form (the record's key); `moment` is the
    same time as a datetime, for the rules that compute with it, so nothing parses it
    again. Validation passes the moment it already has; a reading built elsewhere (tests,
    benchmarks) has its timestamp parsed here, once."""

    site_id: str
    timestamp: str
    energy_generated_kwh: Decimal
    energy_consumed_kwh: Decimal
    moment: datetime = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.moment is None:
            object.__setattr__(self, "moment", parse_utc(self.timestamp))


@dataclass(frozen=True)
class Reject:
    row: int
    raw: object
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Validated:
    readings: list[Reading]
    rejects: list[Reject]
    duplicates: int


def validate_rows(rows: list[RawRow], clocks: SiteClocks | None = None) -> Validated:
    """`clocks` reads wall-clock timestamps in their sites' timezones (UTC without it)."""
    clocks = clocks or utc_clocks()
    unique: dict[tuple[str, str], Reading] = {}
    rejects: list[Reject] = []
    valid = 0
    for row in rows:
        reading, reasons = validate_row(row, clocks)
        if reading is None:
            rejects.append(Reject(row.number, row.value, reasons))
        else:
            valid += 1
            key = (reading.site_id, reading.timestamp)
            unique.pop(key, None)  # the last row for a key wins, in its own position
            unique[key] = reading
    return Validated(list(unique.values()), rejects, valid - len(unique))


def validate_row(row: RawRow, clocks: SiteClocks | None = None) -> tuple[Reading | None, tuple[str, ...]]:
    if row.error:
        return None, (row.error,)
    if not isinstance(row.value, dict):
        return None, ("row_not_object",)
    value = row.value
    reasons: list[str] = []
    site_id = _site_id(value.get("site_id"), reasons)
    when = _timestamp(value.get("timestamp"), site_id, clocks or utc_clocks(), reasons)
    generated = _energy(value.get("energy_generated_kwh"), "energy_generated_kwh", reasons)
    consumed = _energy(value.get("energy_consumed_kwh"), "energy_consumed_kwh", reasons)
    if reasons:
        return None, tuple(reasons)
    assert site_id is not None and when is not None and generated is not None and consumed is not None
    return Reading(site_id, when[0], generated, consumed, when[1]), ()


def _site_id(value: object, reasons: list[str]) -> str | None:
    if value is None or value == "":
        reasons.append("site_id_missing")
    elif not isinstance(value, str) or not SITE_ID.fullmatch(value):
        reasons.append("site_id_invalid")
    else:
        return value
    return None


def normalise_timestamp(value: object) -> str | None:
    """UTC `YYYY-MM-DDTHH:MM:SSZ`, or None when `value` is not an ISO 8601 date and time
    (a time without an offset is taken as UTC)."""
    reasons: list[str] = []
    when = _timestamp(value, None, utc_clocks(), reasons) if value not in (None, "") else None
    return when[0] if when is not None else None


def _timestamp(
    value: object, site_id: str | None, clocks: SiteClocks, reasons: list[str]
) -> tuple[str, datetime] | None:
    """(the stored form, the same moment as an aware UTC datetime), or None with the reason."""
    if value is None or value == "":
        reasons.append("timestamp_missing")
        return None
    if isinstance(value, str) and CANONICAL.fullmatch(value):  # the stored form: only check it is a real moment
        try:
            return value, parse_utc(value)
        except ValueError:
            reasons.append("timestamp_invalid")
            return None
    try:
        moment = _moment(value)
        if moment is not None and moment.tzinfo is None:
            moment = clocks.to_utc(site_id, moment) if site_id is not None else moment.replace(tzinfo=UTC)
            if moment is None:
                reasons.append(IN_DST_GAP)
                return None
        if moment is not None:
            moment = moment.astimezone(UTC).replace(microsecond=0)
            return utc_text(moment), moment
    except OverflowError:  # a moment at the very ends of the calendar
        pass
    reasons.append("timestamp_invalid")
    return None


def _moment(value: object) -> datetime | None:
    """An ISO 8601 date and time (with or without offset), or None."""
    if not isinstance(value, str) or len(value) < 16 or value[10] not in "Tt ":
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def check_energy(value: object, name: str) -> tuple[Decimal | None, tuple[str, ...]]:
    """One energy value checked as a reading's are (an analyst's correction is held to the
    same rules): the number, or None and the reason codes."""
    reasons: list[str] = []
    return _energy(value, name, reasons), tuple(reasons)


def _energy(value: object, name: str, reasons: list[str]) -> Decimal | None:
    if value is None or value == "":
        reasons.append(f"{name}_missing")
        return None
    if isinstance(value, NonFinite):
        reasons.append(f"{name}_not_finite")
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        reasons.append(f"{name}_not_number")
        return None
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        reasons.append(f"{name}_not_number")
        return None
    if not number.is_finite():
        reasons.append(f"{name}_not_finite")
        return None
    if abs(number) > MAX_ABS_KWH:
        reasons.append(f"{name}_out_of_range")
        return None
    if number.as_tuple().exponent < KWH_PLACES.as_tuple().exponent:  # type: ignore[operator]
        number = number.quantize(KWH_PLACES, rounding=ROUND_HALF_EVEN)
    return number + 0  # drops a negative zero's sign
