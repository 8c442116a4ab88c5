"""Alert episodes through the runner on the embedded AWS: a fault that lasts alerts once,
reminds now and then, and resolves; redelivery and failed writes send nothing twice."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from local_aws.runner import Runner
from pipeline import raw_files
from pipeline.aws import client
from pipeline.events import notification_body
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.alert_history import delivered_alerts
from pipeline.ops.bootstrap import bootstrap
from pipeline.ops.episode_marks import acknowledge, open_episodes
from pipeline.sites import Site, put_sites
from tests.reliability.faults import FaultPlan, injected

START = datetime(2026, 11, 29, tzinfo=UTC)


def rows(first_hour: int, hours: int, faulty: bool = True) -> list[dict]:
    """Hourly readings of site-1; faulty ones generate a negative amount (varying, so no
    flatline fires as well)."""
    return [
        {
            "site_id": "site-1",
            "timestamp": (START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "energy_generated_kwh": -(1 + h % 3) if faulty else 2 + h % 3,
            "energy_consumed_kwh": 1 + h % 2,
        }
        for h in range(first_hour, first_hour + hours)
    ]


def key(i: int) -> str:
    return f"raw/2026/11/29/file-{i:02d}.json"


def upload(settings, runner, i: int, body: list[dict]) -> None:
    raw_files.upload(settings, key(i), json.dumps(body).encode())
    runner.drain(timeout=60)


def messages(settings) -> list[str]:
    """The subjects delivered to the local subscription, oldest first."""
    delivered = sorted(delivered_alerts(settings).values(), key=lambda a: a.sent_at)
    return [a.subject for a in delivered]


@pytest.fixture
def hourly_site(settings):
    # a capacity makes -1..-3 kWh an hour a fault for good (a site of unknown capacity would
    # learn its first negatives as its standby draw: docs/checks.md)
    put_sites(settings, [Site("site-1", kind="solar", interval_minutes=60, capacity_kw=Decimal(10))])
    return settings


def test_ten_files_of_one_fault_send_a_start_and_the_reminders_then_one_resolved(hourly_site, runner):
    settings = hourly_site
    for i in range(10):  # 2 faulty hours each: readings 00:00 to 19:00
        upload(settings, runner, i, rows(2 * i, 2))
    assert messages(settings) == [
        "Energy alerts: 1 episode started in file-00.json",
        "Energy alerts: 1 reminder in file-03.json",  # 06:00, 6 h after the start
        "Energy alerts: 1 reminder in file-06.json",  # 12:00
        "Energy alerts: 1 reminder in file-09.json",  # 18:00
    ]
    outcomes = file_outcomes(settings, [key(i) for i in range(10)])
    assert [outcomes[key(i)].alert_message_id is not None for i in range(10)] == [
        i in (0, 3, 6, 9) for i in range(10)
    ], "the files that only continue the episode send nothing"
    reminder = sorted(delivered_alerts(settings).values(), key=lambda a: a.sent_at)[1].message
    assert "REMINDER  site-1 negative_generation active since 2026-11-29T00:00:00Z: 6 more" in reminder
    assert "Anomaly Detected!\nSite: site-1\nTimestamp: 2026-11-29T06:00:00Z" in reminder

    [episode] = open_episodes(settings)
    assert (episode.site_id, episode.episode.rule, episode.episode.count) == ("site-1", "negative_generation", 20)

    upload(settings, runner, 10, rows(20, 3, faulty=False))  # clean 20:00-22:00: 2 h after the last fault
    assert messages(settings)[4:] == ["Energy alerts: 1 resolved in file-10.json"]
    assert open_episodes(settings) == []


def test_a_redelivered_file_sends_nothing_twice(hourly_site, runner):
    settings = hourly_site
    upload(settings, runner, 0, rows(0, 2))
    sqs = client(settings, "sqs")
    queue = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=notification_body(settings.bucket, key(0)))  # SQS delivers again
    runner.drain(timeout=60)
    assert messages(settings) == ["Energy alerts: 1 episode started in file-00.json"]
    [episode] = open_episodes(settings)
    assert episode.episode.count == 2, "the same readings are not counted twice"


def test_an_acknowledged_episode_sends_no_reminder_but_resolves(hourly_site, runner):
    settings = hourly_site
    upload(settings, runner, 0, rows(0, 2))
    acknowledge(settings, "site-1", "negative_generation", "ana")
    upload(settings, runner, 1, rows(2, 8))
    upload(settings, runner, 2, rows(10, 2, faulty=False))
    assert messages(settings) == [
        "Energy alerts: 1 episode started in file-00.json",
        "Energy alerts: 1 resolved in file-02.json",
    ]


# the third file's writes: claim, rollups, records, the alert's claim, publish, outcome, release
@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5, 6, 7])
def test_a_write_failing_mid_file_then_redelivered_ends_with_the_same_episodes_and_messages(
    settings, moto_server, fail_at
):
    """Three files (start, quiet, reminder): the third fails at its n-th write and is redelivered."""

    def run(plan: FaultPlan | None) -> tuple[list[str], list]:
        moto_server.reset()
        bootstrap(settings, local_alert_queue=True)
        runner = Runner(settings, retry_delay_seconds=0, wait_seconds=0)
        put_sites(settings, [Site("site-1", kind="solar", interval_minutes=60, capacity_kw=Decimal(10))])
        upload(settings, runner, 0, rows(0, 2))
        upload(settings, runner, 1, rows(2, 2))
        raw_files.upload(settings, key(2), json.dumps(rows(4, 4)).encode())
        if plan is None:
            runner.drain(timeout=60)
        else:
            with injected(settings, plan):
                plan.active = True
                runner.drain(timeout=60)
                plan.active = False
        return messages(settings), [(e.site_id, e.episode) for e in open_episodes(settings)]

    expected = run(None)
    assert expected[0][-1] == "Energy alerts: 1 reminder in file-02.json"
    plan = FaultPlan(fail_at=fail_at)
    assert run(plan) == expected, plan.failed
    assert plan.failed, "a write failed"


def test_a_file_stored_in_chunks_sends_the_one_message_one_pass_would(settings, moto_server):
    def one_message(chunk_readings: int):
        moto_server.reset()
        stack = replace(settings, chunk_readings=chunk_readings)
        bootstrap(stack, local_alert_queue=True)
        put_sites(stack, [Site("site-1", kind="solar", interval_minutes=60, capacity_kw=Decimal(10))])
        upload(stack, Runner(stack, retry_delay_seconds=0, wait_seconds=0), 0, rows(0, 20))
        [alert] = delivered_alerts(stack).values()
        return alert.subject, alert.message

    whole = one_message(5_000)
    assert whole[0] == "Energy alerts: 1 episode started, 3 reminders in file-00.json"
    assert one_message(3) == whole
