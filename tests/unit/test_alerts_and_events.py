import json
from decimal import Decimal

import pytest

from pipeline.alerts import Findings, compose_alert, compose_group_alert
from pipeline.anomalies import Gap
from pipeline.episodes import MISSING_DATA, RESOLVED, STARTED, Notice
from pipeline.events import MalformedEvent, notification_body, objects_in_notification, objects_in_sqs_body
from pipeline.records import derive
from pipeline.validation import Reading
from tests.conftest import load_event


def anomaly(i: int):
    reading = Reading(f"site-{i}", f"2026-11-29T06:{i:02d}:00Z", Decimal("-10"), Decimal("20"))
    return derive(reading, ("negative_generation",), "raw/2026/11/29/a.json", "2026-11-29T07:00:00Z")


def started(site_id: str, rule: str, at: str = "2026-11-29T06:00:00Z") -> Notice:
    return Notice(STARTED, site_id, rule, at, at, 1, 1)


def found(anomalies, gaps=(), max_listed=20) -> Findings:
    """Findings of readings that each start an episode of their site."""
    notices = [started(r.site_id, why) for r in anomalies for why in r.anomaly_reasons]
    notices += [started(g.site_id, MISSING_DATA) for g in gaps]
    return Findings().add(anomalies, list(gaps), max_listed, notices)


def test_alert_keeps_the_original_lines():
    alert = compose_alert("raw/2026/11/29/a.json", found([anomaly(1)]), max_listed=20)
    assert (
        "Anomaly Detected!\nSite: site-1\nTimestamp: 2026-11-29T06:01:00Z\nGenerated: -10\nConsumed: 20"
        in alert.message
    )
    assert alert.subject == "Energy alerts: 1 episode started in a.json"
    assert "STARTED   site-1 negative_generation at 2026-11-29T06:00:00Z" in alert.message
    assert "python -m pipeline alerts ack SITE RULE" in alert.message and "Operations page" in alert.message


def test_alert_is_capped_with_a_count_of_the_rest():
    alert = compose_alert("raw/2026/11/29/a.json", found([anomaly(i) for i in range(25)]), max_listed=20)
    assert alert.message.count("Anomaly Detected!") == 20
    assert "... and 5 more anomalies in this file." in alert.message
    assert alert.message.startswith("25 episodes started in raw/2026/11/29/a.json")
    assert "... and 5 more changes." in alert.message


def test_readings_that_only_continue_an_episode_are_not_listed():
    resolved = Notice(RESOLVED, "site-2", "negative_generation", "2026-11-29T01:00:00Z", "2026-11-29T06:00:00Z", 3, 0)
    findings = Findings().add([anomaly(1), anomaly(2)], [], 20, [started("site-1", "negative_generation"), resolved])
    alert = compose_alert("raw/2026/11/29/a.json", findings, max_listed=20)
    assert alert.message.count("Anomaly Detected!") == 1 and "Site: site-2\n" not in alert.message
    assert "RESOLVED  site-2 negative_generation since 2026-11-29T01:00:00Z" in alert.message
    assert alert.subject == "Energy alerts: 1 episode started, 1 resolved in a.json"


def test_findings_gathered_chunk_by_chunk_say_what_one_pass_would_and_stay_bounded():
    findings = Findings()
    for start in range(0, 25, 7):
        chunk = [anomaly(i) for i in range(start, min(25, start + 7))]
        findings = findings.add(chunk, [], 20, [started(r.site_id, "negative_generation") for r in chunk])
    findings = Findings.from_item(findings.to_item())  # as kept with the file's progress
    assert len(findings.anomalies) == 20 and findings.anomaly_count == 25
    chunked = compose_alert("raw/2026/11/29/a.json", findings, 20)
    assert chunked == compose_alert("raw/2026/11/29/a.json", found([anomaly(i) for i in range(25)]), 20)
    assert chunked.message.count("Anomaly Detected!") == 20
    assert "... and 5 more anomalies in this file." in chunked.message


def test_a_group_message_has_each_files_part_as_its_own_message_would_and_the_rest_summed_up():
    files = [(f"raw/2026/11/29/f{i}.json", found([anomaly(i)])) for i in range(4)]
    alert = compose_group_alert(files, max_listed=3)
    assert alert.subject == "Energy alerts: 4 episodes started in 4 files"
    blocks = alert.message.split("\n\n")
    assert blocks[0] == "4 episodes started in 4 files:" and blocks[-1].startswith("To stop the reminders")
    for key, findings in files[:3]:  # each file's part, as its own message has it, before the line on how to ack
        assert "\n\n".join(compose_alert(key, findings, 3).message.split("\n\n")[:-1]) in alert.message
    assert blocks[-2] == "... and 1 more file:\n1 episode started in raw/2026/11/29/f3.json"
    assert alert.message.count("To stop the reminders") == 1
    assert compose_group_alert(files[:1], 3) == compose_alert(*files[0], 3), "one file: its own message"


def test_gaps_are_reported_as_anomalies_of_the_site():
    alert = compose_alert("raw/2026/11/29/a.json", found([], [Gap("site-3", "2026-11-29T05:00:00Z", 4)]), max_listed=20)
    assert alert.subject == "Energy alerts: 1 episode started in a.json"
    assert "STARTED   site-3 missing_data" in alert.message
    assert "Missing readings:\nSite: site-3 missed 4 readings from 2026-11-29T05:00:00Z" in alert.message


def test_sqs_event_fixture_names_the_decoded_key():
    body = load_event("sqs_s3_put.json")["Records"][0]["body"]
    [obj] = objects_in_sqs_body(body)
    assert (obj.bucket, obj.key) == ("energy-raw-data", "raw/2026/11/29/site readings+1.json")


def test_s3_test_event_names_nothing():
    assert objects_in_sqs_body(load_event("sqs_s3_test_event.json")["Records"][0]["body"]) == []


def test_direct_s3_event():
    [obj] = objects_in_notification(load_event("s3_put.json"))
    assert obj.key == "raw/2026/11/29/site readings+1.json" and obj.event_time == "2026-11-29T09:06:19.023Z"


@pytest.mark.parametrize(
    "body", ["not json", "[1]", json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "{}"]
)
def test_malformed_messages(body):
    with pytest.raises(MalformedEvent):
        objects_in_sqs_body(body)


def test_notification_body_round_trips():
    [obj] = objects_in_sqs_body(notification_body("b", "raw/x y+z.json"))
    assert (obj.bucket, obj.key) == ("b", "raw/x y+z.json")


def test_subject_is_what_sns_accepts():
    alert = compose_alert("raw/2026/11/29/" + "é" * 120 + ".json", found([anomaly(1)]), max_listed=20)
    assert len(alert.subject) < 100 and alert.subject.isascii() and "\n" not in alert.subject
