"""Structured logs: one JSON object a line, which CloudWatch Logs Insights can query."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

logger = logging.getLogger("energy")
_context: ContextVar[tuple[tuple[str, object], ...]] = ContextVar("log_context", default=())


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time (test capture, Lambda's stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure() -> None:
    """Send the pipeline's lines to stderr as they are, without Lambda's text prefix."""
    if not logger.handlers:
        logger.addHandler(_Stderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` (such as the Lambda request id) to every line logged inside the block."""
    merged = {**dict(_context.get()), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(tuple(merged.items()))
    try:
        yield
    finally:
        _context.reset(token)


def log(event: str, level: int = logging.INFO, **fields: object) -> None:
    logger.log(level, json.dumps({"event": event, **dict(_context.get()), **fields}, default=str))
