"""Alert episodes: one per site and rule while the rule keeps firing, so a fault alerts
when it starts, reminds now and then, and says when it is over, instead of once per file.

A rule is an anomaly reason code, or `missing_data` for gaps. An episode starts with the
first faulty reading when none is open, sends a reminder when a faulty reading comes
`repeat` or more after its last message (unless acknowledged, or snoozed until a later
time), and resolves once the site has reported readings for `resolve_after` without that
rule firing. The messages themselves are per file (`pipeline.alerts`): this module only
says which episodes a chunk of readings started, reminded or resolved.

Time is the readings' own time (their timestamps), never the clock of the machine that
processes them: the same readings move the episodes the same way on every try, retry,
replay or backfill, and a burst of late files is judged as the site lived it. The
`clock` of a site is the latest reading time seen. A late fault (older than the clock)
counts into the open episode of its rule; with none open it starts one, which resolves at
once when the readings already seen lie `resolve_after` past it: the fault is announced,
started and resolved in one message, and never lost because its file came late.

`advance` is pure. Its state is small (one entry per open rule) and lives on the site's
item, saved by the claim that stores the readings (`pipeline.site_claims`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pipeline.timestamps import parse_utc

MISSING_DATA = "missing_data"
STARTED, REMINDER, RESOLVED = "started", "reminder", "resolved"


@dataclass(frozen=True)
class Policy:
    repeat: timedelta = timedelta(hours=6)
    resolve_after: timedelta = timedelta(hours=2)


@dataclass(frozen=True)
class Fault:
    """A rule firing for a site: at a reading (`at` = its time), or a gap (`since` its first
    missing interval, `at` the reading that revealed it, `weight` the intervals missed)."""

    rule: str
    at: str
    since: str
    weight: int = 1


@dataclass(frozen=True)
class Episode:
    rule: str
    started: str  # reading time of its first fault
    last_fault: str
    count: int  # faulty readings (missing intervals for missing_data)
    notified_at: str  # reading time of its last message (the start or a reminder)
    notified_count: int  # `count` when that message was composed
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None  # wall clock, when a person acknowledged it
    snoozed_until: str | None = None  # reading time until which no reminder is sent

    def state(self) -> str:
        if self.acknowledged_by is not None:
            return "acknowledged"
        if self.snoozed_until is not None:
            return f"snoozed until {self.snoozed_until}"
        return "active"

    def to_item(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Episode:
        values = {k: item.get(k) for k in cls.__dataclass_fields__}
        return cls(**{**values, "count": int(item["count"]), "notified_count": int(item["notified_count"])})


@dataclass(frozen=True)
class SiteEpisodes:
    """What a site's alerts remember: the latest reading time seen and the open episodes."""

    clock: str | None = None
    open: Mapping[str, Episode] = field(default_factory=dict)  # by rule

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"open": {rule: e.to_item() for rule, e in self.open.items()}}
        return item if self.clock is None else {**item, "clock": self.clock}

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> SiteEpisodes:
        if not item:
            return cls()
        return cls(item.get("clock"), {rule: Episode.from_item(e) for rule, e in item.get("open", {}).items()})

    def with_marks_of(self, current: SiteEpisodes) -> SiteEpisodes:
        """These episodes with the acknowledgements and snoozes people have put on the same
        episodes (same rule and start) in `current`: a retry judged against the state from
        before its first try must not wipe a mark made since."""
        marked = dict(self.open)
        for rule, episode in self.open.items():
            now = current.open.get(rule)
            if now is not None and now.started == episode.started:
                marked[rule] = replace(
                    episode,
                    acknowledged_by=now.acknowledged_by,
                    acknowledged_at=now.acknowledged_at,
                    snoozed_until=now.snoozed_until,
                )
        return replace(self, open=marked)


@dataclass(frozen=True)
class Notice:
    """An episode that changed state: what a file's message lists."""

    kind: str  # STARTED, REMINDER or RESOLVED
    site_id: str
    rule: str
    since: str  # the episode's start
    at: str  # the reading time of the change
    count: int  # the episode's faults so far
    new: int  # faults since its last message

    def to_item(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Notice:
        return cls(**{**item, "count": int(item["count"]), "new": int(item["new"])})


@dataclass(frozen=True)
class Pending:
    """The episode changes a file made in a try, to be announced in its alert: kept with the
    try in flight on the sites it changed, so that a file taking the try over as abandoned
    announces them instead (`pipeline.storing`)."""

    source_key: str
    version: str
    notices: tuple[Notice, ...]  # the first `alert_max_lines`
    counts: Mapping[str, int]  # changes by kind, listed or not

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_key, self.version)

    def to_item(self) -> dict[str, Any]:
        return {
            "source_key": self.source_key,
            "version": self.version,
            "notices": [n.to_item() for n in self.notices],
            "counts": dict(self.counts),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Pending:
        notices = tuple(Notice.from_item(n) for n in item["notices"])
        counts = {kind: int(n) for kind, n in item["counts"].items()}
        return cls(item["source_key"], item["version"], notices, counts)


def advance(
    before: SiteEpisodes, site_id: str, reading_times: Iterable[str], faults: Sequence[Fault], policy: Policy
) -> tuple[SiteEpisodes, list[Notice]]:
    """The site's episodes after a chunk of its readings, and the changes to announce.

    The readings are walked in time order: at each time the rules that fire there start or
    continue their episode (a reminder when one is due), then every other open episode
    whose last fault lies `resolve_after` behind the latest reading resolves.
    """
    at_time: dict[str, dict[str, list[Fault]]] = {}
    for fault in faults:
        at_time.setdefault(fault.at, {}).setdefault(fault.rule, []).append(fault)
    clock, episodes, notices = before.clock, dict(before.open), []
    for t in sorted(set(reading_times) | set(at_time)):
        for rule, fired in sorted(at_time.get(t, {}).items()):
            weight = sum(f.weight for f in fired)
            episode = episodes.get(rule)
            if episode is None:
                since = min(f.since for f in fired)
                episodes[rule] = Episode(rule, since, t, weight, t, weight)
                notices.append(Notice(STARTED, site_id, rule, since, t, weight, weight))
                continue
            episode = replace(episode, count=episode.count + weight, last_fault=max(episode.last_fault, t))
            if episode.snoozed_until is not None and t >= episode.snoozed_until:
                episode = replace(episode, snoozed_until=None)  # a snooze ends by itself
            due = _at(t) - _at(episode.notified_at) >= policy.repeat
            if due and episode.state() == "active":
                new = episode.count - episode.notified_count
                notices.append(Notice(REMINDER, site_id, rule, episode.started, t, episode.count, new))
                episode = replace(episode, notified_at=t, notified_count=episode.count)
            episodes[rule] = episode
        clock = t if clock is None else max(clock, t)
        for rule, episode in sorted(episodes.items()):
            if _at(clock) - _at(episode.last_fault) >= policy.resolve_after:
                new = episode.count - episode.notified_count
                notices.append(Notice(RESOLVED, site_id, rule, episode.started, clock, episode.count, new))
                del episodes[rule]
    return SiteEpisodes(clock, episodes), notices


def _at(timestamp: str) -> datetime:
    return parse_utc(timestamp)


def advance_sites(
    before: Mapping[str, SiteEpisodes],
    records: Sequence[Any],
    gaps: Sequence[Any],
    policy: Policy,
    counted: Collection[tuple[str, str]] = (),
) -> tuple[dict[str, SiteEpisodes], list[Notice]]:
    """`advance` for every site in `before`, over a chunk's records (their
    `anomaly_reasons`) and gaps. A gap counts at the first reading after it, the moment the
    site is known to have missed it. Records whose key is in `counted` were counted by an
    earlier file: they move the clock but fire no rule again."""
    times: dict[str, list[str]] = {}
    faults: dict[str, list[Fault]] = {}
    for record in records:
        times.setdefault(record.site_id, []).append(record.timestamp)
        if (record.site_id, record.timestamp) not in counted:
            faults.setdefault(record.site_id, []).extend(
                Fault(reason, record.timestamp, record.timestamp) for reason in record.anomaly_reasons
            )
    for gap in gaps:
        at = min((t for t in times.get(gap.site_id, ()) if t > gap.first_missing), default=gap.first_missing)
        faults.setdefault(gap.site_id, []).append(Fault(MISSING_DATA, at, gap.first_missing, gap.missing))
    moved, notices = {}, []
    for site_id in sorted(before):
        moved[site_id], changed = advance(
            before[site_id], site_id, times.get(site_id, ()), faults.get(site_id, []), policy
        )
        notices += changed
    return moved, notices
