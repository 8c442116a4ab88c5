"""`python -m pipeline sites ...`: import, show, set and export the registry on the embedded stack."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

from pipeline import raw_files
from pipeline.aws import client
from pipeline.dynamo import marshal, unpack
from pipeline.ops.simulation import make_sites
from pipeline.record_store import site_records
from pipeline.sites import Site, get_site_item, put_sites

GOOD = (
    "site_id,name,kind,capacity_kw,interval_minutes,latitude,longitude,timezone,thresholds.spike_k\n"
    "north,North roof,solar,12.5,15,52.52,13.405,Europe/Berlin,5\n"
    "harbour,Harbour,wind,2000.125,10,53.55,9.99,,\n"
)


def test_import_good_csv_stores_exact_metadata(cli, settings, tmp_path, capsys):
    path = tmp_path / "sites.csv"
    path.write_text(GOOD)
    code, out = cli("sites", "import", str(path))
    assert code == 0
    assert out.splitlines()[-1] == "imported 2 site(s): 2 new, 0 changed, 0 unchanged"
    assert "north: new: name (unset) -> North roof; kind (unset) -> solar; capacity_kw (unset) -> 12.5" in out
    item = get_site_item(settings, "north")
    assert item["capacity_kw"] == Decimal("12.5") and item["timezone"] == "Europe/Berlin"
    assert item["thresholds"] == {"spike_k": Decimal(5)} and item["interval_minutes"] == 15
    assert get_site_item(settings, "harbour")["capacity_kw"] == Decimal("2000.125")
    assert "timezone" not in get_site_item(settings, "harbour")

    code, out = cli("sites", "import", str(path))
    assert (code, out) == (0, "imported 2 site(s): 0 new, 0 changed, 2 unchanged\n")
    code, out = cli("sites")
    assert out == "harbour\twind\t2000.125 kW\nnorth\tsolar\t12.5 kW\n"


def test_a_bad_file_is_refused_whole_with_every_reason(cli, settings, tmp_path, capsys):
    path = tmp_path / "sites.json"
    path.write_text(
        json.dumps(
            [
                {"site_id": "fine", "capacity_kw": 5},
                {"site_id": "north", "kind": "tidal", "capacity_kw": -1},
                {"site_id": "south", "timezone": "Mars/Olympus", "thresholds": {"spike_k": 99}},
            ]
        )
    )
    code, out = cli("sites", "import", str(path))
    err = capsys.readouterr().err
    assert (code, out) == (1, "")
    assert err.startswith("error: 4 problems, nothing was imported:\n")
    assert "row 2 (north): kind must be one of solar, wind, consumer, hybrid, not 'tidal'" in err
    assert "row 2 (north): capacity_kw must be greater than 0, not -1" in err
    assert "row 3 (south): timezone 'Mars/Olympus' is not an IANA time zone name" in err
    assert "row 3 (south): thresholds.spike_k must be from 1 to 50" in err
    assert get_site_item(settings, "fine") is None, "all or nothing: the good row is not written either"


def test_import_of_a_missing_or_binary_file_says_so(cli, tmp_path, capsys):
    assert cli("sites", "import", str(tmp_path / "nope.csv"))[0] == 1
    assert "No such file or directory" in capsys.readouterr().err
    path = tmp_path / "sites.xlsx"
    path.write_bytes(b"PK\x03\x04\xff\xfe")
    assert cli("sites", "import", str(path))[0] == 1
    assert capsys.readouterr().err == (
        "error: 1 problem, nothing was imported:\n  the file is not UTF-8 text: save it as UTF-8 CSV or JSON\n"
    )


def test_set_changes_only_the_named_values_and_keeps_the_pipelines_state(cli, settings, runner, capsys):
    put_sites(settings, make_sites(1))
    raw_files.upload(
        settings,
        "raw/2026/11/29/one.json",
        b'[{"site_id": "site-1", "timestamp": "2026-11-29T06:00:00Z", '
        b'"energy_generated_kwh": 1, "energy_consumed_kwh": 1}]',
    )
    runner.drain()
    before = get_site_item(settings, "site-1")
    assert unpack(before["history"])["last_timestamp"] == "2026-11-29T06:00:00Z"

    code, out = cli("sites", "set", "site-1", "capacity_kw=5", "timezone=Europe/Berlin", "thresholds.spike_k=5")
    assert code == 0
    assert out == (
        f"site-1: capacity_kw {before['capacity_kw']} -> 5; timezone (unset) -> Europe/Berlin; "
        "thresholds.spike_k (default 4) -> 5\n"
    )
    after = get_site_item(settings, "site-1")
    assert after["capacity_kw"] == 5 and after["timezone"] == "Europe/Berlin" and after["thresholds"] == {"spike_k": 5}
    kept = ("history", "history_version", "kind", "latitude", "longitude", "name", "interval_minutes")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}

    code, out = cli("sites", "set", "site-1", "timezone=", "thresholds.spike_k=")
    assert (code, out) == (0, "site-1: timezone Europe/Berlin -> (unset); thresholds.spike_k 5 -> (default 4)\n")
    assert "timezone" not in get_site_item(settings, "site-1")


def test_set_refuses_bad_values_and_unknown_sites(cli, settings, capsys):
    put_sites(settings, make_sites(1))
    code, _ = cli("sites", "set", "site-1", "capacity_kw=0", "interval_minutes=7.5")
    assert code == 1
    assert capsys.readouterr().err == (
        "error: 2 problems, nothing was changed:\n"
        "  site site-1: capacity_kw must be greater than 0, not 0\n"
        "  site site-1: interval_minutes must be a whole number of minutes, not 7.5\n"
    )
    code, _ = cli("sites", "set", "site-9", "capacity_kw=5")
    assert code == 1
    assert capsys.readouterr().err == (
        "error: there is no site 'site-9': `sites` lists them, `sites import FILE` adds them\n"
    )
    assert get_site_item(settings, "site-9") is None


def test_show_prints_metadata_and_what_the_pipeline_keeps(cli, settings, runner, capsys):
    code, out = cli("sites", "show", "nowhere")
    assert code == 1 and "there is no site 'nowhere'" in capsys.readouterr().err
    put_sites(settings, make_sites(1))
    cli("sites", "set", "site-1", "thresholds.gap_tolerance=3")
    raw_files.upload(
        settings,
        "raw/2026/11/29/one.json",
        b'[{"site_id": "site-1", "timestamp": "2026-11-29T06:15:00Z", '
        b'"energy_generated_kwh": 1, "energy_consumed_kwh": 1}]',
    )
    runner.drain()
    code, out = cli("sites", "show", "site-1")
    assert code == 0
    assert out.splitlines()[0] == "site_id          site-1"
    assert "timezone         (unset: UTC)" in out
    assert "thresholds       gap_tolerance=3" in out
    assert "last reading     2026-11-29T06:15:00Z" in out
    assert "lease            not held" in out
    [version] = [line.split()[-1] for line in out.splitlines() if line.startswith("history version")]
    assert int(version) >= 2, "claimed and let go once"

    # WHEN a file holds the site (its lease runs out in a minute)
    until = int(time.time()) + 60
    client(settings, "dynamodb").update_item(
        TableName=settings.sites_table,
        Key=marshal({"site_id": "site-1"}),
        UpdateExpression="SET lease = :t, lease_until = :u",
        ExpressionAttributeValues=marshal({":t": "some-file#1", ":u": until}),
    )
    held = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"lease            held by a file being stored, until {held}" in cli("sites", "show", "site-1")[1]


def test_export_round_trips_through_import(cli, settings, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(GOOD)
    cli("sites", "import", str(path))
    for fmt in ("csv", "json"):
        target = tmp_path / f"export.{fmt}"
        code, out = cli("sites", "export", "--format", fmt, "-o", str(target))
        assert (code, out) == (0, f"wrote 2 site(s) to {target}\n")
        code, out = cli("sites", "import", str(target))
        assert (code, out) == (0, "imported 2 site(s): 0 new, 0 changed, 2 unchanged\n")
    code, out = cli("sites", "export", "--format", "json")
    north = next(s for s in json.loads(out) if s["site_id"] == "north")
    assert (
        north["capacity_kw"] == 12.5 and north["thresholds"] == {"spike_k": 5} and north["timezone"] == "Europe/Berlin"
    )
    code, out = cli("sites", "export")
    assert out.splitlines()[2].startswith("north,North roof,solar,12.5,15,52.52,13.405,Europe/Berlin,")


def test_new_capacity_applies_to_the_next_file(cli, settings, runner):
    """GIVEN a 100 kW site reading every 15 minutes (25 kWh an interval at most)."""
    put_sites(settings, make_sites(1))
    cli("sites", "set", "site-1", "capacity_kw=100", "interval_minutes=15", "kind=consumer")

    def upload(name: str, timestamp: str) -> None:
        body = json.dumps(
            [{"site_id": "site-1", "timestamp": timestamp, "energy_generated_kwh": 20, "energy_consumed_kwh": 1}]
        )
        raw_files.upload(settings, f"raw/2026/11/29/{name}.json", body.encode())
        runner.drain()

    upload("before", "2026-11-29T10:00:00Z")
    # WHEN the capacity drops to 40 kW (10 kWh an interval)
    assert cli("sites", "set", "site-1", "capacity_kw=40")[0] == 0
    upload("after", "2026-11-29T10:15:00Z")

    records = {r.timestamp: r.anomaly_reasons for r in site_records(settings, "site-1")}
    assert records["2026-11-29T10:00:00Z"] == (), "the file stored before keeps its flags"
    assert records["2026-11-29T10:15:00Z"] == ("generation_above_capacity",)


def test_an_import_cut_short_by_aws_says_so_and_importing_again_finishes_it(cli, settings, tmp_path, capsys):
    from tests.reliability.faults import FaultPlan, injected

    path = tmp_path / "sites.csv"
    path.write_text(GOOD)
    plan = FaultPlan(fail_at=2, only=lambda call: call == "dynamodb.UpdateItem")  # the second site's write
    with injected(settings.for_people(), plan):  # the CLI's clients (interactive retries)
        plan.active = True
        code, out = cli("sites", "import", str(path))
    assert plan.failed == ["dynamodb.UpdateItem"] and code == 1 and "imported" not in out
    assert capsys.readouterr().err.startswith("error: ")
    written = [s for s in ("harbour", "north") if (get_site_item(settings, s) or {}).get("kind")]
    assert len(written) == 1, "one site was written before the failure"

    code, out = cli("sites", "import", str(path))
    assert code == 0 and out.splitlines()[-1] == "imported 2 site(s): 1 new, 0 changed, 1 unchanged"
    assert get_site_item(settings, "north")["capacity_kw"] == Decimal("12.5")
    assert get_site_item(settings, "harbour")["kind"] == "wind"


def test_a_site_given_by_its_id_alone_is_registered_and_an_existing_one_kept(cli, settings):
    # GIVEN a site registered with its metadata
    put_sites(settings, [Site("north", kind="solar", capacity_kw=Decimal(5))])
    # WHEN sites known by their ids alone are registered, one new and that one again
    put_sites(settings, [Site("bare"), Site("north")])
    # THEN both are listed, and the existing one keeps what it had
    code, out = cli("sites")
    assert (code, out) == (0, "bare\t-\tcapacity unknown\nnorth\tsolar\t5 kW\n")
