"""Operations page: health, recent anomalies, alerts, quarantined rows, dead letters and redrive."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from pipeline.aws import client
from pipeline.events import notification_body
from pipeline.file_outcomes import file_outcomes
from pipeline.raw_files import raw_key, upload

OPERATIONS = "pages/operations.py"


def frames(at) -> dict[str, object]:
    """The tab tables by the tab's label (without its count)."""
    found = {}
    for tab in at.tabs:
        label = tab.label.split(" (")[0]
        found[label] = tab.dataframe[0].value if tab.dataframe else None
    return found


def send_dead_letter(settings, key: str) -> None:
    sqs = client(settings, "sqs")
    url = sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=notification_body(settings.bucket, key))


def test_empty_stack(open_page, text):
    at = open_page(OPERATIONS)
    said = text(at)
    for line in (
        "No anomalies stored yet",
        "No open alert episodes",
        "No alerts sent",
        "No quarantined rows",
        "dead-letter queue is empty",
    ):
        assert line in said
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Queued messages"]) <= 1  # the s3:TestEvent at most
    assert metrics["Dead letters"] == "0"
    assert metrics["Last processed file"] == "none today"


def test_anomalies_alerts_and_health(seeded, stack, open_page):
    at = open_page(OPERATIONS)
    tables = frames(at)
    anomalies = tables["Recent anomalies"]
    assert len(anomalies) > 0
    assert (anomalies["reasons"] != "").all()
    assert anomalies["timestamp"].is_monotonic_decreasing
    alerts = tables["Alerts sent"]
    outcomes = file_outcomes(stack, [upload.key for upload in seeded]).values()
    alerting = [o.source_key for o in outcomes if o.episode_changes]
    assert alerting, "the simulated files carry anomalies, which start episodes"
    assert sorted(alerts["source_key"]) == sorted(alerting), "one alert per file that changed an episode's state"
    assert alerts["delivered"].all(), "each reached the local subscription"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Last processed file"].endswith("ago") or metrics["Last processed file"] == "just now"
    assert metrics["Lag, last file"].endswith("s")
    assert "Anomaly Detected!" in at.code[0].value, "the alert text as sent"


def test_quarantined_rows_with_reasons(stack, process, open_page):
    rows = [
        {"site_id": "site-1", "timestamp": "2026-11-01T00:00:00Z", "energy_generated_kwh": 1, "energy_consumed_kwh": 2},
        {"site_id": "", "timestamp": "yesterday", "energy_generated_kwh": "lots", "energy_consumed_kwh": 2},
    ]
    upload(stack, raw_key("mixed.json", datetime.now(UTC), stack), json.dumps(rows).encode())
    upload(stack, raw_key("broken.json", datetime.now(UTC), stack), b"[{")
    process()
    at = open_page(OPERATIONS)
    quarantined = frames(at)["Quarantined rows"]
    by_file = {key.rsplit("/", 1)[-1]: group for key, group in quarantined.groupby("source_key")}
    assert set(by_file) == {"mixed.json", "broken.json"}
    bad_row = by_file["mixed.json"].iloc[0]
    assert bad_row["row"] == 2
    assert "site_id_missing" in bad_row["reasons"] and "timestamp_invalid" in bad_row["reasons"]
    assert "invalid_json" in by_file["broken.json"].iloc[0]["reasons"]


def test_redrive_a_dead_letter(seeded, stack, process, open_page, text):
    send_dead_letter(stack, seeded[0].key)
    at = open_page(OPERATIONS)
    letters = frames(at)["Dead letters"]
    assert len(letters) == 1
    assert letters["files"].iloc[0] == seeded[0].key
    assert {m.label: m.value for m in at.metric}["Dead letters"] == "1"

    at.button(key="ops_redrive").click().run()
    assert not at.exception
    assert at.toast and "Redrove 1 message" in at.toast[0].value
    assert "dead-letter queue is empty" in text(at)
    process()  # the redriven message is processed like any other


def test_open_episodes_are_acknowledged_and_snoozed_with_the_buttons(stack, process, open_page):
    rows = [
        {"site_id": site, "timestamp": "2026-11-29T06:00:00Z", "energy_generated_kwh": -5, "energy_consumed_kwh": 1}
        for site in ("site-1", "site-2")
    ]
    upload(stack, raw_key("faults.json", datetime.now(UTC), stack), json.dumps(rows).encode())
    process()
    at = open_page(OPERATIONS)
    episodes = frames(at)["Open alert episodes"]
    assert [tuple(r) for r in episodes[["site_id", "rule", "state", "since", "count"]].itertuples(index=False)] == [
        ("site-1", "negative_generation", "active", "2026-11-29T06:00:00Z", 1),
        ("site-2", "negative_generation", "active", "2026-11-29T06:00:00Z", 1),
    ]

    at.text_input(key="ops_ack_name").input("Ana").run()
    at.button(key="ops_ack").click().run()
    assert not at.exception
    assert at.toast and "site-1 negative_generation acknowledged by Ana" in at.toast[0].value

    at.selectbox(key="ops_episode").select(1).run()
    at.date_input(key="ops_snooze_day").set_value(date(2026, 11, 30)).run()
    at.time_input(key="ops_snooze_time").set_value(time(8, 30)).run()
    at.button(key="ops_snooze").click().run()
    assert not at.exception
    episodes = frames(at)["Open alert episodes"]
    assert list(episodes["state"]) == ["acknowledged", "snoozed until 2026-11-30T08:30:00Z"]
    assert list(episodes["acknowledged_by"].fillna("")) == ["Ana", ""]
