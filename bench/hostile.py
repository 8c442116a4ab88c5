"""Hostile and huge files: the handler's memory and time on a very big file and a gzip bomb.

Targets (issue "Nothing lost"): a 1.5-million-reading file stored with the handler's peak
RSS <= 512 MB; a 5 MB gzip bomb quarantined in < 10 s with < 100 MB growth.

The embedded AWS runs in its own process (`python -m local_aws --in-memory --no-runner`), so
what moto holds is not counted; each measurement is a fresh interpreter (see
bench/memory.py for how peaks are read). Baselines from the same run: the handler's
interpreter with its imports and clients, and the same handler on a file a hundred times
smaller, so the ratio says whether memory follows the file (it must not).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench import memory  # noqa: E402
from bench.memory import current_mb, emit, peak_mb  # noqa: E402

FULL_READINGS = 1_500_000
QUICK_READINGS = 20_000
BOMB_INFLATED_MB = 5120  # ~5 MB of gzip, as in the issue
QUICK_BOMB_INFLATED_MB = 200
SITES = 100
TARGET_PEAK_MB = 512
TARGET_BOMB_SECONDS = 10
TARGET_BOMB_GROWTH_MB = 100
ROLES = ("baseline", "upload", "handler", "bomb")


def _settings() -> Any:
    from pipeline.settings import Settings

    return Settings.from_env()


def role_baseline() -> None:
    from local_aws.runner import load_handler
    from pipeline.aws import client

    settings = _settings()
    load_handler()
    for service in ("s3", "sqs", "dynamodb", "sns"):
        client(settings, service)
    emit({})


def role_upload() -> None:
    """Write the file to disk a reading at a time and upload it from there (never whole in memory)."""
    from pipeline.aws import client

    settings, key, count = _settings(), os.environ["BENCH_KEY"], int(os.environ["BENCH_READINGS"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        out.write("[")
        for i in range(count):
            site, n = divmod(i, count // SITES or 1)
            minute = n * 15
            month, day = 1 + minute // 40320 % 12, 1 + minute // 1440 % 28  # 28-day months: every time distinct
            ts = f"2026-{month:02d}-{day:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z"
            reading = {
                "site_id": f"f{count}-site-{site}",  # each file its own sites
                "timestamp": ts,
                "energy_generated_kwh": 1.5,
                "energy_consumed_kwh": 2,
            }
            out.write(("," if i else "") + json.dumps(reading))
        out.write("]")
    size = os.path.getsize(out.name)
    client(settings, "s3").upload_file(out.name, settings.bucket, key)
    os.unlink(out.name)
    emit({"file_mb": size / 2**20})


def role_handler() -> None:
    """process_object on the file, as the handler does for its message (no deadline: one go)."""
    import logging

    from pipeline.aws import client
    from pipeline.processing import process_object

    settings = _settings()
    for service in ("s3", "sqs", "dynamodb", "sns"):
        client(settings, service)
    logging.getLogger("energy").setLevel(logging.WARNING)
    before = current_mb()
    started = time.perf_counter()
    outcome = process_object(settings, os.environ["BENCH_KEY"])
    emit(
        {
            "seconds": time.perf_counter() - started,
            "before_mb": before,
            "status": outcome.status,
            "written": outcome.written,
        }
    )


def role_bomb() -> None:
    import logging

    from pipeline import raw_files
    from pipeline.aws import client
    from pipeline.processing import process_object

    settings, key = _settings(), "raw/2026/11/29/bomb.json.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    blanks = b" " * 2**20
    parts = [packer.compress(b"[")] + [packer.compress(blanks) for _ in range(int(os.environ["BENCH_BOMB_MB"]))]
    bomb = b"".join([*parts, packer.compress(b"]"), packer.flush()])
    raw_files.upload(settings, key, bomb)
    client(settings, "dynamodb")
    logging.getLogger("energy").setLevel(logging.WARNING)
    del parts
    before = current_mb()
    started = time.perf_counter()
    outcome = process_object(settings, key)
    emit(
        {
            "seconds": time.perf_counter() - started,
            "growth_mb": peak_mb() - before,
            "before_mb": before,
            "compressed_mb": len(bomb) / 2**20,
            "status": outcome.status,
            "error": outcome.error,
        }
    )


def run_role(role: str, env: dict[str, str], timeout: float = 7200) -> dict[str, Any]:
    return memory.run_role(role, env, timeout, script=__file__)


def start_stack() -> tuple[subprocess.Popen, str]:
    """The embedded AWS in its own process, on a free port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    stack = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "--in-memory", "--no-runner", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return stack, endpoint
        except OSError:
            time.sleep(0.2)
    stack.kill()
    raise SystemExit("the embedded AWS did not start within 60 s")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if memory.played_role(args, ROLES, globals()):
        return 0

    from bench.common import machine_note, number, parse_args, progress, ratio_line

    options = parse_args(__doc__, args)
    total = QUICK_READINGS if options.quick else FULL_READINGS
    small = max(total // 100, 1_000)
    stack, endpoint = start_stack()
    try:
        env = {"ENERGY_BACKEND": "local", "AWS_ENDPOINT_URL": endpoint}
        baseline = run_role("baseline", env)
        bomb_mb = QUICK_BOMB_INFLATED_MB if options.quick else BOMB_INFLATED_MB
        bomb = run_role("bomb", {**env, "BENCH_BOMB_MB": str(bomb_mb)})
        results = {}
        for count in (small, total):
            key = f"raw/2026/11/29/hostile-{count}.json"
            progress(f"hostile: uploading and storing {number(count)} readings")
            upload = run_role("upload", {**env, "BENCH_KEY": key, "BENCH_READINGS": str(count)})
            results[count] = {**run_role("handler", {**env, "BENCH_KEY": key}), "file_mb": upload["file_mb"]}
            progress(f"hostile: {number(count)} readings: {json.dumps(results[count])}")
    finally:
        stack.terminate()  # moto holding 1.5M items can take a while to stop: give it 30 s, then kill
        try:
            stack.wait(30)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.wait()

    print(f"## Hostile and huge files\n\n{machine_note()}\n")
    print("| measurement | file | peak RSS MB | vs baseline | time |")
    print("| --- | --- | ---: | ---: | ---: |")
    print(f"| handler baseline | imports + clients | {baseline['peak_mb']:,.0f} | 1.00x | |")
    for count, result in results.items():
        ratio = result["peak_mb"] / baseline["peak_mb"]
        print(
            f"| handler, {number(count)} readings | {result['file_mb']:,.0f} MB JSON, {result['status']}, "
            f"{number(result['written'])} written | {result['peak_mb']:,.0f} | {ratio:.2f}x "
            f"| {result['seconds']:,.0f} s |"
        )
    print(
        f"| gzip bomb | {bomb['compressed_mb']:.1f} MB inflating to {bomb_mb:,} MB, {bomb['status']} "
        f"({bomb['error'].split(':')[0]}) | +{bomb['growth_mb']:,.0f} growth | | {bomb['seconds']:.2f} s |"
    )
    big, little = results[total], results[small]
    peak_met = big["peak_mb"] <= TARGET_PEAK_MB
    bomb_met = bomb["seconds"] < TARGET_BOMB_SECONDS and bomb["growth_mb"] < TARGET_BOMB_GROWTH_MB
    print()
    print(
        ratio_line(
            f"handler peak RSS, {number(total)} vs {number(small)} readings",
            big["peak_mb"] / little["peak_mb"],
            f"peak <= {TARGET_PEAK_MB} MB",
            peak_met,
            f"{big['peak_mb']:,.0f} MB",
        )
    )
    print(
        ratio_line(
            "handler RSS while quarantining the gzip bomb / just before",
            (bomb["before_mb"] + bomb["growth_mb"]) / bomb["before_mb"],
            f"< {TARGET_BOMB_SECONDS} s and < {TARGET_BOMB_GROWTH_MB} MB growth",
            bomb_met,
            f"{bomb['seconds']:.2f} s, +{bomb['growth_mb']:,.0f} MB",
        )
    )
    stored_all = big["written"] == total and big["status"] == "processed"
    return 0 if stored_all and bomb["status"] == "quarantined" and peak_met and bomb_met else 1


if __name__ == "__main__":
    sys.exit(main())
