"""The embedded stack and the AWS stack cannot drift apart.

`python -m pipeline bootstrap` (pipeline/ops/bootstrap.py) builds the stack the app runs on
locally; terraform/ builds it in AWS. The app's queries only work on both if tables, keys,
indexes, queue settings and subscriptions are the same, so one test compares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from local_aws.server import EmbeddedServer
from pipeline.aws import client
from pipeline.ops.bootstrap import bootstrap
from pipeline.settings import Settings


@pytest.fixture
def clean_server(moto_server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    moto_server.reset()
    yield moto_server
    moto_server.reset()


def test_bootstrap_creates_what_terraform_declares(tf, shapes, clean_server: EmbeddedServer) -> None:
    # GIVEN the stack bootstrap makes without the local alert queue (as for the AWS
    # backend), with the names of an unconfigured process, which terraform/'s defaults equal
    settings = Settings().with_endpoint(clean_server.endpoint)
    bootstrap(settings, local_alert_queue=False)

    # WHEN both are put in one shape
    declared = shapes.declared(tf)
    created = shapes.live(settings, lambda service: client(settings, service), settings.bucket)

    # THEN they are the same stack
    assert created == declared


def test_the_lake_has_the_names_the_settings_expect(tf) -> None:
    # The embedded stack has no Athena (DuckDB reads the lake locally), so these names are
    # only compared: with the default prefix, Terraform's Glue database and workgroup are the
    # ones Settings names when nothing configures them (ENERGY_LAKE_DATABASE,
    # ENERGY_ATHENA_WORKGROUP), and the app's environment passes Terraform's own on AWS.
    defaults = Settings()
    database = tf.resolve(tf.locals["lake_database_name"])
    replaced = re.fullmatch(r'\$\{replace\("([^"]*)", "-", "_"\)\}', database)
    assert replaced, f"expected the prefix's hyphens replaced by underscores: {database}"
    assert replaced.group(1).replace("-", "_") == defaults.lake_database == "energy_lake"
    # Glue allows lowercase letters, digits and underscores: a prefix may hold only those and
    # hyphens, which become underscores.
    (validation,) = tf.variables["name_prefix"]["validation"]
    assert 'regex("^[a-z][a-z0-9-]{0,28}[a-z0-9]$", var.name_prefix)' in validation["condition"]
    assert tf.resolve(tf.locals["athena_workgroup_name"]) == defaults.athena_workgroup == "energy-lake"
    assert tf.resource("aws_glue_catalog_database", "lake")["name"] == "${local.lake_database_name}"
    assert tf.resource("aws_athena_workgroup", "lake")["name"] == "${local.athena_workgroup_name}"
    environment = tf.locals["pipeline_environment"]
    assert environment["ENERGY_LAKE_DATABASE"] == "${aws_glue_catalog_database.lake.name}"
    assert environment["ENERGY_ATHENA_WORKGROUP"] == "${aws_athena_workgroup.lake.name}"
