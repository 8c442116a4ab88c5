"""An alert whose publish fails, and whose claim then fails to be given back once, is still sent.

`send_file_alert` claims the file version's alert in the files table (so that duplicate
deliveries send one alert), publishes, and on a failed publish gives the claim back so the
retry sends it. Giving it back is a DynamoDB write that can fail too (bench/soak.py lost 7
of 60 alerts that way before it was retried): it is retried, and what can still be lost
(a process killed between claim and publish) is reported by `verify`
(tests/integration/test_verify_flow.py).
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

import pipeline.alerts as alerts
from local_aws.runner import Runner
from pipeline import raw_files
from pipeline.file_outcomes import file_outcomes
from tests.reliability.faults import FaultPlan, injected
from tests.reliability.workload import file_key, file_rows, register_sites, state


def test_an_alert_whose_publish_and_release_fail_is_sent_on_retry(settings, runner: Runner, monkeypatch):
    # GIVEN an alerting file (one negative generation)
    register_sites(settings)
    runner.drain()
    key = file_key(1)
    raw_files.upload(settings, key, json.dumps(file_rows(1, 4)).encode())
    # AND its first publish fails, and so does giving the alert claim back (once)
    release = alerts.release_alert
    failures = []

    def throttled_release(*args, **kwargs):
        if not failures:
            failures.append(args)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "UpdateItem")
        return release(*args, **kwargs)

    monkeypatch.setattr(alerts, "release_alert", throttled_release)
    plan = FaultPlan(fail_at=1, only=lambda call: call == "sns.Publish")

    # WHEN SQS redelivers the message until it succeeds
    with injected(settings, plan):
        plan.active = True
        runner.drain(timeout=60)
    assert plan.failed == ["sns.Publish"] and failures and runner.stats.failed == 1

    # THEN the file is processed with its anomalies and its one alert was delivered
    outcome = file_outcomes(settings, [key])[key]
    assert outcome.status == "processed" and outcome.anomalies == 3
    assert state(settings, [key])["alerts per file"] == {key: 1}
