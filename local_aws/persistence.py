"""Keeping the embedded AWS across restarts and crashes: snapshots of moto's backends plus an S3 journal.

moto keeps every service in process memory and has no on-disk mode (its recorder replays
requests and double-applies writes), so this module saves the backends themselves:

- a snapshot: the S3, SQS, SNS and DynamoDB backends pickled in one go (so references
  between them survive), taken while requests are held at the door, written atomically
  (temp file, fsync, rename) every few seconds when something changed and at a normal stop;
- a journal of S3 object writes: every object a PUT (or copy, or multipart completion)
  stored is fsync'd to `journal/` before the response leaves the server. At start, objects
  journalled after the last snapshot are put back and their S3 notifications fire again,
  so the runner processes them: an upload that returned success is never lost, and
  everything derived from it (records, rollups, the files ledger) is rebuilt by the
  pipeline's idempotent processing.
"""

from __future__ import annotations

import _thread
import io
import os
import pickle
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from moto.backends import get_backend
from moto.s3 import notifications
from moto.s3.models import S3Backend

from pipeline.logs import log

SERVICES = ("s3", "sqs", "sns", "dynamodb")
SNAPSHOT = "state.pickle"
JOURNAL = "journal"
BUCKET_OWNERS = "s3.bucket_accounts"
# Calls that change nothing worth a snapshot (an SQS receive only moves visibility, which a
# crash resets anyway, as SQS itself does for in-flight messages).
READ_TARGETS = (
    "ReceiveMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListQueues",
    "Query",
    "Scan",
    "GetItem",
    "BatchGetItem",
    "DescribeTable",
    "ListTables",
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_written = threading.local()  # the S3 objects the current request stored, set by the middleware


class DataDirError(RuntimeError):
    """The data directory cannot be used (or emptied) as asked."""


class _Pickler(pickle.Pickler):
    """Locks and conditions cannot be pickled; fresh ones are what a restarted process needs."""

    dispatch_table: ClassVar[dict[type, Callable[[Any], tuple[Any, ...]]]] = {
        threading.Condition: lambda _: (threading.Condition, ()),
        _thread.LockType: lambda _: (threading.Lock, ()),
        type(threading.RLock()): lambda _: (threading.RLock, ()),
    }


def _install_s3_hook() -> None:
    """Note each object S3 stores in the request's thread, so the middleware can journal it."""
    if getattr(S3Backend.put_object, "_journalled", False):
        return
    original = S3Backend.put_object

    def put_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        key = original(self, bucket_name, key_name, *args, **kwargs)
        written = getattr(_written, "keys", None)
        if written is not None:
            written.append((self.account_id, self.region_name, bucket_name, key))
        return key

    put_object._journalled = True  # type: ignore[attr-defined]
    S3Backend.put_object = put_object  # type: ignore[method-assign]


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Persistence:
    """One data directory: load it before serving, journal while serving, snapshot in the background."""

    def __init__(self, data_dir: Path | str, *, min_interval: float = 2.0) -> None:
        self.data_dir = Path(data_dir)
        self.journal_dir = self.data_dir / JOURNAL
        self.min_interval = min_interval
        self.last_snapshot_seconds = 0.0
        self._door = threading.Condition()
        self._closed = False  # True while a snapshot holds new requests at the door
        self._in_flight = 0
        self._dirty = False
        self._sequence = 0
        self._journal_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()  # one snapshot at a time (the loop, a caller, close)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _install_s3_hook()

    # --- start ---------------------------------------------------------------------------

    def load(self) -> bool:
        """Put the last snapshot's backends in place of moto's (before the server serves)."""
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.data_dir.glob("*.tmp"):  # a snapshot a crash interrupted
            leftover.unlink()
        path = self.data_dir / SNAPSHOT
        if not path.exists():
            return False
        with open(path, "rb") as snapshot:
            state = pickle.load(snapshot)
        bucket_accounts = get_backend("s3").bucket_accounts  # S3's global name -> owner index
        bucket_accounts.clear()
        bucket_accounts.update(state.pop(BUCKET_OWNERS))
        for service, accounts in state.items():
            backends = get_backend(service)
            for account in list(backends.values()):
                account.clear()
            for account_id, regions in accounts.items():
                backends[account_id].update(regions)
        return True

    def replay_journal(self) -> int:
        """Store again every object journalled after the snapshot and fire its notification."""
        entries = self._journal_entries()
        replayed = 0
        for _, path in entries:
            with open(path, "rb") as entry:
                written = pickle.load(entry)
            for account_id, region, bucket_name, key in written:
                backend = get_backend("s3")[account_id][region]
                bucket = backend.buckets.get(bucket_name)
                if bucket is None:
                    log("journal_bucket_missing", level=30, bucket=bucket_name, key=key.name)
                    continue
                bucket.keys.setlist(key.name, [key])
                notifications.send_event(
                    account_id, notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT, bucket, key
                )
                replayed += 1
        if entries:
            self._sequence = entries[-1][0]
            log("journal_replayed", objects=replayed, entries=len(entries))
        return replayed

    def _journal_entries(self) -> list[tuple[int, Path]]:
        entries = []
        for path in self.journal_dir.glob("*.pickle"):
            if path.stem.isdigit():
                entries.append((int(path.stem), path))
        return sorted(entries)

    # --- serving -------------------------------------------------------------------------

    def middleware(self, app: WsgiApp) -> WsgiApp:
        """Wrap moto's WSGI app: wait while a snapshot runs, journal S3 writes before answering."""

        def durable_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._door:
                while self._closed:
                    self._door.wait()
                self._in_flight += 1
            _written.keys = []
            try:
                result = app(environ, start_response)  # Flask has run the whole call by now
                if _written.keys:
                    self._journal(_written.keys)
                if _changes_state(environ):
                    self._dirty = True
                return result
            finally:
                _written.keys = None
                with self._door:
                    self._in_flight -= 1
                    self._door.notify_all()

        return durable_app

    def _journal(self, written: list[tuple[str, str, str, Any]]) -> None:
        data = pickle.dumps(written, protocol=pickle.HIGHEST_PROTOCOL)
        with self._journal_lock:
            self._sequence += 1
            _write_atomically(self.journal_dir / f"{self._sequence:012d}.pickle", data)

    # --- snapshots -----------------------------------------------------------------------

    def snapshot(self, *, wait: float = 5.0) -> bool:
        """Save every backend; False when requests stayed in flight for `wait` seconds (try later)."""
        with self._snapshot_lock:
            return self._snapshot(wait)

    def _snapshot(self, wait: float) -> bool:
        started = time.perf_counter()
        with self._door:
            self._closed = True
            try:
                if not self._door.wait_for(lambda: self._in_flight == 0, timeout=wait):
                    return False
                self._dirty = False
                with self._journal_lock:
                    covered = self._sequence
                buffer = io.BytesIO()
                state: dict[str, Any] = {
                    s: {a: dict(regions) for a, regions in get_backend(s).items()} for s in SERVICES
                }
                state[BUCKET_OWNERS] = dict(get_backend("s3").bucket_accounts)
                _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
            finally:
                self._closed = False
                self._door.notify_all()
        _write_atomically(self.data_dir / SNAPSHOT, buffer.getbuffer())
        for sequence, path in self._journal_entries():
            if sequence <= covered:
                path.unlink(missing_ok=True)
        self.last_snapshot_seconds = time.perf_counter() - started
        return True

    def start(self) -> Persistence:
        """Snapshot now (the start's state, replayed objects included), then whenever something changed."""
        self.snapshot()
        self._thread = threading.Thread(target=self._loop, name="local-aws-snapshots", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        # A snapshot holds requests for as long as it pickles: space them out as the data grows.
        while not self._stop.wait(max(self.min_interval, 4 * self.last_snapshot_seconds)):
            if self._dirty:
                try:
                    self.snapshot()
                except Exception as exc:  # a full disk must not stop the server; the journal still holds uploads
                    log("snapshot_failed", level=40, error=f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """A normal stop: the last snapshot, so the next start has nothing to replay."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.snapshot(wait=30)


def _changes_state(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return not target.endswith(READ_TARGETS)


def size_on_disk(data_dir: Path | str) -> int:
    return sum(p.stat().st_size for p in Path(data_dir).rglob("*") if p.is_file())


def reset_data_dir(data_dir: Path | str) -> bool:
    """Empty a data directory so the next start is empty; refuses a directory that is not ours."""
    path = Path(data_dir)
    if not path.exists():
        return False
    ours = {SNAPSHOT, JOURNAL, SNAPSHOT + ".tmp"}
    strangers = [p.name for p in path.iterdir() if p.name not in ours]
    if strangers:
        raise DataDirError(
            f"{path} holds files that are not the embedded AWS's ({', '.join(strangers[:3])}): not removed"
        )
    shutil.rmtree(path)
    return True
