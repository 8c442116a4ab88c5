"""An in-process moto server, reachable over HTTP on 127.0.0.1 by any boto3 client."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

HOST = "127.0.0.1"
Middleware = Callable[[Any], Any]


class PortInUse(RuntimeError):
    pass


class _WrappedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with its WSGI app wrapped: DynamoDB requests one at a time, and the
    caller's middleware (persistence needs to see every request)."""

    def __init__(self, ip_address: str, port: int, middleware: Middleware | None) -> None:
        super().__init__(ip_address, port=port, verbose=False)
        self._middleware = middleware or (lambda app: app)

    def _server_entry(self) -> None:
        app = self._middleware(_dynamodb_one_at_a_time(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _dynamodb_one_at_a_time(app: Any) -> Any:
    """Serve DynamoDB requests one at a time, as moto needs to keep DynamoDB's promises.

    moto's TransactWriteItems copies each table it touches before it starts and, when a
    condition fails, puts the copies back whole: a write that another request made to the
    table meanwhile is undone (a released lease comes back, a site's version steps back,
    and a file that read the site before the release can then claim it and count readings
    twice). DynamoDB undoes nothing but the transaction's own writes. Other services still
    run side by side.
    """
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return app(environ, start_response)  # Flask has run the whole call by now

    return serialised


@dataclass
class EmbeddedServer:
    server: ThreadedMotoServer
    endpoint: str

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        """Forget every resource (moto keeps state per process, not per server)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()


def start_server(port: int = 0, middleware: Middleware | None = None) -> EmbeddedServer:
    """Start moto on `port` (0 picks a free one). A busy fixed port fails fast, not hangs."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ensure_port_free(port)
    server = _WrappedMotoServer(HOST, port, middleware)
    server.start()
    host, bound = server.get_host_and_port()
    return EmbeddedServer(server, f"http://{host}:{bound}")


def ensure_port_free(port: int) -> None:
    """Raise PortInUse, saying what to do, when a fixed port is taken (moto would hang on it)."""
    if port and not _port_free(port):
        raise PortInUse(
            f"port {port} on {HOST} is already in use (another `make run` or `python -m local_aws`?): "
            "stop that process, point AWS_ENDPOINT_URL at it to share it, "
            "or pick another port with --port or ENERGY_LOCAL_PORT"
        )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0
