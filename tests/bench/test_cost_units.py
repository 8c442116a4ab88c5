"""The cost benchmark's arithmetic: item sizes and request units as AWS bills them.

`bench/cost.py` prices every call from these functions, so a wrong byte here is a wrong
dollar figure there. Expected values are worked out by hand from AWS's rules (attribute
names + values; numbers 1 byte per two significant digits + 1; lists and maps 3 bytes + 1
per element; writes per 1 KB, reads per 4 KB), not computed by the code under test. The
last tests go through the recorder on the embedded AWS: the units of a real call.
"""

from __future__ import annotations

import pytest

from bench.billing import Index, Table, item_size, number_size, read_units, recording, write_units
from pipeline.aws import client
from pipeline.settings import Settings

READING = {
    "site_id": {"S": "site-1"},  # 7 + 6 = 13
    "timestamp": {"S": "2026-11-29T06:00:00Z"},  # 9 + 20 = 29
    "energy_generated_kwh": {"N": "12.5"},  # 20 + (3 digits -> 2 bytes) + 1 = 23
    "anomaly": {"BOOL": True},  # 7 + 1 = 8
    "anomaly_reasons": {"L": [{"S": "negative_value"}]},  # 15 + 3 + 1 + 14 = 33
}
READING_KEY = {"site_id": READING["site_id"], "timestamp": READING["timestamp"]}
RECORDS = Table("energy_data", ("site_id", "timestamp"), (Index("anomalies", ("anomaly_shard", "timestamp"), "ALL"),))
PLAIN = Table("energy_sites", ("site_id",))


def padded(site: str, total: int, **extra: dict) -> dict:
    """An item of exactly `total` bytes: its key (`site_id` + `site`) and a string to fill."""
    fixed = len("site_id") + len(site) + len("pad") + sum(len(k) + len(v["S"]) for k, v in extra.items())
    return {"site_id": {"S": site}, "pad": {"S": "x" * (total - fixed)}, **extra}


# --- sizes ---------------------------------------------------------------------------------


def test_a_reading_item_weighs_its_names_and_values() -> None:
    assert item_size(READING) == 13 + 29 + 23 + 8 + 33 == 106


@pytest.mark.parametrize(
    ("text", "size"),
    [("12.5", 3), ("1000", 2), ("123456", 4), ("0.0100", 2), ("-7", 3), ("0", 2)],
)
def test_a_number_weighs_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_a_map_weighs_three_bytes_plus_one_per_element_plus_its_names_and_values() -> None:
    item = {"hours": {"M": {"06": {"N": "4"}, "07": {"NULL": True}}}}
    # "hours" 5 + map 3 + 2 elements + ("06" 2 + 2) + ("07" 2 + 1)
    assert item_size(item) == 5 + 3 + 2 + 4 + 3 == 17


def test_a_missing_item_weighs_nothing() -> None:
    assert item_size(None) == 0


# --- write units ------------------------------------------------------------------------------


def test_a_small_put_costs_one_write_unit() -> None:
    (billed,) = write_units(PLAIN, "PutItem", None, READING)
    assert billed.write == 1


def test_a_transactional_update_of_a_2_5_kb_item_costs_six_write_units() -> None:
    before = padded("site-1", 2560)
    after = padded("site-1", 2500)
    (billed,) = write_units(PLAIN, "TransactWriteItems", before, after, transactional=True)
    assert billed.write == 6  # 2 x ceil(2,560 / 1,024)


def test_a_write_is_billed_on_the_larger_image() -> None:
    (grown,) = write_units(PLAIN, "UpdateItem", padded("s", 900), padded("s", 1100))
    (shrunk,) = write_units(PLAIN, "UpdateItem", padded("s", 3000), padded("s", 100))
    assert (grown.write, shrunk.write) == (2, 3)


def test_a_write_into_an_index_costs_one_more_unit() -> None:
    anomaly = {**READING, "anomaly_shard": {"S": "3"}}
    billed = write_units(RECORDS, "PutItem", None, anomaly)
    assert [(u.index, u.write) for u in billed] == [(None, 1), ("anomalies", 1)]


def test_an_item_outside_a_sparse_index_costs_no_index_write() -> None:
    billed = write_units(RECORDS, "PutItem", None, READING)
    assert [(u.index, u.write) for u in billed] == [(None, 1)]


def test_a_changed_index_key_costs_two_index_writes() -> None:
    before = {**READING, "anomaly_shard": {"S": "3"}}
    after = {**READING, "anomaly_shard": {"S": "4"}}
    billed = write_units(RECORDS, "UpdateItem", before, after)
    assert [(u.index, u.write) for u in billed] == [(None, 1), ("anomalies", 2)]


def test_an_unchanged_keys_only_projection_costs_no_index_write() -> None:
    table = Table("t", ("site_id",), (Index("by-kind", ("kind",), "KEYS_ONLY"),))
    before = {"site_id": {"S": "a"}, "kind": {"S": "solar"}, "name": {"S": "old"}}
    after = {"site_id": {"S": "a"}, "kind": {"S": "solar"}, "name": {"S": "new"}}
    assert [(u.index, u.write) for u in write_units(table, "UpdateItem", before, after)] == [(None, 1)]


# --- read units -----------------------------------------------------------------------------


def test_a_missing_key_in_a_consistent_read_costs_one_read_unit() -> None:
    assert read_units("t", "BatchGetItem", item_size(None), consistent=True).read == 1


def test_reads_cost_per_4_kb_half_as_much_when_eventually_consistent() -> None:
    size = item_size(padded("s", 9000))
    assert read_units("t", "GetItem", size, consistent=True).read == 3
    assert read_units("t", "GetItem", size, consistent=False).read == 1.5
    assert read_units("t", "TransactGetItems", size, consistent=True, transactional=True).read == 6


# --- through the recorder, on the embedded AWS -------------------------------------------------


def test_the_recorder_bills_a_missing_key_in_a_consistent_batch_get(settings: Settings) -> None:
    dynamodb = client(settings, "dynamodb")
    with recording() as recorder:
        dynamodb.batch_get_item(
            RequestItems={settings.table: {"Keys": [READING_KEY], "ConsistentRead": True}},
        )
    (call,) = recorder.calls
    assert [u.read for u in call.units] == [1]


def test_the_recorder_bills_a_transactional_update_of_a_2_5_kb_item_six_units(settings: Settings) -> None:
    dynamodb = client(settings, "dynamodb")
    dynamodb.put_item(TableName=settings.sites_table, Item=padded("site-9", 2560))
    with recording() as recorder:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": settings.sites_table,
                        "Key": {"site_id": {"S": "site-9"}},
                        "UpdateExpression": "SET #p = :b",
                        "ExpressionAttributeNames": {"#p": "pad"},
                        "ExpressionAttributeValues": {":b": {"S": "short"}},
                    }
                }
            ]
        )
    (call,) = recorder.calls
    assert sum(u.write for u in call.units) == 6


def test_the_recorder_bills_a_failed_conditional_put_and_an_index_write(settings: Settings) -> None:
    records = client(settings, "dynamodb")
    anomaly = {**READING, "anomaly_shard": {"S": "3"}}
    with recording() as recorder:
        records.put_item(TableName=settings.table, Item=anomaly)
        with pytest.raises(records.exceptions.ConditionalCheckFailedException):
            records.put_item(
                TableName=settings.table, Item=anomaly, ConditionExpression="attribute_not_exists(site_id)"
            )
    first, failed = recorder.calls
    assert [(u.index, u.write) for u in first.units] == [(None, 1), ("anomalies", 1)]
    assert [(u.index, u.write) for u in failed.units] == [(None, 1)]
