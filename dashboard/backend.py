"""Which AWS the app talks to, decided once per process.

- `ENERGY_BACKEND=local` (the default) and no `AWS_ENDPOINT_URL`: the app starts the
  embedded stack in its own process (moto on ENERGY_LOCAL_PORT, the resources, and the
  runner that plays Lambda), so `streamlit run` alone gives a working pipeline. Its data
  lives in ENERGY_DATA_DIR and comes back on the same endpoint after a restart.
- `AWS_ENDPOINT_URL` set (a shared `python -m local_aws`, LocalStack) or
  `ENERGY_BACKEND=aws`: the configured endpoint and credentials, with no runner (the
  other process, or Lambda, does the processing).

Either way the app's own clients use the interactive profile (`Settings.for_people`): a
person is waiting, so a dead endpoint is reported in seconds. The embedded runner keeps
the Lambda's patient settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from local_aws.server import PortInUse
from local_aws.stack import EmbeddedStack, start_stack
from pipeline.aws import client
from pipeline.settings import Settings

EMBEDDED, ENDPOINT, AWS = "embedded", "endpoint", "aws"
_CONFIG_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


@dataclass(frozen=True)
class Backend:
    settings: Settings
    kind: str
    stack: EmbeddedStack | None = None

    @property
    def label(self) -> str:
        if self.kind == EMBEDDED:
            return "Embedded AWS (moto, in this app)"
        if self.kind == ENDPOINT:
            return "Local AWS endpoint"
        return "AWS"


def _config_key() -> tuple[tuple[str, str], ...]:
    """The settings-relevant environment (no secrets): a new value means a new backend."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("ENERGY_") or k in _CONFIG_VARIABLES))


def backend() -> Backend:
    try:
        return _backend(_config_key())
    except PortInUse as exc:  # another stack holds the port: say what to do, not a traceback
        st.error(f"The embedded AWS cannot start: {exc}.")
        st.stop()
        raise


@st.cache_resource(show_spinner="Starting the embedded AWS…")
def _backend(config: tuple[tuple[str, str], ...]) -> Backend:
    settings = Settings.from_env()
    if settings.backend == "local" and not os.environ.get("AWS_ENDPOINT_URL"):
        port = int(settings.endpoint_url.rsplit(":", 1)[1]) if settings.endpoint_url else 0
        stack = start_stack(settings, port=port, run_lambda=True, data_dir=settings.data_dir)
        return Backend(stack.settings.for_people(), EMBEDDED, stack)
    return Backend(settings.for_people(), AWS if settings.backend == "aws" else ENDPOINT)


def settings() -> Settings:
    return backend().settings


@st.cache_data(ttl=3600, show_spinner=False)
def aws_account(settings: Settings) -> str | None:
    """The account id the credentials belong to (AWS only; None when STS cannot say)."""
    try:
        return client(settings, "sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError):
        return None
