"""The embedded stack and the AWS stack cannot drift apart.

`python -m pipeline bootstrap` (pipeline/ops/bootstrap.py) builds the stack the app runs on
locally; terraform/ builds it in AWS. The app's queries only work on both if tables, keys,
indexes, queue settings and subscriptions are the same, so one test compares them.
"""

from __future__ import annotations

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
