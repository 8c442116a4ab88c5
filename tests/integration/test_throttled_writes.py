"""Writes that AWS throttles are tried again in place, not failed back to the queue.

A batch write refused whole for a transient reason is tried again: the puts are whole
items, so writing them twice is writing them once; a refusal that no retry can cure (a
malformed item) is raised at once, and one that outlasts the attempts raises for the
message's retry to take over. The conditional claims (a file's sites, its alert) are tried
again when throttled only: a throttled request did nothing.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from pipeline import dynamo, raw_files
from pipeline.dynamo import batch_get, batch_write
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.alert_history import delivered_alerts
from pipeline.processing import process_object
from tests.reliability.faults import FaultPlan, injected

BATCH_WRITE = "dynamodb.BatchWriteItem"


def items(n: int) -> list[dict]:
    return [
        {"site_id": "site-1", "timestamp": f"2026-12-01T00:{minute:02d}:00Z", "net_energy_kwh": 1}
        for minute in range(n)
    ]


def stored(settings, n: int) -> list[dict]:
    keys = [{"site_id": item["site_id"], "timestamp": item["timestamp"]} for item in items(n)]
    return list(batch_get(settings, settings.table, keys))


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(dynamo, "backoff", lambda attempt: None)


def test_a_throttled_batch_write_is_retried_in_place_and_every_item_stored(settings):
    with injected(settings, FaultPlan(fail_at=2, only=lambda call: call == BATCH_WRITE)) as plan:
        plan.active = True
        assert batch_write(settings, settings.table, items(60)) == 60  # three calls of 25, 25, 10
    assert plan.failed == [BATCH_WRITE] and plan.calls == [BATCH_WRITE] * 4
    assert len(stored(settings, 60)) == 60


def test_a_batch_write_throttled_on_every_attempt_raises_for_the_message_retry(settings):
    with injected(settings, FaultPlan(share=1.0, only=lambda call: call == BATCH_WRITE)) as plan:
        plan.active = True
        with pytest.raises(ClientError, match="ThrottlingException"):
            batch_write(settings, settings.table, items(3))
    assert len(plan.calls) == dynamo.MAX_ATTEMPTS and stored(settings, 3) == []


def test_a_malformed_batch_write_is_not_retried(settings):
    with injected(settings, FaultPlan()) as plan:
        plan.active = True
        with pytest.raises(ClientError, match="ValidationException"):
            batch_write(settings, settings.table, [{"site_id": "site-1", "net_energy_kwh": 1}])  # no timestamp
    assert plan.calls == [BATCH_WRITE]


@pytest.mark.parametrize("throttled", [1, 2], ids=["the claim of the sites", "the claim of the alert"])
def test_a_throttled_claim_is_retried_in_place(settings, throttled: int):
    key = "raw/2026/12/01/two-sites.json"
    rows = [
        {"site_id": site, "timestamp": "2026-12-01T00:00:00Z", "energy_generated_kwh": -5, "energy_consumed_kwh": 1}
        for site in ("site-1", "site-2")
    ]
    raw_files.upload(settings, key, json.dumps(rows).encode())
    # the claim of the two sites (a transaction), the alert's claim, the outcome (with the alert)
    claims = ("dynamodb.TransactWriteItems", "dynamodb.UpdateItem")
    plan = FaultPlan(fail_at=throttled, only=lambda call: call in claims)
    with injected(settings, plan):
        plan.active = True
        outcome = process_object(settings, key)
    assert plan.failed == [claims[0] if throttled == 1 else claims[1]]
    assert plan.calls[throttled] == plan.failed[0], plan.calls  # made again at once
    [alert] = delivered_alerts(settings).values()
    assert outcome.written == 2 and file_outcomes(settings, [key])[key].alert_message_id == alert.message_id
