"""The site registry's ways in and out: import files, `key=value` edits and exports.

Everything is checked before anything is written, and every refusal is a sentence that
names the row or site and says why. One set of field names serves every way in:
`site_id`, `name`, `kind`, `capacity_kw`, `interval_minutes`, `latitude`, `longitude`,
`timezone`, and one `thresholds.<setting>` per anomaly rule setting (`Thresholds`, whose
field metadata gives each setting's range and sentence). JSON may also give `thresholds`
as a mapping, which replaces the site's settings as a whole.

What a row names, it sets; an empty value (`""`, or `null` in JSON) clears it; what a row
does not name stays as it is. So an export imported again changes nothing, and a file
with only `site_id,capacity_kw` touches capacities only. Numbers stay `Decimal` from their
text: what is written to DynamoDB is exactly what was typed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import available_timezones

from pipeline.anomalies import Thresholds
from pipeline.settings import Settings
from pipeline.sites import KINDS, Site, get_sites, register_unknown, update_metadata
from pipeline.validation import SITE_ID

FIELDS = ("site_id", "name", "kind", "capacity_kw", "interval_minutes", "latitude", "longitude", "timezone")
THRESHOLDS = "thresholds"
PREFIX = "thresholds."
MAX_PROBLEMS = 20  # sentences shown; the rest are counted
MAX_SITES = 10_000  # rows in one import
MAX_IMPORT_BYTES = 8 * 1024 * 1024  # ~30,000 rows with every column: room for MAX_SITES
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


def _shown(raw: object) -> str:
    """A value as the file wrote it: text quoted, numbers as they are, JSON's other values as JSON."""
    if isinstance(raw, str):
        return repr(raw)
    return str(raw) if isinstance(raw, Decimal) else json.dumps(raw, default=str)


def _number(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise _Bad(f"{name} must be a number, not {_shown(raw)}")
    try:
        number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Bad(f"{name} must be a number, not {_shown(raw)}") from None
    if not number.is_finite():
        raise _Bad(f"{name} must be a finite number, not {_shown(raw)}")
    if number.as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]
        raise _Bad(f"{name} has more than {MAX_PLACES} decimal places: {_shown(raw)}")
    return number


def _between(name: str, raw: object, low: Decimal, high: Decimal) -> Decimal:
    number = _number(name, raw)
    if not low <= number <= high:
        raise _Bad(f"{name} must be from {low} to {high}, not {number}")
    return number


def _text(name: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise _Bad(f"{name} must be text, not {_shown(raw)}")
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
        raise _Bad(f"kind must be one of {', '.join(KINDS)}, not {_shown(raw)}")
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
        raise _Bad(f"timezone {_shown(raw)} is not an IANA time zone name such as Europe/Berlin or America/New_York")
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
        return f"site_id {_shown(raw)} must be 1-64 letters, digits, '-', '_' or '.'"
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


# --- ways in ------------------------------------------------------------------------------


def parse_import(data: bytes) -> list[SiteChange]:
    """The changes an import file asks for: a JSON list of objects, or CSV with a header,
    in UTF-8 (a spreadsheet's byte order mark is fine).

    All or nothing: every row is checked and every problem reported (`Refused`) before the
    caller writes anything.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise Refused([f"the file is larger than {MAX_IMPORT_BYTES // 1024**2} MB: split it"], "nothing was imported")
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(["the file is not UTF-8 text: save it as UTF-8 CSV or JSON"], "nothing was imported") from None
    if not body.strip():
        raise Refused(["the file is empty"], "nothing was imported")
    rows = _json_rows(body) if body.lstrip()[0] in "[{" else _csv_rows(body)
    if len(rows) > MAX_SITES:
        raise Refused(
            [f"the file has {len(rows):,} sites; one import takes at most {MAX_SITES:,}"], "nothing was imported"
        )
    problems: list[str] = []
    changes: list[SiteChange] = []
    first_row: dict[str, int] = {}
    for number, cells in enumerate(rows, start=1):
        if isinstance(cells, str):  # the row could not be read at all
            problems.append(f"row {number}: {cells}")
            continue
        change, found = check_row(cells)
        site_id = cells.get("site_id")
        label = f"row {number} ({site_id})" if site_id_problem(site_id) is None else f"row {number}"
        problems.extend(f"{label}: {p}" for p in found)
        if change is None:
            continue
        if change.site_id in first_row:
            problems.append(f"{label}: site {change.site_id} is already in row {first_row[change.site_id]}")
            continue
        first_row[change.site_id] = number
        changes.append(change)
    if not rows:
        problems.append("the file holds no sites")
    if problems:
        raise Refused(problems, "nothing was imported")
    return changes


def _json_rows(text: str) -> list[dict[str, object] | str]:
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        raise Refused([f"the file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]) from None
    except (RecursionError, ValueError) as exc:
        raise Refused([f"the file is not valid JSON: {exc}"]) from None
    if not isinstance(value, list):
        raise Refused(['a JSON import is a list of objects, one per site: [{"site_id": ...}, ...]'])
    return [row if isinstance(row, dict) else f"is {_shown(row)}, not an object" for row in value]


_SHORT = object()  # DictReader's filler for a row with fewer cells than the header


def _csv_rows(text: str) -> list[dict[str, object] | str]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), restval=_SHORT)
        header = [h.strip() for h in reader.fieldnames or []]
        problems = []
        if "site_id" not in header:
            problems.append(f"the CSV header has no site_id column (it has {', '.join(header) or 'nothing'})")
        if twice := sorted({h for h in header if header.count(h) > 1}):
            problems.append(f"the CSV header names {', '.join(twice)} more than once")
        if problems:
            raise Refused(problems, "nothing was imported")
        reader.fieldnames = header
        rows: list[dict[str, object] | str] = []
        for row in reader:
            if None in row:
                rows.append(f"has {len(header) + len(row[None])} cells; the header has {len(header)} columns")
            elif _SHORT in row.values():
                rows.append(f"has fewer cells than the header's {len(header)} columns")
            else:
                rows.append(dict(row))
        return rows
    except csv.Error as exc:
        raise Refused([f"the file is not readable CSV: {exc}"], "nothing was imported") from None


def parse_assignments(site_id: str, assignments: Sequence[str]) -> SiteChange:
    """The change `key=value ...` asks of one site (`thresholds.spike_k=5`; `name=` clears)."""
    problems: list[str] = []
    cells: dict[str, object] = {"site_id": site_id}
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        key = key.strip()
        if not equals:
            problems.append(f"{assignment!r} is not key=value (for example capacity_kw=5)")
        elif key == "site_id":
            problems.append("site_id cannot be changed: import the site under its new id")
        elif key in cells:
            problems.append(f"{key} is given twice")
        else:
            cells[key] = value
    if len(cells) == 1 and not problems:
        problems.append("nothing to set: give key=value pairs, for example capacity_kw=5")
    change, found = check_row(cells)
    problems += found
    if problems:
        raise Refused([f"site {site_id}: {p}" for p in problems], "nothing was changed")
    assert change is not None
    return change


def parse_edits(edits: Mapping[str, Mapping[str, object]]) -> list[SiteChange]:
    """The changes of cells edited in a table of sites (`site_id` -> column -> new text)."""
    problems: list[str] = []
    changes: list[SiteChange] = []
    for site_id, cells in edits.items():
        change, found = check_row({**cells, "site_id": site_id})
        problems.extend(f"site {site_id}: {p}" for p in found)
        if change is not None:
            changes.append(change)
    if problems:
        raise Refused(problems, "nothing was saved")
    return changes


# --- ways out -----------------------------------------------------------------------------


def _plain(value: object) -> str:
    """Numbers in positional notation, exactly as stored."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)


def threshold_columns(sites: Iterable[Site]) -> list[str]:
    """One column per rule setting, and per setting stored on a site that is no longer one."""
    stored = {name for site in sites for name in (site.thresholds or {})}
    names = [*rule_settings(), *sorted(stored - set(rule_settings()))]
    return [PREFIX + name for name in names]


def export_rows(sites: Sequence[Site]) -> list[dict[str, str]]:
    """Every site as text cells under the import's columns (empty where unset)."""
    columns = threshold_columns(sites)
    rows = []
    for site in sites:
        row = {name: _plain(getattr(site, name)) for name in FIELDS}
        row |= {column: _plain((site.thresholds or {}).get(column.removeprefix(PREFIX))) for column in columns}
        rows.append(row)
    return rows


def export_csv(sites: Sequence[Site]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*FIELDS, *threshold_columns(sites)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(sites))
    return out.getvalue()


def export_json(sites: Sequence[Site]) -> str:
    """A JSON list, one object a line, numbers written exactly (json.dumps would make them floats)."""
    lines = []
    for site in sites:
        values = {name: getattr(site, name) for name in FIELDS}
        parts = [f"{json.dumps(k)}: {_json(v)}" for k, v in values.items()]
        parts.append(f'"thresholds": {_json(dict(site.thresholds or {}))}')
        lines.append("  {" + ", ".join(parts) + "}")
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def _json(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


# --- saving -------------------------------------------------------------------------------


def describe(before: Site | None, after: Site) -> list[str]:
    """What changed, field by field, as `capacity_kw 100 -> 5`."""
    before = before or Site(after.site_id)
    lines = []
    for name in FIELDS[1:]:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            lines.append(f"{name} {_or_unset(old)} -> {_or_unset(new)}")
    old_t, new_t = before.thresholds or {}, after.thresholds or {}
    for name in sorted(set(old_t) | set(new_t)):
        if old_t.get(name) != new_t.get(name):
            lines.append(f"{PREFIX}{name} {_or_default(name, old_t.get(name))} -> {_or_default(name, new_t.get(name))}")
    return lines


def _or_unset(value: object) -> str:
    return "(unset)" if value is None else _plain(value)


def _or_default(name: str, value: Decimal | None) -> str:
    if value is not None:
        return _plain(value)
    setting = rule_settings().get(name)
    return f"(default {setting.default:g})" if setting else "(unset)"


@dataclass(frozen=True)
class Saved:
    site_id: str
    new: bool
    changes: list[str]  # `describe` lines; empty when the site was already so


def save(settings: Settings, changes: Sequence[SiteChange]) -> list[Saved]:
    """Write checked changes: only the attributes each names, and only where a value differs.

    Reads the sites first to merge per-setting thresholds into what is stored and to say
    what changed.
    """
    current = get_sites(settings, [c.site_id for c in changes])
    saved = []
    for change in changes:
        before = current.get(change.site_id)
        after = change.apply(before)
        lines = describe(before, after)
        if before is None and not any(v is not None for v in change.written(after).values()):
            register_unknown(settings, [change.site_id], {})
        elif lines:
            update_metadata(settings, change.site_id, change.written(after))
        saved.append(Saved(change.site_id, before is None, lines))
    return saved
