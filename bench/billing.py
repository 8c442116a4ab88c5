"""What AWS would bill for the calls a run makes: request units, requests, invocation time.

`bench/cost.py` prices a run from the calls actually made, never from a model of what the
pipeline should do, so that the figures follow the code whatever it batches. This module
holds the two halves of that:

- the pure arithmetic, testable without any emulator: DynamoDB item sizes as AWS bills
  them, the read and write units of one item or one page (GSI writes included), and the
  requests an SQS or SNS payload counts for;
- `recording()`, a hook on botocore that records every call (service, operation, the
  parameters as sent, the response as received) and, for DynamoDB, the images of every
  item the call read or wrote, fetched before and after it with a raw client whose own
  calls are not recorded. Units come from those images, because a write is billed on the
  larger of the item before and after, and a read on the whole item, whatever a
  projection returned.

Sizes follow AWS's published rules (Amazon DynamoDB Developer Guide, "Item sizes and
formats"): attribute names count their UTF-8 bytes; strings their UTF-8 bytes; numbers
1 byte per two significant digits plus 1 (plus 1 when negative); binary its bytes;
booleans and null 1 byte; lists and maps 3 bytes plus 1 per element plus their contents;
sets the sum of their elements.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KB = 1024
WRITE_UNIT_BYTES = 1 * KB
READ_UNIT_BYTES = 4 * KB
SQS_CHUNK_BYTES = 64 * KB  # SQS and SNS bill a request per 64 KB of payload
NOT_BILLED_ERRORS = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})

Item = dict[str, dict[str, Any]]  # DynamoDB's typed form: {"name": {"S": "value"}}


# --- item sizes ------------------------------------------------------------------------


def number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1; negative numbers take one more."""
    mantissa = text.strip().lower().split("e")[0].lstrip("+")
    negative = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1 + (1 if negative else 0)


def value_size(value: dict[str, Any]) -> int:
    """The billed bytes of one typed attribute value."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(number_size(n) for n in content)
    if kind == "BS":
        return sum(len(b) for b in content)
    if kind == "L":
        return 3 + len(content) + sum(value_size(v) for v in content)
    if kind == "M":
        return 3 + len(content) + sum(len(k.encode()) + value_size(v) for k, v in content.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Attribute names' bytes plus their values' bytes; a missing item weighs nothing."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int, unit_bytes: int) -> int:
    """Whole units of `unit_bytes`, at least one: AWS rounds every item (or page) up."""
    return max(1, math.ceil(size / unit_bytes))


# --- tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> Table:
        """From `describe_table(...)["Table"]`: the key schema and the global secondary indexes."""
        indexes = tuple(
            Index(
                gsi["IndexName"],
                tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                gsi.get("Projection", {}).get("ProjectionType", "ALL"),
                tuple(gsi.get("Projection", {}).get("NonKeyAttributes", ())),
            )
            for gsi in description.get("GlobalSecondaryIndexes", ())
        )
        return cls(description["TableName"], tuple(k["AttributeName"] for k in description["KeySchema"]), indexes)

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.keys}

    def projected(self, index: Index, item: Item | None) -> Item | None:
        """The item as the index holds it, or None when the item lacks an index key (sparse)."""
        if not item or any(k not in item for k in index.keys):
            return None
        if index.projection == "ALL":
            return item
        kept = set(self.keys) | set(index.keys) | set(index.include if index.projection == "INCLUDE" else ())
        return {k: v for k, v in item.items() if k in kept}


def key_text(key: Item) -> str:
    """A hashable form of a typed key, to match requested keys with returned items."""
    return json.dumps(key, sort_keys=True, default=str)


# --- units -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Units:
    """What one item (or one page) of one call cost, on a table or on one of its indexes."""

    table: str
    operation: str
    read: float = 0.0
    write: float = 0.0
    index: str | None = None


def write_units(
    table: Table, operation: str, before: Item | None, after: Item | None, *, transactional: bool = False
) -> list[Units]:
    """One item written: ceil(max(size before, size after) / 1 KB), doubled in a transaction.

    A write whose condition failed leaves `after` equal to `before` and still costs. Each
    GSI the item is in, before or after, costs a write of its projected size (1 KB units);
    a changed index key costs two (the old entry deleted, the new one put); an index whose
    projection did not change costs nothing. Index writes are not doubled: the transaction
    covers the table's item, the index is updated afterwards as for any write.
    """
    base = units(max(item_size(before), item_size(after)), WRITE_UNIT_BYTES) * (2 if transactional else 1)
    billed = [Units(table.name, operation, write=base)]
    for index in table.indexes:
        old, new = table.projected(index, before), table.projected(index, after)
        if (old is None and new is None) or old == new:
            continue
        if old is None or new is None:
            cost = units(item_size(old or new), WRITE_UNIT_BYTES)
        elif any(old[k] != new[k] for k in index.keys):
            cost = units(item_size(old), WRITE_UNIT_BYTES) + units(item_size(new), WRITE_UNIT_BYTES)
        else:
            cost = units(max(item_size(old), item_size(new)), WRITE_UNIT_BYTES)
        billed.append(Units(table.name, operation, write=cost, index=index.name))
    return billed


def read_units(
    table: str,
    operation: str,
    size: int,
    *,
    consistent: bool,
    transactional: bool = False,
    index: str | None = None,
) -> Units:
    """One item (GetItem, BatchGetItem) or one page (Query, Scan): 4 KB units, at least one.

    An eventually consistent read costs half a unit per 4 KB, a strongly consistent one a
    whole unit, a transactional one two. A key that is not there costs the minimum.
    """
    factor = 2.0 if transactional else 1.0 if consistent else 0.5
    return Units(table, operation, read=units(size, READ_UNIT_BYTES) * factor, index=index)


# --- SQS, SNS and S3 requests ------------------------------------------------------------

S3_PUT_CLASS = ("Put", "Copy", "Post", "List", "Create", "Complete", "Upload")


def payload_requests(payload_bytes: int) -> int:
    """SQS and SNS bill one request per 64 KB chunk of payload, and at least one per call."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


def sqs_payload(operation: str, params: dict[str, Any], response: dict[str, Any]) -> int:
    if operation == "SendMessage":
        return len(str(params.get("MessageBody", "")).encode())
    if operation == "SendMessageBatch":
        return sum(len(str(e.get("MessageBody", "")).encode()) for e in params.get("Entries", ()))
    if operation == "ReceiveMessage":
        return sum(len(str(m.get("Body", "")).encode()) for m in response.get("Messages", ()))
    return 0


def s3_class(operation: str) -> str | None:
    """ "put" (PUT, COPY, POST, LIST), "get" (GET and the rest) or None (DELETE is free)."""
    if operation.startswith("Delete"):
        return None
    return "put" if operation.startswith(S3_PUT_CLASS) else "get"


# --- the calls of a run ------------------------------------------------------------------


@dataclass
class Invocation:
    """One handler call: its CPU time in the thread that ran it and its AWS calls."""

    number: int
    cpu_seconds: float = 0.0
    hook_seconds: float = 0.0  # the recorder's own work in that thread, taken off the CPU time
    calls: list[Call] = field(default_factory=list)


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    error: str | None = None
    units: list[Units] = field(default_factory=list)
    invocation: Invocation | None = None

    @property
    def table(self) -> str | None:
        return self.params.get("TableName")


class Recorder:
    """Every call made while `recording()` is open, and the invocations `invoked` wrapped."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._active: list[Invocation] = []
        self._tables: dict[str, Table] = {}
        self._raw: dict[tuple[str, str], Any] = {}
        self._backends: dict[tuple[str, str], Any] = {}

    # invocations ------------------------------------------------------------------------

    def invoked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` wrapped to count as one Lambda invocation each time it is called."""

        def invocation(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                current = Invocation(len(self.invocations) + 1)
                self.invocations.append(current)
                self._active.append(current)
            self._local.invocation = current
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                current.cpu_seconds = max(0.0, time.thread_time() - started - current.hook_seconds)
                self._local.invocation = None
                with self._lock:
                    self._active.remove(current)

        return invocation

    def _current(self) -> Invocation | None:
        """The invocation this thread runs, or the only one running (a handler's own threads)."""
        mine = getattr(self._local, "invocation", None)
        if mine is not None:
            return mine
        with self._lock:
            return self._active[0] if len(self._active) == 1 else None

    # the raw client ---------------------------------------------------------------------

    def _raw_client(self, client: Any) -> Any:
        import boto3

        place = (client.meta.endpoint_url, client.meta.region_name)
        if place not in self._raw:
            self._raw[place] = boto3.session.Session().client(
                "dynamodb",
                endpoint_url=client.meta.endpoint_url,
                region_name=client.meta.region_name,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._raw[place]

    def _in_process(self, raw: Any) -> Any | None:
        place = (raw.meta.endpoint_url, raw.meta.region_name)
        if place not in self._backends:
            self._backends[place] = _moto_backend(raw.meta.region_name)
        return self._backends[place]

    def table(self, raw: Any, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = Table.from_description(raw.describe_table(TableName=name)["Table"])
        return self._tables[name]

    def _items(self, raw: Any, table: Table, keys: Sequence[Item]) -> dict[str, Item | None]:
        """The whole current items at `keys` (strongly consistent), None where absent.

        When the emulator serving `raw` runs in this process (the benchmarks' embedded
        stack), its tables are read directly: the same items, without the round trip that
        would double the run's time. Otherwise the raw client reads them.
        """
        found: dict[str, Item | None] = {key_text(k): None for k in keys}
        unique = [json.loads(k) for k in found]
        backend = self._in_process(raw)
        if backend is not None and table.name in backend.tables:
            for text, key in zip(found, unique, strict=True):
                item = backend.get_item(table.name, key)
                found[text] = item.to_json()["Attributes"] if item is not None else None
            return found
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {table.name: {"Keys": unique[start : start + 100], "ConsistentRead": True}}
            while request:
                response = raw.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(table.name, ()):
                    found[key_text(table.key_of(item))] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    # the hook ---------------------------------------------------------------------------

    def uncounted(self) -> bool:
        return bool(getattr(self._local, "uncounted", False))

    def note_params(self, params: dict[str, Any]) -> None:
        self._local.params = params

    def around_request(self, client: Any, operation: str, send: Callable[[], tuple[Any, dict[str, Any]]]) -> Any:
        """Send one request; record it, with the item images a DynamoDB call needs for its units."""
        service = client.meta.service_model.service_name
        params = getattr(self._local, "params", None) or {}
        self._local.params = None
        invocation = self._current()
        hook_started = time.thread_time()
        self._local.uncounted = True
        try:
            before = self._before(client, operation, params) if service == "dynamodb" else None
        finally:
            self._local.uncounted = False
        spent = time.thread_time() - hook_started
        http, parsed = send()
        hook_started = time.thread_time()
        self._local.uncounted = True
        try:
            error = parsed.get("Error", {}).get("Code") if http.status_code >= 300 else None
            call = Call(service, operation, params, parsed, error, invocation=invocation)
            if service == "dynamodb" and error not in NOT_BILLED_ERRORS:
                call.units = self._dynamodb_units(client, operation, params, parsed, before)
            with self._lock:
                self.calls.append(call)
                if invocation is not None:
                    invocation.calls.append(call)
        finally:
            self._local.uncounted = False
            if invocation is not None:
                invocation.hook_seconds += spent + time.thread_time() - hook_started
        return http, parsed

    # DynamoDB ---------------------------------------------------------------------------

    def _written_keys(self, raw: Any, operation: str, params: dict[str, Any]) -> list[tuple[Table, Item, dict]]:
        """(table, key, the request's entry) of every item a write names."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = self.table(raw, params["TableName"])
            key = table.key_of(params["Item"]) if operation == "PutItem" else params["Key"]
            return [(table, key, {operation: params})]
        if operation == "BatchWriteItem":
            written = []
            for name, requests in params.get("RequestItems", {}).items():
                table = self.table(raw, name)
                for request in requests:
                    if "PutRequest" in request:
                        written.append((table, table.key_of(request["PutRequest"]["Item"]), request))
                    else:
                        written.append((table, request["DeleteRequest"]["Key"], request))
            return written
        if operation == "TransactWriteItems":
            written = []
            for entry in params.get("TransactItems", ()):
                (kind, action), *_ = entry.items()
                table = self.table(raw, action["TableName"])
                key = table.key_of(action["Item"]) if kind == "Put" else action["Key"]
                written.append((table, key, entry))
            return written
        return []

    def _images(self, raw: Any, written: list[tuple[Table, Item, dict]]) -> dict[tuple[str, str], Item | None]:
        images: dict[tuple[str, str], Item | None] = {}
        by_table: dict[str, tuple[Table, list[Item]]] = {}
        for table, key, _ in written:
            by_table.setdefault(table.name, (table, []))[1].append(key)
        for name, (table, keys) in by_table.items():
            for text, item in self._items(raw, table, keys).items():
                images[(name, text)] = item
        return images

    def _before(self, client: Any, operation: str, params: dict[str, Any]) -> dict[tuple[str, str], Item | None]:
        raw = self._raw_client(client)
        written = self._written_keys(raw, operation, params)
        return self._images(raw, written) if written else {}

    def _dynamodb_units(
        self,
        client: Any,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        before: dict[tuple[str, str], Item | None] | None,
    ) -> list[Units]:
        raw = self._raw_client(client)
        written = self._written_keys(raw, operation, params)
        if written:
            failed = "Error" in parsed
            updated = [w for w in written if not failed and _kind(w[2]) in ("UpdateItem", "Update")]
            fresh = self._images(raw, updated) if updated else {}
            unprocessed = {
                (
                    name,
                    key_text(
                        self.table(raw, name).key_of(r["PutRequest"]["Item"])
                        if "PutRequest" in r
                        else r["DeleteRequest"]["Key"]
                    ),
                )
                for name, requests in (parsed.get("UnprocessedItems") or {}).items()
                for r in requests
            }
            billed: list[Units] = []
            for table, key, entry in written:
                where = (table.name, key_text(key))
                if where in unprocessed:
                    continue
                old = (before or {}).get(where)
                billed += write_units(
                    table,
                    operation,
                    old,
                    after_image(entry, old, fresh.get(where), failed=failed),
                    transactional=operation == "TransactWriteItems",
                )
            return billed
        if operation in ("GetItem", "BatchGetItem", "TransactGetItems"):
            return self._item_reads(raw, operation, params, parsed)
        if operation in ("Query", "Scan"):
            return [self._page_read(raw, operation, params, parsed)]
        return []

    def _item_reads(self, raw: Any, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> list[Units]:
        """Each requested key: the whole item's size (a projection does not lower the bill).

        Items returned whole are sized from the response; where a projection trimmed them,
        the whole item is read again by the uncounted client.
        """
        wanted: list[tuple[Table, Item, bool, bool]] = []  # table, key, consistent, projected
        returned: dict[tuple[str, str], Item] = {}
        if operation == "GetItem":
            table = self.table(raw, params["TableName"])
            wanted.append((table, params["Key"], bool(params.get("ConsistentRead")), _projected(params)))
            if parsed.get("Item"):
                returned[(table.name, key_text(params["Key"]))] = parsed["Item"]
        elif operation == "TransactGetItems":
            for entry, response in zip(params.get("TransactItems", ()), parsed.get("Responses", ()), strict=False):
                get = entry["Get"]
                table = self.table(raw, get["TableName"])
                wanted.append((table, get["Key"], True, _projected(get)))
                if response.get("Item"):
                    returned[(table.name, key_text(get["Key"]))] = response["Item"]
        else:
            unprocessed = {
                (name, key_text(k))
                for name, request in (parsed.get("UnprocessedKeys") or {}).items()
                for k in request.get("Keys", ())
            }
            for name, request in params.get("RequestItems", {}).items():
                table = self.table(raw, name)
                consistent, projected = bool(request.get("ConsistentRead")), _projected(request)
                wanted += [
                    (table, k, consistent, projected) for k in request["Keys"] if (name, key_text(k)) not in unprocessed
                ]
                for item in parsed.get("Responses", {}).get(name, ()):
                    if not projected:
                        returned[(name, key_text(table.key_of(item)))] = item
        again: dict[str, tuple[Table, list[Item]]] = {}
        for table, key, _, projected in wanted:
            if projected:
                again.setdefault(table.name, (table, []))[1].append(key)
        for name, (table, keys) in again.items():
            returned.update({(name, text): item for text, item in self._items(raw, table, keys).items() if item})
        return [
            read_units(
                table.name,
                operation,
                item_size(returned.get((table.name, key_text(key)))),
                consistent=consistent,
                transactional=operation == "TransactGetItems",
            )
            for table, key, consistent, _ in wanted
        ]

    def _page_read(self, raw: Any, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> Units:
        """A Query or Scan page: every item it read, whole (as the index holds it), before any filter."""
        trimmed = any(k in params for k in ("ProjectionExpression", "AttributesToGet", "FilterExpression", "Select"))
        trimmed = trimmed or any(k in params for k in ("QueryFilter", "ScanFilter"))
        items = parsed.get("Items", ())
        if trimmed:
            again = {k: v for k, v in params.items() if k not in _TRIMS}
            used = " ".join(str(again.get(k, "")) for k in ("KeyConditionExpression",))
            names = {k: v for k, v in params.get("ExpressionAttributeNames", {}).items() if k in _tokens(used)}
            values = {k: v for k, v in params.get("ExpressionAttributeValues", {}).items() if k in _tokens(used)}
            again.pop("ExpressionAttributeNames", None)
            again.pop("ExpressionAttributeValues", None)
            if names:
                again["ExpressionAttributeNames"] = names
            if values:
                again["ExpressionAttributeValues"] = values
            items = (raw.query if operation == "Query" else raw.scan)(**again).get("Items", ())
        return read_units(
            params["TableName"],
            operation,
            sum(item_size(i) for i in items),
            consistent=bool(params.get("ConsistentRead")),
            index=params.get("IndexName"),
        )


def _moto_backend(region: str) -> Any | None:
    """moto's DynamoDB of this process, if moto is here (the embedded stack runs in-process)."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:
        return None
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def _projected(request: dict[str, Any]) -> bool:
    return "ProjectionExpression" in request or "AttributesToGet" in request


def _kind(entry: dict[str, Any]) -> str:
    """PutItem, UpdateItem, DeleteItem; PutRequest, DeleteRequest; Put, Update, Delete, ConditionCheck."""
    return next(iter(entry))


def after_image(entry: dict[str, Any], before: Item | None, read_after: Item | None, *, failed: bool) -> Item | None:
    """The item once the write is done: what was put, nothing once deleted, the item read back
    after an update; unchanged when the write failed (its condition) or only checked one."""
    kind = _kind(entry)
    if failed or kind == "ConditionCheck":
        return before
    if kind in ("PutItem", "PutRequest", "Put"):
        return entry[kind]["Item"]
    if kind in ("DeleteItem", "DeleteRequest", "Delete"):
        return None
    return read_after


_TRIMS = frozenset(
    {
        "ProjectionExpression",
        "AttributesToGet",
        "FilterExpression",
        "Select",
        "QueryFilter",
        "ScanFilter",
        "ReturnConsumedCapacity",
    }
)


def _tokens(expression: str) -> set[str]:
    return set(re.findall(r"[#:][A-Za-z0-9_]+", expression))


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record every boto3 call made meanwhile, in any thread, with what it costs.

    Two botocore methods are wrapped: `_emit_api_params`, which hands over the parameters
    once boto3's DynamoDB resource layer has turned Python values into typed ones, and
    `_make_request`, which sends one request (retries included) and returns the response
    as parsed from the wire, before that layer turns it back into Python values.
    """
    from botocore.client import BaseClient

    recorder = Recorder()
    emit, make_request = BaseClient._emit_api_params, BaseClient._make_request

    def emitted(self: Any, api_params: dict[str, Any], operation_model: Any, context: Any) -> dict[str, Any]:
        typed = emit(self, api_params=api_params, operation_model=operation_model, context=context)
        if not recorder.uncounted():
            recorder.note_params(typed)
        return typed

    def requested(self: Any, operation_model: Any, request_dict: Any, request_context: Any) -> Any:
        if recorder.uncounted():
            return make_request(self, operation_model, request_dict, request_context)
        return recorder.around_request(
            self, operation_model.name, lambda: make_request(self, operation_model, request_dict, request_context)
        )

    BaseClient._emit_api_params = emitted  # type: ignore[method-assign]
    BaseClient._make_request = requested  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        BaseClient._emit_api_params = emit  # type: ignore[method-assign]
        BaseClient._make_request = make_request  # type: ignore[method-assign]
