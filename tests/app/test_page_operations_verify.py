"""Operations page, verification panel: empty until run, OK on a clean stack, the problem
shown as plain text after a corruption."""

from __future__ import annotations

from decimal import Decimal

from pipeline.aws import client
from pipeline.dynamo import marshal
from pipeline.ops.verify import Finding, Report, save_report
from pipeline.record_store import site_records

OPERATIONS = "pages/operations.py"


def plain(at) -> str:
    return "\n".join(str(t.value) for t in at.text)


def test_never_verified_then_verify_now_says_ok(seeded, stack, open_page, text):
    stored = [r for i in (1, 2, 3) for r in site_records(stack, f"site-{i}")]
    readings, estimates = sum(not r.estimated for r in stored), sum(r.estimated for r in stored)
    at = open_page(OPERATIONS)
    assert "has not been verified yet" in text(at)
    at.button(key="ops_verify").click().run()
    assert not at.exception
    assert at.success and "Verified OK" in at.success[-1].value
    assert plain(at).splitlines()[0].endswith(": OK")
    assert "3 raw files" in plain(at) and f"{readings} records, {estimates} estimates" in plain(at)
    assert "has not been verified yet" not in text(at)


def test_verify_now_shows_a_bumped_rollup(seeded, stack, open_page):
    first = next(iter(site_records(stack, "site-2")))
    client(stack, "dynamodb").update_item(
        TableName=stack.rollup_table,
        Key=marshal({"site_id": "site-2", "day": first.timestamp[:10]}),
        UpdateExpression="SET #h.#hh.anomalies = :v",
        ExpressionAttributeNames={"#h": "hours", "#hh": first.timestamp[11:13]},
        ExpressionAttributeValues=marshal({":v": Decimal(77)}),
    )
    at = open_page(OPERATIONS)
    at.button(key="ops_verify").click().run()
    assert not at.exception
    assert at.error and "1 problem found" in at.error[0].value
    shown = plain(at)
    assert "PROBLEMS FOUND" in shown
    assert f"site-2 {first.timestamp[:10]}: {first.timestamp[11:13]}:00 anomalies is 77 in the rollup" in shown


def test_a_saved_report_is_shown_as_plain_text(stack, open_page, text):
    crafted = "**[click](javascript:alert(1))**"
    save_report(
        stack, Report("2026-11-29T12:00:00Z", None, (Finding("files", crafted, "no outcome"),), {"raw_files": 1})
    )
    at = open_page(OPERATIONS)
    assert "1 problem found" in at.error[0].value
    assert f"{crafted}: no outcome" in plain(at)
    assert crafted not in text(at), "never rendered as Markdown"
