"""One simulated file uploaded under raw/ as a site would send it, and what the scheduled
simulator in AWS (lambda/simulator.py) reads from its environment to make one.

The Simulate page (`simulated_uploads`) and the scheduled function share this, so a file
from either has the same name, body and metadata, and the pipeline cannot tell them apart.
The scheduled function uses nothing else from pipeline/ops: its package holds this module's
imports only (scripts/package_lambda.py), and its role may only PUT under raw/.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline import raw_files
from pipeline.ops.simulation import Simulated, encode, file_name, simulate
from pipeline.settings import ConfigError, Settings
from pipeline.sites import Site

MAX_SITES = 1000  # make_sites' limit
MAX_READINGS_PER_SITE = 96  # a day of 15-minute readings
# 20,000 readings (2.6 MB of JSON) take 1.6 s to simulate on one core of a development
# machine: well inside the function's 60 s timeout at 256 MB (terraform/simulator.tf).
MAX_READINGS_PER_FILE = 20_000


@dataclass(frozen=True)
class SimulatedFile:
    key: str
    simulated: Simulated


def upload_file(
    settings: Settings,
    sites: Sequence[Site],
    readings_per_site: int,
    when: datetime,
    anomaly_rate: float = 0.02,
    seed: int = 0,
    fmt: str = "json",
) -> SimulatedFile:
    """Simulate the intervals ending at `when` and PUT them as one raw file; the S3
    notification starts processing. The same arguments give the same key and bytes, so a
    repeated upload (a retried invocation) is processed as the same file again."""
    simulated = simulate(sites, when, readings_per_site, anomaly_rate, seed)
    key = raw_files.raw_key(file_name(when, seed, fmt), when, settings)
    raw_files.upload(
        settings,
        key,
        encode(simulated.readings, fmt),
        metadata={"readings": str(len(simulated.readings)), "anomalies-injected": str(len(simulated.labels))},
    )
    return SimulatedFile(key, simulated)


@dataclass(frozen=True)
class SimulatorConfig:
    """What each scheduled run uploads: the fleet `make_sites(sites)` (the Simulate page's
    fleet, so the two agree on every site), `readings_per_site` intervals ending at the run's
    time, anomalies injected at `anomaly_rate`. The seed is the page's default, 0, so the
    page and the schedule give the same values for the same interval."""

    sites: int = 5
    readings_per_site: int = 1
    anomaly_rate: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.sites <= MAX_SITES:
            raise ConfigError(f"ENERGY_SIMULATOR_SITES must be from 1 to {MAX_SITES}, not {self.sites}")
        if not 1 <= self.readings_per_site <= MAX_READINGS_PER_SITE:
            raise ConfigError(
                f"ENERGY_SIMULATOR_READINGS_PER_SITE must be from 1 to {MAX_READINGS_PER_SITE}, "
                f"not {self.readings_per_site}"
            )
        if self.sites * self.readings_per_site > MAX_READINGS_PER_FILE:
            raise ConfigError(
                f"{self.sites} sites x {self.readings_per_site} readings is more than {MAX_READINGS_PER_FILE:,} "
                "readings in one file: fewer sites or readings per site"
            )
        if not 0 <= self.anomaly_rate <= 1:
            raise ConfigError(f"ENERGY_SIMULATOR_ANOMALY_RATE must be from 0 to 1, not {self.anomaly_rate}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SimulatorConfig:
        """Read beside `Settings.from_env`, which names the stack: these three say only what
        the scheduled function simulates, so the app's settings do not carry them."""
        env = os.environ if env is None else env
        return cls(
            sites=_int(env, "ENERGY_SIMULATOR_SITES", cls.sites),
            readings_per_site=_int(env, "ENERGY_SIMULATOR_READINGS_PER_SITE", cls.readings_per_site),
            anomaly_rate=_float(env, "ENERGY_SIMULATOR_ANOMALY_RATE", cls.anomaly_rate),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
