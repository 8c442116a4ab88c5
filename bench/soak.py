"""Soak: hundreds of files over tens of sites with faults, duplicates and disorder, then verify.

The same files are stored twice on one embedded AWS (127.0.0.1, this process), by the
runner with two pollers: once undisturbed (the baseline), once soaked — 30% of DynamoDB
writes throttled, 20% of S3 reads and 30% of SNS publishes failing (seeded), every 5th
notification delivered three times, and half the site groups' files uploaded newest
first. The queue's receive limit is raised so transient faults rarely dead-letter; what is
dead-lettered all the same is redriven with the faults off, as an operator would. Then
verify runs, and the records, rollups, ledger and alerts are compared with the baseline's.

The files' records cannot legitimately depend on the order they are stored in (see
tests/reliability/workload.py), so any difference is a reading lost, doubled or judged
twice. Prints a markdown table, the soaked run's figures and `ratio:` lines; exits 1 when
verify finds a problem or the soaked stack differs from the baseline.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.common import (  # noqa: E402
    BenchStack,
    embedded_stack,
    number,
    parse_args,
    progress,
    quiet_logs,
    ratio_line,
    report,
)
from local_aws.runner import Runner  # noqa: E402
from pipeline import raw_files  # noqa: E402
from pipeline.ops.dead_letters import list_dead_letters, redrive  # noqa: E402
from pipeline.ops.verify import FILES as FILES_CHECK  # noqa: E402
from pipeline.ops.verify import Report, verify  # noqa: E402
from tests.reliability.faults import WRITES, FaultPlan, injected  # noqa: E402
from tests.reliability.workload import alerting, deliver_again, file_rows, register_sites, settle, state  # noqa: E402


@dataclass(frozen=True)
class Size:
    files: int
    groups: int  # each file carries the three sites of one group
    readings: int  # per site and file


FULL = Size(files=200, groups=20, readings=20)
QUICK = Size(files=8, groups=2, readings=10)
MAX_RECEIVES = 50
DUPLICATE_EVERY = 5  # every 5th notification is delivered three times
SETTLE_SECONDS = 1_200


def faults() -> dict[str, FaultPlan]:
    return {
        "DynamoDB writes throttled (30%)": FaultPlan(
            share=0.3, seed=11, only=lambda call: call.startswith("dynamodb.") and call in WRITES
        ),
        "S3 reads failed (20%)": FaultPlan(share=0.2, seed=12, only=lambda call: call == "s3.GetObject"),
        "SNS publishes failed (30%)": FaultPlan(share=0.3, seed=13, only=lambda call: call == "sns.Publish"),
    }


def group_sites(group: int) -> tuple[str, ...]:
    return tuple(f"soak-site-{group * 3 + j + 1:02d}" for j in range(3))


def key_of(n: int) -> str:
    return f"raw/2026/11/20/soak-{n:04d}.json"


def upload_order(size: Size, disorder: bool) -> list[int]:
    """Files by group in turn; with `disorder`, the odd groups' files newest first."""
    by_group = {g: [n for n in range(size.files) if n % size.groups == g] for g in range(size.groups)}
    if disorder:
        by_group = {g: files[::-1] if g % 2 else files for g, files in by_group.items()}
    order = []
    for rank in range(max(len(files) for files in by_group.values())):
        order += [files[rank] for files in by_group.values() if rank < len(files)]
    return order


def keys_of(size: Size) -> list[str]:
    return [key_of(n) for n in range(size.files)]


def upload(bench: BenchStack, size: Size, disorder: bool) -> list[str]:
    for n in upload_order(size, disorder):
        rows = file_rows(n // size.groups, size.readings, group_sites(n % size.groups))
        raw_files.upload(bench.settings, key_of(n), json.dumps(rows).encode())
    return keys_of(size)


@dataclass
class Run:
    seconds: float
    state: dict[str, Any]
    report: Report
    delivered: int
    runner: Runner
    faults: dict[str, int]
    sent_back: int = 0
    dead_lettered: int = 0
    redriven: int = 0
    lost_while_dead: int = 0  # files verify could not account for while some were in the DLQ


def start(bench: BenchStack, size: Size) -> Runner:
    bench.reset()
    register_sites(bench.settings, [s for g in range(size.groups) for s in group_sites(g)])
    runner = Runner(bench.settings, retry_delay_seconds=0, wait_seconds=1, concurrency=2)
    quiet_logs()  # loading the handler configures the pipeline's logger
    runner.drain(timeout=30)  # the s3:TestEvent of the set-up
    logging.getLogger("energy").setLevel(logging.CRITICAL)  # failures are the point here, not news
    return runner


def undisturbed(bench: BenchStack, size: Size) -> Run:
    runner = start(bench, size)
    keys = upload(bench, size, disorder=False)
    began = time.monotonic()
    runner.start()
    settle(bench.settings, runner, SETTLE_SECONDS)
    took = time.monotonic() - began
    runner.stop()
    sites = [s for g in range(size.groups) for s in group_sites(g)]
    checked = verify(bench.settings, settle_seconds=0)
    return Run(took, state(bench.settings, keys, sites), checked, size.files, runner, {})


def soaked(bench: BenchStack, size: Size) -> Run:
    runner = start(bench, size)
    settings = bench.settings
    keys = upload(bench, size, disorder=True)
    delivered = deliver_again(settings, lambda n: 3 if n % DUPLICATE_EVERY == 0 else 1)
    plans = faults()
    sends = FaultPlan(only=lambda call: call == "sqs.SendMessage")  # counts the messages sent back to wait
    began = time.monotonic()
    with ExitStack() as hooks:
        for plan in [*plans.values(), sends]:
            hooks.enter_context(injected(settings, plan))
            plan.active = True
        runner.start()
        try:
            settle(settings, runner, SETTLE_SECONDS)
        finally:
            for plan in [*plans.values(), sends]:
                plan.active = False
    dead = list_dead_letters(settings, 1000)
    lost_while_dead, redriven = 0, 0
    if dead:
        while_dead = verify(settings, settle_seconds=0)
        lost_while_dead = sum(1 for f in while_dead.findings if f.check == FILES_CHECK)
        redriven = redrive(settings)
        settle(settings, runner, SETTLE_SECONDS)
    took = time.monotonic() - began
    runner.stop()
    sites = [s for g in range(size.groups) for s in group_sites(g)]
    return Run(
        took,
        state(settings, keys, sites),
        verify(settings, settle_seconds=0),
        delivered,
        runner,
        {name: len(plan.failed) for name, plan in plans.items()},
        sent_back=len(sends.calls),
        dead_lettered=len(dead),
        redriven=redriven,
        lost_while_dead=lost_while_dead,
    )


def differing(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """The aspects (records, rollups, outcomes, alerts, held sites) that differ from the baseline."""
    return [aspect for aspect, value in expected.items() if got[aspect] != value]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    size = QUICK if args.quick else FULL
    sites = size.groups * 3
    uploaded = size.files * sites // size.groups * size.readings
    quiet_logs()
    with embedded_stack() as bench:
        bench.settings = replace(bench.settings, max_receive_count=MAX_RECEIVES)
        progress(f"soak: {size.files} files over {sites} sites, undisturbed first")
        base = undisturbed(bench, size)
        progress(f"undisturbed in {base.seconds:.1f}s; now with faults, duplicates and disorder")
        soak = soaked(bench, size)
        progress(f"soaked in {soak.seconds:.1f}s")
    stored = len(soak.state["records"])
    distinct = len({(r["site_id"], r["timestamp"]) for r in soak.state["records"]})
    expected_alerts = {key: 1 if alerting(int(key[-9:-5]) // size.groups) else 0 for key in keys_of(size)}
    got_alerts = soak.state["alerts per file"]
    alerts_lost = sorted(k for k, n in expected_alerts.items() if got_alerts[k] < n)
    alerts_doubled = sorted(k for k, n in expected_alerts.items() if got_alerts[k] > n)
    differs = [aspect for aspect in differing(base.state, soak.state) if aspect != "alerts per file"]
    outcomes = Counter(o["status"] if o else "none" for o in soak.state["outcomes"].values())

    def verdict(run: Run) -> str:
        return "OK" if run.report.ok else f"{len(run.report.findings)} PROBLEMS"

    rows = [
        ["files", number(size.files), number(size.files)],
        ["sites", number(sites), number(sites)],
        ["readings uploaded", number(uploaded), number(uploaded)],
        ["notifications delivered", number(base.delivered), number(soak.delivered)],
        ["duration", f"{base.seconds:,.1f} s", f"{soak.seconds:,.1f} s"],
        ["files per second", f"{size.files / base.seconds:,.2f}", f"{size.files / soak.seconds:,.2f}"],
        ["faults injected", "0", number(sum(soak.faults.values()))],
        ["messages failed and retried", number(base.runner.stats.failed), number(soak.runner.stats.failed)],
        ["messages sent back to wait", "-", number(soak.sent_back)],
        ["messages dead-lettered", "-", number(soak.dead_lettered)],
        ["messages redriven", "-", number(soak.redriven)],
        ["records stored", number(len(base.state["records"])), number(stored)],
        ["alerts delivered", number(sum(base.state["alerts per file"].values())), number(sum(got_alerts.values()))],
        ["alerts lost / sent twice", "-", f"{len(alerts_lost)} / {len(alerts_doubled)}"],
        ["verify", verdict(base), verdict(soak)],
    ]
    notes = [f"{name}: {number(count)}" for name, count in soak.faults.items()]
    notes += [
        f"outcomes of the soaked run: {dict(outcomes)}; alerts expected: {sum(expected_alerts.values())}",
        "same records, rollups and ledger as the undisturbed run: "
        + ("yes" if not differs else "NO, differs in " + ", ".join(differs)),
        f"while messages sat in the DLQ, verify could not account for {soak.lost_while_dead} file(s)",
        f"max receive count raised to {MAX_RECEIVES}; every {DUPLICATE_EVERY}th notification delivered 3 times; "
        f"odd site groups uploaded newest first",
    ]
    if alerts_lost or alerts_doubled:
        notes.append(
            f"alerts lost for {', '.join(alerts_lost) or 'none'}; sent twice for {', '.join(alerts_doubled) or 'none'} "
            "(at most once: verify names a file whose alert was claimed and never sent)"
        )
    if not soak.report.ok:
        notes += [f"verify: {f.check} {f.subject}: {f.problem}" for f in soak.report.findings[:10]]
    report(
        "Soak: faults, duplicates and disorder, then verify",
        ["", "undisturbed", "soaked"],
        rows,
        [
            ratio_line(
                "distinct readings stored / readings uploaded",
                distinct / uploaded,
                "= 1x",
                distinct == stored == uploaded,
                f"{number(stored)} records",
            ),
            ratio_line("soaked time / undisturbed time", soak.seconds / base.seconds, None, None),
        ],
        notes,
    )
    # verify's verdict and the data (records, rollups, ledger) decide; alerts are reported above
    healthy = (
        soak.report.ok and base.report.ok and not differs and not alerts_doubled and not alerts_lost
    ) and soak.lost_while_dead == 0
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
