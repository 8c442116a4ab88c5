import gzip
import json
import tracemalloc
from decimal import Decimal

import pytest

from pipeline.formats import (
    FIELDS,
    REASONS,
    Limits,
    NonFinite,
    UnreadableFile,
    check_readable,
    decode_rows,
    iter_rows,
)
from pipeline.settings import ConfigError, Settings

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
    ids=["jsonl", "csv"],  # gzip stamps the time into the bytes: ids must not change between workers
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


# --- streaming ------------------------------------------------------------------------

CSV_HEADER = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\n"
DEFAULT = Limits()
SMALL = Limits(max_row_bytes=2_000, max_columns=8, max_depth=8)


def pieces(body: bytes, seed: int = 0):
    """The body cut in chunks of 1-7 bytes, as a slow network would deliver it."""
    sizes = [1 + (seed + i * 5) % 7 for i in range(len(body) + 1)]
    start = 0
    for size in sizes:
        if start >= len(body):
            return
        yield body[start : start + size]
        start += size


def streamed(key, body, limits=DEFAULT, seed=0):
    return list(iter_rows(key, pieces(body, seed), limits))


def reason_of(key, body, limits=DEFAULT):
    with pytest.raises(UnreadableFile) as caught:
        streamed(key, body, limits)
    return caught.value.reason


FILES = [
    ("raw/a.json", json.dumps([READING, {**READING, "energy_generated_kwh": 1e-3}, "x", 7, None]).encode()),
    ("raw/a.json", json.dumps([READING], indent=2).encode()),
    ("raw/a.json", b'\xef\xbb\xbf[{"site_id": "s\\u00e9\\"x", "n": [1, 22, 333]}, 4444]'),
    ("raw/a.json", json.dumps(READING, indent=2).encode()),
    ("raw/a.json", (json.dumps(READING) + "\n" + json.dumps(READING)).encode()),
    ("raw/a.jsonl", (json.dumps(READING) + "\r\n\n{not json\n" + json.dumps(READING)).encode()),
    ("raw/a.csv", CSV_HEADER + b's,2026-11-29T06:00:00Z,1,2\r\n\ns,"2026-11-29T07:00:00Z",3\ns,t,1,2,9\n'),
    ("raw/a.csv", b'site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,note\ns,t,1,2,"two\nlines"\n'),
    ("raw/readings", json.dumps([READING] * 3).encode()),
    ("raw/readings.txt", CSV_HEADER + b"s,t,1,2\n" * 3),
    ("raw/a.json", b'[{"energy_generated_kwh": NaN, "energy_consumed_kwh": -Infinity}, 12345678]'),
]


@pytest.mark.parametrize(("key", "body"), FILES)
@pytest.mark.parametrize("gz", [False, True])
def test_every_format_streamed_in_tiny_chunks_gives_the_rows_of_the_whole(key, body, gz):
    if gz:
        key, body = key + ".gz", gzip.compress(body)
    whole = list(iter_rows(key, [body]))
    assert whole, "the file has rows"
    for seed in range(3):
        assert streamed(key, body, seed=seed) == whole
    assert check_readable(key, pieces(body)) == len(whole)


def test_a_multi_member_gzip_is_read_whole():
    body = gzip.compress(json.dumps(READING).encode() + b"\n") + gzip.compress(json.dumps(READING).encode())
    assert len(streamed("raw/a.jsonl.gz", body)) == 2


def test_a_file_gzipped_twice_is_refused_not_unpacked_again():
    assert reason_of("raw/a.json.gz", gzip.compress(gzip.compress(json.dumps([READING]).encode()))) == (
        "compressed_twice"
    )


def test_a_truncated_gzip_is_not_gzip():
    assert reason_of("raw/a.json.gz", gzip.compress(json.dumps([READING] * 50).encode())[:-30]) == "not_gzip"


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (Limits(max_object_bytes=1_000), "object_too_large"),
        (Limits(max_decompressed_bytes=100_000), "decompressed_too_large"),
        (Limits(max_ratio=20, ratio_floor_bytes=50_000), "compression_ratio_too_high"),
    ],
)
def test_byte_limits_refuse_the_file_whole(limits, reason):
    body = gzip.compress(json.dumps([READING] * 5_000).encode())  # ~600 KB of text, very repetitive
    assert reason_of("raw/a.json.gz", body, limits) == reason


def test_a_small_repetitive_file_passes_the_ratio_check():
    body = gzip.compress(json.dumps([READING] * 5_000).encode())
    assert len(body) * 100 < len(json.dumps([READING] * 5_000)), "compresses over 100x"
    assert len(streamed("raw/a.json.gz", body)) == 5_000


@pytest.mark.parametrize("filler", [b"\0", (json.dumps(READING) + ",").encode()])
def test_a_5_mb_gzip_bomb_is_refused_quickly_in_bounded_memory(filler):
    body = gzip_bomb(filler)
    assert len(body) > 5_000_000
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableFile) as caught:
            check_readable("raw/bomb.json.gz", _slices(body))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.reason in {"decompressed_too_large", "compression_ratio_too_high"}
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"


def gzip_bomb(filler: bytes, size: int = 5_000_000) -> bytes:
    """Over `size` bytes of gzip members of `filler` repeated (~16 MB each): gigabytes once inflated."""
    member = gzip.compress(filler * (16_000_000 // len(filler)), compresslevel=9)
    head = gzip.compress(b"[" + filler * (1000 // len(filler)))
    return head + member * (size // len(member) + 1)


def _slices(body: bytes, size: int = 1 << 20):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_row_nested_50000_deep_is_a_row_error_between_good_rows():
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000
    body = f"[{json.dumps(READING)}, {deep}, {json.dumps(READING)}]".encode()
    rows = list(iter_rows("raw/a.json", _slices(body, 4096)))
    assert [r.error for r in rows] == [None, "row_too_deep", None]
    assert rows[2].value["site_id"] == "site-1" and rows[2].number == 3
    lines = f"{json.dumps(READING)}\n{'[' * 50_000}{']' * 50_000}\n{json.dumps(READING)}\n".encode()
    assert [r.error for r in streamed("raw/a.jsonl", lines)] == [None, "row_too_deep", None]


def test_nesting_just_inside_the_limit_is_kept():
    ok = {"a": {"b": {"c": [1]}}}
    rows = streamed("raw/a.json", json.dumps([ok, [[[[[[[[[1]]]]]]]]]]).encode(), SMALL)
    assert [r.error for r in rows] == [None, "row_too_deep"]


@pytest.mark.parametrize("key", ["raw/a.json", "raw/a.jsonl"])
def test_a_row_longer_than_the_limit_is_skipped_unheld(key):
    long = {**READING, "note": "x" * 5_000}
    if key.endswith(".json"):
        body = json.dumps([READING, long, READING]).encode()
    else:
        body = "\n".join(json.dumps(r) for r in (READING, long, READING)).encode()
    rows = streamed(key, body, SMALL)
    assert [r.error for r in rows] == [None, "row_too_long", None]
    assert rows[1].value.startswith('{"site_id"') and len(rows[1].value) < 300


def test_a_long_string_spanning_chunks_in_a_skipped_row_is_scanned_correctly():
    tricky = {"note": 'a "quoted" ] } , \\ ' * 400}
    rows = streamed("raw/a.json", json.dumps([tricky, READING]).encode(), SMALL)
    assert [r.error for r in rows] == ["row_too_long", None]


def test_an_object_with_too_many_keys_is_a_row_error():
    wide = {f"k{i}": i for i in range(20)}
    assert [r.error for r in streamed("raw/a.json", json.dumps([wide, READING]).encode(), SMALL)] == [
        "row_too_many_columns",
        None,
    ]


def test_csv_column_limits():
    wide_header = ",".join(list(FIELDS) + [f"c{i}" for i in range(10)]).encode() + b"\n"
    assert reason_of("raw/a.csv", wide_header + b"s,t,1,2\n", SMALL) == "header_too_many_columns"
    body = CSV_HEADER + b"s,t,1,2\n" + b"s,t,1,2" + b",x" * 20 + b"\ns,t,3,4\n"
    assert [r.error for r in streamed("raw/a.csv", body, SMALL)] == [None, "row_too_many_columns", None]


def test_a_csv_line_longer_than_the_limit_is_a_row_error():
    body = CSV_HEADER + b"s,t,1,2\n" + b"s,t,1," + b"9" * 5_000 + b"\ns,t,3,4\n"
    assert [r.error for r in streamed("raw/a.csv", body, SMALL)] == [None, "row_too_long", None]


def test_an_unclosed_quote_in_csv_is_refused_not_held():
    body = CSV_HEADER + b's,t,1,"9\n' + b"more\n" * 1000
    assert reason_of("raw/a.csv", body, SMALL) == "csv_invalid"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" + json.dumps(READING).encode() + b",", "invalid_json"),
        (b"[" + json.dumps(READING).encode() + b" x", "invalid_json"),
        (b"[{bad}, " + json.dumps(READING).encode() * 200 + b"]", "invalid_json"),
        (b"[1] [2]", "invalid_json"),
        (b"   \n  ", "empty_file"),
        (b"[" + b'"' + b"x" * 5_000, "invalid_json"),
    ],
)
def test_broken_json_anywhere_is_unreadable_when_streamed(body, reason):
    assert reason_of("raw/a.json", body, SMALL) == reason


def test_unreadable_can_come_after_rows_were_yielded():
    rows = iter_rows("raw/a.json", pieces(b"[" + json.dumps(READING).encode() + b", {oops"))
    assert next(rows).value["site_id"] == "site-1"
    with pytest.raises(UnreadableFile) as caught:
        list(rows)
    assert caught.value.reason == "invalid_json"


def test_every_reason_code_has_a_sentence():
    assert {"object_too_large", "decompressed_too_large", "compression_ratio_too_high", "row_too_deep"} <= set(REASONS)


def test_settings_build_the_limits_from_the_environment():
    env = {"ENERGY_MAX_OBJECT_MB": "2", "ENERGY_MAX_ROW_KB": "1", "ENERGY_MAX_DEPTH": "5", "ENERGY_MAX_RATIO": "7"}
    limits = Settings.from_env(env).limits()
    assert (limits.max_object_bytes, limits.max_row_bytes, limits.max_depth, limits.max_ratio) == (
        2 * 1024 * 1024,
        1024,
        5,
        7,
    )
    assert Settings.from_env({}).limits() == Limits()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENERGY_MAX_DECOMPRESSED_MB": "0"}, "ENERGY_MAX_DECOMPRESSED_MB must be positive"),
        ({"ENERGY_MAX_COLUMNS": "many"}, "ENERGY_MAX_COLUMNS must be a whole number"),
        ({"ENERGY_MAX_DEPTH": "100000"}, "ENERGY_MAX_DEPTH must be at most 500"),
    ],
)
def test_bad_limits_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
