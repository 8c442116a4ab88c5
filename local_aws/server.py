"""An in-process moto server, reachable over HTTP on 127.0.0.1 by any boto3 client."""

from __future__ import annotations

import logging
import socket
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
    """ThreadedMotoServer with its WSGI app wrapped (persistence needs to see every request)."""

    def __init__(self, ip_address: str, port: int, middleware: Middleware) -> None:
        super().__init__(ip_address, port=port, verbose=False)
        self._middleware = middleware

    def _server_entry(self) -> None:
        app = self._middleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


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
    if middleware is None:
        server = ThreadedMotoServer(HOST, port=port, verbose=False)
    else:
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
