"""Storing parts of files under one claim of their sites: judge, claim, write, report.

A part is the readings of one chunk of one file. A big file is stored one part at a time;
the small files of a batch that name the same sites are stored together, as one group: their
sites are read, claimed, rolled up and released once, however many files the group holds,
and each file still gets its own records, counts, alert and outcome (`Part.report`).

Within a group the parts are judged one after another in upload order, each against the
histories, alert episodes and records the parts before it left, so a group stores exactly
what storing its files one by one would have stored. A retry of a group that failed half-way
finds its try in flight on its sites and repeats it (`site_claims`); delivered again in a
different group, its files take the try over as abandoned, and the rollup days it moved are
rebuilt from the records. The episode changes each whole file of a try will announce are kept
with the try in flight (`Pending`): a file that takes a try over as abandoned sends the ones
its files had not sent (their retry finds their readings stored and judges none again).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from pipeline.alerts import Findings, recovered, send_alerts
from pipeline.assessment import Assessment, assess
from pipeline.dynamo import backoff, marshal, persist, query
from pipeline.episodes import Notice, Pending, advance_sites
from pipeline.file_outcomes import FileOutcome, record_outcome
from pipeline.logs import log
from pipeline.progress import Progress
from pipeline.record_store import Stored, changes, existing_records, store_parts
from pipeline.records import Record
from pipeline.rollup_rebuild import rebuild_days
from pipeline.rollups import change_token, gap_deltas
from pipeline.settings import Settings
from pipeline.site_claims import Inflight, SitesBusy, SiteState, Span, claimed, site_states
from pipeline.sites import Site, register_unknown, site_items
from pipeline.timestamps import parse_utc
from pipeline.validation import Reading

CLAIM_ATTEMPTS = 5  # ~1 s of waiting in the invocation; longer waits go back to the queue (deferral)
# A part's report records its progress, or for a file's last part returns its outcome (not
# yet recorded) and what its alert is to say.
Report = Callable[[Assessment, Stored, str, Sequence[Notice]], tuple["Progress | FileOutcome", "Findings | None"]]
Key = tuple[str, str]


@dataclass(frozen=True)
class Part:
    """One chunk of one file, ready to be judged: `report` records what storing it did."""

    source_key: str
    version: str
    chunk: int
    processed_at: str  # the file's processing time (from its progress for a resumed file)
    readings: Sequence[Reading]
    report: Report
    uploaded_at: str = ""  # the S3 event's time: the later upload of the same reading wins
    whole: bool = True  # the file's only chunk (the changes of a chunk of a big file are not kept for recovery)

    @property
    def lease(self) -> str:
        return change_token(self.source_key, self.version)

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(r.site_id for r in self.readings)

    @property
    def order(self) -> tuple[str, str, str, int]:
        """Upload order, as storing the files one by one would go; then the readings' time."""
        first = min((r.timestamp for r in self.readings), default="")
        return (self.uploaded_at, first, self.source_key, self.chunk)


def store_group(settings: Settings, parts: Sequence[Part]) -> list[Progress | FileOutcome]:
    """Store `parts` (in upload order) under one claim of their sites, waiting a moment for
    sites another file holds; what each part's report returned, in that order."""
    parts = sorted(parts, key=lambda p: p.order)
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            return _judge_and_store(settings, parts)
        except SitesBusy:
            if attempt == CLAIM_ATTEMPTS - 1:
                raise  # still busy: the handler sends the messages back to wait
            log("sites_busy", level=20, source_keys=[p.source_key for p in parts][:10], attempt=attempt + 1)
            backoff(attempt)
    raise AssertionError("unreachable")


def group_lease(parts: Sequence[Part]) -> str:
    """The try's name: the file version for one part (its chunks share it), else the group's."""
    if len(parts) == 1:
        return parts[0].lease
    return change_token("\n".join(sorted(f"{p.lease}.{p.chunk}" for p in parts)), "group")


def _judge_and_store(settings: Settings, parts: Sequence[Part]) -> list[Progress | FileOutcome]:
    """Judge the parts' readings against their sites' histories and the records already
    stored, then store them and report while holding the sites: a file of the same site
    that got in between raises `SitesBusy` before anything of these is written.

    A retry of a try that failed half-way finds it in flight on its sites and repeats it
    exactly: same histories and alert episodes, same processing time, the rollup days it
    moved left alone. A reading already stored as it is counts into no episode again,
    unless it is a resumed try's own record (equal to the letter, on a resumed site).
    """
    lease = group_lease(parts)
    token = f"{lease}.{parts[0].chunk if len(parts) == 1 else 0}"
    attempt = f"{lease}#{uuid.uuid4().hex[:12]}"  # two deliveries of the files never hold their sites at once
    site_ids = set().union(*(p.sites for p in parts))
    items = site_items(settings, site_ids)
    register_unknown(settings, site_ids, items)
    sites = {site_id: Site.from_item(item) for site_id, item in items.items()}
    states = site_states(items, site_ids, token, lease)
    resumed = {site_id: state.resumed for site_id, state in states.items() if state.resumed is not None}
    # The processing time is stored text (in a file's progress, or in the in-flight try being
    # repeated), the same for every chunk and try; the rules read it as their clock.
    processed_at = next(iter(resumed.values())).processed_at if resumed else parts[0].processed_at
    spans = _stored_spans(settings, items, site_ids)
    stored = existing_records(
        settings,
        [(r.site_id, r.timestamp) for p in parts for r in p.readings if spans[r.site_id].may_hold(r.timestamp)],
    )
    histories = {site_id: state.history for site_id, state in states.items()}
    episodes = {site_id: state.episodes for site_id, state in states.items()}
    current = dict(stored)  # what the table holds once the parts judged so far are stored
    judged: list[tuple[Part, Assessment, dict[Key, Record], list[Notice]]] = []
    for part in parts:
        before = {k: current[k] for r in part.readings if (k := (r.site_id, r.timestamp)) in current}
        assessment = assess(part.readings, sites, part.source_key, parse_utc(processed_at), histories, before)
        if assessment.estimates:
            unseen = [
                e.key for e in assessment.estimates if e.key not in current and spans[e.site_id].may_hold(e.timestamp)
            ]
            current.update(existing_records(settings, unseen))
            before.update({e.key: current[e.key] for e in assessment.estimates if e.key in current})
            assessment = replace(assessment, estimates=_fillable(assessment.estimates, before))
        counted = {  # already counted into the episodes: stored as they are, or an analyst's since
            r.key
            for r in assessment.records
            if (old := before.get(r.key))
            and (old.edited or (old.same_values(r) and not (r.site_id in resumed and old == r)))
        }
        moved, notices = advance_sites(
            {s: episodes[s] for s in part.sites},
            assessment.records,
            assessment.gaps,
            settings.episode_policy(),
            counted,
        )
        histories.update(assessment.histories)
        episodes.update(moved)
        for _, new in changes(assessment.records + assessment.estimates, before):
            current[new.key] = new
        judged.append((part, assessment, before, notices))
    days = _days_moved([a for _, a, _, _ in judged])
    pending = _pending(judged, settings.alert_max_lines)
    inherited = _inherited(states, [p for own in pending.values() for p in own])
    inflight = {
        site_id: Inflight(
            token,
            state.history,
            processed_at,
            days.get(site_id, ()),
            state.repair,
            state.episodes,
            inherited.get(site_id, ()) + pending.get(site_id, ()),
        )
        for site_id, state in states.items()
    }
    versions = {site_id: state.version for site_id, state in states.items()}
    written = _timestamps(judged)
    until = {site_id: spans[site_id].with_stored(written.get(site_id, ()), processed_at) for site_id in site_ids}
    with claimed(settings, versions, histories, attempt, inflight, episodes, stored=until) as held:
        for site_id, state in states.items():
            if state.repair:
                changed = rebuild_days(settings, site_id, state.repair)
                days_rebuilt = sorted({c.day for c in changed})
                log(
                    "abandoned_try_repaired",
                    level=30,
                    source_key=parts[0].source_key,
                    site_id=site_id,
                    days_rebuilt=days_rebuilt,
                )
        results = store_parts(
            settings,
            [(a.records + a.estimates, before) for _, a, before, _ in judged],
            token,
            gap_deltas([g for _, a, _, _ in judged for g in a.gaps]),
            resuming=resumed.keys(),
            lease=held,
        )
        held.check()
        reported = [
            part.report(assessment, stored_part, processed_at, notices)
            for (part, assessment, _, notices), stored_part in zip(judged, results, strict=True)
        ]
        return _alert_and_record(settings, parts, inherited, reported)


def _alert_and_record(
    settings: Settings,
    parts: Sequence[Part],
    inherited: Mapping[str, Sequence[Pending]],
    reported: Sequence[tuple[Progress | FileOutcome, Findings | None]],
) -> list[Progress | FileOutcome]:
    """Send the group's alert (with what abandoned tries left unannounced), then record each
    file's outcome with its part of the alert: in place, with retries (idempotent, and failing
    it would fail a group that may hold hundreds of files). The first file's outcome lists the
    group's other files, for the ledger's day index."""
    left = {p.key: recovered(p) for unannounced in inherited.values() for p in unannounced}
    outcomes = [
        (part, done, f) for part, (done, f) in zip(parts, reported, strict=True) if isinstance(done, FileOutcome)
    ]
    alerting = [(part.source_key, part.version, f) for part, _, f in outcomes if f is not None]
    recorded = {part.source_key for part, _, _ in outcomes}
    sent = send_alerts(settings, [*left.values(), *alerting], recorded_with_outcome=recorded)
    others = [p.source_key for p in parts[1:]]
    done_by_key = {}
    for part, outcome, _ in outcomes:
        alert = sent.get(part.source_key)
        done = replace(outcome, **alert._asdict()) if alert else outcome
        first = part is parts[0]
        record = partial(record_outcome, settings, done, others if first else None)
        persist(record, "outcome_not_recorded", source_key=part.source_key)
        done_by_key[part.source_key] = done
    return [done_by_key.get(part.source_key, done) for part, (done, _) in zip(parts, reported, strict=True)]


def _inherited(states: Mapping[str, SiteState], own: Sequence[Pending]) -> dict[str, tuple[Pending, ...]]:
    """Each site's episode changes that tries in flight there left unannounced: all of an
    abandoned try's (its readings now count as stored, so judging its files again announces
    nothing), or, when this very try is resumed, those it had taken over itself (its `own`
    it judges again to the letter)."""
    found = {}
    for site_id, state in states.items():
        if state.abandoned is not None:
            left = state.abandoned.pending
        elif state.resumed is not None:
            left = tuple(p for p in state.resumed.pending if p not in own)
        else:
            left = ()
        if left:
            found[site_id] = left
    return found


def _pending(
    judged: Sequence[tuple[Part, Assessment, Any, Sequence[Notice]]], max_listed: int
) -> dict[str, tuple[Pending, ...]]:
    """What this try's whole files will announce, kept on every site they changed an episode of."""
    found: dict[str, list[Pending]] = {}
    for part, _, _, notices in judged:
        if notices and part.whole:
            counts = dict(Counter(n.kind for n in notices))
            pending = Pending(part.source_key, part.version, tuple(notices[:max_listed]), counts)
            for site_id in sorted({n.site_id for n in notices}):
                found.setdefault(site_id, []).append(pending)
    return {site_id: tuple(pending) for site_id, pending in found.items()}


def _stored_spans(settings: Settings, items: Mapping[str, Mapping[str, Any]], site_ids: set[str]) -> dict[str, Span]:
    """What each site has stored, as far as existence reads go (`Span`), kept on the site's
    item by each claim; a site claimed before it was kept is asked once, by its newest record."""
    known = {s: Span.from_item(items[s]) for s in site_ids if "stored_until" in items.get(s, {})}
    for site_id in sorted(site_ids - known.keys()):
        newest = query(
            settings,
            TableName=settings.table,
            KeyConditionExpression="site_id = :s",
            ExpressionAttributeValues=marshal({":s": site_id}),
            ProjectionExpression="#t",
            ExpressionAttributeNames={"#t": "timestamp"},
            ScanIndexForward=False,
            ConsistentRead=True,
            PaginationConfig={"MaxItems": 1, "PageSize": 1},
        )
        known[site_id] = Span(next((str(item["timestamp"]) for item in newest), ""))
    return known


def _timestamps(judged: Sequence[tuple[Part, Assessment, Any, Any]]) -> dict[str, list[str]]:
    """The timestamps of the records and estimates the try writes, by site."""
    found: dict[str, list[str]] = {}
    for _, assessment, _, _ in judged:
        for record in assessment.records + assessment.estimates:
            found.setdefault(record.site_id, []).append(record.timestamp)
    return found


def _fillable(estimates: Sequence[Record], before: Mapping[Key, Record]) -> list[Record]:
    """The estimates whose interval holds no reading: a reading stored there (one dated in
    the future, say, which the series rules never saw) is never replaced by a guess."""
    return [e for e in estimates if (old := before.get(e.key)) is None or old.estimated]


def _days_moved(assessments: Sequence[Assessment]) -> dict[str, tuple[str, ...]]:
    """The rollup days each site's records, estimates and gaps move."""
    days: dict[str, set[str]] = {}
    for assessment in assessments:
        for record in assessment.records + assessment.estimates:
            days.setdefault(record.site_id, set()).add(record.timestamp[:10])
        for gap in assessment.gaps:
            days.setdefault(gap.site_id, set()).add(gap.first_missing[:10])
    return {site_id: tuple(sorted(found)) for site_id, found in days.items()}
