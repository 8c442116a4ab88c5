"""Claiming a file's sites: their histories saved, and a lease held while the file is stored.

What the series rules remember of each site lives on the site's item in the sites table,
with a version. Storing a file (or a group of small files, `pipeline.storing`) claims every
site it carries at once: one conditional write for one site, one transaction for several.
The claim saves the new histories, moves each version on, takes a lease and keeps the
span of timestamps the sites will have stored (`Span`), on the condition that no
other file changed the version since it was read and that no other file holds the lease.
So two files of one site are never stored at once: the one that loses raises `SitesBusy`
(a `TransientError`) and is judged again a moment later, counted against what the winner
stored. Letting go moves the version on once more: a file that read the site while the
holder was still writing must read it again. The rollups can then be read, added to and
written back in batches.

The claim also saves each site's alert episodes (`pipeline.episodes`) as the file moved
them, and records the file as in flight on each site (`Inflight`): the history and the
episodes the file was judged against, its processing time, the rollup days it moves and
the episode changes it is to announce (`Pending`). Until the file
is stored and released, its retry finds that record and judges the same readings against
the same history, with the same time, and skips the rollup days it already moved: it ends
exactly as the first try would have. A try that fails keeps its lease, so the retry usually
comes back before another file of the site can get in between.

A lease is renewed while its holder lives (`Lease`) and runs out `LEASE_SECONDS` after the
last renewal: a killed process holds its sites for seconds, not minutes. A file that then
claims a site still marked in flight by another file takes the record over as `abandoned`:
it rebuilds the abandoned file's rollup days from the stored records before moving them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pipeline.anomalies import History
from pipeline.aws import TransientError, client
from pipeline.dynamo import chunks, marshal, pack, persist, unless_throttled, unpack
from pipeline.episodes import Pending, SiteEpisodes
from pipeline.logs import log
from pipeline.settings import Settings

LEASE_SECONDS = 30  # how long a lease outlives its last renewal
RENEW_SECONDS = 5
TRANSACTION_ITEMS = 100  # DynamoDB's limit on the actions of one transaction
CONFLICTS = {"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


class SitesBusy(TransientError):
    """Another file holds one of the sites, or changed it since it was read."""


class LeaseLost(TransientError):
    """The lease ran out and another file may hold the site: stop writing, retry later."""


PENDING_LIMIT = 50  # files whose episode changes a site's in-flight record keeps for recovery


@dataclass(frozen=True)
class Inflight:
    """A file version (or one chunk of it) whose storing began and has not ended."""

    token: str
    history: History  # the site's history before this file moved it
    processed_at: str
    days: tuple[str, ...]  # the site's rollup days this file moves
    repair: tuple[str, ...] = ()  # days an abandoned try left half-moved, rebuilt from records
    episodes: SiteEpisodes = field(
        default_factory=SiteEpisodes
    )  # the site's alert episodes before this file moved them
    pending: tuple[Pending, ...] = ()  # episode changes on the site still to announce

    def to_item(self) -> dict[str, Any]:
        item = {
            "token": self.token,
            "history": self.history.to_item(),
            "processed_at": self.processed_at,
            "days": list(self.days),
            "repair": list(self.repair),
            "episodes": self.episodes.to_item(),
        }
        if self.pending:
            item["pending"] = [p.to_item() for p in self.pending[:PENDING_LIMIT]]
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> Inflight | None:
        if not item:
            return None
        history = History.from_item(item.get("history"))
        days, repair = tuple(item.get("days", ())), tuple(item.get("repair", ()))
        episodes = SiteEpisodes.from_item(item.get("episodes"))
        pending = tuple(Pending.from_item(p) for p in item.get("pending", ()))
        return cls(item["token"], history, item["processed_at"], days, repair, episodes, pending)


AHEAD_LIMIT = 100  # timestamps dated after the processing time a site keeps apart, at most


@dataclass(frozen=True)
class Span:
    """What a site has stored, as far as existence reads go: records up to `until` and at the
    few timestamps in `ahead` (readings dated after the time they were processed, a meter
    clock's glitch: counted into `until` they would send every later reading to an existence
    read until real time caught up). No record exists anywhere else, so a reading there
    needs no read."""

    until: str = ""
    ahead: frozenset[str] = frozenset()

    def may_hold(self, timestamp: str) -> bool:
        return timestamp <= self.until or timestamp in self.ahead

    def with_stored(self, timestamps: Iterable[str], now: str) -> Span:
        """After storing records at `timestamps`, processed at `now`: those up to `now` move
        `until` on, the later ones are kept apart until `now` passes them (past `AHEAD_LIMIT`
        of them, `until` takes them all in)."""
        every = self.ahead | set(timestamps)
        until = max([self.until, *(t for t in every if t <= now)])
        ahead = frozenset(t for t in every if t > until)
        if len(ahead) > AHEAD_LIMIT:
            return Span(max(ahead))
        return Span(until, ahead)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Span:
        return cls(str(item.get("stored_until", "")), frozenset(item.get("stored_ahead", ())))


@dataclass(frozen=True)
class SiteState:
    """What a file needs to know of a site before judging its readings."""

    version: int
    history: History  # what to judge against
    episodes: SiteEpisodes = field(default_factory=SiteEpisodes)  # the alert episodes to move on, likewise
    resumed: Inflight | None = None  # this file's own unfinished try
    abandoned: Inflight | None = None  # another file's unfinished try

    @property
    def repair(self) -> tuple[str, ...]:
        """Days to rebuild from the records before this file moves any."""
        if self.resumed is not None:
            return self.resumed.repair
        if self.abandoned is not None:
            return tuple(sorted({*self.abandoned.days, *self.abandoned.repair}))
        return ()


def site_states(
    items: Mapping[str, Mapping[str, Any]], site_ids: Collection[str], token: str, lease: str | None = None
) -> dict[str, SiteState]:
    """Each site's version and the history and episodes to judge against: the ones saved
    with the site, or, when this very try (`token`) is in flight there, the ones it was
    judged against first (with the acknowledgements and snoozes made since).

    A try in flight under another token is abandoned, unless it is an earlier chunk of the
    same file (`lease`): the file only goes on to a chunk once the one before it is stored.
    """
    states = {}
    for site_id in site_ids:
        item = items.get(site_id, {})
        inflight = Inflight.from_item(unpack(item.get("inflight")))
        version = int(item.get("history_version", 0))
        episodes = SiteEpisodes.from_item(item.get("episodes"))
        if inflight is not None and inflight.token == token:
            marked = inflight.episodes.with_marks_of(episodes)
            states[site_id] = SiteState(version, inflight.history, marked, resumed=inflight)
            continue
        if inflight is not None and lease is not None and inflight.token.startswith(f"{lease}."):
            inflight = None
        history = History.from_item(unpack(item.get("history")))
        states[site_id] = SiteState(version, history, episodes, abandoned=inflight)
    return states


class Lease:
    """The sites a file holds, renewed in a background thread until `stop`."""

    def __init__(self, settings: Settings, site_ids: Collection[str], token: str) -> None:
        self.settings = settings
        self.site_ids = sorted(site_ids)
        self.token = token
        self.lost: str | None = None
        self._renewed = _now()  # the claim's own lease_until counts from about now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="lease-renewal", daemon=True)

    def start(self) -> Lease:
        if self.site_ids:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def check(self) -> None:
        """Raise `LeaseLost` when a renewal found the site taken by another file, or when no
        renewal went through for so long that the lease may have run out unnoticed (a stalled
        process must not write over a file that took its sites meanwhile)."""
        if self.lost is not None:
            raise LeaseLost(f"the lease on site {self.lost} ran out and was taken by another file")
        unrenewed = _now() - self._renewed
        if unrenewed >= LEASE_SECONDS - RENEW_SECONDS:
            raise LeaseLost(f"the lease was not renewed for {unrenewed} s and may have run out")

    def renew(self) -> None:
        dynamodb = client(self.settings, "dynamodb")
        now = _now()
        for site_id in self.site_ids:
            try:
                dynamodb.update_item(
                    TableName=self.settings.sites_table,
                    Key=marshal({"site_id": site_id}),
                    UpdateExpression="SET lease_until = :until",
                    ConditionExpression="lease = :t",
                    ExpressionAttributeValues=marshal({":t": self.token, ":until": now + LEASE_SECONDS}),
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                self.lost = site_id
                return
        self._renewed = now

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew()
            except Exception as exc:  # a missed renewal is retried at the next tick
                log("lease_renewal_failed", level=30, error=f"{type(exc).__name__}: {exc}")
            if self.lost is not None:
                return


@contextmanager
def claimed(
    settings: Settings,
    versions: Mapping[str, int],
    moved: Mapping[str, History],
    token: str,
    inflight: Mapping[str, Inflight] | None = None,
    episodes: Mapping[str, SiteEpisodes] | None = None,
    *,
    stored: Mapping[str, Span] | None = None,
) -> Iterator[Lease]:
    """Hold the sites in `versions` (as read) for `token` while the body runs, saving the
    `moved` histories, the sites' `episodes`, the `inflight` records and the newest timestamp
    the sites will have stored (`stored`) with the claim.

    The lease is released when the body returns. When it raises, the in-flight records stay
    and the lease is left to the file's retry (`failed_lease`), so that the retry resumes the
    same try at once while other files still wait (see the module's docstring).
    """
    claim(settings, versions, moved, token, inflight, episodes, stored=stored)
    lease = Lease(settings, versions.keys(), token).start()
    try:
        yield lease
    except BaseException:
        lease.stop()
        for site_id in sorted(versions):  # site by site: each hand-over has all its tries
            _let_go(partial(_leave_to_retry, settings, site_id, token), "lease_not_left_to_retry", token)
        raise
    lease.stop()
    _let_go(partial(release, settings, versions, token), "lease_not_released", token)


def _let_go(write: Callable[[], None], event: str, token: str) -> None:
    """Give the sites up, retried in place: the message's retry cannot do it (a stored file's
    retry finds it done; a failed one's new attempt cannot take this attempt's lease). What
    still fails is logged and left to run out, `LEASE_SECONDS` later; the next file of the
    site then finds the try in flight, takes it over as abandoned and repairs its days."""
    try:
        persist(write, event, lease=token)
    except Exception:
        pass  # logged by persist at each attempt


def failed_lease(token: str) -> str:
    """What a failed holder leaves in `lease`: only another attempt of the same file may take it.

    A holder's token is `<file>#<attempt>` (each invocation its own attempt, so two deliveries
    of one file never hold its sites at once); tokens without `#` stand for a whole file."""
    return f"{token.split('#', 1)[0]}#failed"


def _leave_to_retry(settings: Settings, site_id: str, token: str) -> None:
    """Hand the site's lease on to the file's next attempt (`failed_lease`), keeping its expiry."""
    dynamodb = client(settings, "dynamodb")
    try:
        dynamodb.update_item(
            TableName=settings.sites_table,
            Key=marshal({"site_id": site_id}),
            UpdateExpression="SET lease = :failed",
            ConditionExpression="lease = :t",
            ExpressionAttributeValues=marshal({":t": token, ":failed": failed_lease(token)}),
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass  # handed on by an earlier round, or taken by another file once it ran out


def claim(
    settings: Settings,
    versions: Mapping[str, int],
    moved: Mapping[str, History],
    token: str,
    inflight: Mapping[str, Inflight] | None = None,
    episodes: Mapping[str, SiteEpisodes] | None = None,
    *,
    stored: Mapping[str, Span] | None = None,
) -> None:
    """Take the sites: one conditional write for a single site, else one transaction per 100
    sites (all of them or none, so that no history is saved for a file that could not claim
    every site); a transaction costs twice the write units, so it is kept for what needs it."""
    dynamodb = client(settings, "dynamodb")
    now = _now()
    taken: list[str] = []
    inflight, episodes, stored = inflight or {}, episodes or {}, stored or {}
    for sites in chunks(sorted(versions), TRANSACTION_ITEMS):
        actions = [
            _claim_action(
                settings,
                site,
                versions[site],
                moved.get(site),
                inflight.get(site),
                token,
                now,
                episodes.get(site),
                stored.get(site),
            )
            for site in sites
        ]
        try:
            if len(actions) == 1:
                unless_throttled(partial(dynamodb.update_item, **actions[0]["Update"]))
            else:
                unless_throttled(partial(dynamodb.transact_write_items, TransactItems=actions))
        except dynamodb.exceptions.ConditionalCheckFailedException:
            release(settings, taken, token)
            raise SitesBusy(f"site {sites[0]} is held or was changed by another file") from None
        except dynamodb.exceptions.TransactionCanceledException as exc:
            release(settings, taken, token)
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if not set(reasons) - {"None", None} <= CONFLICTS:
                raise
            busy = [site for site, code in zip(sites, reasons, strict=False) if code == "ConditionalCheckFailed"]
            which = ", ".join(busy or sites)
            raise SitesBusy(f"site {which} is held or was changed by another file") from None
        except Exception:
            release(settings, taken, token)
            raise
        taken.extend(sites)


def release(settings: Settings, site_ids: Collection[str], token: str) -> None:
    """End this file's lease (and its in-flight record) on each site, one conditional write
    each (releases need no transaction: each stands alone); a lease that ran out and went to
    another file stays theirs."""
    dynamodb = client(settings, "dynamodb")
    for site in sorted(site_ids):
        try:
            dynamodb.update_item(**_release_action(settings, site, token))
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass


def _release_action(settings: Settings, site_id: str, token: str) -> dict[str, Any]:
    """Let go of the site and move its version on: a file that read the site while this one
    was still writing judged against records not all there yet, and must read it again."""
    return {
        "TableName": settings.sites_table,
        "Key": marshal({"site_id": site_id}),
        "UpdateExpression": "SET history_version = history_version + :one REMOVE lease, lease_until, inflight",
        "ConditionExpression": "lease = :t",
        "ExpressionAttributeValues": marshal({":t": token, ":one": 1}),
    }


def _claim_action(
    settings: Settings,
    site_id: str,
    version: int,
    history: History | None,
    inflight: Inflight | None,
    token: str,
    now: int,
    episodes: SiteEpisodes | None = None,
    stored: Span | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        ":next": version + 1,
        ":seen": version,
        ":t": token,
        ":failed": failed_lease(token),
        ":now": now,
        ":until": now + LEASE_SECONDS,
    }
    update = "SET history_version = :next, lease = :t, lease_until = :until"
    if history is not None:
        update += ", history = :h"
        values[":h"] = pack(history.to_item())
    if episodes is not None:
        update += ", episodes = :e"
        values[":e"] = episodes.to_item()
    if stored is not None:
        update += ", stored_until = :su, stored_ahead = :sa"
        values[":su"], values[":sa"] = stored.until, sorted(stored.ahead)
    if inflight is not None:
        update += ", inflight = :i"
        values[":i"] = pack(inflight.to_item())
    return {
        "Update": {
            "TableName": settings.sites_table,
            "Key": marshal({"site_id": site_id}),
            "UpdateExpression": update + ("" if inflight is not None else " REMOVE inflight"),
            "ConditionExpression": (
                "(attribute_not_exists(history_version) OR history_version = :seen)"
                " AND (attribute_not_exists(lease) OR lease = :t OR lease = :failed OR lease_until < :now)"
            ),
            "ExpressionAttributeValues": marshal(values),
        }
    }


def _now() -> int:
    """Seconds since the epoch: leases are compared on the clocks of the processes that hold them."""
    return int(time.time())
