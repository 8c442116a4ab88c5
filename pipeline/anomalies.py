"""Anomaly rules: pure functions of a reading and what is known of its site.

Each rule returns its reason code when it fires and None otherwise. To add a rule, write
the function and list it in RULES; the code becomes one of the `anomaly_reasons`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pipeline.sites import Site
from pipeline.validation import Reading

Rule = Callable[[Reading, Site | None], str | None]


def negative_generation(reading: Reading, site: Site | None) -> str | None:
    return "negative_generation" if reading.energy_generated_kwh < 0 else None


def negative_consumption(reading: Reading, site: Site | None) -> str | None:
    return "negative_consumption" if reading.energy_consumed_kwh < 0 else None


def generation_above_capacity(reading: Reading, site: Site | None) -> str | None:
    """More energy than the site's rated power can make in one reading interval."""
    if site is None or site.capacity_kw is None:
        return None
    most = site.capacity_kw * Decimal(site.interval_minutes) / Decimal(60)
    return "generation_above_capacity" if reading.energy_generated_kwh > most else None


RULES: tuple[Rule, ...] = (negative_generation, negative_consumption, generation_above_capacity)


def detect(reading: Reading, site: Site | None) -> tuple[str, ...]:
    return tuple(reason for rule in RULES if (reason := rule(reading, site)) is not None)
