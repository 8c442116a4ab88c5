"""Continuous simulation: a thread in the app process that uploads a file every interval.

It is held by `st.cache_resource`, so there is one per app process, shared by every
browser session: it keeps running across page switches and reruns, and any page can show
its state or stop it. Its uploads go to S3 like any other, so the upload log and the
files it sent are read back from S3, not from this object.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws import describe_error
from pipeline.ops.simulated_uploads import upload_simulated
from pipeline.settings import Settings

INTERVALS_SECONDS = (10, 20, 30, 60, 120, 300, 600)
DEFAULT_INTERVAL_SECONDS = 120


@dataclass(frozen=True)
class Plan:
    """What each simulated file holds."""

    sites: int = 5
    readings_per_site: int = 4
    anomaly_rate: float = 0.02
    fmt: str = "json"

    @property
    def readings_per_file(self) -> int:
        return self.sites * self.readings_per_site


@dataclass(frozen=True)
class State:
    running: bool = False
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    plan: Plan = Plan()
    files_sent: int = 0
    started_at: float | None = None
    last_sent_at: float | None = None
    last_key: str | None = None
    last_error: str | None = None
    next_at: float | None = None


def upload(settings: Settings, plan: Plan) -> str:
    return upload_simulated(settings, plan.sites, plan.readings_per_site, plan.anomaly_rate, fmt=plan.fmt).key


class ContinuousSimulator:
    def __init__(self, send: Callable[[Settings, Plan], str] = upload) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._state = State()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> State:
        with self._lock:
            return self._state

    def start(self, settings: Settings, plan: Plan, interval_seconds: int) -> None:
        """(Re)start with this plan; the first file goes at once, the next after the interval."""
        if interval_seconds not in INTERVALS_SECONDS:
            raise ValueError(f"the interval must be one of {INTERVALS_SECONDS} seconds")
        self.stop()
        with self._lock:
            self._state = State(True, interval_seconds, plan, started_at=time.time(), next_at=time.time())
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(settings, plan, interval_seconds, self._stop), name="simulator", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._state = replace(self._state, running=False, next_at=None)

    def _loop(self, settings: Settings, plan: Plan, interval: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                key = self._send(settings, plan)
            except (ClientError, BotoCoreError) as exc:
                self._update(last_error=describe_error(exc, settings))
            except Exception as exc:  # keep running: the state shows what went wrong
                self._update(last_error=f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self._state = replace(
                        self._state, files_sent=self._state.files_sent + 1, last_key=key, last_sent_at=time.time()
                    )
            self._update(next_at=time.time() + interval)
            stop.wait(interval)

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]


@st.cache_resource
def simulator() -> ContinuousSimulator:
    return ContinuousSimulator()
