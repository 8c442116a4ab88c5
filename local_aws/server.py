"""An in-process moto server, reachable over HTTP on 127.0.0.1 by any boto3 client."""

from __future__ import annotations

import logging
import socket
import urllib.request
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"


class PortInUse(RuntimeError):
    pass


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


def start_server(port: int = 0) -> EmbeddedServer:
    """Start moto on `port` (0 picks a free one). A busy fixed port fails fast, not hangs."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if port and not _port_free(port):
        raise PortInUse(f"port {port} on {HOST} is already in use: pick another with --port or ENERGY_LOCAL_PORT")
    server = ThreadedMotoServer(HOST, port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return EmbeddedServer(server, f"http://{host}:{bound}")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0
