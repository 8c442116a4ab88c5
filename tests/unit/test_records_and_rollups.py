from decimal import Decimal

from pipeline.records import Record, anomaly_shard, derive
from pipeline.rollups import add_to_day, by_day, change_token, deltas, hour_of
from pipeline.validation import Reading


def record(ts="2026-11-29T06:15:00Z", gen="0.3", cons="0.1", reasons=(), site="site-1") -> Record:
    return derive(
        Reading(site, ts, Decimal(gen), Decimal(cons)), reasons, "raw/2026/11/29/a.json", "2026-11-29T07:00:00Z"
    )


def test_net_energy_is_exact_decimal_arithmetic():
    assert record().net_energy_kwh == Decimal("0.2")
    assert str(record().net_energy_kwh) == "0.2"


def test_items_keep_the_original_attribute_names_and_only_anomalies_enter_the_index():
    item = record().to_item()
    assert set(item) == {
        "site_id", "timestamp", "energy_generated_kwh", "energy_consumed_kwh", "net_energy_kwh",
        "anomaly", "anomaly_reasons", "source_key", "processed_at",
    }  # fmt: skip
    assert item["anomaly"] is False
    flagged = record(gen="-1", reasons=("negative_generation",)).to_item()
    assert flagged["anomaly"] is True and flagged["anomaly_shard"] == anomaly_shard("site-1", "2026-11-29T06:15:00Z")
    assert Record.from_item(flagged) == record(gen="-1", reasons=("negative_generation",))


def test_anomaly_shards_spread_one_site_over_several_keys():
    shards = {anomaly_shard("site-1", f"2026-11-29T{h:02d}:00:00Z") for h in range(24)}
    assert len(shards) > 4


def test_hour_of():
    assert hour_of("2026-11-29T06:59:59Z") == "2026-11-29T06:00:00Z"


def test_new_records_add_their_contribution_per_site_and_hour():
    changes = deltas([(None, record()), (None, record(ts="2026-11-29T06:30:00Z", gen="2", cons="3", reasons=("x",)))])
    assert changes == {
        ("site-1", "2026-11-29T06:00:00Z"): {
            "generated_kwh": Decimal("2.3"),
            "consumed_kwh": Decimal("3.1"),
            "net_kwh": Decimal("-0.8"),
            "self_supplied_kwh": Decimal("2.1"),
            "readings": 2,
            "anomalies": 1,
        }
    }


def test_a_changed_reading_moves_the_rollup_by_the_difference_only():
    old, new = record(gen="1", cons="1"), record(gen="3", cons="1")
    assert deltas([(old, new)]) == {("site-1", "2026-11-29T06:00:00Z"): {"generated_kwh": 2, "net_kwh": 2}}


def test_an_unchanged_reading_changes_nothing():
    assert deltas([(record(), record())]) == {}


def test_change_tokens_differ_per_file_version():
    assert change_token("raw/a.json", "v1") != change_token("raw/a.json", "v2")
    assert change_token("raw/a.json", "v1") == change_token("raw/a.json", "v1")


def test_hourly_deltas_go_to_their_sites_day_item():
    changes = {
        ("site-1", "2026-11-29T06:00:00Z"): {"readings": Decimal(2)},
        ("site-1", "2026-11-29T07:00:00Z"): {"readings": Decimal(1)},
        ("site-1", "2026-11-30T00:00:00Z"): {"readings": Decimal(4)},
        ("site-2", "2026-11-29T06:00:00Z"): {"missing_intervals": Decimal(3)},
    }
    assert by_day(changes) == {
        ("site-1", "2026-11-29"): {
            "2026-11-29T06:00:00Z": {"readings": 2},
            "2026-11-29T07:00:00Z": {"readings": 1},
        },
        ("site-1", "2026-11-30"): {"2026-11-30T00:00:00Z": {"readings": 4}},
        ("site-2", "2026-11-29"): {"2026-11-29T06:00:00Z": {"missing_intervals": 3}},
    }


def test_a_day_item_names_only_the_last_change_and_a_resumed_try_skips_its_own():
    first = add_to_day(None, "site-1", "2026-11-29", {"2026-11-29T06:00:00Z": {"readings": Decimal(2)}}, "a")
    assert first == {"site_id": "site-1", "day": "2026-11-29", "hours": {"06": {"readings": 2}}, "change": "a"}
    second = add_to_day(
        {**first, "applied_changes": {"old", "tokens"}},
        "site-1",
        "2026-11-29",
        {"2026-11-29T06:00:00Z": {"readings": Decimal(-1), "net_kwh": Decimal("0.5")}, "2026-11-29T23:00:00Z": {}},
        "b",
    )
    assert second == {
        "site_id": "site-1",
        "day": "2026-11-29",
        "hours": {"06": {"readings": 1, "net_kwh": Decimal("0.5")}, "23": {}},
        "change": "b",
    }, "one token, whatever came before: the item does not grow with uploads"
    assert first["hours"] == {"06": {"readings": 2}}, "the item read is not changed in place"
    again = {"2026-11-29T06:00:00Z": {"readings": Decimal(5)}}
    assert add_to_day(second, "site-1", "2026-11-29", again, "b", resuming=True) is None
    assert add_to_day(second, "site-1", "2026-11-29", again, "b")["hours"]["06"]["readings"] == 6
    assert add_to_day(second, "site-1", "2026-11-29", again, "a", resuming=True)["hours"]["06"]["readings"] == 6


def test_a_sentinel_reading_counts_as_a_reading_and_an_anomaly_but_adds_no_energy():
    sentinel = record(ts="2026-11-29T06:30:00Z", gen="-9999", cons="2", reasons=("sentinel_value",))
    assert deltas([(None, record()), (None, sentinel)]) == {
        ("site-1", "2026-11-29T06:00:00Z"): {
            "generated_kwh": Decimal("0.3"),
            "consumed_kwh": Decimal("0.1"),
            "net_kwh": Decimal("0.2"),
            "self_supplied_kwh": Decimal("0.1"),
            "readings": 2,
            "anomalies": 1,
        }
    }


def test_a_reading_judged_again_as_a_sentinel_takes_its_energy_back_out():
    old = record(gen="65535", cons="1")
    new = record(gen="65535", cons="1", reasons=("sentinel_value",))
    assert deltas([(old, new)]) == {
        ("site-1", "2026-11-29T06:00:00Z"): {
            "generated_kwh": Decimal("-65535"),
            "consumed_kwh": Decimal("-1"),
            "net_kwh": Decimal("-65534"),
            "self_supplied_kwh": Decimal("-1"),
            "anomalies": 1,
        }
    }
