"""Alert episodes: when a site's fault alerts, reminds, stays quiet and resolves."""

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

from pipeline.anomalies import Gap
from pipeline.episodes import (
    MISSING_DATA,
    REMINDER,
    RESOLVED,
    STARTED,
    Policy,
    SiteEpisodes,
    advance_sites,
)

POLICY = Policy(repeat=timedelta(hours=6), resolve_after=timedelta(hours=2))
SPIKE = "spike_consumption"


def reading(hour: float, *reasons: str, site: str = "site-1"):
    """A stored reading of `site` at 2026-11-29 00:00 + `hour` (up to 2 days on)."""
    day, rest = divmod(int(hour * 60), 24 * 60)
    timestamp = f"2026-11-{29 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"
    return SimpleNamespace(site_id=site, timestamp=timestamp, anomaly_reasons=reasons)


def run(state, readings, gaps=(), counted=()):
    moved, notices = advance_sites({"site-1": state}, readings, list(gaps), POLICY, counted)
    return moved["site-1"], [(n.kind, n.rule, n.at, n.new) for n in notices]


def hourly(first: int, last: int, *reasons: str):
    return [reading(h, *reasons) for h in range(first, last + 1)]


def test_the_first_faulty_reading_starts_an_episode():
    state, notices = run(SiteEpisodes(), [reading(0), reading(1, SPIKE)])
    assert notices == [(STARTED, SPIKE, "2026-11-29T01:00:00Z", 1)]
    assert state.open[SPIKE].state() == "active" and state.open[SPIKE].count == 1


def test_more_faults_within_the_repeat_interval_are_silent():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    state, notices = run(state, hourly(1, 5, SPIKE))
    assert notices == [] and state.open[SPIKE].count == 6


def test_a_reminder_after_the_interval_counts_the_faults_since_the_last_message():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    state, notices = run(state, hourly(1, 13, SPIKE))
    assert notices == [
        (REMINDER, SPIKE, "2026-11-29T06:00:00Z", 6),
        (REMINDER, SPIKE, "2026-11-29T12:00:00Z", 6),
    ]
    assert state.open[SPIKE].count == 14


def test_clean_readings_for_resolve_after_resolve_it_once():
    state, _ = run(SiteEpisodes(), hourly(0, 2, SPIKE))
    state, notices = run(state, [reading(3)])
    assert notices == [] and SPIKE in state.open, "1 h clean is not enough"
    state, notices = run(state, [reading(4), reading(5)])
    assert notices == [(RESOLVED, SPIKE, "2026-11-29T04:00:00Z", 2)]
    assert state.open == {}
    assert run(state, [reading(6)])[1] == []


def test_a_fault_after_resolution_starts_a_new_episode():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    state, notices = run(state, [reading(3), reading(4, SPIKE)])
    assert notices == [(RESOLVED, SPIKE, "2026-11-29T03:00:00Z", 0), (STARTED, SPIKE, "2026-11-29T04:00:00Z", 1)]


def test_an_acknowledged_episode_sends_no_reminders_but_still_resolves():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    state = replace(state, open={SPIKE: replace(state.open[SPIKE], acknowledged_by="ana", acknowledged_at="x")})
    state, notices = run(state, hourly(1, 20, SPIKE))
    assert notices == [] and state.open[SPIKE].state() == "acknowledged"
    state, notices = run(state, [reading(22)])
    assert [n[0] for n in notices] == [RESOLVED]


def test_a_snooze_stops_reminders_until_its_time_then_they_come_again():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    state = replace(state, open={SPIKE: replace(state.open[SPIKE], snoozed_until="2026-11-29T15:00:00Z")})
    state, notices = run(state, hourly(1, 14, SPIKE))
    assert notices == [] and state.open[SPIKE].state() == "snoozed until 2026-11-29T15:00:00Z"
    state, notices = run(state, [reading(15, SPIKE)])
    assert notices == [(REMINDER, SPIKE, "2026-11-29T15:00:00Z", 15)]
    assert state.open[SPIKE].state() == "active"


def test_missing_data_is_a_rule_counted_in_missing_intervals_from_the_reading_after_the_gap():
    gap = Gap("site-1", "2026-11-29T01:00:00Z", 4)
    state, notices = run(SiteEpisodes(), [reading(0), reading(5)], [gap])
    assert notices == [(STARTED, MISSING_DATA, "2026-11-29T05:00:00Z", 4)]
    assert state.open[MISSING_DATA].started == "2026-11-29T01:00:00Z"
    state, notices = run(state, [reading(6), reading(7)])
    assert notices == [(RESOLVED, MISSING_DATA, "2026-11-29T07:00:00Z", 0)]


def test_rules_are_separate_episodes():
    state, notices = run(SiteEpisodes(), [reading(0, SPIKE, "negative_generation")])
    assert sorted(n[1] for n in notices) == ["negative_generation", SPIKE]
    state, notices = run(state, [reading(1, SPIKE), reading(2, SPIKE)])
    assert notices == [(RESOLVED, "negative_generation", "2026-11-29T02:00:00Z", 0)]


def test_readings_counted_by_an_earlier_file_fire_nothing_again():
    first = hourly(0, 7, SPIKE)
    state, _ = run(SiteEpisodes(), first)
    again, notices = run(state, first, counted={(r.site_id, r.timestamp) for r in first})
    assert notices == [] and again == state


def test_a_late_fault_is_announced_started_and_resolved_at_once():
    state, _ = run(SiteEpisodes(), hourly(0, 5))  # a newer file came first
    state, notices = run(state, [reading(1.5, SPIKE)])
    assert notices == [(STARTED, SPIKE, "2026-11-29T01:30:00Z", 1), (RESOLVED, SPIKE, "2026-11-29T05:00:00Z", 0)]
    assert state.open == {}


def test_a_late_fault_inside_the_resolve_time_keeps_its_episode_open():
    state, _ = run(SiteEpisodes(), hourly(0, 5))
    state, notices = run(state, [reading(4, SPIKE)])
    assert notices == [(STARTED, SPIKE, "2026-11-29T04:00:00Z", 1)] and SPIKE in state.open


def test_the_state_survives_its_item_and_keeps_peoples_marks_on_a_retry():
    state, _ = run(SiteEpisodes(), [reading(0, SPIKE)])
    assert SiteEpisodes.from_item(state.to_item()) == state
    marked = replace(state, open={SPIKE: replace(state.open[SPIKE], acknowledged_by="ana", acknowledged_at="t")})
    assert state.with_marks_of(marked).open[SPIKE].acknowledged_by == "ana"
    later, _ = run(SiteEpisodes(), [reading(9, SPIKE)])
    assert state.with_marks_of(later) == state, "a mark on another episode of the rule is not this one's"
