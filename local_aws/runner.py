"""The Lambda runner: what the SQS event source mapping does in AWS, done in a thread.

It long-polls the raw-events queue, gathers a batch as the mapping does (`batch_size`
messages or `batching_window_seconds`, from the settings that mirror terraform's), builds
the SQS event Lambda would receive, calls the
real handler from lambda/handler.py, deletes the messages that succeeded and leaves the
failures on the queue, where SQS counts the receive and dead-letters them past
`maxReceiveCount`, exactly as in AWS. Like Lambda, it runs several invocations at once
(`concurrency` pollers), each with a deadline, so one big file never holds up the others.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.aws import client
from pipeline.logs import log
from pipeline.settings import Settings

HANDLER_FILE = Path(__file__).resolve().parent.parent / "lambda" / "handler.py"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(entry: str = "handler") -> Any:
    """An entry point of lambda/handler.py (the queue's `handler`, or the lake's scheduled
    `compact`), imported by path: `lambda` is a keyword, so it is not a package."""
    spec = importlib.util.spec_from_file_location("energy_lambda_handler", HANDLER_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, entry)


@dataclass
class LambdaContext:
    function_name: str = "energy-pipeline-local"
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 60
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class RunnerStats:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    last_error: str | None = None
    last_batch_at: float | None = None


class Runner:
    """Poll, invoke, delete; `retry_delay_seconds` is how long a failed message stays hidden."""

    def __init__(
        self,
        settings: Settings,
        handler: Handler | None = None,
        *,
        batch_size: int | None = None,
        window_seconds: float | None = None,
        wait_seconds: int = 1,
        retry_delay_seconds: int = 5,
        concurrency: int = 2,
        timeout_seconds: int = 60,
    ) -> None:
        self.settings = settings
        self.handler = handler or partial(load_handler(), settings=settings)
        self.batch_size = settings.batch_size if batch_size is None else batch_size
        self.window_seconds = settings.batching_window_seconds if window_seconds is None else window_seconds
        self.wait_seconds = wait_seconds
        self.retry_delay_seconds = retry_delay_seconds
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.stats = RunnerStats()
        self._stats_lock = threading.Lock()
        self._sqs = client(settings, "sqs")
        self._queue_url: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = self._sqs.get_queue_url(QueueName=self.settings.queue)["QueueUrl"]
        return self._queue_url

    def poll_once(self, wait_seconds: int | None = None) -> int:
        """Gather one batch and hand it to the handler; returns how many messages came.

        Like the event source mapping, it receives up to 10 messages a call until it holds
        `batch_size` or `window_seconds` passed since the first; unlike it, it stops early
        when the queue has nothing more to give, so that a lone upload is not kept waiting."""
        messages = self._receive(self.wait_seconds if wait_seconds is None else wait_seconds)
        window_ends = time.monotonic() + self.window_seconds
        while messages and len(messages) < self.batch_size and time.monotonic() < window_ends:
            more = self._receive(0, self.batch_size - len(messages))
            if not more:
                break
            messages += more
        if messages:
            self._invoke(messages)
        return len(messages)

    def _receive(self, wait_seconds: int, most: int = 10) -> list[dict[str, Any]]:
        return self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, most, self.batch_size),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(m) for m in messages]}
        try:
            response = self.handler(event, LambdaContext(timeout_seconds=self.timeout_seconds))
            failed_ids = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except Exception as exc:  # a handler that raises fails the whole batch, as in Lambda
            failed_ids = {m["MessageId"] for m in messages}
            with self._stats_lock:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log("runner_batch_failed", level=40, error=f"{type(exc).__name__}: {exc}")
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        for batch in range(0, len(done), 10):  # DeleteMessageBatch takes 10 entries a call
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[batch : batch + 10])
                ],
            )
        for message in failed:
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
            except Exception as exc:  # received again meanwhile: SQS hands it out when it is due
                log("runner_retry_delay_not_set", level=30, error=f"{type(exc).__name__}: {exc}")
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.succeeded += len(done)
            self.stats.failed += len(failed)
            self.stats.last_batch_at = time.time()

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "dataType": value.get("DataType"),
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{self.settings.region}:123456789012:{self.settings.queue}",
            "awsRegion": self.settings.region,
        }

    def drain(self, timeout: float = 60) -> None:
        """Poll until the queue holds nothing visible, in flight or delayed (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll_once(wait_seconds=0) == 0:
                if self.pending() == 0:
                    return
                time.sleep(0.1)  # in flight elsewhere, or delayed: nothing to receive yet
        raise TimeoutError(f"queue {self.settings.queue} still busy after {timeout:.0f}s")

    def pending(self) -> int:
        """Messages on the queue: visible, in flight, or delayed (sent back to wait)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> Runner:
        if not self.running:
            self._stop.clear()
            self._threads = [
                threading.Thread(target=self._loop, name=f"lambda-runner-{n}", daemon=True)
                for n in range(1, self.concurrency + 1)
            ]
            for thread in self._threads:
                thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the stack went away or hiccuped: keep the thread alive
                with self._stats_lock:
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log("runner_poll_failed", level=30, error=f"{type(exc).__name__}: {exc}")
                self._stop.wait(1)
