"""Estimates for missing intervals: the "E" of validation, estimation and editing.

When a reading arrives after a gap (`anomalies.Gap`), the intervals the site did not send
are estimated, as utilities do before billing or reporting:
- a short gap (up to `interpolate_max_minutes`, 2 h by default) by linear interpolation
  between the readings either side of it, which are both known at that moment;
- a longer one (up to `estimate_max_hours`) from the site's profile: the average reading of
  each UTC hour over its recent days (`Profile`, about `profile_days` of them), kept with the
  site's history so that no estimate reads the table back. An hour the profile has not seen
  on enough days gets no estimate: the interval stays missing, and says so.

An estimate is stored as such (`Record.estimate_method`), never as a reading: the rollups
count its energy apart, and a reading that arrives later for the same interval replaces
it. The missing intervals are counted as missing all the same.

Everything here is pure. The number of estimates one call may make is bounded
(`MAX_ESTIMATES`): a file whose readings lie weeks apart must not make millions of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pipeline.timestamps import utc_text

LINEAR, PROFILE = "linear", "profile"
HOURS = 24
PLACES = Decimal("0.000001")
ZEROS, NO_WEIGHT = (Decimal(0),) * HOURS, (0,) * HOURS
MAX_ESTIMATES = 20_000  # per chunk of a file: twice the readings of the largest chunk


@dataclass(frozen=True)
class Estimate:
    site_id: str
    timestamp: str
    energy_generated_kwh: Decimal
    energy_consumed_kwh: Decimal
    method: str


@dataclass(frozen=True)
class Profile:
    """The average normal reading of each UTC hour over a site's recent days.

    `weight[h]` counts the readings behind hour h's averages, up to `days` days' worth: until
    then each reading adds to a plain average, afterwards to a moving one that forgets a
    reading of `days` days ago as it learns a new one (the reference days move on).
    """

    generated: tuple[Decimal, ...] = ()
    consumed: tuple[Decimal, ...] = ()
    weight: tuple[int, ...] = ()

    def learn(self, hour: int, generated: Decimal, consumed: Decimal, cap: int) -> Profile:
        """The profile with a normal reading of UTC hour `hour`; `cap` is the readings of
        `profile_days` days in one hour (the weight at which the average starts to move)."""
        gen, cons, weight = self.generated or ZEROS, self.consumed or ZEROS, self.weight or NO_WEIGHT
        n = min(weight[hour] + 1, cap)
        new_gen = (gen[hour] + (generated - gen[hour]) / n).quantize(PLACES)
        new_cons = (cons[hour] + (consumed - cons[hour]) / n).quantize(PLACES)
        return Profile(_put(gen, hour, new_gen), _put(cons, hour, new_cons), _put(weight, hour, n))

    def at(self, hour: int, per_hour: int, days: int) -> tuple[Decimal, Decimal] | None:
        """UTC hour `hour`'s average reading, once it rests on at least half the reference days."""
        if not self.weight or self.weight[hour] < per_hour * max(1, (days + 1) // 2):
            return None
        return self.generated[hour], self.consumed[hour]


def _put(values: tuple, index: int, value: object) -> tuple:
    return (*values[:index], value, *values[index + 1 :])


@dataclass(frozen=True)
class Policy:
    """A site's estimation settings (from its thresholds) and cadence."""

    interval_minutes: int
    interpolate_max_minutes: float
    estimate_max_hours: float
    profile_days: int

    @property
    def per_hour(self) -> int:
        return max(1, 60 // self.interval_minutes)


@dataclass(frozen=True)
class Edge:
    """The readings either side of a gap, for interpolation (None when a side has no usable values)."""

    before: tuple[Decimal, Decimal] | None
    after: tuple[Decimal, Decimal] | None


def estimate_gap(
    site_id: str, start: datetime, end: datetime, edge: Edge, profile: Profile, policy: Policy, budget: int
) -> list[Estimate]:
    """Estimates for the intervals between the readings at `start` and `end`, at most
    `budget` of them."""
    step = timedelta(minutes=policy.interval_minutes)
    elapsed = end - start
    missing = elapsed - step  # the gap's length: 8 quarter-hours missing make a 2 h gap
    if budget <= 0 or missing > timedelta(hours=policy.estimate_max_hours):
        return []
    slots = list(_slots(start, end, step, budget))
    if missing <= timedelta(minutes=policy.interpolate_max_minutes) and edge.before and edge.after:
        return [_linear(site_id, slot, start, elapsed, edge.before, edge.after) for slot in slots]
    found = []
    for slot in slots:
        average = profile.at(slot.hour, policy.per_hour, policy.profile_days)
        if average is not None:
            found.append(Estimate(site_id, utc_text(slot), average[0], average[1], PROFILE))
    return found


def _slots(start: datetime, end: datetime, step: timedelta, budget: int) -> Iterator[datetime]:
    """The interval ends a site on this cadence skipped, strictly between the two readings."""
    slot = start + step
    for _ in range(budget):
        if slot >= end:
            return
        yield slot
        slot += step


def _linear(
    site_id: str,
    slot: datetime,
    start: datetime,
    elapsed: timedelta,
    before: tuple[Decimal, Decimal],
    after: tuple[Decimal, Decimal],
) -> Estimate:
    share = Decimal(int((slot - start).total_seconds())) / Decimal(int(elapsed.total_seconds()))
    generated, consumed = ((b + (a - b) * share).quantize(PLACES) for b, a in zip(before, after, strict=True))
    return Estimate(site_id, utc_text(slot), generated, consumed, LINEAR)
