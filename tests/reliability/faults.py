"""Failing chosen AWS calls of the pipeline, the way AWS fails them, for the reliability tests.

`FaultPlan` hooks botocore's `before-call` event on the pipeline's shared clients, so every
call goes through it: it counts the write calls the pipeline makes while `active`, and fails
the ones it was told to (the n-th, or a share of them at random) with a throttling error,
which the pipeline must treat as transient. Calls made by the lease's renewal thread are not
counted: their number depends on time, not on the file.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from pipeline.aws import client
from pipeline.settings import Settings

WRITES = frozenset(
    {
        "s3.PutObject",
        "s3.CopyObject",
        "dynamodb.PutItem",
        "dynamodb.UpdateItem",
        "dynamodb.DeleteItem",
        "dynamodb.BatchWriteItem",
        "dynamodb.TransactWriteItems",
        "sns.Publish",
        "sqs.SendMessage",
    }
)
SERVICES = ("s3", "dynamodb", "sns", "sqs")


@dataclass
class FaultPlan:
    """Which write calls fail: the `fail_at`-th (1-based), and/or each with `share` odds."""

    fail_at: int | None = None
    share: float = 0.0
    only: Callable[[str], bool] = lambda call: call in WRITES
    seed: int = 0
    active: bool = False
    calls: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def before_call(self, event_name: str, **_: object) -> None:
        call = ".".join(event_name.split(".")[1:3])  # before-call.<service id>.<operation>
        if not self.active or not self.only(call) or threading.current_thread().name == "lease-renewal":
            return
        with self._lock:
            self.calls.append(call)
            fail = len(self.calls) == self.fail_at or (self.share and self._rng.random() < self.share)
            if fail:
                self.failed.append(call)
        if fail:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, call)


@contextmanager
def injected(settings: Settings, plan: FaultPlan) -> Iterator[FaultPlan]:
    """`plan` hooked on the pipeline's clients for `settings` while the block runs."""
    hooked = [client(settings, service) for service in SERVICES]
    for aws in hooked:
        aws.meta.events.register("before-call", plan.before_call, unique_id=f"fault-plan-{id(plan)}")
    try:
        yield plan
    finally:
        for aws in hooked:
            aws.meta.events.unregister("before-call", unique_id=f"fault-plan-{id(plan)}")
