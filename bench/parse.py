"""Parsing raw files: peak memory and time of the streaming decoder against the whole-file one.

Every figure comes from its own subprocess (so nothing one measurement allocated is counted
in another); peak = the process's high-water RSS (VmHWM, else `ru_maxrss`), growth = that
peak minus the RSS just before the work (imports and the interpreter excluded).

- stream: `formats.iter_rows` (exact Decimals, as processing stores) and
  `formats.check_readable` (the cheap first pass) over a 1.5M-reading JSON array (~180 MB)
  read from disk in 1 MiB chunks, plain and gzipped.
- bomb: 5 MB of gzip that inflates to ~5 GB, fed to `check_readable`.
- baseline, same run: the decoder as it was (`body.decode` + `json.loads` of the whole
  file, one RawRow per element) and today's `decode_rows` wrapper on a smaller file (the old
  decoder does not fit 180 MB in this machine's memory), and the streaming decoder on that
  same smaller file for the ratio.

Run from the repository root: `python bench/parse.py` (`--quick` for tiny sizes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from pipeline.formats import (  # noqa: E402
    NonFinite,
    RawRow,
    UnreadableFile,
    check_readable,
    decode_rows,
    iter_rows,
)

FULL_READINGS = 1_500_000
BASELINE_READINGS = 150_000
QUICK_READINGS = 20_000
CHUNK = 1 << 20


def readings_file(path: Path, count: int) -> None:
    """A JSON array of `count` readings of 10 sites, written as it is generated."""
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for i in range(count):
            reading = {
                "site_id": f"site-{i % 10}",
                "timestamp": f"2026-{1 + i // 400_000 % 12:02d}-{1 + i // 14_400 % 28:02d}T"
                f"{i // 600 % 24:02d}:{i // 10 % 60:02d}:00Z",
                "energy_generated_kwh": round((i * 7919) % 100_000 / 1000, 3),
                "energy_consumed_kwh": round((i * 104_729) % 80_000 / 1000, 3),
            }
            out.write(("," if i else "") + json.dumps(reading))
        out.write("]")


def gzip_bomb(size: int = 5_000_000) -> bytes:
    member = gzip.compress(b"\0" * 16_000_000, compresslevel=9)
    return member * (size // len(member) + 1)


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            yield block


def legacy_decode_rows(key: str, body: bytes) -> list[RawRow]:
    """The JSON path of decode_rows before streaming: the whole text, then the whole document."""
    if key.endswith(".gz"):
        body = gzip.decompress(body)
        key = key.removesuffix(".gz")
    text = body.decode("utf-8-sig")
    document = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=NonFinite)
    return [RawRow(i, value) for i, value in enumerate(document, start=1)]


# --- one measurement per process --------------------------------------------------------


def rss_kb(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(role: str, path: Path) -> dict[str, object]:
    key = "raw/bench.json.gz" if path.suffix == ".gz" else "raw/bench.json"
    before = rss_kb("VmRSS")
    start = time.perf_counter()
    outcome: object
    if role == "iter_rows":
        outcome = sum(1 for _ in iter_rows(key, chunks(path)))
    elif role == "check_readable":
        outcome = check_readable(key, chunks(path))
    elif role == "decode_rows":
        outcome = len(decode_rows(key, path.read_bytes()))
    elif role == "legacy":
        outcome = len(legacy_decode_rows(key, path.read_bytes()))
    elif role == "bomb":
        try:
            check_readable("raw/bomb.json.gz", chunks(path))
            outcome = "accepted"
        except UnreadableFile as exc:
            outcome = exc.reason
    else:
        raise SystemExit(f"unknown role {role}")
    seconds = time.perf_counter() - start
    peak = rss_kb("VmHWM")
    return {
        "role": role,
        "outcome": outcome,
        "seconds": seconds,
        "peak_mb": peak / 1024,
        "growth_mb": (peak - before) / 1024,
    }


def run(role: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--role", role, "--file", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {"role": role, "outcome": f"failed: {done.stderr.strip().splitlines()[-1:]}", "seconds": 0.0,
                "peak_mb": 0.0, "growth_mb": 0.0}  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        print(json.dumps(measure(args.role, args.file)))
        return
    full = QUICK_READINGS if args.quick else FULL_READINGS
    small = QUICK_READINGS if args.quick else BASELINE_READINGS
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        big, base = Path(tmp, "big.json"), Path(tmp, "base.json")
        readings_file(big, full)
        readings_file(base, small)
        big_gz = Path(tmp, "big.json.gz")
        with big.open("rb") as source, gzip.open(big_gz, "wb", compresslevel=6) as target:
            while block := source.read(CHUNK):
                target.write(block)
        bomb = Path(tmp, "bomb.json.gz")
        bomb.write_bytes(gzip_bomb())
        sizes = {p.name: p.stat().st_size for p in (big, base, big_gz, bomb)}
        plan = [
            (f"{small:,} readings ({sizes['base.json'] / 2**20:.0f} MB)", base, ("legacy", "decode_rows", "iter_rows")),
            (f"{full:,} readings ({sizes['big.json'] / 2**20:.0f} MB)", big, ("iter_rows", "check_readable")),
            (f"{full:,} readings gzipped ({sizes['big.json.gz'] / 2**20:.0f} MB)", big_gz, ("iter_rows",)),
            (f"gzip bomb ({sizes['bomb.json.gz'] / 2**20:.1f} MB, ~5 GB inflated)", bomb, ("bomb",)),
        ]
        from bench.common import machine_note, ratio_line  # only here: the measuring roles import nothing more

        print(f"{machine_note()}\n\nEach figure from its own process.\n")
        print("| file | decoder | outcome | seconds | peak RSS MB | growth MB |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        results = {}
        for label, path, roles in plan:
            for role in roles:
                r = run(role, path)
                results[(path.name, role)] = r
                print(f"| {label} | {role} | {r['outcome']} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | "
                      f"{r['growth_mb']:.0f} |")  # fmt: skip
        legacy, streamed = results[("base.json", "legacy")], results[("base.json", "iter_rows")]
        big_rows, big_check = results[("big.json", "iter_rows")], results[("big.json", "check_readable")]
        growth = legacy["growth_mb"] / max(streamed["growth_mb"], 1)  # growth under 1 MB counts as 1
        print("\n" + ratio_line("memory growth, old decoder / streaming on the same file", growth, None, None))
        if big_rows["seconds"]:
            ratio = big_check["seconds"] / big_rows["seconds"]
            print(f"check_readable time / iter_rows time on the big file: {ratio:.2f}")
        print(f"time per reading, old decoder {legacy['seconds'] / small * 1e6:.2f} us, "
              f"streaming {streamed['seconds'] / small * 1e6:.2f} us")  # fmt: skip


if __name__ == "__main__":
    main()
