from decimal import Decimal

import pytest

from pipeline.anomalies import detect
from pipeline.sites import Site
from pipeline.validation import Reading

SOLAR_100KW = Site("site-1", kind="solar", capacity_kw=Decimal(100), interval_minutes=15)  # 25 kWh a reading at most


def reading(generated: str, consumed: str = "5") -> Reading:
    return Reading("site-1", "2026-11-29T12:00:00Z", Decimal(generated), Decimal(consumed))


@pytest.mark.parametrize(
    ("generated", "consumed", "site", "reasons"),
    [
        ("10", "5", SOLAR_100KW, ()),
        ("0", "0", SOLAR_100KW, ()),
        ("-0.001", "5", SOLAR_100KW, ("negative_generation",)),
        ("10", "-1", SOLAR_100KW, ("negative_consumption",)),
        ("-10", "-1", None, ("negative_generation", "negative_consumption")),
        ("25", "5", SOLAR_100KW, ()),  # exactly the rated energy of 15 minutes
        ("25.001", "5", SOLAR_100KW, ("generation_above_capacity",)),
        ("5000", "5", None, ()),  # no capacity known: the rule cannot judge
        ("5000", "5", Site("site-1"), ()),
    ],
)
def test_rules(generated, consumed, site, reasons):
    assert detect(reading(generated, consumed), site) == reasons


def test_capacity_scales_with_the_reading_interval():
    hourly = Site("site-1", capacity_kw=Decimal(100), interval_minutes=60)
    assert detect(reading("99"), hourly) == ()
    assert detect(reading("101"), hourly) == ("generation_above_capacity",)
