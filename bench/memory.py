"""Memory: peak of the handler on a 100,000-reading file, and of the app process holding it.

Every figure comes from its own subprocess, so nothing one measurement imported or
allocated is counted in another. A peak is the process's high-water RSS (VmHWM, else
`ru_maxrss`); the pages' Python heap peak comes from `tracemalloc`.

- app: starts the embedded stack (moto in the process, as `streamlit run` does), uploads
  one 100,000-reading file and has a handler subprocess process it against this stack;
  then runs what the Live page (all sites, last 7 days) and the Records page (one site,
  7 days, with its CSV) load, through Streamlit's AppTest where the pages run there, or
  through the loaders of dashboard/data.py. Baseline: the same imports and an empty stack.
- handler: `Runner.drain()` through lambda/handler.py, as in Lambda: the stack is in
  another process. Baseline: the interpreter with the handler's imports and clients.
- the original Lambda held the parsed file (`json.loads`) while it wrote row by row; its
  peak is measured by loading the same object.

The file is 100 sites x 1,000 one-minute readings: memory depends on the readings held,
not on how many hours they cover, and one-minute readings keep the rollups few.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

FULL_READINGS = 100_000
QUICK_READINGS = 500
SITES = 100
KEY_NAME = "bench-memory.json"
DAYS = 7
ROLES = ("bare", "handler-baseline", "handler", "original-baseline", "original", "pure", "app-baseline", "app")


# --- measuring inside a role -------------------------------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """This process's peak resident set so far.

    Linux's VmHWM belongs to the address space the exec created; `ru_maxrss` would also
    carry the parent's size at fork, which makes every child look as big as its parent.
    """
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    rss = _status_mb("VmRSS")
    return rss if rss is not None else peak_mb()


def emit(result: dict[str, Any]) -> None:
    """A role's result: one JSON line on stdout, last."""
    result.setdefault("peak_mb", peak_mb())
    print("RESULT " + json.dumps(result), flush=True)


def run_role(
    role: str, env: dict[str, str] | None = None, timeout: float = 1200, script: str = __file__
) -> dict[str, Any]:
    """Run `script` (this one by default) as `role` in a fresh interpreter and return what it emitted."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--role", role],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"role {role} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    name = Path(script).stem
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {role} took {time.perf_counter() - started:,.0f} s", file=sys.stderr)
    return result


def readings() -> int:
    return int(os.environ.get("BENCH_MEMORY_READINGS", FULL_READINGS))


def settings_from_env() -> Any:
    from pipeline.settings import Settings

    return Settings.from_env()


# --- the roles ---------------------------------------------------------------------------


def role_bare() -> None:
    emit({})


def role_handler_baseline() -> None:
    from local_aws.runner import load_handler
    from pipeline.aws import client

    settings = settings_from_env()
    load_handler()
    for service in ("s3", "sqs", "dynamodb", "sns"):
        client(settings, service)
    emit({})


def role_handler() -> None:
    from local_aws.runner import Runner
    from pipeline.file_outcomes import file_outcomes

    settings = settings_from_env()
    runner = Runner(settings, wait_seconds=0, retry_delay_seconds=1)
    import logging

    logging.getLogger("energy").setLevel(logging.WARNING)
    started = time.perf_counter()
    runner.drain(timeout=1500)
    elapsed = time.perf_counter() - started
    key = os.environ["BENCH_MEMORY_KEY"]
    outcome = file_outcomes(settings, [key]).get(key)
    emit({"seconds": elapsed, "written": outcome.written if outcome else 0, "status": getattr(outcome, "status", None)})


def role_original_baseline() -> None:
    from pipeline import raw_files  # noqa: F401
    from pipeline.aws import client

    client(settings_from_env(), "s3")
    emit({})


def role_original() -> None:
    from decimal import Decimal

    from pipeline import raw_files

    settings = settings_from_env()
    body, _ = raw_files.read(settings, os.environ["BENCH_MEMORY_KEY"])
    data = json.loads(body, parse_float=Decimal)
    del body
    items = 0
    for row in data:  # what the original built per row before its put_item
        item = dict(
            row, net_energy_kwh=Decimal(str(row["energy_generated_kwh"])) - Decimal(str(row["energy_consumed_kwh"]))
        )
        items += bool(item)
    emit({"rows": items})


def role_pure() -> None:
    from bench.common import derive_and_detect
    from pipeline import raw_files
    from pipeline.formats import decode_rows
    from pipeline.sites import get_sites
    from pipeline.timestamps import now_utc
    from pipeline.validation import validate_rows

    settings = settings_from_env()
    key = os.environ["BENCH_MEMORY_KEY"]
    body, _ = raw_files.read(settings, key)
    _, derive = derive_and_detect()
    at = now_utc()  # the processing time, the rules' clock
    before = current_mb()
    readings_ = validate_rows(decode_rows(key, body)).readings
    sites = get_sites(settings, {r.site_id for r in readings_})
    records = derive(readings_, sites, key, at)
    emit({"growth_mb": peak_mb() - before, "records": len(records)})


def _start_app_stack() -> Any:
    """What the app does on `streamlit run` with the local backend: the whole stack in-process."""
    import logging

    import altair  # noqa: F401
    import pandas  # noqa: F401
    import streamlit  # noqa: F401

    from local_aws.stack import start_stack
    from pipeline.settings import Settings

    for name in ("streamlit", "werkzeug"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import dashboard.data  # noqa: F401
    except Exception:  # the app side may be mid-change; the stack is what matters here
        pass
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    stack = start_stack(Settings.from_env(env), port=0, run_lambda=False)
    logging.getLogger("energy").setLevel(logging.WARNING)
    return stack


def role_app_baseline() -> None:
    stack = _start_app_stack()
    emit({})
    stack.stop()


def role_app() -> None:
    from datetime import UTC, datetime, timedelta

    from bench.common import bench_sites
    from pipeline import raw_files
    from pipeline.ops.simulation import encode, simulate
    from pipeline.sites import put_sites

    stack = _start_app_stack()
    settings = stack.settings
    result: dict[str, Any] = {"after_start_mb": current_mb()}
    total = readings()
    count = min(SITES, max(1, total // 20))
    from dataclasses import replace

    sites = [replace(s, interval_minutes=1) for s in bench_sites(count)]
    put_sites(settings, sites)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    simulated = simulate(sites, now, total // count, anomaly_rate=0.02, seed=7)
    key = f"raw/{now:%Y/%m/%d}/{KEY_NAME}"
    body = encode(simulated.readings, "json")
    result.update(rows=len(simulated.readings), file_mb=len(body) / 1e6, sites=len(sites))
    raw_files.upload(settings, key, body)
    del simulated, body
    child_env = {"AWS_ENDPOINT_URL": settings.endpoint_url or "", "ENERGY_BACKEND": "local", "BENCH_MEMORY_KEY": key}
    result["handler_baseline"] = run_role("handler-baseline", child_env)
    result["handler"] = run_role("handler", child_env)
    result["original_baseline"] = run_role("original-baseline", child_env)
    result["original"] = run_role("original", child_env)
    result["pure"] = run_role("pure", child_env)
    result["after_store_mb"] = current_mb()
    result["peak_before_pages_mb"] = peak_mb()
    result.update(load_pages(settings, sites[0].site_id, child_env["AWS_ENDPOINT_URL"]))
    result["after_pages_mb"] = current_mb()
    emit(result)
    stack.stop()


def load_pages(settings: Any, site_id: str, endpoint: str) -> dict[str, Any]:
    """The Live and Records pages' data, under tracemalloc; AppTest first, then the loaders."""
    import tracemalloc

    tracemalloc.start()
    try:
        how = _pages_by_apptest(site_id, endpoint)
    except Exception as exc:  # the pages are someone else's moving target: fall back, and say so
        how = f"dashboard/data.py loaders (AppTest: {type(exc).__name__}: {str(exc)[:80]})"
        try:
            _pages_by_loaders(settings, site_id)
        except Exception as exc2:
            how = f"pipeline queries (loaders: {type(exc2).__name__}: {str(exc2)[:80]})"
            _pages_by_pipeline(settings, site_id)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"pages_via": how, "pages_heap_peak_mb": heap_peak / 2**20}


def _pages_by_apptest(site_id: str, endpoint: str) -> str:
    from streamlit.testing.v1 import AppTest

    from dashboard import aggregate

    os.environ["AWS_ENDPOINT_URL"] = endpoint  # the pages use this process's stack as an endpoint
    week = next(p for p in aggregate.PERIODS if p.hours == DAYS * 24)
    live = AppTest.from_file(str(ROOT / "pages" / "live.py"), default_timeout=300)
    live.session_state["live_period"] = week
    live.session_state["live_on"] = False
    live.run()
    if live.exception:
        raise RuntimeError(f"live page: {live.exception[0].message}")
    if not live.metric:
        raise RuntimeError("live page drew no metrics")
    records = AppTest.from_file(str(ROOT / "pages" / "records.py"), default_timeout=300)
    records.query_params["site"] = site_id
    records.run()
    if records.exception:
        raise RuntimeError(f"records page: {records.exception[0].message}")
    if not records.dataframe:
        raise RuntimeError("records page drew no table")
    return "Streamlit AppTest of pages/live.py (7 days) and pages/records.py"


def _pages_by_loaders(settings: Any, site_id: str) -> None:
    from datetime import UTC, datetime, timedelta

    from dashboard import aggregate, data
    from pipeline.timestamps import utc_text

    version = data.data_version(settings)
    sites = data.site_ids(settings, version)
    week = next(p for p in aggregate.PERIODS if p.hours == DAYS * 24)
    win = aggregate.window(week)
    frame = data.rollup_frame(settings, tuple(sites), win.previous_start_hour, win.end_hour, version)
    aggregate.split(frame, win)
    end = datetime.now(UTC)
    start = utc_text(end - timedelta(days=DAYS))
    stop = utc_text(end)
    data.record_frame(settings, site_id, start, stop, False, version)
    data.record_csv(settings, site_id, start, stop, False, version)


def _pages_by_pipeline(settings: Any, site_id: str) -> None:
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from pipeline import record_store, rollups, sites
    from pipeline.timestamps import utc_text

    end = datetime.now(UTC)
    start = end - timedelta(days=DAYS)
    pd.DataFrame(
        [
            r.__dict__
            for s in sites.list_sites(settings)
            for r in rollups.site_rollups(
                settings, s.site_id, f"{start:%Y-%m-%dT%H}:00:00Z", f"{end:%Y-%m-%dT%H}:00:00Z"
            )
        ]
    )
    pd.DataFrame([r.__dict__ for r in record_store.site_records(settings, site_id, utc_text(start))])


# --- the report --------------------------------------------------------------------------


def played_role(args: list[str], roles: tuple[str, ...], namespace: dict[str, Any]) -> bool:
    """When `args` ask for `--role NAME` (a child started by `run_role`), run `role_NAME` from
    `namespace` and say so; False for the parent's own run."""
    if "--role" not in args:
        return False
    role = args[args.index("--role") + 1]
    if role not in roles:
        raise SystemExit(f"unknown role {role!r}")
    namespace[f"role_{role.replace('-', '_')}"]()
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if played_role(args, ROLES, globals()):
        return 0

    from bench.common import number, parse_args, progress, ratio_line, report

    options = parse_args(__doc__, args)
    total = QUICK_READINGS if options.quick else FULL_READINGS
    env = {"BENCH_MEMORY_READINGS": str(total)}
    bare = run_role("bare", env)
    app_baseline = run_role("app-baseline", env)
    progress("memory: baselines measured; the app process now stores and reads the file")
    app = run_role("app", env, timeout=2400)
    handler, handler_base = app["handler"], app["handler_baseline"]
    original, pure = app["original"], app["pure"]
    if handler.get("written", 0) <= 0:
        raise SystemExit(f"the handler stored nothing: {handler}")

    def mb(value: float) -> str:
        return f"{value:,.0f}"

    def line(name: str, what: str, peak: float, base: float | None) -> list[str]:
        if base is None:
            return [name, what, mb(peak), "", ""]
        return [name, what, mb(peak), f"{peak - base:+,.0f}", f"{peak / base:.2f}x"]

    original_base = app["original_baseline"]
    pages_how = app["pages_via"].split(" (")[0].split(" of ")[0]
    rows = [
        line("bare interpreter", "python, nothing imported", bare["peak_mb"], None),
        line("handler baseline", "handler imports + boto3 clients", handler_base["peak_mb"], handler_base["peak_mb"]),
        line(
            f"handler, {number(app['rows'])}-reading file",
            f"Runner.drain -> lambda/handler.py ({handler['seconds']:,.0f} s, {number(handler['written'])} written)",
            handler["peak_mb"],
            handler_base["peak_mb"],
        ),
        line(
            "original Lambda baseline", "its imports + an S3 client", original_base["peak_mb"], original_base["peak_mb"]
        ),
        line(
            "original Lambda, same file",
            "get_object + json.loads, rows walked (its put_items hold nothing more)",
            original["peak_mb"],
            original_base["peak_mb"],
        ),
        [
            "pure path, same file",
            "decode + validate + derive/detect (no AWS): RSS growth while it runs",
            "",
            f"{pure['growth_mb']:+,.0f}",
            f"{pure['growth_mb'] * 2**20 / app['rows']:,.0f} B/reading",
        ],
        line("app baseline", "app imports + empty embedded stack", app_baseline["peak_mb"], app_baseline["peak_mb"]),
        line(
            "app, file stored",
            f"embedded stack holding {number(app['rows'])} readings ({app['file_mb']:,.1f} MB file)",
            app["peak_before_pages_mb"],
            app_baseline["peak_mb"],
        ),
        line(
            "app peak, pages loaded",
            f"+ Live (7 days) and Records (one site, 7 days, CSV) via {pages_how}",
            app["peak_mb"],
            app_baseline["peak_mb"],
        ),
        [
            "pages' heap (tracemalloc)",
            "Python allocations while the pages load (moto's serving included)",
            mb(app["pages_heap_peak_mb"]),
            "",
            "",
        ],
    ]
    handler_ratio = handler["peak_mb"] / handler_base["peak_mb"]
    app_ratio = app["peak_mb"] / app_baseline["peak_mb"]
    report(
        f"Memory: {number(app['rows'])}-reading file (peak RSS, MB)",
        ["process", "what it holds", "peak MB", "above baseline MB", "vs baseline"],
        rows,
        [
            ratio_line(
                "handler peak / handler baseline",
                handler_ratio,
                None,
                None,
                f"+{handler['peak_mb'] - handler_base['peak_mb']:,.0f} MB for {number(app['rows'])} readings; "
                f"the original Lambda: +{original['peak_mb'] - original_base['peak_mb']:,.0f} MB",
            ),
            ratio_line(
                "app peak / app baseline",
                app_ratio,
                None,
                None,
                f"+{app['peak_mb'] - app_baseline['peak_mb']:,.0f} MB, mostly moto holding the stored items",
            ),
        ],
        [
            "each row is its own subprocess; peak MB is its high-water RSS (VmHWM). The handler and the original "
            "run against the app's embedded stack over HTTP, so the stored items are counted in the app, as in the "
            "real app.",
            f"pages measured via: {app['pages_via']}.",
            f"{app['sites']} sites x one-minute readings, 2% injected anomalies.",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
