"""AWS and configuration failures as one readable message that stops the page, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from dashboard import data
from dashboard.backend import Backend, backend
from dashboard.untrusted_text import plain
from pipeline.aws import describe_error, error_code
from pipeline.settings import ConfigError, Settings


def error_headline(exc: BaseException) -> str:
    code = error_code(exc)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return "AWS unreachable"
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return "AWS not answering"
    if isinstance(exc, NoCredentialsError) or code in {"AccessDenied", "AccessDeniedException", "AuthorizationError"}:
        return "Missing permission"
    if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken"}:
        return "Credentials refused"
    if code in {"ResourceNotFoundException", "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue", "NotFound"}:
        return "Stack not set up"
    return "AWS request failed"


def show_error(exc: BaseException, settings: Settings | None, what: str = "") -> None:
    sentence = describe_error(exc, settings) if settings else str(exc)
    doing = f" while {plain(what)}" if what else ""
    st.error(f"**{error_headline(exc)}**{doing}. {plain(sentence)}", icon=":material/cloud_off:")


@contextmanager
def guarded(settings: Settings | None, what: str = "") -> Iterator[None]:
    """Turn AWS failures into a readable message and stop the page (no traceback)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        show_error(exc, settings, what)
        st.stop()


def app_backend() -> Backend:
    """The backend, or a readable stop when the configuration or the embedded stack fails."""
    try:
        return backend()
    except ConfigError as exc:
        st.error(f"**Configuration error.** {plain(exc)}", icon=":material/settings:")
    except (ClientError, BotoCoreError) as exc:
        show_error(exc, None, "starting the embedded AWS")
    except OSError as exc:
        st.error(f"**The embedded AWS could not start.** {plain(exc)}", icon=":material/cloud_off:")
    st.stop()
    raise AssertionError("unreachable")


def stop_if_unreachable(settings: Settings) -> None:
    """One readable stop when AWS gives no answer at all.

    The health check (cached for a few seconds, and already run by the sidebar) has just
    waited for the endpoint; the page's own queries would wait as long again, one after the
    other, before the person learnt anything.
    """
    health = data.health(settings)
    if not health.reachable:
        problem = health.problems[0] if health.problems else "No answer."
        st.error(f"**AWS unreachable** while checking the stack. {plain(problem)}", icon=":material/cloud_off:")
        st.stop()
