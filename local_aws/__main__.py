"""`python -m local_aws`: the embedded stack as a standalone process on a fixed port.

Other processes (the CLI, a second app, `aws --endpoint-url ... s3 cp`) share it by setting
AWS_ENDPOINT_URL to the address it prints. Everything it holds is kept in ENERGY_DATA_DIR
(default `.energy-data/` in the project) across stops and crashes; `--reset` empties it.

`--runner-only` is the other half of `--no-runner`: a process that only plays Lambda's part
for a stack another process serves (AWS_ENDPOINT_URL, or 127.0.0.1 on --port), so the
worker can be stopped, killed or restarted on its own while the stack and its queue live on.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from local_aws.persistence import DataDirError, reset_data_dir
from local_aws.runner import Runner
from local_aws.server import PortInUse
from local_aws.stack import start_stack
from pipeline.logs import configure
from pipeline.settings import DEFAULT_LOCAL_PORT, ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("ENERGY_LOCAL_PORT", DEFAULT_LOCAL_PORT)),
        help="port on 127.0.0.1 (default: ENERGY_LOCAL_PORT or %(default)s)",
    )
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--no-runner", action="store_true", help="do not play Lambda's part (another process does)")
    role.add_argument(
        "--runner-only",
        action="store_true",
        help="only play Lambda's part, for the stack at AWS_ENDPOINT_URL (default: 127.0.0.1 on --port)",
    )
    parser.add_argument("--in-memory", action="store_true", help="keep nothing on disk (forgotten at stop)")
    parser.add_argument("--reset", action="store_true", help="empty the data directory (ENERGY_DATA_DIR) and exit")
    args = parser.parse_args(argv)
    configure()
    if args.runner_only:
        return run_lambda_only(args.port)
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    try:
        settings = Settings.from_env(env)
        if args.reset:
            removed = reset_data_dir(settings.data_dir)
            print(f"{'Emptied' if removed else 'Nothing to empty in'} {settings.data_dir}: the next start is empty.")
            return 0
        data_dir = None if args.in_memory else settings.data_dir
        stack = start_stack(settings, args.port, run_lambda=not args.no_runner, data_dir=data_dir)
    except (PortInUse, ConfigError, DataDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Embedded AWS running at {stack.settings.endpoint_url}; use it from another shell with:")
    print(f"  export ENERGY_BACKEND=local AWS_ENDPOINT_URL={stack.settings.endpoint_url}")
    kept = f"data kept in {data_dir}" if data_dir else "in memory only"
    replayed = f"; {stack.replayed} upload(s) from before a crash queued again" if stack.replayed else ""
    print(f"({kept}{replayed})")
    wait_for_stop()
    stack.stop()
    return 0


def run_lambda_only(port: int) -> int:
    """The runner alone, attached to a stack that another process serves."""
    try:
        settings = Settings.from_env()
        if not os.environ.get("AWS_ENDPOINT_URL"):
            settings = settings.with_endpoint(f"http://127.0.0.1:{port}")
        runner = Runner(settings)
        queue_url = runner.queue_url  # fail now, not in every poll, when there is no stack there
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"error: no stack to run for at {settings.endpoint_url} ({exc})", file=sys.stderr)
        return 2
    runner.start()
    print(f"Lambda runner polling {queue_url} with {runner.concurrency} pollers.")
    wait_for_stop()
    runner.stop()
    return 0


def wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (a normal stop; SIGKILL is a crash, which the stack survives).

    It sleeps in short steps rather than on an untimed lock: a signal may be delivered to any
    thread, and Python runs the handler on the main thread only when that thread next runs, so
    a main thread blocked for good missed a SIGTERM (once in a few dozen stops). The handler
    takes no lock, so it cannot deadlock on one the main thread holds."""
    print("Press Ctrl-C to stop.", flush=True)
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    try:
        while not stopped:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
