"""One big file holds up nobody, and a site is never held for long by a holder that is gone."""

from __future__ import annotations

import json

import pytest

import pipeline.site_claims as site_claims
from local_aws.runner import Runner
from pipeline import raw_files
from pipeline.aws import client
from pipeline.dynamo import marshal
from pipeline.file_outcomes import file_outcomes
from pipeline.ops.simulation import make_sites
from pipeline.sites import put_sites, site_items
from tests.conftest import wait_for


def rows(site: str, count: int) -> list[dict]:
    return [
        {
            "site_id": site,
            "timestamp": f"2026-11-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            "energy_generated_kwh": 1,
            "energy_consumed_kwh": 2,
        }
        for i in range(count)
    ]


def test_a_small_file_is_not_held_up_by_a_big_file_of_another_site(settings):
    runner = Runner(settings, wait_seconds=1, concurrency=2)
    runner.drain()  # S3's test event
    big, small = "raw/2026/11/29/big.json", "raw/2026/11/29/small.json"
    raw_files.upload(settings, big, json.dumps(rows("site-big", 20_000)).encode())
    runner.start()
    try:
        wait_for(lambda: site_items(settings, ["site-big"]), timeout=30)  # the big file is being stored
        raw_files.upload(settings, small, json.dumps(rows("site-small", 1)).encode())
        wait_for(lambda: small in file_outcomes(settings, [small]), timeout=30)
        assert big not in file_outcomes(settings, [big]), "the small file was done while the big one was still stored"
        wait_for(lambda: big in file_outcomes(settings, [big]), timeout=300)
    finally:
        runner.stop()
    assert file_outcomes(settings, [big])[big].written == 20_000


def test_a_lease_is_renewed_while_its_holder_lives_and_let_go_after(settings, monkeypatch):
    put_sites(settings, make_sites(1))
    monkeypatch.setattr(site_claims, "RENEW_SECONDS", 0.05)
    with site_claims.claimed(settings, {"site-1": 0}, {}, "a-file") as lease:
        first = int(site_items(settings, ["site-1"])["site-1"]["lease_until"])
        monkeypatch.setattr(site_claims, "_now", lambda: first + 10)  # ten seconds on
        wait_for(lambda: int(site_items(settings, ["site-1"])["site-1"]["lease_until"]) > first, timeout=10)
        lease.check()
    assert "lease" not in site_items(settings, ["site-1"])["site-1"]


def test_a_holder_whose_lease_was_taken_stops_writing(settings, monkeypatch):
    put_sites(settings, make_sites(1))
    monkeypatch.setattr(site_claims, "RENEW_SECONDS", 0.05)
    with pytest.raises(site_claims.LeaseLost), site_claims.claimed(settings, {"site-1": 0}, {}, "slow-file") as lease:
        client(settings, "dynamodb").update_item(  # it ran out while the holder was stalled, and another file took it
            TableName=settings.sites_table,
            Key=marshal({"site_id": "site-1"}),
            UpdateExpression="SET lease = :other",
            ExpressionAttributeValues=marshal({":other": "next-file"}),
        )
        wait_for(lambda: lease.lost, timeout=10)
        lease.check()
    assert site_items(settings, ["site-1"])["site-1"]["lease"] == "next-file", "the other file's lease stays"


def test_a_holder_that_could_not_renew_for_most_of_its_lease_stops_before_writing(settings, monkeypatch):
    put_sites(settings, make_sites(1))
    with site_claims.claimed(settings, {"site-1": 0}, {}, "stalled-file") as lease:
        lease.check()  # just claimed
        stalled = site_claims._now() + site_claims.LEASE_SECONDS - site_claims.RENEW_SECONDS
        monkeypatch.setattr(site_claims, "_now", lambda: stalled)  # no renewal went through meanwhile
        with pytest.raises(site_claims.LeaseLost, match="not renewed"):
            lease.check()
