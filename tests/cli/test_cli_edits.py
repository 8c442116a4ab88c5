"""`python -m pipeline edit`: correct a reading, mark a flagged one as a false positive, list the edits."""

import csv
import io
import json

import pytest

from pipeline import raw_files

ROWS = [
    {"site_id": "site-1", "timestamp": "2026-11-29T06:00:00Z", "energy_generated_kwh": -5, "energy_consumed_kwh": 2},
    {
        "site_id": "site-1",
        "timestamp": "2026-11-29T06:15:00Z",
        "energy_generated_kwh": 12.5,
        "energy_consumed_kwh": 8.1,
    },
]


@pytest.fixture
def processed(settings, runner):
    """GIVEN site-1 with a flagged reading at 06:00 and a plain one at 06:15."""
    raw_files.upload(settings, "raw/2026/11/29/a.json", json.dumps(ROWS).encode())
    runner.drain(timeout=60)


def history(cli, *args) -> list[dict]:
    code, out = cli("edit", "history", "site-1", *args)
    assert code == 0
    return list(csv.DictReader(io.StringIO(out)))


def records(cli) -> dict[str, dict]:
    code, out = cli("records", "--site", "site-1", "--format", "json")
    assert code == 0
    return {r["timestamp"]: r for r in json.loads(out)}


def test_correct_dismiss_and_the_history(cli, processed):
    code, out = cli("edit", "correct", "site-1", "2026-11-29T06:15:00", "--generated", "20", "--why", "meter swapped")
    assert code == 0
    assert out.startswith("site-1 2026-11-29T06:15:00Z: corrected by arn:aws:"), "the AWS identity by default"
    assert out.rstrip().endswith(": generated 12.5 -> 20")
    code, out = cli(
        "edit", "dismiss", "site-1", "2026-11-29T07:00:00+01:00", "--why", "planned battery test", "--by", "Ana"
    )
    assert (code, out) == (
        0,
        "site-1 2026-11-29T06:00:00Z: marked as a false positive by Ana: reasons negative_generation -> none\n",
    )
    shown = records(cli)
    assert shown["2026-11-29T06:15:00Z"]["energy_generated_kwh"] == "20"
    assert shown["2026-11-29T06:00:00Z"]["anomaly"] is False
    assert shown["2026-11-29T06:00:00Z"]["energy_generated_kwh"] == "-5"

    rows = sorted(history(cli), key=lambda r: r["reading"])  # oldest edit first; these two share a second
    assert [(r["reading"], r["action"], r["change"], r["why"]) for r in rows] == [
        ("2026-11-29T06:00:00Z", "false_positive", "reasons negative_generation -> none", "planned battery test"),
        ("2026-11-29T06:15:00Z", "corrected", "generated 12.5 -> 20", "meter swapped"),
    ]
    assert rows[0]["by"] == "Ana" and rows[1]["by"].startswith("arn:aws:") and rows[1]["at"].endswith("Z")
    assert [r["reading"] for r in history(cli, "--start", "2026-11-29T06:10:00Z")] == ["2026-11-29T06:15:00Z"]
    assert history(cli, "--end", "2026-11-28") == []


def test_refusals_say_why_without_a_traceback(cli, capsys, processed):
    cases = [
        (("correct", "site-1", "2026-11-29T06:15:00Z", "--why", "x"), 2, "give --generated, --consumed or both"),
        (("correct", "site-1", "2026-11-29T06:15:00Z", "--generated", "1", "--why", "  "), 2, "Say why"),
        (("correct", "site-1", "2026-11-29T06:15:00Z", "--generated", "NaN", "--why", "x"), 2, "not a finite number"),
        (("correct", "site-1", "2026-11-29T06:15:00Z", "--consumed", "lots", "--why", "x"), 2, "is not a number"),
        (("correct", "site-1", "yesterday", "--generated", "1", "--why", "x"), 2, "“yesterday” is not a time"),
        (("correct", "site-1", "2026-11-29T06:05:00Z", "--generated", "1", "--why", "x"), 1, "no stored reading"),
        (("dismiss", "site-1", "2026-11-29T06:15:00Z", "--why", "x", "--by", "Ana"), 1, "is not flagged"),
    ]
    capsys.readouterr()  # the processing log of the fixture
    for args, exit_code, message in cases:
        code, out = cli("edit", *args)
        err = capsys.readouterr().err
        assert (code, out) == (exit_code, ""), args
        assert err.startswith("error: ") and message in err and "Traceback" not in err, (args, err)
    assert history(cli) == []


def test_why_is_required(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("edit", "dismiss", "site-1", "2026-11-29T06:00:00Z")
    assert exited.value.code == 2
    assert "--why" in capsys.readouterr().err
