"""`python -m pipeline`: the pipeline from a shell, on whatever backend is configured."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import dead_letters, raw_files, rollup_rebuild, verify
from pipeline.aws import client, describe_error
from pipeline.bootstrap import bootstrap
from pipeline.events import notification_body
from pipeline.processing import now_iso, process_object
from pipeline.record_store import site_records
from pipeline.records import Record
from pipeline.settings import ConfigError, Settings
from pipeline.simulation import FORMATS, upload_simulated
from pipeline.sites import list_sites
from pipeline.validation import normalise_timestamp

RECORD_COLUMNS = (
    "site_id",
    "timestamp",
    "energy_generated_kwh",
    "energy_consumed_kwh",
    "net_energy_kwh",
    "anomaly",
    "anomaly_reasons",
    "source_key",
    "processed_at",
)


class UsageError(ValueError):
    pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.run(settings, args, out)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"error: {describe_error(exc, Settings.from_env())}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Energy readings pipeline. The backend, endpoint and names come from the environment "
        "(ENERGY_BACKEND, AWS_ENDPOINT_URL, AWS_REGION, ENERGY_*): see `config`.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    boot = command("bootstrap", cmd_bootstrap, "create bucket, queues, tables and topic (safe to run again)")
    boot.add_argument("--force", action="store_true", help="also on a real AWS account, outside Terraform")
    command("config", cmd_config, "print the resolved configuration as JSON")
    sim = command("simulate", cmd_simulate, "upload one file of simulated readings")
    sim.add_argument("--sites", type=int, default=5, help="number of sites (default %(default)s)")
    sim.add_argument("--readings", type=int, default=4, help="readings per site (default %(default)s)")
    sim.add_argument("--anomaly-rate", type=float, default=0.02, help="share of anomalous readings, 0-1")
    sim.add_argument(
        "--seed",
        type=int,
        default=0,
        help="another seed, other readings (default %(default)s); one seed agrees with itself",
    )
    sim.add_argument("--format", choices=FORMATS, default="json", help="file format (default %(default)s)")
    up = command("upload", cmd_upload, "upload reading files to raw/YYYY/MM/DD/ (processing starts on arrival)")
    up.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    rec = command("records", cmd_records, "print a site's stored records")
    rec.add_argument("--site", required=True)
    rec.add_argument("--start", help="from this time (ISO 8601 or YYYY-MM-DD, UTC)")
    rec.add_argument("--end", help="up to this time, inclusive (ISO 8601 or YYYY-MM-DD, UTC)")
    rec.add_argument("--anomalies-only", action="store_true")
    rec.add_argument("--format", choices=("csv", "json"), default="csv")
    command("sites", cmd_sites, "list the known sites")
    rep = command("replay", cmd_replay, "reprocess every raw file; stored data ends the same (idempotent)")
    rep.add_argument("--prefix", default=None, help="only files under this key prefix (default: all of raw/)")
    rep.add_argument("--via-queue", action="store_true", help="enqueue the files for the Lambda instead")
    dlq = command("dlq", cmd_dlq, "list or redrive dead-lettered messages")
    dlq.add_argument("action", choices=("list", "redrive"))
    dlq.add_argument("--limit", type=int, default=None, help="at most this many messages")
    ver = command("verify", cmd_verify, "check files, records, rollups and alerts; exit 1 when anything is wrong")
    ver.add_argument(
        "--since", type=_day, help="only raw files uploaded, and readings dated, from this day (YYYY-MM-DD)"
    )
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.add_argument("--no-save", action="store_true", help="do not save the report where the app reads it")
    reb = command(
        "rebuild-rollups", cmd_rebuild_rollups, "recompute rollups from the records; writes only what differs"
    )
    reb.add_argument("--site", help="only this site (default: every registered site)")
    reb.add_argument("--since", type=_day, help="only days from this one (YYYY-MM-DD)")
    return root


def cmd_bootstrap(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if settings.backend == "aws" and settings.endpoint_url is None and not args.force:
        raise UsageError(
            "on AWS the stack belongs to Terraform (see the README's Deploy section); bootstrap would "
            "replace its queue policy and bucket notification. Pass --force to build a standalone stack."
        )
    made = bootstrap(settings)
    print(json.dumps(made, indent=2), file=out)
    return 0


def cmd_config(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    resolved: dict[str, object] = settings.public()
    try:
        sqs = client(settings, "sqs")
        resolved["queue_url"] = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
        resolved["dlq_url"] = sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
        resolved["topic_arn"] = settings.topic_arn or _find_topic(settings)
    except (ClientError, BotoCoreError) as exc:
        resolved["unresolved"] = describe_error(exc, settings)
    print(json.dumps(resolved, indent=2), file=out)
    return 0


def _find_topic(settings: Settings) -> str | None:
    for page in client(settings, "sns").get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == settings.topic:
                return topic["TopicArn"]
    return None


def cmd_simulate(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    upload = upload_simulated(settings, args.sites, args.readings, args.anomaly_rate, args.seed, fmt=args.format)
    summary = {k: v for k, v in asdict(upload).items() if k != "labels"}
    print(json.dumps(summary, indent=2), file=out)
    return 0


def cmd_upload(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from datetime import UTC, datetime

    for path in args.paths:
        key = raw_files.raw_key(path.name, datetime.now(UTC), settings)
        raw_files.upload(settings, key, path.read_bytes())
        print(key, file=out)
    return 0


def cmd_records(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    start = _moment(args.start, "start") if args.start else "0000"
    end = _moment(args.end, "end") if args.end else "9999"
    records = site_records(settings, args.site, start, end, anomalies_only=args.anomalies_only)
    write_records(records, args.format, out)
    return 0


def write_records(records: Iterable[Record], fmt: str, out: TextIO) -> None:
    rows = ({c: _cell(getattr(r, c)) for c in RECORD_COLUMNS} for r in records)
    if fmt == "json":
        print(json.dumps(list(rows), indent=2), file=out)
        return
    writer = csv.DictWriter(out, fieldnames=RECORD_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _cell(value: object) -> object:
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value) if not isinstance(value, (bool, str)) else value


def _moment(text: str, which: str) -> str:
    if len(text) == 10:
        text += "T00:00:00Z" if which == "start" else "T23:59:59Z"
    normalised = normalise_timestamp(text)
    if normalised is None:
        raise UsageError(f"--{which} {text!r} is not an ISO 8601 time or a YYYY-MM-DD date")
    return normalised


def cmd_sites(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    for site in list_sites(settings):
        capacity = f"{site.capacity_kw} kW" if site.capacity_kw is not None else "capacity unknown"
        print(f"{site.site_id}\t{site.kind or '-'}\t{capacity}", file=out)
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    prefix = args.prefix or settings.raw_prefix
    if not prefix.startswith(settings.raw_prefix):
        raise UsageError(f"--prefix must be under {settings.raw_prefix}")
    keys = [obj.key for obj in raw_files.list_objects(settings, prefix)]
    if args.via_queue:
        sqs = client(settings, "sqs")
        url = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
        for start in range(0, len(keys), 10):
            entries = [
                {"Id": str(i), "MessageBody": notification_body(settings.bucket, k)}
                for i, k in enumerate(keys[start : start + 10])
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        print(json.dumps({"enqueued": len(keys), "at": now_iso()}), file=out)
        return 0
    totals = {"files": 0, "written": 0, "unchanged": 0, "rejected": 0, "quarantined_files": 0}
    for key in keys:
        outcome = process_object(settings, key)
        totals["files"] += 1
        totals["written"] += getattr(outcome, "written", 0)
        totals["unchanged"] += getattr(outcome, "unchanged", 0)
        totals["rejected"] += getattr(outcome, "rejected", 0)
        totals["quarantined_files"] += getattr(outcome, "status", "") == "quarantined"
    print(json.dumps(totals), file=out)
    return 0


def cmd_dlq(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "redrive":
        moved = dead_letters.redrive(settings, args.limit)
        print(json.dumps({"redriven": moved}), file=out)
        return 0
    letters = dead_letters.list_dead_letters(settings, args.limit or 100)
    print(json.dumps([asdict(d) for d in letters], indent=2), file=out)
    return 0


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat() if len(text) == 10 else _not_a_day(text)
    except ValueError:
        return _not_a_day(text)


def _not_a_day(text: str) -> str:
    raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)")


def cmd_verify(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    report = verify.verify(settings, args.since)
    if not args.no_save:
        verify.save_report(settings, report)
    print(json.dumps(report.to_dict(), indent=2) if args.json else verify.render(report), file=out)
    return 0 if report.ok else 1


def cmd_rebuild_rollups(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    site_ids = [args.site] if args.site else [site.site_id for site in list_sites(settings)]
    changed_days = 0
    for site_id in site_ids:
        changes = rollup_rebuild.rebuild_site(settings, site_id, args.since)
        days = sorted({c.day for c in changes})
        changed_days += len(days)
        for day in days:
            parts = [f"{c.hour}:00 {c.measure} {c.stored} -> {c.expected}" for c in changes if c.day == day]
            print(f"{site_id} {day}: " + "; ".join(parts), file=out)
    print(f"rebuilt {changed_days} day(s) across {len(site_ids)} site(s)", file=out)
    return 0
