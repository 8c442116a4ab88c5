"""Browsing the raw bucket by day, the way an analyst looks for a file.

Keys carry their UTC day (`raw/YYYY/MM/DD/<name>`), so the days that hold files are found
with delimiter listings, one call per year and per month, never by listing every object.
A day's files are listed in full through the paginator (S3 returns at most 1,000 keys a
call) and ordered newest first, which S3 cannot do by itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.aws import client
from pipeline.raw_files import RawObject, list_objects
from pipeline.settings import Settings


def _children(settings: Settings, prefix: str) -> Iterator[str]:
    """The next level of "folders" under `prefix` (each ending in '/')."""
    paginator = client(settings, "s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            yield common["Prefix"]


def _part(prefix: str, parent: str, digits: int) -> str | None:
    part = prefix[len(parent) :].rstrip("/")
    return part if len(part) == digits and part.isdigit() else None


def list_days(settings: Settings, prefix: str | None = None) -> list[str]:
    """Days (`YYYY-MM-DD`, UTC) that hold at least one object under `prefix`, newest first."""
    root = settings.raw_prefix if prefix is None else prefix
    days = []
    for year_prefix in _children(settings, root):
        year = _part(year_prefix, root, 4)
        if year is None:
            continue
        for month_prefix in _children(settings, year_prefix):
            month = _part(month_prefix, year_prefix, 2)
            if month is None:
                continue
            for day_prefix in _children(settings, month_prefix):
                day = _part(day_prefix, month_prefix, 2)
                if day is not None:
                    days.append(f"{year}-{month}-{day}")
    return sorted(days, reverse=True)


def day_prefix(settings: Settings, day: str, prefix: str | None = None) -> str:
    """`raw/YYYY/MM/DD/` for `day` (`YYYY-MM-DD`)."""
    root = settings.raw_prefix if prefix is None else prefix
    year, month, date = day.split("-")
    return f"{root}{year}/{month}/{date}/"


def files_on(settings: Settings, day: str, prefix: str | None = None) -> list[RawObject]:
    """Every object of one day, newest first (ties in key order, newest name first)."""
    objects = list_objects(settings, day_prefix(settings, day, prefix))
    return sorted(objects, key=lambda o: (o.last_modified, o.key), reverse=True)
