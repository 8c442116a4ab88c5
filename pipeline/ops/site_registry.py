"""The site registry's ways in and out: import files, `key=value` edits, the app's table
edits, and exports; then saving what was asked.

Everything is checked (`site_fields.check_row`) before anything is written, and every
refusal is a sentence that names the row or site and says why. JSON may give `thresholds`
as a mapping, which replaces the site's settings as a whole; CSV has one
`thresholds.<setting>` column per setting. What a row names, it sets; an empty value clears
it; what it does not name stays. So an export imported again changes nothing, and a file
with only `site_id,capacity_kw` touches capacities only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pipeline.ops.site_fields import (
    FIELDS,
    PREFIX,
    Refused,
    SiteChange,
    check_row,
    rule_settings,
    shown_value,
    site_id_problem,
)
from pipeline.settings import Settings
from pipeline.sites import Site, get_sites, register_unknown, update_metadata

MAX_SITES = 10_000  # rows in one import
MAX_IMPORT_BYTES = 8 * 1024 * 1024  # ~30,000 rows with every column: room for MAX_SITES
NOT_IMPORTED = "nothing was imported"


# --- ways in ------------------------------------------------------------------------------


def parse_import(data: bytes) -> list[SiteChange]:
    """The changes an import file asks for: a JSON list of objects, or CSV with a header,
    in UTF-8 (a spreadsheet's byte order mark is fine).

    All or nothing: every row is checked and every problem reported (`Refused`) before the
    caller writes anything.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise Refused([f"the file is larger than {MAX_IMPORT_BYTES // 1024**2} MB: split it"], NOT_IMPORTED)
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(["the file is not UTF-8 text: save it as UTF-8 CSV or JSON"], NOT_IMPORTED) from None
    if not body.strip():
        raise Refused(["the file is empty"], NOT_IMPORTED)
    rows = _json_rows(body) if body.lstrip()[0] in "[{" else _csv_rows(body)
    if len(rows) > MAX_SITES:
        raise Refused([f"the file has {len(rows):,} sites; one import takes at most {MAX_SITES:,}"], NOT_IMPORTED)
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
        raise Refused(problems, NOT_IMPORTED)
    return changes


def _json_rows(text: str) -> list[dict[str, object] | str]:
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        problem = f"the file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise Refused([problem], NOT_IMPORTED) from None
    except (RecursionError, ValueError) as exc:
        raise Refused([f"the file is not valid JSON: {exc}"], NOT_IMPORTED) from None
    if not isinstance(value, list):
        raise Refused(['a JSON import is a list of objects, one per site: [{"site_id": ...}, ...]'], NOT_IMPORTED)
    return [row if isinstance(row, dict) else f"is {shown_value(row)}, not an object" for row in value]


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
            raise Refused(problems, NOT_IMPORTED)
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
        raise Refused([f"the file is not readable CSV: {exc}"], NOT_IMPORTED) from None


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
