"""DynamoDB in batches, the way AWS allows: 25 writes or 100 reads a call.

Unprocessed items (throttling, partition limits) are retried with exponential backoff
and jitter, and so is a batch write refused whole for a transient reason (the puts are
whole items: writing them twice is writing them once); what is still unprocessed after
that raises `TransientError`, so the message goes back to the queue rather than being
half-stored in silence.

`pack` keeps a nested value (a site's history, its try in flight) as one compressed
attribute.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipeline.aws import TransientError, client, error_code, is_transient
from pipeline.logs import log
from pipeline.settings import Settings

WRITE_BATCH = 25
READ_BATCH = 100
MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 2.0
THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})
PERSIST_ATTEMPTS = 8  # ~5 s of backoff for a write the message's retry could not redo

T = TypeVar("T")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def marshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def pack(value: Any) -> bytes:
    """A nested value (maps and lists of many numbers) as one compressed binary attribute:
    the same typed JSON DynamoDB would hold, so numbers stay exact Decimals. Such a value is
    billed by its compressed size and costs one attribute, not hundreds, to read and write."""
    typed = _serializer.serialize(value)
    return zlib.compress(json.dumps(typed, separators=(",", ":")).encode())


def unpack(value: Any) -> Any:
    """A value written by `pack` (as unmarshalled: `Binary`), or one written before values
    were packed, which is kept as it came (a map)."""
    if isinstance(value, Binary | bytes):
        raw = value.value if isinstance(value, Binary) else value
        return _deserializer.deserialize(json.loads(zlib.decompress(raw)))
    return value


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def backoff(attempt: int) -> None:
    time.sleep(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt) * random.uniform(0.5, 1.0))


def persist(write: Callable[[], None], event: str, **context: object) -> None:
    """A write the message's retry could not redo, tried in place until it goes through (or
    raise): each failure is logged as `event` with `context`."""
    for attempt in range(PERSIST_ATTEMPTS):
        try:
            write()
            return
        except Exception as exc:
            log(event, level=40, **context, attempt=attempt + 1, error=f"{type(exc).__name__}: {exc}")
            if attempt == PERSIST_ATTEMPTS - 1:
                raise
            backoff(attempt)


def unless_throttled(call: Callable[[], T]) -> T:
    """`call()`, made again with backoff while AWS refuses it for throttling (the SDK's own
    retries exhausted): a throttled request did nothing, so even a conditional write can be
    repeated. Anything else, an ambiguous timeout included, is raised."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) not in THROTTLED or attempt == MAX_ATTEMPTS - 1:
                raise
            log("throttled_write_retried", level=30, attempt=attempt + 1, error=str(exc))
            backoff(attempt)
    raise AssertionError("unreachable")


def batch_write(settings: Settings, table: str, items: Sequence[dict[str, Any]]) -> int:
    """Put `items` (plain Python values) in chunks of 25; returns how many were written."""
    dynamodb = client(settings, "dynamodb")
    for chunk in chunks(items, WRITE_BATCH):
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": marshal(item)}} for item in chunk]}
        for attempt in range(MAX_ATTEMPTS):
            try:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            except Exception as exc:
                if not is_transient(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                log("batch_write_retried", level=30, table=table, error=f"{type(exc).__name__}: {exc}")
            if not pending:
                break
            backoff(attempt)
        else:
            raise TransientError(f"{len(pending[table])} writes to {table} stayed unprocessed")
    return len(items)


def batch_get(settings: Settings, table: str, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Fetch existing items for `keys` (plain values) in calls of 100; missing keys are skipped."""
    dynamodb = client(settings, "dynamodb")
    for chunk in chunks(keys, READ_BATCH):
        pending: dict[str, Any] = {table: {"Keys": [marshal(k) for k in chunk], "ConsistentRead": True}}
        for attempt in range(MAX_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=pending)
            yield from (unmarshal(item) for item in response["Responses"].get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            backoff(attempt)
        else:
            raise TransientError(f"{len(pending[table]['Keys'])} reads from {table} stayed unprocessed")


def query(settings: Settings, **request: Any) -> Iterator[dict[str, Any]]:
    """All items of a Query, following LastEvaluatedKey; `request` is a low-level Query request."""
    paginator = client(settings, "dynamodb").get_paginator("query")
    for page in paginator.paginate(**request):
        yield from (unmarshal(item) for item in page["Items"])
