"""Reading raw objects as streams and quarantining them whole without reading them (moto)."""

from __future__ import annotations

import gzip
import json
import urllib.request
from dataclasses import replace

import pytest

from pipeline import raw_files
from pipeline.formats import UnreadableFile, iter_rows

KEY = "raw/2026/11/29/big.json.gz"
READING = {"site_id": "site-1", "timestamp": "2026-11-29T06:00:00Z", "energy_generated_kwh": 1}


def test_an_object_is_read_as_chunks_with_its_version_and_size(settings):
    body = gzip.compress(json.dumps([READING] * 2_000).encode())
    etag = raw_files.upload(settings, KEY, body)
    with raw_files.open_object(settings, KEY, chunk_bytes=4096) as stream:
        assert (stream.etag, stream.size) == (etag, len(body))
        rows = list(iter_rows(KEY, stream.chunks(), settings.limits()))
    assert len(rows) == 2_000 and rows[-1].value["site_id"] == "site-1"


def test_an_object_over_the_limit_is_refused_before_it_is_read(settings):
    raw_files.upload(settings, KEY, b"[" + b" " * (2 * 1024 * 1024) + b"]")
    with pytest.raises(UnreadableFile) as caught:
        raw_files.open_object(replace(settings, max_object_mb=1), KEY)
    assert caught.value.reason == "object_too_large"


def test_quarantine_copies_the_file_server_side_with_the_reason(settings):
    body = gzip.compress(b"\0" * 1_000_000)
    raw_files.upload(settings, KEY, body)
    where = raw_files.quarantine_copy(settings, KEY, "compression_ratio_too_high", "a bomb")
    assert where == f"quarantine/{KEY}"
    assert raw_files.read(settings, where)[0] == body
    error = json.loads(raw_files.read(settings, f"quarantine/{KEY}.error.json")[0])
    assert (error["reason"], error["copied"], error["size"]) == ("compression_ratio_too_high", True, len(body))


def test_quarantine_of_an_object_too_large_to_copy_leaves_it_in_place_and_says_so(settings):
    raw_files.upload(settings, KEY, b"x")
    where = raw_files.quarantine_copy(settings, KEY, "object_too_large", "huge", size=6 * 1024**3)
    assert where == KEY
    error = json.loads(raw_files.read(settings, f"quarantine/{KEY}.error.json")[0])
    assert error["copied"] is False and error["reason"] == "object_too_large"


def test_a_presigned_download_link_serves_the_file_from_the_configured_endpoint(settings):
    raw_files.upload(settings, KEY, b"[]")
    url = raw_files.download_url(settings, KEY)
    assert url.startswith(settings.endpoint_url)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"[]"
