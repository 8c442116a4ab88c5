import gzip
import json
from decimal import Decimal

import pytest

from pipeline.formats import NonFinite, UnreadableFile, decode_rows

READING = {
    "site_id": "site-1",
    "timestamp": "2026-11-29T06:00:00Z",
    "energy_generated_kwh": 12.5,
    "energy_consumed_kwh": 8.1,
}


def values(rows):
    return [row.value for row in rows]


def test_json_array_as_the_original_system_wrote_it():
    rows = decode_rows("raw/a.json", json.dumps([READING, READING]).encode())
    assert [r.number for r in rows] == [1, 2]
    assert rows[0].value["energy_generated_kwh"] == Decimal("12.5")


def test_single_json_object_is_one_reading():
    rows = decode_rows("raw/a.json", json.dumps(READING).encode())
    assert len(rows) == 1 and rows[0].value["site_id"] == "site-1"


def test_json_lines_keeps_a_broken_line_as_a_bad_row():
    body = (json.dumps(READING) + "\n\n{not json\n" + json.dumps(READING) + "\n").encode()
    rows = decode_rows("raw/a.jsonl", body)
    assert [r.error for r in rows] == [None, "row_not_json", None]
    assert rows[1].value == "{not json"


def test_csv_with_header_and_spaces():
    body = b"site_id, timestamp, energy_generated_kwh, energy_consumed_kwh\nsite-1, 2026-11-29T06:00:00Z, 12.5, 8.1\n"
    rows = decode_rows("raw/a.csv", body)
    assert values(rows) == [
        {
            "site_id": "site-1",
            "timestamp": "2026-11-29T06:00:00Z",
            "energy_generated_kwh": "12.5",
            "energy_consumed_kwh": "8.1",
        }
    ]


def test_csv_row_with_missing_cells_is_a_bad_row():
    body = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\nsite-1,2026-11-29T06:00:00Z\n"
    assert decode_rows("raw/a.csv", body)[0].error == "row_malformed"


def test_csv_without_the_needed_columns_is_unreadable():
    with pytest.raises(UnreadableFile) as caught:
        decode_rows("raw/a.csv", b"site,time\nx,y\n")
    assert caught.value.reason == "csv_missing_columns"


@pytest.mark.parametrize("key", ["raw/a.json.gz", "raw/a.json"])
def test_gzip_by_suffix_or_by_magic_bytes(key):
    rows = decode_rows(key, gzip.compress(json.dumps([READING]).encode()))
    assert rows[0].value["site_id"] == "site-1"


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("raw/a.jsonl.gz", gzip.compress(json.dumps(READING).encode())),
        (
            "raw/a.csv.gz",
            gzip.compress(b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\ns,2026-11-29T06:00:00Z,1,2\n"),
        ),
    ],
)
def test_gzipped_jsonl_and_csv(key, body):
    assert len(decode_rows(key, body)) == 1


def test_content_sniffing_when_the_suffix_says_nothing():
    assert decode_rows("raw/readings", json.dumps([READING]).encode())[0].value["site_id"] == "site-1"
    jsonl = (json.dumps(READING) + "\n" + json.dumps(READING)).encode()
    assert len(decode_rows("raw/readings.json", jsonl)) == 2
    csv = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\ns,2026-11-29T06:00:00Z,1,2\n"
    assert len(decode_rows("raw/readings.txt", csv)) == 1


def test_nan_and_infinity_literals_are_kept_for_validation_to_refuse():
    rows = decode_rows("raw/a.json", b'[{"energy_generated_kwh": NaN, "energy_consumed_kwh": -Infinity}]')
    assert rows[0].value["energy_generated_kwh"] == NonFinite("NaN")


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("raw/a.json", b"", "empty_file"),
        ("raw/a.json", b"[]", "empty_file"),
        ("raw/a.json", b'{"site_id": ', "invalid_json"),
        ("raw/a.json", b"42", "unexpected_json"),
        ("raw/a.json", b"\xff\xfe\x00garbage", "not_utf8"),
        ("raw/a.json.gz", b"not gzip at all", "not_gzip"),
    ],
)
def test_unreadable_files_say_why(key, body, reason):
    with pytest.raises(UnreadableFile) as caught:
        decode_rows(key, body)
    assert caught.value.reason == reason
