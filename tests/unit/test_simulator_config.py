"""What the scheduled simulator reads from its environment (Terraform sets it), and the
values it refuses with a message that names the variable to fix."""

from __future__ import annotations

import pytest

from pipeline.ops.simulated_files import SimulatorConfig
from pipeline.settings import ConfigError


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    config = SimulatorConfig.from_env({})
    assert (config.sites, config.readings_per_site, config.anomaly_rate, config.seed) == (5, 1, 0.02, 0)


def test_values_are_read_from_the_environment() -> None:
    config = SimulatorConfig.from_env(
        {
            "ENERGY_SIMULATOR_SITES": "40",
            "ENERGY_SIMULATOR_READINGS_PER_SITE": " 12 ",
            "ENERGY_SIMULATOR_ANOMALY_RATE": "0",
        }
    )
    assert (config.sites, config.readings_per_site, config.anomaly_rate) == (40, 12, 0.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENERGY_SIMULATOR_SITES": "0"}, "ENERGY_SIMULATOR_SITES must be from 1 to 1000"),
        ({"ENERGY_SIMULATOR_SITES": "1001"}, "ENERGY_SIMULATOR_SITES must be from 1 to 1000"),
        ({"ENERGY_SIMULATOR_SITES": "five"}, "ENERGY_SIMULATOR_SITES must be a whole number"),
        ({"ENERGY_SIMULATOR_READINGS_PER_SITE": "97"}, "ENERGY_SIMULATOR_READINGS_PER_SITE must be from 1 to 96"),
        ({"ENERGY_SIMULATOR_READINGS_PER_SITE": "1.5"}, "ENERGY_SIMULATOR_READINGS_PER_SITE must be a whole number"),
        ({"ENERGY_SIMULATOR_ANOMALY_RATE": "1.5"}, "ENERGY_SIMULATOR_ANOMALY_RATE must be from 0 to 1"),
        ({"ENERGY_SIMULATOR_ANOMALY_RATE": "nan"}, "ENERGY_SIMULATOR_ANOMALY_RATE must be from 0 to 1"),
        ({"ENERGY_SIMULATOR_SITES": "1000", "ENERGY_SIMULATOR_READINGS_PER_SITE": "21"}, "more than 20,000 readings"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulatorConfig.from_env(env)


def test_the_largest_file_allowed_is_accepted() -> None:
    config = SimulatorConfig.from_env({"ENERGY_SIMULATOR_SITES": "1000", "ENERGY_SIMULATOR_READINGS_PER_SITE": "20"})
    assert config.sites * config.readings_per_site == 20_000
