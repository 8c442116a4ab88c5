"""Build the Lambda packages. The pipeline's: `pipeline/` without its operations side
(`pipeline/ops/`, which the function never imports), `lambda/handler.py` and `tzdata` at the
root of one zip. The scheduled simulator's (terraform/simulator.tf, off by default):
`lambda/simulator.py` at the root and exactly the `pipeline/` modules it imports, found by
following its import statements (modulefinder), so a module it stops importing leaves too.

The zip is deterministic (same sources -> same bytes) so that Terraform's
`source_code_hash` changes only when the code does, whoever builds it: entries are sorted,
every timestamp is 1980-01-01 (the zip epoch), every file is mode 0644, and entries are
stored uncompressed so that no zlib version or build can change a byte (the package is a
few hundred KB either way). Caches (__pycache__, *.pyc) and hidden files are left out.
boto3 is not included: the Lambda runtime provides it. `tzdata` (the IANA timezone
database as a package, pinned in requirements.txt) is, from the interpreter that runs this
script: `zoneinfo` falls back to it where the operating system has no zone files, which a
Lambda image need not have (sites' wall-clock timestamps, `pipeline/local_time.py`). The
simulator never builds a timezone, so its zip goes without.

Usage: python scripts/package_lambda.py [--package pipeline|simulator] [--output build/lambda.zip]
Prints the path, the sha256 in hex and the base64 form Terraform's filebase64sha256 shows.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import io
import modulefinder
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "lambda.zip"
DEFAULT_OUTPUTS = {"pipeline": DEFAULT_OUTPUT, "simulator": ROOT / "build" / "simulator.zip"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXCLUDED_DIRS = {"__pycache__"}
OPERATIONS = {"ops", "__main__.py"}  # pipeline/ops/ and the CLI's entry: never run in Lambda
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
VENDORED = ("tzdata",)  # installed packages the function needs beside the runtime's boto3


def package_files(root: Path = ROOT) -> dict[str, Path]:
    """Zip entry name -> source file; the handler goes to the root as handler.py."""
    files = {"handler.py": root / "lambda" / "handler.py"}
    for path in _walk(root / "pipeline", skip=OPERATIONS):
        files[path.relative_to(root).as_posix()] = path
    for name in VENDORED:
        directory = _installed(name)
        for path in _walk(directory):
            files[f"{name}/{path.relative_to(directory).as_posix()}"] = path
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing package sources: {', '.join(missing)}")
    return files


def simulator_files(root: Path = ROOT) -> dict[str, Path]:
    """Zip entry name -> source file: lambda/simulator.py as simulator.py, and the modules of
    `pipeline/` it imports, directly or through each other (packages' __init__ included).
    The finder searches `root` alone: the standard library and boto3 stay unresolved, as
    they should, since the runtime provides them."""
    entry = root / "lambda" / "simulator.py"
    if not entry.is_file():
        raise FileNotFoundError(f"missing package source: {entry}")
    finder = modulefinder.ModuleFinder(path=[str(root)])
    finder.run_script(str(entry))
    files = {"simulator.py": entry}
    package = (root / "pipeline").resolve()
    for module in finder.modules.values():
        path = Path(module.__file__).resolve() if module.__file__ else None
        if path is not None and path.is_relative_to(package):
            files[path.relative_to(package.parent).as_posix()] = path
    return files


PACKAGES = {"pipeline": package_files, "simulator": simulator_files}


def _installed(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{package} is not installed here: run this with the project's .venv/bin/python")
    return Path(spec.origin).parent


def _walk(directory: Path, skip: set[str] | frozenset[str] = frozenset()) -> Iterator[Path]:
    for current, dirs, names in os.walk(directory):
        top = Path(current) == directory
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS and not d.startswith(".") and not (top and d in skip)]
        for name in names:
            if name.startswith(".") or Path(name).suffix in EXCLUDED_SUFFIXES or (top and name in skip):
                continue
            yield Path(current) / name


def build_zip(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr is read as a mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name].read_bytes())
    return buffer.getvalue()


def write_package(output: Path = DEFAULT_OUTPUT, root: Path = ROOT, package: str = "pipeline") -> bytes:
    """Write the zip to `output` atomically (a reader never sees half a zip); returns its bytes."""
    data = build_zip(PACKAGES[package](root))
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(output)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=sorted(PACKAGES), default="pipeline", help="which function's package")
    parser.add_argument("--output", type=Path, help="zip to write (default: build/lambda.zip or build/simulator.zip)")
    args = parser.parse_args(argv)
    args.output = args.output or DEFAULT_OUTPUTS[args.package]
    data = write_package(args.output, package=args.package)
    digest = hashlib.sha256(data)
    print(args.output)
    print(f"sha256 {digest.hexdigest()}")
    print(f"base64 {base64.b64encode(digest.digest()).decode()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
