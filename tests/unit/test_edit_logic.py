"""What an analyst's edit makes of a record, and its audit entry, without any AWS."""

from dataclasses import replace
from decimal import Decimal

import pytest

from pipeline.ops.record_edits import (
    MAX_EDITS,
    EditRefused,
    audit_rows,
    corrected,
    describe_change,
    dismissed,
    reading_key,
)
from pipeline.records import Record, derive
from pipeline.validation import Reading

AT = "2026-12-04T21:00:00Z"


def record(gen="12.5", cons="8.1", reasons=()) -> Record:
    reading = Reading("site-1", "2026-11-29T06:15:00Z", Decimal(gen), Decimal(cons))
    return derive(reading, reasons, "raw/2026/11/29/a.json", "2026-11-29T07:00:00Z")


def test_a_correction_sets_the_values_clears_the_reasons_and_logs_old_and_new():
    old = record(gen="-5", reasons=("negative_generation",))
    new = corrected(old, by="ana", why="  sign flipped  ", at=AT, generated="5")
    assert (new.energy_generated_kwh, new.energy_consumed_kwh, new.net_energy_kwh) == (
        Decimal(5),
        Decimal("8.1"),
        Decimal("-3.1"),
    )
    assert new.anomaly_reasons == () and not new.anomaly
    assert new.original == {
        "energy_generated_kwh": Decimal(-5),
        "energy_consumed_kwh": Decimal("8.1"),
        "anomaly_reasons": ["negative_generation"],
    }
    assert new.edits == (
        {
            "at": AT,
            "by": "ana",
            "action": "corrected",
            "why": "sign flipped",
            "old": {
                "energy_generated_kwh": Decimal(-5),
                "energy_consumed_kwh": Decimal("8.1"),
                "anomaly_reasons": ["negative_generation"],
            },
            "new": {"energy_generated_kwh": Decimal(5), "energy_consumed_kwh": Decimal("8.1"), "anomaly_reasons": []},
        },
    )
    assert new.to_item()["edits"] == [dict(e) for e in new.edits] and "anomaly_shard" not in new.to_item()
    assert (new.source_key, new.processed_at) == (old.source_key, old.processed_at)


def test_the_original_is_set_once_and_the_trail_grows():
    first = corrected(record(), by="ana", why="a", at=AT, consumed="9")
    second = corrected(first, by="bo", why="b", at="2026-12-04T22:00:00Z", generated="13")
    assert second.original == record().values()
    assert [e["by"] for e in second.edits] == ["ana", "bo"]
    assert second.edits[1]["old"] == first.values() and second.edits[1]["new"] == second.values()


def test_a_false_positive_keeps_the_values_and_clears_the_reasons():
    old = record(gen="-5", reasons=("negative_generation",))
    new = dismissed(old, by="ana", why="planned test", at=AT)
    assert new.energy_generated_kwh == Decimal(-5) and new.anomaly_reasons == ()
    assert new.edits[0]["action"] == "false_positive"
    assert describe_change(new.edits[0]["old"], new.edits[0]["new"]) == "reasons negative_generation -> none"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: corrected(r, by="ana", why="x", at=AT), "Give a corrected generated or consumed value"),
        (lambda r: corrected(r, by="ana", why=" ", at=AT, generated="1"), "Say why"),
        (lambda r: corrected(r, by="ana", why="x" * 501, at=AT, generated="1"), "keep it within 500"),
        (lambda r: corrected(r, by="", why="x", at=AT, generated="1"), "Say who"),
        (lambda r: corrected(r, by="ana", why="x", at=AT, generated="Infinity"), "not a finite number"),
        (lambda r: corrected(r, by="ana", why="x", at=AT, consumed="-1000001"), "beyond ±1,000,000 kWh"),
        (lambda r: corrected(r, by="ana", why="x", at=AT, consumed="abc"), "“abc” is not a number"),
        (lambda r: corrected(r, by="ana", why="x", at=AT, generated="12.50"), "nothing to correct"),
        (lambda r: dismissed(r, by="ana", why="x", at=AT), "not flagged"),
    ],
)
def test_refusals_are_sentences(edit, message):
    with pytest.raises(EditRefused, match=message):
        edit(record())


def test_a_no_data_code_is_no_false_positive_and_cannot_be_kept_by_a_correction():
    sentinel = record(gen="-9999", reasons=("sentinel_value",))
    with pytest.raises(EditRefused, match="“no data” code"):
        dismissed(sentinel, by="ana", why="x", at=AT)
    with pytest.raises(EditRefused, match="give a corrected generated value too"):
        corrected(sentinel, by="ana", why="x", at=AT, consumed="1")
    assert corrected(sentinel, by="ana", why="x", at=AT, generated="0").energy_generated_kwh == 0


def test_the_trail_is_capped():
    edited = record()
    for i in range(MAX_EDITS):
        edited = corrected(edited, by="ana", why="again", at=AT, generated=str(i + 100))
    with pytest.raises(EditRefused, match=f"edited {MAX_EDITS} times"):
        corrected(edited, by="ana", why="again", at=AT, generated="1")


def test_timestamps_are_read_as_the_cli_reads_them():
    assert reading_key("site-1", "2026-11-29T07:15:00+01:00") == ("site-1", "2026-11-29T06:15:00Z")
    assert reading_key("site-1", "2026-11-29 06:15") == ("site-1", "2026-11-29T06:15:00Z")
    with pytest.raises(EditRefused, match="not a time"):
        reading_key("site-1", "2026-11-29")
    with pytest.raises(EditRefused, match="not a site id"):
        reading_key("site 1", "2026-11-29T06:15:00Z")


def test_the_history_lists_every_edit_oldest_first():
    a = corrected(record(), by="ana", why="a", at="2026-12-04T22:00:00Z", generated="1")
    b = dismissed(record(reasons=("spike_generation",)), by="bo", why="b", at="2026-12-04T21:00:00Z")
    assert [(row.by, row.action) for row in audit_rows([a, b])] == [("bo", "false_positive"), ("ana", "corrected")]


def test_a_corrected_estimate_stays_an_estimate():
    estimate = replace(record(), estimate_method="linear")
    new = corrected(estimate, by="ana", why="the meter's own log says 2.0", at=AT, generated="2.0")
    assert new.estimated and new.estimate_method == "linear"
