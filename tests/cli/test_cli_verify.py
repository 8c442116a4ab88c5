"""`python -m pipeline verify` and `rebuild-rollups` on the embedded stack."""

import json
from decimal import Decimal

import pytest

from pipeline.aws import client
from pipeline.dynamo import marshal
from pipeline.ops.verify import last_report
from pipeline.record_store import site_records


def _bump_a_rollup(settings, site="site-1"):
    first = next(iter(site_records(settings, site)))
    client(settings, "dynamodb").update_item(
        TableName=settings.rollup_table,
        Key=marshal({"site_id": site, "day": first.timestamp[:10]}),
        UpdateExpression="SET #h.#hh.readings = :v",
        ExpressionAttributeNames={"#h": "hours", "#hh": first.timestamp[11:13]},
        ExpressionAttributeValues=marshal({":v": Decimal(42)}),
    )
    return first.timestamp[:10]


def test_verify_passes_then_fails_then_rebuild_mends(cli, settings, runner):
    cli("simulate", "--sites", "2", "--readings", "4", "--seed", "3")
    runner.drain()
    code, out = cli("verify")
    assert code == 0 and "OK" in out.splitlines()[0] and "8 records" in out
    assert last_report(settings).ok, "saved where the app reads it"

    day = _bump_a_rollup(settings)
    code, out = cli("verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    [finding] = report["findings"]
    assert (
        finding["check"] == "rollups"
        and finding["subject"] == f"site-1 {day}"
        and "readings is 42" in finding["problem"]
    )

    code, out = cli("rebuild-rollups", "--site", "site-1")
    assert code == 0 and f"site-1 {day}:" in out and "readings 42 ->" in out and "rebuilt 1 day(s)" in out
    code, out = cli("rebuild-rollups")
    assert code == 0 and out.strip() == "rebuilt 0 day(s) across 2 site(s)"
    assert cli("verify")[0] == 0


def test_verify_refuses_a_bad_day(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli("verify", "--since", "yesterday")
    assert exc.value.code == 2
    assert "'yesterday' is not a day (YYYY-MM-DD)" in capsys.readouterr().err


def test_rebuild_says_which_site_a_file_holds_and_exits_non_zero(cli, settings, runner, capsys, monkeypatch):
    import pipeline.rollup_rebuild as rollup_rebuild
    import pipeline.site_claims as site_claims
    from pipeline.sites import Site, put_sites

    put_sites(settings, [Site("site-1", kind="solar"), Site("site-2", kind="wind")])
    site_claims.claim(settings, {"site-2": 0}, {}, "a-file-being-stored")
    monkeypatch.setattr(rollup_rebuild, "backoff", lambda attempt: None)
    code, out = cli("rebuild-rollups")
    assert code == 1 and "rebuilt 0 day(s) across 1 site(s)" in out
    assert "site site-2 is being stored by a file" in capsys.readouterr().err
