import pytest

from pipeline.settings import ConfigError, Settings


def test_defaults_match_terraform_names_and_local_endpoint():
    settings = Settings.from_env({})
    assert (settings.backend, settings.endpoint_url, settings.table, settings.topic) == (
        "local", "http://127.0.0.1:4566", "energy_data", "energy-anomaly-alerts",
    )  # fmt: skip


def test_aws_backend_uses_the_default_chain_and_no_endpoint():
    settings = Settings.from_env({"ENERGY_BACKEND": "aws", "AWS_REGION": "eu-west-1", "ENERGY_TABLE": "prod_energy"})
    assert (settings.endpoint_url, settings.region, settings.table) == (None, "eu-west-1", "prod_energy")


def test_explicit_endpoint_wins():
    assert Settings.from_env({"AWS_ENDPOINT_URL": "http://localhost:4566"}).endpoint_url == "http://localhost:4566"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENERGY_BACKEND": "gcp"}, "ENERGY_BACKEND must be one of local, aws"),
        ({"ENERGY_LOCAL_PORT": "http"}, "ENERGY_LOCAL_PORT must be a whole number"),
        ({"ENERGY_MAX_RECEIVE_COUNT": "0"}, "ENERGY_MAX_RECEIVE_COUNT must be positive"),
    ],
)
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
