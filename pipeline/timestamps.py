"""The one form every stored time takes, UTC `YYYY-MM-DDTHH:MM:SSZ`, and the way in and out of it.

Readings, records, files, alerts, edits and episodes all store times as this text: it sorts
as time does, so DynamoDB sort keys and plain string comparisons order it right, and it is
what the data contract promises. Code computes with an aware datetime and stores or
compares keys with the text; it converts at that edge, once, with `parse_utc` and
`utc_text` (a reading carries both: `validation.Reading.moment`).
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # for strptime and pandas; `utc_text` writes the same text


def parse_utc(text: str) -> datetime:
    """A stored time as an aware UTC datetime (any ISO 8601 time is read; one without an
    offset is UTC). `fromisoformat` is about ten times faster than `strptime(FORMAT)`."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc_text(moment: datetime) -> str:
    """`moment` in the stored form: in UTC, to the whole second (a naive datetime is UTC).

    Written field by field rather than with `strftime(FORMAT)`, which drops the leading
    zeros of a year before 1000 on Linux (`100-01-01T...`), text that no longer sorts."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def now_utc() -> datetime:
    """This moment, to the whole second (what `utc_text` keeps of it)."""
    return datetime.now(UTC).replace(microsecond=0)


def now_text() -> str:
    return utc_text(datetime.now(UTC))


def epoch_text(seconds: float) -> str:
    """A Unix time (seconds) in the stored form."""
    return utc_text(datetime.fromtimestamp(seconds, UTC))
