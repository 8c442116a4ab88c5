"""Structured logs: one JSON object a line, which CloudWatch Logs Insights can query."""

from __future__ import annotations

import json
import logging
import sys

logger = logging.getLogger("energy")


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


def log(event: str, level: int = logging.INFO, **fields: object) -> None:
    logger.log(level, json.dumps({"event": event, **fields}, default=str))
