"""Is the stack there and flowing? The checks behind the app's health badge.

Each resource the pipeline needs is checked with one cheap call (no listing, no Scan).
A problem is a readable sentence with the fix (see `describe_error`); an unreachable
endpoint stops the checks at the first call instead of timing out on every one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws import client, describe_error
from pipeline.ops.queues import queue_depth
from pipeline.settings import Settings


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight


@dataclass(frozen=True)
class Health:
    problems: tuple[str, ...] = ()
    queue: QueueDepth | None = None
    dlq: QueueDepth | None = None
    reachable: bool = True  # False when AWS could not be asked at all (no connection, no credentials)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Unreachable(Exception):
    pass


def stack_health(settings: Settings) -> Health:
    problems: list[str] = []

    def check(call: Callable[[], object]) -> object | None:
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            message = describe_error(exc, settings)
            problems.append(message)
            if not isinstance(exc, ClientError):  # no answer at all: the rest would fail the same way
                raise _Unreachable from exc
            return None

    s3 = client(settings, "s3")
    dynamodb = client(settings, "dynamodb")
    try:
        check(lambda: s3.list_objects_v2(Bucket=settings.bucket, MaxKeys=1))
        for table in (settings.table, settings.rollup_table, settings.sites_table, settings.files_table):
            check(lambda table=table: dynamodb.describe_table(TableName=table))
        queue = check(lambda: QueueDepth(*queue_depth(settings, settings.queue)))
        dlq = check(lambda: QueueDepth(*queue_depth(settings, settings.dlq)))
    except _Unreachable:
        return Health(tuple(problems), reachable=False)
    return Health(
        tuple(dict.fromkeys(problems)),
        queue if isinstance(queue, QueueDepth) else None,
        dlq if isinstance(dlq, QueueDepth) else None,
    )
