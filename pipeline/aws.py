"""The one place boto3 clients are made.

Every client gets the same endpoint and region, and one of two retry policies: the
Lambda's (patient: a throttled or slow call is worth waiting for inside the function's
timeout) or, for `Settings.interactive`, a person's (the app and the CLI must say within
~10 s that an endpoint is unreachable or silent). On the local backend the credentials are
fixed dummies, so a developer's real AWS credentials can never be used against (or leaked
to) the embedded emulator.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from pipeline.settings import Settings

_RETRIES = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=15,  # a hung call must fail well inside the function's timeout
    max_pool_connections=32,
)
# Someone is waiting: a silent endpoint costs two attempts of 4 s plus one backoff of at most
# 1 s; a closed port fails at once and costs the backoff only.
_INTERACTIVE = Config(
    retries={"mode": "standard", "total_max_attempts": 2},  # `max_attempts` would count retries only
    connect_timeout=2,
    read_timeout=4,
    max_pool_connections=32,
)
_LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "TransactionConflictException",
    }
)


class TransientError(RuntimeError):
    """AWS kept refusing part of a request, or lost a race; retrying the message may succeed."""


_lock = threading.Lock()
_cache: dict[tuple[Settings, str], Any] = {}


def client(settings: Settings, service: str) -> Any:
    """A boto3 client for `service`, shared per (settings, service): clients are thread-safe."""
    key = (settings, service)
    with _lock:
        if key not in _cache:
            session = boto3.session.Session()
            config = _INTERACTIVE if settings.interactive else _RETRIES
            kwargs: dict[str, Any] = {"region_name": settings.region, "config": config}
            if settings.endpoint_url:
                kwargs["endpoint_url"] = settings.endpoint_url
            if settings.backend == "local":
                kwargs.update(_LOCAL_CREDENTIALS)
            _cache[key] = session.client(service, **kwargs)
        return _cache[key]


def caller_arn(settings: Settings) -> str:
    """Who is acting, as AWS knows the credentials in use (STS GetCallerIdentity): what an
    acknowledgement or an edit records when the person gives no name."""
    return client(settings, "sts").get_caller_identity()["Arn"]


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_transient(exc: BaseException) -> bool:
    """True for failures that a later retry can cure (throttling, timeouts, lost connections)."""
    if isinstance(
        exc, (TransientError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
    ):
        return True
    return error_code(exc) in TRANSIENT_ERROR_CODES


def describe_error(exc: BaseException, settings: Settings) -> str:
    """One readable sentence for an AWS failure, naming the fix where there is an obvious one."""
    code = error_code(exc)
    where = settings.endpoint_url or f"AWS in {settings.region}"
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return f"Cannot reach {where}: is the stack running?"
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return f"{where} accepted the connection but did not answer in time: is the stack overloaded or stuck?"
    if code in {"ResourceNotFoundException", "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue", "NotFound"}:
        return f"{exc} — the stack is not set up here: run `python -m pipeline bootstrap`."
    if code in {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "AuthorizationError"}:
        return f"Permission denied by AWS ({code}): check the credentials and the role's policy."
    if type(exc).__name__ == "NoCredentialsError":
        return "No AWS credentials found: configure them, or use ENERGY_BACKEND=local."
    return str(exc) or type(exc).__name__
