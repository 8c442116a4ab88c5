"""The whole embedded stack: moto server, the resources terraform/ declares, the runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from local_aws.persistence import Persistence
from local_aws.runner import Runner
from local_aws.server import EmbeddedServer, ensure_port_free, start_server
from pipeline.ops.bootstrap import bootstrap
from pipeline.settings import Settings


@dataclass
class EmbeddedStack:
    server: EmbeddedServer
    settings: Settings
    runner: Runner
    persistence: Persistence | None = None
    replayed: int = 0  # objects the journal put back at start (uploads a crash left unprocessed)

    def stop(self) -> None:
        """A normal stop: the runner first, so the last snapshot sees its work finished."""
        self.runner.stop()
        if self.persistence is not None:
            self.persistence.close()
        self.server.stop()


def start_stack(
    settings: Settings | None = None,
    port: int = 0,
    *,
    run_lambda: bool = True,
    data_dir: Path | str | None = None,
) -> EmbeddedStack:
    """Start moto on `port`, create the stack there and (by default) start the runner.

    With `data_dir`, the stack comes back from that directory (last snapshot, then the
    journalled uploads, whose notifications fire again) and keeps saving there; without it,
    everything lives in memory only, as the tests want.
    """
    base = settings or Settings.from_env({})
    persistence = Persistence(data_dir) if data_dir else None
    if persistence is not None:
        ensure_port_free(port)  # before loading: a second process on the same data must not start
        persistence.load()
    server = start_server(port, middleware=persistence.middleware if persistence else None)
    settings = base.with_endpoint(server.endpoint)
    bootstrap(settings, local_alert_queue=True)
    replayed = 0
    if persistence is not None:
        replayed = persistence.replay_journal()
        persistence.start()
    runner = Runner(settings)
    if run_lambda:
        runner.start()
    return EmbeddedStack(server, settings, runner, persistence, replayed)
