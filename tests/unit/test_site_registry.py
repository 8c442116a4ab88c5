"""Site registry input: every refusal names the row or site and says why; nothing half-taken."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipeline.ops.site_fields import FIELDS, MAX_PROBLEMS, THRESHOLDS, Refused, SiteChange, rule_settings
from pipeline.ops.site_registry import (
    MAX_IMPORT_BYTES,
    describe,
    export_csv,
    export_json,
    parse_assignments,
    parse_import,
)
from pipeline.sites import METADATA, Site
from tests.conftest import ROOT

HEADER = "site_id,name,kind,capacity_kw,interval_minutes,latitude,longitude,timezone,thresholds.spike_k\n"


def refusals(text: str) -> list[str]:
    with pytest.raises(Refused) as caught:
        parse_import(text.encode())
    assert ", nothing was imported:\n" in str(caught.value)
    return caught.value.problems


def one_refusal(cell: str, value: str) -> str:
    """The sentence for one bad cell in an otherwise good CSV row of site `north`."""
    [problem] = refusals(f"site_id,{cell}\nnorth,{value}\n")
    return problem


def test_a_good_csv_becomes_changes_with_exact_decimals():
    [change] = parse_import((HEADER + "north,North roof,Solar,12.30,15,52.520008,13.404954,Europe/Berlin,5\n").encode())
    site = change.apply(None)
    assert site == Site(
        "north",
        kind="solar",
        capacity_kw=Decimal("12.30"),
        interval_minutes=15,
        latitude=Decimal("52.520008"),
        longitude=Decimal("13.404954"),
        name="North roof",
        timezone="Europe/Berlin",
        thresholds={"spike_k": Decimal("5")},
    )
    assert str(site.capacity_kw) == "12.30"


def test_json_numbers_stay_exact_and_thresholds_is_a_mapping():
    text = '[{"site_id": "a", "capacity_kw": 0.1, "latitude": -33.8688, "thresholds": {"gap_tolerance": 2.5}}]'
    [change] = parse_import(text.encode())
    site = change.apply(Site("a", thresholds={"spike_k": Decimal(6)}))
    assert site.capacity_kw == Decimal("0.1") and site.latitude == Decimal("-33.8688")
    assert site.thresholds == {"gap_tolerance": Decimal("2.5")}, "a JSON mapping replaces the stored settings"


@pytest.mark.parametrize(
    ("cell", "value", "sentence"),
    [
        ("kind", "tidal", "row 1 (north): kind must be one of solar, wind, consumer, hybrid, not 'tidal'"),
        ("capacity_kw", "0", "row 1 (north): capacity_kw must be greater than 0, not 0"),
        ("capacity_kw", "-5", "row 1 (north): capacity_kw must be greater than 0, not -5"),
        ("capacity_kw", "1e9", "row 1 (north): capacity_kw must be at most 100,000,000 kW, not 1E+9"),
        ("capacity_kw", "five", "row 1 (north): capacity_kw must be a number, not 'five'"),
        ("capacity_kw", "NaN", "row 1 (north): capacity_kw must be a finite number, not 'NaN'"),
        (
            "capacity_kw",
            "1.0000000000001",
            "row 1 (north): capacity_kw has more than 12 decimal places: '1.0000000000001'",
        ),
        ("interval_minutes", "0", "row 1 (north): interval_minutes must be from 1 to 1440 (a day), not 0"),
        ("interval_minutes", "1441", "row 1 (north): interval_minutes must be from 1 to 1440 (a day), not 1441"),
        ("interval_minutes", "7.5", "row 1 (north): interval_minutes must be a whole number of minutes, not 7.5"),
        ("latitude", "90.5", "row 1 (north): latitude must be from -90 to 90, not 90.5"),
        ("longitude", "-180.1", "row 1 (north): longitude must be from -180 to 180, not -180.1"),
        (
            "timezone",
            "Europe/Berlln",
            "row 1 (north): timezone 'Europe/Berlln' is not an IANA time zone name "
            "such as Europe/Berlin or America/New_York",
        ),
        (
            "timezone",
            "CEST",
            "row 1 (north): timezone 'CEST' is not an IANA time zone name such as Europe/Berlin or America/New_York",
        ),
        ("name", "x" * 201, "row 1 (north): name must be at most 200 characters, not 201"),
        (
            "thresholds.spike_k",
            "60",
            "row 1 (north): thresholds.spike_k must be from 1 to 50 "
            "(how many robust deviations from the median count as a spike), not 60",
        ),
        ("thresholds.spike_window", "4.5", "row 1 (north): thresholds.spike_window must be a whole number, not 4.5"),
        (
            "thresholds.night_sun_elevation_deg",
            "-20",
            "row 1 (north): thresholds.night_sun_elevation_deg must be from -18 to 5 "
            "(the sun is down below this elevation (degrees)), not -20",
        ),
        (
            "capcity_kw",
            "5",
            "row 1 (north): 'capcity_kw' is not a site field (fields: site_id, name, kind, capacity_kw, "
            "interval_minutes, latitude, longitude, timezone, thresholds.<setting>)",
        ),
    ],
)
def test_each_bad_value_is_refused_with_its_sentence(cell, value, sentence):
    assert one_refusal(cell, value) == sentence


def test_an_unknown_setting_lists_the_known_ones():
    problem = one_refusal("thresholds.spike", "5")
    assert problem.startswith(
        "row 1 (north): thresholds.spike is not a rule setting (there are night_sun_elevation_deg,"
    )
    assert "spike_k" in problem and "future_tolerance_minutes" in problem


@pytest.mark.parametrize(
    ("site_id", "sentence"),
    [
        ("", "row 1: site_id is missing"),
        ("has space", "row 1: site_id 'has space' must be 1-64 letters, digits, '-', '_' or '.'"),
        ("x" * 65, f"row 1: site_id '{'x' * 65}' must be 1-64 letters, digits, '-', '_' or '.'"),
    ],
)
def test_site_ids_follow_the_readings_rule(site_id, sentence):
    assert refusals(f"site_id,capacity_kw\n{site_id},5\n") == [sentence]


def test_every_bad_row_is_reported_and_nothing_is_taken():
    text = HEADER + (
        "good,Good,solar,5,15,50,8,UTC,\n"
        "bad-1,,solar,-1,15,50,8,UTC,\n"
        "bad-2,,moon,5,0,95,8,UTC,\n"
        "good,again,solar,5,15,50,8,UTC,\n"
    )
    assert refusals(text) == [
        "row 2 (bad-1): capacity_kw must be greater than 0, not -1",
        "row 3 (bad-2): kind must be one of solar, wind, consumer, hybrid, not 'moon'",
        "row 3 (bad-2): interval_minutes must be from 1 to 1440 (a day), not 0",
        "row 3 (bad-2): latitude must be from -90 to 90, not 95",
        "row 4 (good): site good is already in row 1",
    ]


def test_many_problems_are_capped_with_a_count():
    text = "site_id,capacity_kw\n" + "".join(f"s{i},-1\n" for i in range(MAX_PROBLEMS + 7))
    with pytest.raises(Refused) as caught:
        parse_import(text.encode())
    message = str(caught.value)
    assert message.startswith(f"{MAX_PROBLEMS + 7} problems, nothing was imported:")
    assert message.count("capacity_kw must be greater than 0") == MAX_PROBLEMS
    assert message.endswith("… and 7 more")


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "the file is empty"),
        ("site_id\n" + "x\n" * (MAX_IMPORT_BYTES // 2), "the file is larger than 8 MB: split it"),
        ("name,capacity_kw\nx,5\n", "the CSV header has no site_id column (it has name, capacity_kw)"),
        ("site_id,kind,kind\nx,solar,wind\n", "the CSV header names kind more than once"),
        ("site_id,kind\nx,solar,extra\n", "row 1: has 3 cells; the header has 2 columns"),
        ("site_id,kind,capacity_kw\nx,solar\n", "row 1: has fewer cells than the header's 3 columns"),
        ("site_id,kind\n", "the file holds no sites"),
        (
            '[{"site_id": "a",}]',
            "the file is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 18)",
        ),
        ('{"site_id": "a"}', 'a JSON import is a list of objects, one per site: [{"site_id": ...}, ...]'),
        ('[{"site_id": "a"}, 5]', "row 2: is 5, not an object"),
        ('[{"site_id": "a", "capacity_kw": true}]', "row 1 (a): capacity_kw must be a number, not true"),
        ('[{"site_id": "a", "capacity_kw": Infinity}]', "row 1 (a): capacity_kw must be a finite number, not Infinity"),
        ('[{"site_id": 7}]', "row 1: site_id 7 must be 1-64 letters, digits, '-', '_' or '.'"),
        ('[{"site_id": "a", "name": 7}]', "row 1 (a): name must be text, not 7"),
        (
            '[{"site_id": "a", "thresholds": 5}]',
            "row 1 (a): thresholds must be a mapping of settings to values (JSON), or empty to clear them all; "
            "elsewhere give each as thresholds.<setting>",
        ),
        (
            '[{"site_id": "a", "thresholds": {"spike_k": 0.5}}]',
            "row 1 (a): thresholds.spike_k must be from 1 to 50 "
            "(how many robust deviations from the median count as a spike), not 0.5",
        ),
    ],
)
def test_unreadable_files_and_rows_are_refused_with_a_sentence(text, sentence):
    assert refusals(text) == [sentence]


def test_empty_clears_and_absent_keeps():
    stored = Site("a", kind="wind", capacity_kw=Decimal(100), name="A", thresholds={"spike_k": Decimal(6)})
    [change] = parse_import(b"site_id,name,thresholds.spike_k\na,,\n")
    after = change.apply(stored)
    assert (after.name, after.thresholds) == (None, None), "empty cells clear"
    assert (after.kind, after.capacity_kw) == ("wind", Decimal(100)), "columns not in the file stay"


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(Refused) as caught:
        parse_import(b"site_id,name\nx,M\xfcnster\n")
    assert caught.value.problems == ["the file is not UTF-8 text: save it as UTF-8 CSV or JSON"]


def test_a_spreadsheet_csv_with_a_byte_order_mark_and_spaces_reads():
    [change] = parse_import("\ufeffsite_id , capacity_kw\r\nnorth, 5 \r\n".encode())
    assert change.apply(None).capacity_kw == Decimal(5)


def test_export_imports_back_to_the_same_sites():
    sites = [
        Site(
            "a",
            kind="hybrid",
            capacity_kw=Decimal("12.345678901234"[:14]),
            interval_minutes=5,
            latitude=Decimal("-33.8688"),
            longitude=Decimal("151.2093"),
            name='Quote " and, comma',
            timezone="Australia/Sydney",
            thresholds={"spike_k": Decimal("4.5"), "flatline_readings": Decimal(10)},
        ),
        Site("b"),
        Site("c", capacity_kw=Decimal("1E+3")),
    ]
    stale = [Site(s.site_id, kind="wind", name="old", thresholds={"gap_tolerance": Decimal(3)}) for s in sites]
    for text in (export_csv(sites), export_json(sites)):
        changes = parse_import(text.encode())
        assert [c.apply(old) for c, old in zip(changes, stale, strict=True)] == sites
    assert json.loads(export_json(sites))[2]["capacity_kw"] == 1000
    assert "\nc,,,1000," in export_csv(sites)


def test_set_takes_key_value_pairs():
    change = parse_assignments("north", ["capacity_kw=5", "timezone=Europe/Berlin", "thresholds.spike_k=5", "name="])
    after = change.apply(Site("north", name="N", capacity_kw=Decimal(9), thresholds={"gap_tolerance": Decimal(2)}))
    assert after == Site(
        "north",
        capacity_kw=Decimal(5),
        timezone="Europe/Berlin",
        thresholds={"gap_tolerance": Decimal(2), "spike_k": Decimal(5)},
    )
    assert parse_assignments("north", ["thresholds="]).apply(after).thresholds is None


@pytest.mark.parametrize(
    ("assignments", "sentence"),
    [
        (["capacity_kw"], "site north: 'capacity_kw' is not key=value (for example capacity_kw=5)"),
        (["site_id=south"], "site north: site_id cannot be changed: import the site under its new id"),
        (["kind=wind", "kind=solar"], "site north: kind is given twice"),
        (["interval_minutes=0"], "site north: interval_minutes must be from 1 to 1440 (a day), not 0"),
        (
            ["thresholds=5"],
            "site north: thresholds must be a mapping of settings to values (JSON), or empty to clear them all; "
            "elsewhere give each as thresholds.<setting>",
        ),
    ],
)
def test_set_refuses_with_a_sentence(assignments, sentence):
    with pytest.raises(Refused) as caught:
        parse_assignments("north", assignments)
    assert caught.value.problems == [sentence]
    assert str(caught.value).startswith("1 problem, nothing was changed:")


def test_describe_says_what_changed_against_defaults():
    before = Site("a", capacity_kw=Decimal(10))
    after = SiteChange("a", {"capacity_kw": Decimal(5), "timezone": "Europe/Berlin"}, {"spike_k": Decimal(5)}).apply(
        before
    )
    assert describe(before, after) == [
        "capacity_kw 10 -> 5",
        "timezone (unset) -> Europe/Berlin",
        "thresholds.spike_k (default 4) -> 5",
    ]
    assert describe(after, after) == []


def test_every_metadata_attribute_has_an_import_field():
    assert set(FIELDS[1:]) | {THRESHOLDS} == set(METADATA)


def test_the_documentation_lists_every_rule_setting_with_its_range_and_default():
    doc = (ROOT / "docs" / "sites.md").read_text().replace("−", "-")
    for s in rule_settings().values():
        whole = ", whole" if s.whole else ""
        assert f"| `thresholds.{s.name}` | {s.low:g} to {s.high:g}{whole} | {s.default:g} | {s.doc} |" in doc, s.name
