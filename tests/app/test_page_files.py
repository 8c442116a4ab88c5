"""Files page: raw files by day, newest first, paged, filtered, each with its outcome."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard import data
from pipeline.aws import client
from pipeline.ops import browse
from pipeline.ops.simulated_uploads import Upload, upload_simulated
from pipeline.raw_files import raw_key, upload
from pipeline.sites import Site, put_sites
from tests.app.conftest import shown

FILES = "pages/files.py"


def listing(at):
    return at.dataframe[0].value


# The real clock, and 01:00 UTC: three uploads hours apart would straddle midnight there.
CLOCKS = [None, datetime(2026, 3, 1, 1, 0, tzinfo=UTC)]


def upload_times(now: datetime, count: int = 3) -> list[datetime]:
    """`count` upload times, newest first, up to three hours apart and all in `now`'s UTC day."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    step = min(timedelta(hours=3), (now - midnight) / count)
    return [now - step * i for i in range(count)]


@pytest.fixture(params=CLOCKS, ids=["now", "0100utc"])
def day_of_files(request, stack, process) -> tuple[datetime, list[Upload]]:
    """GIVEN three processed files uploaded on one UTC day (today, or a day seen at 01:00 UTC)."""
    now = request.param or datetime.now(UTC)
    uploads = [
        upload_simulated(stack, sites=3, readings_per_site=12, anomaly_rate=0.3, seed=i, when=when)
        for i, when in enumerate(upload_times(now))
    ]
    process()
    return now, uploads


def test_upload_times_stay_in_the_day_at_any_hour():
    for hour, minute in [(0, 0), (0, 1), (1, 0), (5, 59), (6, 0), (23, 59)]:
        now = datetime(2026, 3, 1, hour, minute, 30, tzinfo=UTC)
        times = upload_times(now)
        assert {t.date() for t in times} == {now.date()}, now
        assert times == sorted(times, reverse=True) and len(set(times)) == 3, now


def test_empty_stack_says_what_to_do(open_page, text):
    at = open_page(FILES)
    assert "No files yet" in text(at)
    assert not at.dataframe


def test_day_listing_newest_first_with_outcomes(day_of_files, open_page):
    now, uploads = day_of_files
    at = open_page(FILES)
    assert at.selectbox(key="files_day").value == f"{now:%Y-%m-%d}"
    shown = listing(at)
    assert set(shown["name"]) == {u.key.rsplit("/", 1)[-1] for u in uploads}
    assert shown["uploaded"].is_monotonic_decreasing, "newest upload first"
    assert set(shown["status"]) == {"Processed"}
    assert (shown["written"] > 0).all()
    assert (shown["size_kb"] > 0).all()


def test_inspecting_a_file(day_of_files, open_page, text):
    _, uploads = day_of_files
    at = open_page(FILES)
    first = listing(at)["name"].iloc[0]
    assert at.selectbox(key=next(k for k in keys(at) if k.startswith("files_pick"))).value.endswith(first)
    newest = next(u for u in uploads if u.key.endswith(first))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Outcome"] == "Processed"
    assert metrics["Records stored"].endswith("records")
    assert metrics["Alert"] in {"sent", "none"}
    rows = at.dataframe[1].value
    assert len(rows) == newest.readings
    assert {"row", "site_id", "timestamp", "energy_generated_kwh", "energy_consumed_kwh"} <= set(rows.columns)
    assert len(at.json) == 1, "the JSON view"
    assert json.loads(at.json[0].proto.body)[0]["site_id"].startswith("site-")
    assert shown(at.get("download_button")[0].label) == f"Download {newest.key.rsplit('/', 1)[-1]}"


def keys(at) -> list[str]:
    return [w.key for w in at.selectbox if w.key]


def test_filter_by_name(day_of_files, open_page, text):
    _, uploads = day_of_files
    at = open_page(FILES)
    target = uploads[-1].key.rsplit("/", 1)[-1]
    at.text_input(key="files_q").input(target[-12:]).run()
    assert list(listing(at)["name"]) == [target]
    at.text_input(key="files_q").input("no-such-file").run()
    assert "has “no-such-file” in its name" in text(at)


def test_csv_file_shows_as_text_and_unreadable_file_says_why(stack, process, open_page, text):
    now = datetime.now(UTC)
    csv = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\nsite-1,2026-01-01T00:00:00Z,1.5,2\n"
    upload(stack, raw_key("meter.csv", now, stack), csv)
    upload(stack, raw_key("broken.json", now, stack), b"{not json")
    process()
    at = open_page(FILES)
    pick = at.selectbox(key=next(k for k in keys(at) if k.startswith("files_pick")))
    pick.set_value(raw_key("broken.json", now, stack)).run()
    assert {m.label: m.value for m in at.metric}["Outcome"] == "Quarantined"
    assert "cannot be read as readings (invalid_json" in text(at)
    pick = at.selectbox(key=next(k for k in keys(at) if k.startswith("files_pick")))
    pick.set_value(raw_key("meter.csv", now, stack)).run()
    assert "site-1,2026-01-01T00:00:00Z,1.5,2" in at.code[0].value


def test_a_big_day_is_listed_whole_and_paged(stack, open_page):
    """1,010 files: more than one S3 listing page (1,000 keys), 21 pages of 50 in the app."""
    s3 = client(stack, "s3")
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})  # list, not process
    day = datetime.now(UTC)
    keys_ = [raw_key(f"bulk-{i:04d}.json", day, stack) for i in range(1010)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=stack.bucket, Key=k, Body=b"[]"), keys_))
    assert len(browse.files_on(stack, day.strftime("%Y-%m-%d"))) == 1010
    at = open_page(FILES)
    assert len(listing(at)) == 50
    pager = at.get("pagination")[0]
    assert pager.num_pages == 21
    pager.set_value(21).run()
    assert not at.exception
    assert len(listing(at)) == 10
    assert set(listing(at)["name"]) <= {k.rsplit("/", 1)[-1] for k in keys_}


def test_days_are_found_without_listing_every_file(stack):
    for day in ("2026-01-31", "2026-02-01", "2025-12-31"):
        upload(stack, raw_key("a.json", datetime.fromisoformat(day + "T12:00:00+00:00"), stack), b"[]")
    assert browse.list_days(stack) == ["2026-02-01", "2026-01-31", "2025-12-31"]


READING = {
    "site_id": "site-1",
    "timestamp": "2026-01-01T00:00:00Z",
    "energy_generated_kwh": 1,
    "energy_consumed_kwh": 2,
}


def open_file(open_page, stack, key):
    at = open_page(FILES)
    at.selectbox(key=next(k for k in keys(at) if k.startswith("files_pick"))).set_value(key).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_gzip_bomb_is_previewed_as_its_reason_and_downloaded_by_link(stack, process, open_page, text, monkeypatch):
    """5 MB of gzip that inflates to ~5 GB: the page says why in bounded memory, never an exception box."""
    member = gzip.compress(b"\0" * 16_000_000, compresslevel=9)
    bomb = member * (5_000_000 // len(member) + 1)
    key = raw_key("bomb.json.gz", datetime.now(UTC), stack)
    upload(stack, key, bomb)
    process()
    monkeypatch.setattr(data, "INLINE_DOWNLOAD_BYTES", 1_000_000)
    at = open_file(open_page, stack, key)
    assert {m.label: m.value for m in at.metric}["Outcome"] == "Quarantined"
    shown = text(at)
    assert "cannot be read as readings (compression_ratio_too_high: it inflates far more than real readings" in shown
    assert len(at.code[0].value) == 200_000 and "Showing the start of the file" in shown, "the first 200 KB only"
    assert not at.get("download_button"), "a 5 MB file is not loaded into the app to be downloaded"
    link = at.get("link_button")[0]
    assert link.proto.label.replace("\\", "").startswith("Download bomb.json.gz")  # escaped: data shown as text
    assert link.proto.url.startswith(stack.endpoint_url)


def test_a_row_nested_50000_deep_is_shown_as_a_row_error_between_good_rows(stack, process, open_page, text):
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000
    key = raw_key("deep.json", datetime.now(UTC), stack)
    later = {**READING, "timestamp": "2026-01-01T01:00:00Z"}
    upload(stack, key, f"[{json.dumps(READING)}, {deep}, {json.dumps(later)}]".encode())
    process()
    at = open_file(open_page, stack, key)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Outcome"], metrics["Records stored"], metrics["Rows quarantined"]) == (
        "Partly quarantined",
        "2 records",
        "1 row",
    )
    assert "row_too_deep: a row is nested deeper than allowed" in text(at)
    table = at.dataframe[1].value
    assert list(table["row"]) == [1, 2, 3] and list(table["error"].fillna("")) == ["", "row_too_deep", ""]


def test_a_file_that_revealed_a_gap_says_how_many_estimates_it_stored(stack, process, open_page, text):
    put_sites(stack, [Site("meter", kind="consumer", capacity_kw=Decimal(40), interval_minutes=15)])
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")  # yesterday: 01:00 today may be ahead
    rows = [
        {"site_id": "meter", "timestamp": f"{day}T00:00:00Z", "energy_generated_kwh": 2, "energy_consumed_kwh": 1},
        {"site_id": "meter", "timestamp": f"{day}T01:00:00Z", "energy_generated_kwh": 6, "energy_consumed_kwh": 3},
    ]  # 00:15, 00:30 and 00:45 missing
    upload(stack, raw_key("gap.json", datetime.now(UTC), stack), json.dumps(rows).encode())
    process()
    at = open_page(FILES)
    assert {m.label: m.value for m in at.metric}["Records stored"] == "2 records"
    assert "3 estimates stored for them, marked as estimates" in text(at)


def test_a_preview_shows_numbers_as_numbers_and_nan_as_written(stack):
    body = b'[{"site_id": "s", "energy_generated_kwh": 1.50, "energy_consumed_kwh": NaN, "extra": [2, {"d": 0.25}]}]'
    key = raw_key("odd.json", datetime.now(UTC), stack)
    version = upload(stack, key, body)
    preview = data.raw_preview(stack, key, version)
    assert preview.problem is None
    assert preview.values == [
        {"site_id": "s", "energy_generated_kwh": 1.5, "energy_consumed_kwh": "NaN", "extra": [2, {"d": 0.25}]}
    ]
    assert isinstance(preview.values[0]["extra"][0], int)
