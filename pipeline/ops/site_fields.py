"""A site's fields and what each accepts: one check for every way into the registry.

Import files, `sites set` and the Sites page's table all hand rows of cells to
`check_row`, so a value is refused in the same words wherever it is typed. The rule
settings a site may override, their ranges and their sentences come from `Thresholds`'
field metadata (`anomalies.setting`), so a new setting is accepted here as soon as it is
declared there.

A cell that is empty (`""`, or `null` in JSON) clears its field; a field a row does not
name stays as it is. Numbers stay `Decimal` from their text: what is written to DynamoDB
is exactly what was typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import available_timezones

from pipeline.anomalies import Thresholds
from pipeline.sites import KINDS, Site
from pipeline.validation import SITE_ID

FIELDS = ("site_id", "name", "kind", "capacity_kw", "interval_minutes", "latitude", "longitude", "timezone")
THRESHOLDS = "thresholds"
PREFIX = "thresholds."
MAX_PROBLEMS = 20  # sentences shown; the rest are counted
MAX_NAME = 200
MAX_CAPACITY_KW = Decimal(100_000_000)  # 100 GW: far above any plant, well inside a DynamoDB Number
MAX_PLACES = 12  # decimal places a number may have


class Refused(ValueError):
    """Input the registry does not take; nothing of it was written."""

    def __init__(self, problems: Sequence[str], outcome: str = "nothing was written") -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS]
        more = len(self.problems) - len(shown)
        lines = [f"  {p}" for p in shown] + ([f"  … and {more} more"] if more else [])
        many = f"{len(self.problems)} problems" if len(self.problems) != 1 else "1 problem"
        super().__init__(f"{many}, {outcome}:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Setting:
    """A rule setting a site may override, as `Thresholds` declares it."""

    name: str
    default: float
    low: float
    high: float
    doc: str
    whole: bool  # an int setting: whole numbers only


@cache
def rule_settings() -> dict[str, Setting]:
    return {
        f.name: Setting(f.name, f.default, *f.metadata["range"], f.metadata["doc"], f.type in ("int", int))
        for f in fields(Thresholds)
    }


@cache
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True)
class SiteChange:
    """What one row, edit or `set` asks of a site."""

    site_id: str
    values: dict[str, object | None] = field(default_factory=dict)  # metadata -> new value; None clears
    thresholds: dict[str, Decimal | None] = field(default_factory=dict)  # per setting; None clears
    clear_thresholds: bool = False  # drop every stored setting before applying `thresholds`

    def apply(self, site: Site | None) -> Site:
        base = site or Site(self.site_id)
        settings = {} if self.clear_thresholds else dict(base.thresholds or {})
        for name, value in self.thresholds.items():
            if value is None:
                settings.pop(name, None)
            else:
                settings[name] = value
        return replace(base, **self.values, thresholds=settings or None)  # type: ignore[arg-type]

    def written(self, site: Site) -> dict[str, object | None]:
        """The attributes this change writes, with the values of the site after it."""
        out = {name: getattr(site, name) for name in self.values}
        if self.clear_thresholds or self.thresholds:
            out[THRESHOLDS] = site.thresholds
        return out


# --- checking one row ---------------------------------------------------------------------


class _Bad(ValueError):
    pass


def _empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def shown_value(raw: object) -> str:
    """A value as the file wrote it: text quoted, numbers as they are, JSON's other values as JSON."""
    if isinstance(raw, str):
        return repr(raw)
    return str(raw) if isinstance(raw, Decimal) else json.dumps(raw, default=str)


def _number(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise _Bad(f"{name} must be a number, not {shown_value(raw)}")
    try:
        number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Bad(f"{name} must be a number, not {shown_value(raw)}") from None
    if not number.is_finite():
        raise _Bad(f"{name} must be a finite number, not {shown_value(raw)}")
    if number.as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]
        raise _Bad(f"{name} has more than {MAX_PLACES} decimal places: {shown_value(raw)}")
    return number


def _between(name: str, raw: object, low: Decimal, high: Decimal) -> Decimal:
    number = _number(name, raw)
    if not low <= number <= high:
        raise _Bad(f"{name} must be from {low} to {high}, not {number}")
    return number


def _text(name: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise _Bad(f"{name} must be text, not {shown_value(raw)}")
    return raw.strip()


def _name(raw: object) -> str:
    text = _text("name", raw)
    if len(text) > MAX_NAME:
        raise _Bad(f"name must be at most {MAX_NAME} characters, not {len(text)}")
    if any(ord(c) < 32 for c in text):
        raise _Bad("name must not hold line breaks or other control characters")
    return text


def _kind(raw: object) -> str:
    kind = _text("kind", raw).lower()
    if kind not in KINDS:
        raise _Bad(f"kind must be one of {', '.join(KINDS)}, not {shown_value(raw)}")
    return kind


def _capacity(raw: object) -> Decimal:
    number = _number("capacity_kw", raw)
    if number <= 0:
        raise _Bad(f"capacity_kw must be greater than 0, not {number}")
    if number > MAX_CAPACITY_KW:
        raise _Bad(f"capacity_kw must be at most {MAX_CAPACITY_KW:,} kW, not {number}")
    return number


def _interval(raw: object) -> int:
    number = _number("interval_minutes", raw)
    if number != number.to_integral_value():
        raise _Bad(f"interval_minutes must be a whole number of minutes, not {number}")
    if not 1 <= number <= 1440:
        raise _Bad(f"interval_minutes must be from 1 to 1440 (a day), not {number}")
    return int(number)


def _timezone(raw: object) -> str:
    name = _text("timezone", raw)
    if name not in timezones():
        example = "such as Europe/Berlin or America/New_York"
        raise _Bad(f"timezone {shown_value(raw)} is not an IANA time zone name {example}")
    return name


PARSERS = {
    "name": _name,
    "kind": _kind,
    "capacity_kw": _capacity,
    "interval_minutes": _interval,
    "latitude": lambda raw: _between("latitude", raw, Decimal(-90), Decimal(90)),
    "longitude": lambda raw: _between("longitude", raw, Decimal(-180), Decimal(180)),
    "timezone": _timezone,
}


def _threshold(name: str, raw: object) -> Decimal | None:
    setting = rule_settings().get(name)
    if setting is None:
        raise _Bad(f"{PREFIX}{name} is not a rule setting (there are {', '.join(rule_settings())})")
    if _empty(raw):
        return None
    number = _number(PREFIX + name, raw)
    if setting.whole and number != number.to_integral_value():
        raise _Bad(f"{PREFIX}{name} must be a whole number, not {number}")
    if not Decimal(str(setting.low)) <= number <= Decimal(str(setting.high)):
        raise _Bad(f"{PREFIX}{name} must be from {setting.low:g} to {setting.high:g} ({setting.doc}), not {number}")
    return number


def site_id_problem(raw: object) -> str | None:
    """Why `raw` cannot name a site (the rule readings' site ids follow), or None."""
    if _empty(raw):
        return "site_id is missing"
    if not isinstance(raw, str) or not SITE_ID.fullmatch(raw):
        return f"site_id {shown_value(raw)} must be 1-64 letters, digits, '-', '_' or '.'"
    return None


def check_row(cells: Mapping[str, object]) -> tuple[SiteChange | None, list[str]]:
    """The change a row asks for, or every reason it cannot be made."""
    problems: list[str] = []
    site_id = cells.get("site_id")
    if (problem := site_id_problem(site_id)) is not None:
        problems.append(problem)
    values: dict[str, object | None] = {}
    thresholds: dict[str, Decimal | None] = {}
    clear = False
    for key, raw in cells.items():
        try:
            if key == "site_id":
                continue
            if key in PARSERS:
                values[key] = None if _empty(raw) else PARSERS[key](raw)
            elif key == THRESHOLDS:
                clear = True
                if isinstance(raw, dict):
                    for name, value in raw.items():
                        try:
                            thresholds[str(name)] = _threshold(str(name), value)
                        except _Bad as exc:
                            problems.append(str(exc))
                elif not _empty(raw):
                    raise _Bad(
                        f"thresholds must be a mapping of settings to values (JSON), or empty to clear them all; "
                        f"elsewhere give each as {PREFIX}<setting>"
                    )
            elif key.startswith(PREFIX):
                thresholds[key.removeprefix(PREFIX)] = _threshold(key.removeprefix(PREFIX), raw)
            else:
                raise _Bad(f"{key!r} is not a site field (fields: {', '.join(FIELDS)}, {PREFIX}<setting>)")
        except _Bad as exc:
            problems.append(str(exc))
    if problems:
        return None, problems
    assert isinstance(site_id, str)
    return SiteChange(site_id, values, thresholds, clear), []
