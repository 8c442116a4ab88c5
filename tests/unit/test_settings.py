import pytest

from pipeline.episodes import Policy
from pipeline.settings import ConfigError, Settings


def test_defaults_match_terraform_names_and_local_endpoint():
    settings = Settings.from_env({})
    assert (settings.backend, settings.endpoint_url, settings.table, settings.topic) == (
        "local", "http://127.0.0.1:4566", "energy_data", "energy-anomaly-alerts",
    )  # fmt: skip


def test_aws_backend_uses_the_default_chain_and_no_endpoint():
    settings = Settings.from_env({"ENERGY_BACKEND": "aws", "AWS_REGION": "eu-west-1", "ENERGY_TABLE": "prod_energy"})
    assert (settings.endpoint_url, settings.region, settings.table) == (None, "eu-west-1", "prod_energy")


def test_alert_episode_timing_defaults_to_6_h_and_2_h_and_reads_minutes():
    from datetime import timedelta

    assert Settings.from_env({}).episode_policy() == Policy(timedelta(hours=6), timedelta(hours=2))
    env = {"ENERGY_REPEAT_INTERVAL_MINUTES": "90", "ENERGY_RESOLVE_AFTER_MINUTES": "30"}
    assert Settings.from_env(env).episode_policy() == Policy(timedelta(minutes=90), timedelta(minutes=30))


def test_explicit_endpoint_wins():
    assert Settings.from_env({"AWS_ENDPOINT_URL": "http://localhost:4566"}).endpoint_url == "http://localhost:4566"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENERGY_BACKEND": "gcp"}, "ENERGY_BACKEND must be one of local, aws"),
        ({"ENERGY_LOCAL_PORT": "http"}, "ENERGY_LOCAL_PORT must be a whole number"),
        ({"ENERGY_MAX_RECEIVE_COUNT": "0"}, "ENERGY_MAX_RECEIVE_COUNT must be positive"),
        ({"ENERGY_REPEAT_INTERVAL_MINUTES": "6h"}, "ENERGY_REPEAT_INTERVAL_MINUTES must be a whole number"),
        ({"ENERGY_RESOLVE_AFTER_MINUTES": "0"}, "ENERGY_RESOLVE_AFTER_MINUTES must be positive"),
    ],
)
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
