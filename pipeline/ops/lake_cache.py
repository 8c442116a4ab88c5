"""A local copy of the data lake's two tables, for DuckDB: this DuckDB build cannot fetch its
`httpfs` extension offline, so it does not read S3 itself; instead the objects under
`curated/landing/` and `curated/records/` are mirrored into a directory, each downloaded
again only when its ETag changes, and files whose objects are gone (compacted landing
objects) are removed. The directory is a cache: deleting it loses nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline import lake
from pipeline.aws import client
from pipeline.parquet import write_parquet
from pipeline.settings import Settings

MANIFEST = "manifest.json"  # S3 key -> ETag of the copy on disk
EMPTY = "_empty.parquet"  # the lake's columns and no rows, so that an area is never an empty glob


@dataclass(frozen=True)
class Synced:
    root: Path  # the cache; the tables' files under root / Settings.lake_prefix / area
    files: dict[str, str]  # S3 key -> ETag of every file the copy holds (root / key)
    downloaded: int
    removed: int
    kept: int
    downloaded_bytes: int

    def area(self, settings: Settings, area: str) -> Path:
        return self.root / settings.lake_prefix / area

    def summary(self) -> str:
        files = self.downloaded + self.kept
        return (
            f"local copy of the lake: {files:,} files ({self.downloaded:,} downloaded, "
            f"{self.downloaded_bytes / 1e6:,.1f} MB; {self.removed:,} removed)"
        )


def default_dir(settings: Settings) -> Path:
    base = Path(settings.data_dir) if settings.data_dir else Path(tempfile.gettempdir())
    return base / "lake-cache" / settings.bucket


def sync(settings: Settings, into: Path | None = None) -> Synced:
    """Bring the copy in `into` (default: beside the embedded AWS's data) up to date."""
    root = (into or default_dir(settings)).resolve()
    s3 = client(settings, "s3")
    manifest_path = root / MANIFEST
    try:
        had = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        had = {}
    now: dict[str, str] = {}
    downloaded = kept = size = 0
    for area in (lake.LANDING, lake.COMPACTED):
        directory = root / settings.lake_prefix / area
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / EMPTY).exists():
            _write(directory / EMPTY, write_parquet(lake.COLUMNS, []))
        prefix = f"{settings.lake_prefix}{area}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                path = _local_path(root, key)
                if path is None:
                    continue  # not a Parquet file of the lake's, or a key that climbs out of the cache
                now[key] = etag
                if had.get(key) == etag and path.is_file():
                    kept += 1
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"]
                _write(path, body.iter_chunks(1024 * 1024))
                downloaded += 1
                size += obj.get("Size", 0)
    removed = 0
    for key in had.keys() - now.keys():
        path = _local_path(root, key)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    _write(manifest_path, json.dumps(now, sort_keys=True).encode())
    return Synced(root, now, downloaded, removed, kept, size)


def _local_path(root: Path, key: str) -> Path | None:
    if not key.endswith(".parquet") or any(part in ("", ".", "..") for part in key.split("/")):
        return None
    return root / key


def _write(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Whole or not at all (a query running meanwhile reads the old file or the new one),
    a chunk at a time."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with partial.open("wb") as out:
            for chunk in [data] if isinstance(data, bytes) else data:
                out.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
