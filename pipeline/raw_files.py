"""The raw bucket: uploads under `raw/YYYY/MM/DD/`, reading them back, and quarantine.

Raw files are the source of truth: processed data can be rebuilt from them (`replay`).
Quarantine lives in the same bucket under `quarantine/<raw key>...` so a rejected row is
one listing away from the file it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pipeline.aws import client
from pipeline.formats import MB, NonFinite, UnreadableFile, iter_text
from pipeline.settings import Settings
from pipeline.validation import Reject

CHUNK_BYTES = MB
MAX_COPY_BYTES = 5 * 1024 * MB  # CopyObject's limit; larger objects need a multipart copy
CONTENT_TYPES = {".json": "application/json", ".jsonl": "application/x-ndjson", ".csv": "text/csv"}


class RawStream:
    """An object being read: its version and size up front, its bytes as chunks on demand.

    Close it (or use it in a `with`) when the chunks are not read to the end, so the
    connection is released rather than the rest of the body downloaded.
    """

    def __init__(self, key: str, etag: str, size: int, body: Any, chunk_bytes: int) -> None:
        self.key = key
        self.etag = etag
        self.size = size
        self._body = body
        self._chunk_bytes = chunk_bytes

    def chunks(self) -> Iterator[bytes]:
        return self._body.iter_chunks(self._chunk_bytes)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> RawStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class RawObject:
    key: str
    size: int
    last_modified: datetime
    etag: str


def raw_key(name: str, when: datetime, settings: Settings) -> str:
    """Where a file called `name` uploaded at `when` lives."""
    if "/" in name or not name:
        raise ValueError(f"a file name cannot be empty or contain '/': {name!r}")
    return f"{settings.raw_prefix}{when.astimezone(UTC):%Y/%m/%d}/{name}"


def upload(settings: Settings, key: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
    """PUT one raw file; returns its ETag. The S3 notification starts processing."""
    name = key.removesuffix(".gz")
    content_type = next((t for s, t in CONTENT_TYPES.items() if name.endswith(s)), "application/octet-stream")
    extra: dict[str, Any] = {"ContentType": content_type, "Metadata": metadata or {}}
    if key.endswith(".gz"):
        extra["ContentEncoding"] = "gzip"
    response = client(settings, "s3").put_object(Bucket=settings.bucket, Key=key, Body=body, **extra)
    return response["ETag"].strip('"')


def read(settings: Settings, key: str, bucket: str | None = None) -> tuple[bytes, str]:
    """The object's bytes and its version tag (the ETag, which changes with the content)."""
    response = client(settings, "s3").get_object(Bucket=bucket or settings.bucket, Key=key)
    return response["Body"].read(), response["ETag"].strip('"')


def open_object(settings: Settings, key: str, bucket: str | None = None, chunk_bytes: int = CHUNK_BYTES) -> RawStream:
    """Start reading an object without holding it; refuses one over the size limit before reading.

    Raises `UnreadableFile("object_too_large")` from the GET's ContentLength alone, so a
    huge upload costs one request, not its download.
    """
    response = client(settings, "s3").get_object(Bucket=bucket or settings.bucket, Key=key)
    size = int(response["ContentLength"])
    limit = settings.limits().max_object_bytes
    if size > limit:
        response["Body"].close()
        raise UnreadableFile("object_too_large", f"{size:,} bytes, more than the {limit:,} accepted")
    return RawStream(key, response["ETag"].strip('"'), size, response["Body"], chunk_bytes)


def download_url(settings: Settings, key: str, expires_seconds: int = 900) -> str:
    """A presigned GET, so a browser downloads a large object straight from S3 (or the local endpoint)."""
    return client(settings, "s3").generate_presigned_url(
        "get_object", Params={"Bucket": settings.bucket, "Key": key}, ExpiresIn=expires_seconds
    )


def list_objects(settings: Settings, prefix: str) -> Iterator[RawObject]:
    """Every object under `prefix`, in key order, through the S3 paginator."""
    paginator = client(settings, "s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield RawObject(obj["Key"], obj["Size"], obj["LastModified"], obj["ETag"].strip('"'))


def quarantine_key(settings: Settings, source_key: str, suffix: str = "") -> str:
    return f"{settings.quarantine_prefix}{source_key}{suffix}"


def rejects_key(settings: Settings, source_key: str, part: int = 0) -> str:
    """Where the rejected rows of one chunk of a file go: the first chunk's (all of a small
    file's) at `<key>.rejects.jsonl`, later chunks' beside it, numbered."""
    return quarantine_key(settings, source_key, ".rejects.jsonl" if part == 0 else f".rejects.{part:06d}.jsonl")


def quarantine_rejects(settings: Settings, source_key: str, rejects: Sequence[Reject], part: int = 0) -> str:
    """Write the rejected rows of a file (or of its chunk `part`) as JSON Lines: row number,
    the row as received, reasons."""
    lines = (
        json.dumps({"row": r.row, "raw": r.raw, "reasons": list(r.reasons)}, default=_json_value, ensure_ascii=False)
        for r in rejects
    )
    key = rejects_key(settings, source_key, part)
    client(settings, "s3").put_object(
        Bucket=settings.bucket,
        Key=key,
        Body=("\n".join(lines) + "\n").encode(),
        ContentType="application/x-ndjson",
    )
    return key


def quarantine_copy(
    settings: Settings, source_key: str, reason: str, detail: str, bucket: str | None = None, size: int | None = None
) -> str:
    """Quarantine a file whole by a server-side copy, so a huge file is never read into memory.

    Objects over CopyObject's 5 GB cannot be copied in one request; rather than a multipart
    copy (never needed below the default object limit) the original stays where it is and the
    error file says so (`copied: false`). Returns where the file can be found.
    """
    s3 = client(settings, "s3")
    source_bucket = bucket or settings.bucket
    if size is None:
        size = int(s3.head_object(Bucket=source_bucket, Key=source_key)["ContentLength"])
    key = quarantine_key(settings, source_key)
    copied = size <= MAX_COPY_BYTES
    if copied:
        s3.copy_object(Bucket=settings.bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})
    error = {"source_key": source_key, "reason": reason, "detail": detail, "size": size, "copied": copied}
    s3.put_object(
        Bucket=settings.bucket,
        Key=quarantine_key(settings, source_key, ".error.json"),
        Body=json.dumps(error, indent=2).encode(),
        ContentType="application/json",
    )
    return key if copied else source_key


def read_rejects(settings: Settings, source_key: str, limit: int = 10_000) -> list[dict[str, Any]]:
    """The quarantined rows of one file in row order, at most `limit` (empty when it had none)."""
    first = rejects_key(settings, source_key)
    parts = [
        o.key
        for o in list_objects(settings, quarantine_key(settings, source_key, ".rejects."))
        if o.key.endswith(".jsonl")
    ]
    found: list[dict[str, Any]] = []
    for part in sorted(parts, key=lambda k: (k != first, k)):  # the first chunk's part sorts last by name
        with open_object(settings, part) as stream:
            rest = ""
            for text in iter_text(part, stream.chunks()):
                *lines, rest = (rest + text).split("\n")
                found += [json.loads(line) for line in lines if line.strip()][: limit - len(found)]
                if len(found) >= limit:
                    return found
            if rest.strip():
                found.append(json.loads(rest))
    return found[:limit]


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.is_finite() else float(value)
    if isinstance(value, NonFinite):
        return value.text
    return str(value)
