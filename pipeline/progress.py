"""How far the storing of a big file got, kept on its ledger item between invocations.

A file is stored chunk by chunk (`processing`), each chunk under its own claim of the
file's sites. The claim that finishes a chunk also writes the file's progress: the chunks
done, the running counts and what the alert will say. An invocation that runs out of time,
or fails, leaves the progress behind, and the next one goes on from the first chunk not
done instead of starting again. The progress belongs to one version (ETag) of the file: a
new upload under the same key starts from the beginning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from pipeline.alerts import Findings
from pipeline.aws import client
from pipeline.dynamo import batch_get, marshal
from pipeline.settings import Settings

COUNTS = ("readings", "written", "unchanged", "duplicates", "rejected", "missing_intervals", "estimated")


@dataclass(frozen=True)
class Progress:
    version: str
    processed_at: str  # when the file's first chunk was processed: the file's processing time
    chunks_done: int = 0
    readings: int = 0
    written: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    missing_intervals: int = 0
    estimated: int = 0  # estimates written for missing intervals
    findings: Findings = field(default_factory=Findings)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def add(self, findings: Findings, **counts: int) -> Progress:
        """The progress with one more chunk done."""
        totals = {name: getattr(self, name) + counts.get(name, 0) for name in COUNTS}
        return replace(self, chunks_done=self.chunks_done + 1, findings=findings, **totals)

    def to_item(self) -> dict[str, Any]:
        item = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "findings"}
        return {**item, "findings": self.findings.to_item()}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Progress:
        numbers = {name: int(item.get(name, 0)) for name in ("chunks_done", *COUNTS)}
        findings = Findings.from_item(item.get("findings"))
        return cls(version=item["version"], processed_at=item["processed_at"], findings=findings, **numbers)


def load_progress(settings: Settings, source_key: str, version: str) -> Progress | None:
    """The progress of this version of the file, when an earlier invocation left one."""
    ledger = next(batch_get(settings, settings.files_table, [{"source_key": source_key}]), {})
    item = ledger.get("progress")
    return Progress.from_item(item) if item and item.get("version") == version else None


def save_progress(settings: Settings, source_key: str, progress: Progress) -> None:
    client(settings, "dynamodb").update_item(
        TableName=settings.files_table,
        Key=marshal({"source_key": source_key}),
        UpdateExpression="SET progress = :p",
        ExpressionAttributeValues=marshal({":p": progress.to_item()}),
    )
