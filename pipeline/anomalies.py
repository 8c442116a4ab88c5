"""Anomaly rules: pure functions that name what is wrong with a reading.

Two kinds of rule:
- value rules judge one reading with what is known of its site (capacity, location, and
  for a site of unknown capacity the standby draw learned from its idle readings);
- series rules judge a reading against the site's recent readings (spike, flatline,
  interpolation) and, on solar sites, against the site's daily shape (generation spikes,
  drops and daytime zeros), and find missing intervals between readings. Their memory of a
  site is a small `History` (the last values, the last timestamp, the best generation of
  each UTC hour on recent days and recent standby draws), kept with the site, so no rule
  ever reads raw readings back from the table.

To add a value rule, write `def rule(reading, context) -> reason | None` and list it in
VALUE_RULES. Thresholds have defaults here and can be overridden per site (docs/checks.md).
Every reason code, what triggers it and its settings: docs/checks.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from pipeline.estimates import MAX_ESTIMATES, Edge, Estimate, Policy, Profile, estimate_gap
from pipeline.sites import Site
from pipeline.solar import sun_elevation_degrees
from pipeline.timestamps import parse_utc, utc_text
from pipeline.validation import Reading

GENERATION_SERIES = frozenset(
    {"flatline_generation", "interpolated_generation", "spike_generation", "drop_generation", "daytime_zero"}
)
SERIES_REASONS = GENERATION_SERIES | {"spike_consumption", "flatline_consumption"}
MIN_SPREAD_KWH = Decimal("0.05")
HOURS = 24  # the daily shape is kept per UTC hour: the same hours every day, whatever the timezone
SHAPE_PLACES = Decimal("0.000001")
DEFAULT_INTERVAL_MINUTES = 15  # for the night rule's margin when a site's cadence is unknown
SENTINEL_VALUE = "sentinel_value"
# What meters and loggers write for "no data": -1,000,000 and the 9s, 16-bit integer limits.
SENTINELS = frozenset(
    Decimal(v)
    for v in (
        "-1000000", "-999999", "-99999", "-9999.99", "-9999", "-999.99", "-999",
        "9999", "9999.99", "99999", "99999.99", "999999",
        "32767", "-32767", "-32768", "65535", "-65535",
    )
)  # fmt: skip


def setting(default: float, low: float, high: float, doc: str) -> Any:
    """A rule setting: its default, the range a site may set it in (inclusive), what it does."""
    return field(default=default, metadata={"range": (low, high), "doc": doc})


@dataclass(frozen=True)
class Thresholds:
    """Rule settings; each can be overridden per site in the sites table (`thresholds` map),
    within its range (`setting`)."""

    night_sun_elevation_deg: float = setting(-3.0, -18.0, 5.0, "the sun is down below this elevation (degrees)")
    night_generation_share: float = setting(
        0.02, 0.0, 1.0, "share of one interval's rated energy a solar site may report at night"
    )
    spike_window: int = setting(8, 2, 96, "recent readings the spike rule compares with")
    spike_min_history: int = setting(4, 2, 96, "fewer recent readings than this and the spike rule stays quiet")
    spike_k: float = setting(4.0, 1.0, 50.0, "how many robust deviations from the median count as a spike")
    spike_floor_share: float = setting(
        0.5, 0.0, 10.0, "the deviation is never taken as less than this share of the median"
    )
    flatline_readings: int = setting(4, 2, 1000, "identical non-zero values in a row that make a flatline")
    flatline_clipping_share: float = setting(
        0.97, 0.5, 1.0, "a solar site holding at least this share of its rated energy is clipping, not flatlined"
    )
    interpolated_readings: int = setting(
        4, 2, 1000, "steps in a row of one non-zero size that make generation look interpolated"
    )
    interpolation_tolerance_share: float = setting(
        4e-6, 0.0, 0.01, "steps closer than this share of rated energy (of the shape's peak) count as one size"
    )
    shape_min_days: int = setting(3, 1, 60, "days of a solar site's readings before its daily shape is trusted")
    shape_decay: float = setting(
        0.98, 0.5, 1.0, "each new day, the remembered best of every hour is multiplied by this (seasons move)"
    )
    generation_spike_factor: float = setting(
        1.5,
        1.05,
        20.0,
        "solar generation jumping above this many times both the reading before and the recent best of its hour "
        "(or the next) is a spike",
    )
    generation_drop_share: float = setting(
        0.1, 0.0, 0.9, "solar generation below this share of the reading before and of its hour's best is a drop"
    )
    shape_min_share: float = setting(
        0.3,
        0.0,
        1.0,
        "share of rated energy (of the shape's peak if capacity is unknown): drops and daytime zeros are judged "
        "only in hours whose recent best reaches it, and a spike must pass its hour's best by it",
    )
    daytime_sun_elevation_deg: float = setting(
        20.0, 0.0, 60.0, "on a located solar site, zero generation with the sun this high is a daytime zero"
    )
    gap_tolerance: float = setting(1.5, 1.0, 100.0, "a step longer than this many intervals is a gap")
    future_tolerance_minutes: int = setting(15, 0, 1440, "clock skew allowed before a timestamp is in the future")
    standby_share: float = setting(
        0.03, 0.0, 1.0, "share of one interval's rated energy an idle generator may draw (negative generation)"
    )
    standby_readings: int = setting(
        8, 2, 96, "idle readings a site of unknown capacity learns its standby draw from before it is allowed"
    )
    standby_k: float = setting(
        5.0, 1.0, 100.0, "a site of unknown capacity may draw this many times its learned median standby"
    )
    interpolate_max_minutes: int = setting(
        120, 0, 1440, "gaps up to this long are estimated by linear interpolation (0: never)"
    )
    estimate_max_hours: int = setting(
        168, 0, 744, "longer gaps up to this long are estimated from the site's profile (0: no estimates at all)"
    )
    profile_days: int = setting(
        7, 1, 60, "recent days the profile averages each hour over (estimates need half of them seen)"
    )

    @classmethod
    def for_site(cls, site: Site | None) -> Thresholds:
        overrides = (site.thresholds if site else None) or {}
        known = {f.name: f.type for f in fields(cls)}
        values = {k: (int(v) if known[k] == "int" else float(v)) for k, v in overrides.items() if k in known}
        return replace(cls(), **values)


@dataclass(frozen=True)
class Context:
    site: Site | None
    thresholds: Thresholds
    now: datetime
    learned_standby_kwh: Decimal | None = None  # see `learned_standby`


@dataclass(frozen=True)
class History:
    """What the series rules remember of a site: recent normal consumption (newest last),
    the runs of repeated values and of equal generation steps, the daily shape of its
    generation (the best normal value of each UTC hour on recent days, decaying day by day,
    and today's so far) and, for a site of unknown capacity, the draw of its recent idle
    readings (`standby`, kWh, newest last). Bounded: a few lists of 24 numbers at most."""

    last_timestamp: str | None = None
    consumed: tuple[Decimal, ...] = ()
    generated_run: int = 0  # how many readings in a row repeated the last generated value
    consumed_run: int = 0
    last_generated: Decimal | None = None
    last_consumed: Decimal | None = None
    standby: tuple[Decimal, ...] = ()
    generated_step: Decimal | None = None  # the last change of generation
    step_run: int = 0  # how many changes in a row had that size
    shape_day: str | None = None  # the UTC day `today` is gathering (YYYY-MM-DD)
    shape_days: int = 0  # how many days with generation the shape has been gathered over
    shape: tuple[Decimal, ...] = ()  # the best of each hour on recent days; empty until the first day ends
    today: tuple[Decimal, ...] = ()
    profile: Profile = field(default_factory=Profile)  # the average of each hour on recent days, for estimates
    # `last_timestamp` as a datetime, not stored: set with it by `detect_file` (`_moved_to`)
    last_moment: datetime | None = field(default=None, compare=False, repr=False)

    def to_item(self) -> dict[str, object]:
        item: dict[str, object] = {
            "consumed": list(self.consumed),
            "generated_run": self.generated_run,
            "consumed_run": self.consumed_run,
        }
        for name in ("last_timestamp", "last_generated", "last_consumed", "generated_step", "shape_day"):
            if getattr(self, name) is not None:
                item[name] = getattr(self, name)
        for name in ("step_run", "shape_days", "shape", "today", "standby"):  # left out while empty
            value = getattr(self, name)
            if value:
                item[name] = list(value) if isinstance(value, tuple) else value
        if self.profile.weight:
            item["profile_generated"] = list(self.profile.generated)
            item["profile_consumed"] = list(self.profile.consumed)
            item["profile_weight"] = list(self.profile.weight)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, object] | None) -> History:
        if not item:
            return cls()
        return cls(
            last_timestamp=item.get("last_timestamp"),  # type: ignore[arg-type]
            consumed=tuple(item.get("consumed", ())),  # type: ignore[arg-type]
            generated_run=int(item.get("generated_run", 0)),  # type: ignore[arg-type]
            consumed_run=int(item.get("consumed_run", 0)),  # type: ignore[arg-type]
            last_generated=item.get("last_generated"),  # type: ignore[arg-type]
            last_consumed=item.get("last_consumed"),  # type: ignore[arg-type]
            standby=tuple(item.get("standby", ())),  # type: ignore[arg-type]
            generated_step=item.get("generated_step"),  # type: ignore[arg-type]
            step_run=int(item.get("step_run", 0)),  # type: ignore[arg-type]
            shape_day=item.get("shape_day"),  # type: ignore[arg-type]
            shape_days=int(item.get("shape_days", 0)),  # type: ignore[arg-type]
            shape=tuple(item.get("shape", ())),  # type: ignore[arg-type]
            today=tuple(item.get("today", ())),  # type: ignore[arg-type]
            profile=Profile(
                generated=tuple(item.get("profile_generated", ())),  # type: ignore[arg-type]
                consumed=tuple(item.get("profile_consumed", ())),  # type: ignore[arg-type]
                weight=tuple(int(w) for w in item.get("profile_weight", ())),  # type: ignore[attr-defined]
            ),
        )


@dataclass(frozen=True)
class Gap:
    """Readings a site should have sent and did not: `missing` intervals from `first_missing`."""

    site_id: str
    first_missing: str
    missing: int


@dataclass(frozen=True)
class Detection:
    reasons: dict[tuple[str, str], tuple[str, ...]]
    gaps: list[Gap]
    histories: dict[str, History] = field(default_factory=dict)  # sites whose history moved
    estimates: list[Estimate] = field(default_factory=list)  # for the gaps' intervals (`pipeline.estimates`)


# Value rules -----------------------------------------------------------------------------

ValueRule = Callable[[Reading, Context], str | None]


def is_sentinel(value: Decimal) -> bool:
    """Larger codes (a 32-bit register's 4294967295) never get here: validation refuses any
    value beyond 1,000,000 kWh (`..._out_of_range`)."""
    return value in SENTINELS


def sentinel_value(reading: Reading, context: Context) -> str | None:
    """A meter's "no data" code in either column: the reading holds no energy at all."""
    holds = is_sentinel(reading.energy_generated_kwh) or is_sentinel(reading.energy_consumed_kwh)
    return SENTINEL_VALUE if holds else None


def negative_generation(reading: Reading, context: Context) -> str | None:
    """Negative generation beyond what an idle generator draws.

    Inverters draw power while idle (standby, "night tare"), so real meters report small
    negative generation every night: that is allowed up to `standby_allowance`.
    """
    generated = reading.energy_generated_kwh
    if generated >= 0:
        return None
    allowed = standby_allowance(context)
    return None if allowed is not None and -generated <= allowed else "negative_generation"


def standby_allowance(context: Context) -> Decimal | None:
    """How much an idle generator may draw in one reading: a share of its rated energy, or
    for a site of unknown capacity what it learned from its own idle readings (None until
    it has: then every negative is flagged, as no absolute figure fits a 1 kW roof and a
    10 MW plant alike)."""
    most = rated_energy(context.site)
    if most is not None:
        return Decimal(str(context.thresholds.standby_share)) * most
    return context.learned_standby_kwh


def negative_consumption(reading: Reading, context: Context) -> str | None:
    return "negative_consumption" if reading.energy_consumed_kwh < 0 else None


def rated_energy(site: Site | None) -> Decimal | None:
    """The most energy the site can make in one reading interval."""
    if site is None or site.capacity_kw is None or site.interval_minutes is None:
        return None
    return site.capacity_kw * Decimal(site.interval_minutes) / Decimal(60)


def generation_above_capacity(reading: Reading, context: Context) -> str | None:
    most = rated_energy(context.site)
    return "generation_above_capacity" if most is not None and reading.energy_generated_kwh > most else None


def solar_at_night(reading: Reading, context: Context) -> str | None:
    """A solar site reporting generation while the sun is down all through the interval.
    A timestamp in the future is wrong, so where the sun was then says nothing."""
    site = context.site
    if site is None or not located_solar(site) or future_timestamp(reading, context):
        return None
    most = rated_energy(site)
    allowed = Decimal(str(context.thresholds.night_generation_share)) * most if most is not None else Decimal("0.01")
    if reading.energy_generated_kwh <= allowed:
        return None
    return "solar_at_night" if sun_down(reading, site, context.thresholds) else None


def located_solar(site: Site | None) -> bool:
    return site is not None and site.kind == "solar" and site.latitude is not None and site.longitude is not None


def sun_down(reading: Reading, site: Site, thresholds: Thresholds) -> bool:
    """The sun below the night elevation all through the reading's interval (and one more
    on each side, for clocks that stamp the start or the end); `site` has a location."""
    moment = reading.moment
    step = timedelta(minutes=site.interval_minutes or DEFAULT_INTERVAL_MINUTES)
    highest = max(
        sun_elevation_degrees(float(site.latitude), float(site.longitude), when)  # type: ignore[arg-type]
        for when in (moment - step, moment, moment + step)
    )
    return highest < thresholds.night_sun_elevation_deg


def future_timestamp(reading: Reading, context: Context) -> str | None:
    limit = context.now + timedelta(minutes=context.thresholds.future_tolerance_minutes)
    return "future_timestamp" if reading.moment > limit else None


VALUE_RULES: tuple[ValueRule, ...] = (
    sentinel_value,
    negative_generation,
    negative_consumption,
    generation_above_capacity,
    solar_at_night,
    future_timestamp,
)
NO_DATA_RULES: tuple[ValueRule, ...] = (sentinel_value, future_timestamp)  # rules that judge no energy


def value_reasons(reading: Reading, context: Context) -> tuple[str, ...]:
    """The value rules' reasons. A reading that holds a sentinel is told only that (and a
    wrong timestamp): -9999 is no data, not a negative reading, and 65535 no surge."""
    rules = NO_DATA_RULES if sentinel_value(reading, context) else VALUE_RULES
    return tuple(reason for rule in rules if (reason := rule(reading, context)) is not None)


def learned_standby(history: History, thresholds: Thresholds) -> Decimal | None:
    """A site's standby allowance from its recent idle draws: `standby_k` times their median
    (robust to the odd fault among them), once it has `standby_readings` of them."""
    if len(history.standby) < thresholds.standby_readings:
        return None
    return Decimal(str(thresholds.standby_k)) * median(history.standby)


def learn_standby(history: History, reading: Reading, found: tuple[str, ...], context: Context) -> History:
    """Remember an idle reading's draw, for a site of unknown capacity.

    Idle means the sun is down at a solar site with a location (a daytime negative there is
    never learned: it may be a meter wired backwards), and any negative generation at other
    sites. Until the site has learned enough draws every one is kept; afterwards only those
    within the allowance, so a fault never teaches the rule that it is normal.
    """
    site, generated = context.site, reading.energy_generated_kwh
    if generated >= 0 or rated_energy(site) is not None:
        return history
    if located_solar(site) and not sun_down(reading, site, context.thresholds):  # type: ignore[arg-type]
        return history
    learning = len(history.standby) < context.thresholds.standby_readings
    if not learning and "negative_generation" in found:
        return history
    return replace(history, standby=(*history.standby, -generated)[-context.thresholds.standby_readings :])


# Series rules ----------------------------------------------------------------------------


def is_spike(value: Decimal, recent: Sequence[Decimal], thresholds: Thresholds, floor: Decimal) -> bool:
    """Hampel test: far from the recent median in robust deviations (MAD, with a floor).

    The floor keeps ordinary swings quiet: never less than a share of the median or than
    `floor` itself.
    """
    if len(recent) < thresholds.spike_min_history or value < 0:
        return False
    middle = median(recent)
    mad = median(abs(v - middle) for v in recent)
    spread = max(Decimal("1.4826") * mad, Decimal(str(thresholds.spike_floor_share)) * abs(middle), floor)
    return abs(value - middle) > Decimal(str(thresholds.spike_k)) * spread


def _run(value: Decimal, last: Decimal | None, run: int) -> int:
    return run + 1 if last is not None and value == last and value != 0 else 1


def _generated_run(value: Decimal, last: Decimal | None, run: int) -> int:
    """Only positive generation can be stuck: a night of zeros or of an inverter's steady
    standby draw repeats a value by nature."""
    return _run(value, last, run) if value > 0 else 1


def detect_file(
    readings: Sequence[Reading],
    sites: Mapping[str, Site],
    histories: Mapping[str, History],
    now: datetime,
    judged: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
) -> Detection:
    """Reasons for every reading of a file, the gaps it reveals and the sites' new histories.

    Series rules judge a reading once, when it arrives after the site's last reading. A
    reading that arrives again (redelivery, replay, or late) keeps the series reasons it was
    given then (`judged`), so processing a file twice stores the same records. Gaps are
    found, and estimated, likewise once.
    """
    judged = judged or {}
    reasons: dict[tuple[str, str], tuple[str, ...]] = {}
    gaps: list[Gap] = []
    estimates: list[Estimate] = []
    moved: dict[str, History] = {}
    by_site: dict[str, list[Reading]] = {}
    for reading in readings:
        by_site.setdefault(reading.site_id, []).append(reading)
    for site_id, site_readings in by_site.items():
        site = sites.get(site_id)
        context = Context(site, Thresholds.for_site(site), now)
        start = histories.get(site_id, History())
        history = _with_moment(start)
        learned_from = None
        for reading in sorted(site_readings, key=lambda r: r.timestamp):
            key = (site_id, reading.timestamp)
            if history.standby is not learned_from:
                learned_from = history.standby
                context = replace(context, learned_standby_kwh=learned_standby(history, context.thresholds))
            found = value_reasons(reading, context)
            in_order = history.last_timestamp is None or reading.timestamp > history.last_timestamp
            if "future_timestamp" in found or not in_order:
                reasons[key] = found + tuple(r for r in judged.get(key, ()) if r in SERIES_REASONS)
                continue
            prior = history
            if SENTINEL_VALUE in found:  # no data: the series rules neither judge nor remember it
                reasons[key] = found
                gap = _gap(reading, history.last_moment, context)
                history = replace(history, last_timestamp=reading.timestamp, last_moment=reading.moment)
            else:
                series, history, gap = _judge_in_order(reading, found, history, context)
                reasons[key] = found + series
                history = learn_standby(history, reading, found, context)
                if not reasons[key]:
                    history = replace(history, profile=_learned(history.profile, reading, context))
            if gap:
                gaps.append(gap)
                estimates += _estimates(reading, reasons[key], prior, context, MAX_ESTIMATES - len(estimates))
        if history != start:
            moved[site_id] = history
    return Detection(reasons, gaps, moved, estimates)


def _with_moment(history: History) -> History:
    """A history read from the table, with its last timestamp parsed (once per site and
    file chunk; the histories `detect_file` makes carry their reading's moment)."""
    if history.last_timestamp is None or history.last_moment is not None:
        return history
    return replace(history, last_moment=parse_utc(history.last_timestamp))


def _policy(context: Context) -> Policy:
    thresholds = context.thresholds
    return Policy(
        interval_minutes=context.site.interval_minutes,  # type: ignore[union-attr]  # known: there is a gap
        interpolate_max_minutes=thresholds.interpolate_max_minutes,
        estimate_max_hours=thresholds.estimate_max_hours,
        profile_days=thresholds.profile_days,
    )


def _learned(profile: Profile, reading: Reading, context: Context) -> Profile:
    """The site's profile with a normal reading (a site of unknown cadence learns none)."""
    if context.site is None or context.site.interval_minutes is None:
        return profile
    cap = max(1, 60 // context.site.interval_minutes) * context.thresholds.profile_days
    return profile.learn(reading.moment.hour, reading.energy_generated_kwh, reading.energy_consumed_kwh, cap)


def _estimates(
    reading: Reading, found: tuple[str, ...], prior: History, context: Context, budget: int
) -> list[Estimate]:
    """Estimates for the gap before `reading`. Interpolation needs normal values on both
    sides: a flagged reading or a meter's "no data" leaves the gap to the profile."""
    before = None
    if prior.last_generated is not None and prior.last_consumed is not None:
        before = (prior.last_generated, prior.last_consumed)
    after = None if found else (reading.energy_generated_kwh, reading.energy_consumed_kwh)
    return estimate_gap(
        reading.site_id,
        prior.last_moment,  # type: ignore[arg-type]  # known: there is a gap
        reading.moment,
        Edge(before, after),
        prior.profile,
        _policy(context),
        budget,
    )


def _judge_in_order(
    reading: Reading, found: tuple[str, ...], history: History, context: Context
) -> tuple[tuple[str, ...], History, Gap | None]:
    thresholds = context.thresholds
    generated, consumed = reading.energy_generated_kwh, reading.energy_consumed_kwh
    series: list[str] = []
    most = rated_energy(context.site)
    gen_run = _generated_run(generated, history.last_generated, history.generated_run)
    cons_run = _run(consumed, history.last_consumed, history.consumed_run)
    clipping = most is not None and generated >= Decimal(str(thresholds.flatline_clipping_share)) * most
    if gen_run >= thresholds.flatline_readings and not clipping:
        series.append("flatline_generation")
    if cons_run >= thresholds.flatline_readings:
        series.append("flatline_consumption")
    shape = _rolled_shape(history, reading.timestamp, thresholds)
    scale = most if most is not None else max(shape.shape, default=Decimal(0))
    step, step_run = _steps(generated, history, thresholds, scale)
    if step_run >= thresholds.interpolated_readings:
        series.append("interpolated_generation")
    if not found and context.site is not None and context.site.kind == "solar":
        series += _against_shape(reading, shape, context, scale)
    # Only consumption is tested for robust spikes. Generation follows the weather, which
    # moves faster than a robust window can follow; it is judged against the site's daily
    # shape instead, which only wide departures leave.
    negative = "negative_consumption" in found
    spike = not negative and is_spike(consumed, history.consumed, thresholds, MIN_SPREAD_KWH)
    if spike:
        series.append("spike_consumption")
    keep = not (negative or spike)  # the window remembers only normal values
    today = shape.today
    if not found and GENERATION_SERIES.isdisjoint(series):  # the shape remembers only normal values
        today = _with_reading(today, reading.moment.hour, generated)
    gap = _gap(reading, history.last_moment, context)
    history = History(
        last_timestamp=reading.timestamp,
        consumed=(*history.consumed, consumed)[-thresholds.spike_window :] if keep else history.consumed,
        generated_run=gen_run,
        consumed_run=cons_run,
        last_generated=generated,
        last_consumed=consumed,
        standby=history.standby,
        generated_step=step,
        step_run=step_run,
        shape_day=shape.shape_day,
        shape_days=shape.shape_days,
        shape=shape.shape,
        today=today,
        profile=history.profile,
        last_moment=reading.moment,
    )
    return tuple(series), history, gap


def _steps(generated: Decimal, history: History, thresholds: Thresholds, scale: Decimal) -> tuple[Decimal | None, int]:
    """The change since the last reading, and how many changes in a row had one non-zero size.

    A meter does not climb or fall in equal steps for long; a gap filled by linear
    interpolation does. Steps within a tolerance (a share of the site's rated energy) are
    one size, so rounding to the last decimal does not break a line.
    """
    if history.last_generated is None or generated <= 0:
        return None, 0  # a night of zeros or of standby draw is no line
    step = generated - history.last_generated
    tolerance = Decimal(str(thresholds.interpolation_tolerance_share)) * scale
    if abs(step) <= tolerance:
        return step, 0  # flat: the flatline rule's business
    previous = history.generated_step
    same = previous is not None and history.step_run > 0 and abs(step - previous) <= tolerance
    return step, history.step_run + 1 if same else 1


def _rolled_shape(history: History, timestamp: str, thresholds: Thresholds) -> History:
    """The history with its daily shape moved on to `timestamp`'s day: when a new day starts,
    the day gathered so far joins the shape (the best of each hour), which first decays."""
    day = timestamp[:10]
    if history.shape_day == day:
        return history
    if history.shape_day is None or not history.today:
        return replace(history, shape_day=day, today=())
    decay = Decimal(str(thresholds.shape_decay))
    old = history.shape or (Decimal(0),) * HOURS
    shape = tuple(max(t, (o * decay).quantize(SHAPE_PLACES)) for t, o in zip(history.today, old, strict=True))
    lit = max(history.today) > 0  # a day of zeros (snow, an outage) teaches nothing of the shape
    return replace(history, shape_day=day, shape_days=history.shape_days + lit, shape=shape, today=())


def _with_reading(today: tuple[Decimal, ...], hour: int, generated: Decimal) -> tuple[Decimal, ...]:
    """Today's best of each hour, with this reading (of UTC hour `hour`)."""
    today = today or (Decimal(0),) * HOURS
    if generated <= today[hour]:
        return today
    return (*today[:hour], generated, *today[hour + 1 :])


def _against_shape(reading: Reading, history: History, context: Context, scale: Decimal) -> list[str]:
    """Spikes, drops and daytime zeros of a solar site's generation, against its daily shape.

    The shape is the best normal generation of each UTC hour over recent days: a clear
    day's curve. A spike is a jump from the reading before to well above the best of its
    hour (and of the next, as mornings rise); a clear day after cloudy ones rises with the
    sun, not in one interval. A drop is a fall from one interval to the next to a small
    share of both the reading before and the hour's best, in an hour that is sunny on clear
    days: a cloud dims a panel, it rarely darkens it for a whole interval. A daytime zero is
    the first zero while the site should be generating (`_daytime`); the zeros after it are
    the same event (a day under snow is one finding, not forty).
    """
    thresholds = context.thresholds
    generated = reading.energy_generated_kwh
    if generated == 0:
        if not _daytime(reading.moment, history, context, scale):
            return []
        continues = history.last_generated == 0 and _daytime(history.last_moment, history, context, scale)
        return [] if continues else ["daytime_zero"]
    consecutive = _consecutive(history.last_moment, reading.moment, context.site)
    if history.shape_days < thresholds.shape_min_days or scale <= 0 or not consecutive:
        return []
    before = history.last_generated or Decimal(0)
    hour = reading.moment.hour
    best = history.shape[hour]
    nearby = max(best, history.shape[(hour + 1) % HOURS])
    factor = Decimal(str(thresholds.generation_spike_factor))
    floor = Decimal(str(thresholds.shape_min_share)) * scale  # near dawn, doubling a trickle is no spike
    if generated > factor * max(nearby, before) and generated - nearby >= floor:
        return ["spike_generation"]
    share = Decimal(str(thresholds.generation_drop_share))
    if best >= floor and before >= best / 2 and generated < share * min(before, best):
        return ["drop_generation"]
    return []


def _daytime(moment: datetime | None, history: History, context: Context, scale: Decimal) -> bool:
    """Whether a solar site should be generating through the interval ending at `moment`:
    the sun well up where its location is known, else an hour its shape says is sunny."""
    site, thresholds = context.site, context.thresholds
    if moment is None or site is None:
        return False
    if site.latitude is not None and site.longitude is not None:
        step = timedelta(minutes=site.interval_minutes or DEFAULT_INTERVAL_MINUTES)
        return all(  # at both ends of the interval (all() stops at night's first)
            sun_elevation_degrees(float(site.latitude), float(site.longitude), when)
            >= thresholds.daytime_sun_elevation_deg
            for when in (moment, moment - step)
        )
    if history.shape_days < thresholds.shape_min_days or scale <= 0:
        return False
    return history.shape[moment.hour] >= Decimal(str(thresholds.shape_min_share)) * scale


def _consecutive(previous: datetime | None, moment: datetime, site: Site | None) -> bool:
    """Whether `moment` is the interval right after `previous` (a drop is a fall from one
    interval to the next; after missing readings nobody knows when the fall began)."""
    if previous is None or site is None or site.interval_minutes is None:
        return False
    return moment - previous == timedelta(minutes=site.interval_minutes)


def _gap(reading: Reading, previous: datetime | None, context: Context) -> Gap | None:
    if previous is None or context.site is None or context.site.interval_minutes is None:
        return None  # without the site's cadence, no step is too long
    step = timedelta(minutes=context.site.interval_minutes)
    elapsed = reading.moment - previous
    if elapsed <= step * context.thresholds.gap_tolerance:
        return None
    missing = max(1, round(elapsed / step) - 1)
    return Gap(reading.site_id, utc_text(previous + step), missing)
