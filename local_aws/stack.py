"""The whole embedded stack: moto server, the resources terraform/ declares, the runner."""

from __future__ import annotations

from dataclasses import dataclass

from local_aws.runner import Runner
from local_aws.server import EmbeddedServer, start_server
from pipeline.bootstrap import bootstrap
from pipeline.settings import Settings


@dataclass
class EmbeddedStack:
    server: EmbeddedServer
    settings: Settings
    runner: Runner

    def stop(self) -> None:
        self.runner.stop()
        self.server.stop()


def start_stack(settings: Settings | None = None, port: int = 0, *, run_lambda: bool = True) -> EmbeddedStack:
    """Start moto on `port`, create the stack there and (by default) start the runner."""
    base = settings or Settings.from_env({})
    server = start_server(port)
    settings = base.with_endpoint(server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    runner = Runner(settings)
    if run_lambda:
        runner.start()
    return EmbeddedStack(server, settings, runner)
