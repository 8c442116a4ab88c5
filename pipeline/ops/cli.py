"""`python -m pipeline`: the pipeline from a shell, on whatever backend is configured."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import lake_compaction, raw_files, rollup_rebuild
from pipeline.aws import TransientError, caller_arn, client, describe_error
from pipeline.events import notification_body
from pipeline.ops import (
    dead_letters,
    episode_marks,
    lake_check,
    lake_queries,
    lake_sql,
    record_edits,
    record_export,
    site_fields,
    site_registry,
    verify,
)
from pipeline.ops.bootstrap import bootstrap
from pipeline.ops.simulated_uploads import upload_simulated
from pipeline.ops.simulation import FORMATS
from pipeline.processing import now_iso, process_object
from pipeline.record_store import site_records
from pipeline.settings import ConfigError, Settings
from pipeline.site_claims import SitesBusy
from pipeline.sites import Activity, Site, get_site_item, list_sites
from pipeline.timestamps import epoch_text
from pipeline.validation import normalise_timestamp

# One simulated file is built in memory and uploaded in one PUT: ~130 bytes a reading as
# JSON and ~1.3 KB a reading in memory while it is built, so 500,000 readings make a file
# of ~65 MB and a process of well under 1 GB; a real meter file is far smaller.
MAX_SIM_READINGS = 500_000
MAX_SIM_SITES = 10_000
MAX_SIM_READINGS_PER_SITE = 100_000  # about 3 years of 15-minute intervals
# `records` keeps its output off stdout until the query has finished; past this it spills to disk.
RECORDS_BUFFER_BYTES = 8 * 1024 * 1024


class UsageError(ValueError):
    pass


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for a whole number from `low` to `high`: argparse exits 2 with the reason."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, not {value:,}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its message
    return parse


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env().for_people()  # a person is waiting: fail fast (pipeline.aws)
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
    sim.add_argument(
        "--sites",
        type=bounded_int(1, MAX_SIM_SITES),
        default=5,
        help=f"number of sites, at most {MAX_SIM_SITES:,} (default %(default)s)",
    )
    sim.add_argument(
        "--readings",
        type=bounded_int(1, MAX_SIM_READINGS_PER_SITE),
        default=4,
        help=f"readings per site (default %(default)s); sites x readings at most {MAX_SIM_READINGS:,} per file",
    )
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
    rec.add_argument("--format", choices=record_export.FORMATS, default="csv")
    sites = command("sites", cmd_sites_list, "list the sites, or import, show, set and export them (see ACTION)")
    actions = sites.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    action("list", cmd_sites_list, "list the sites: id, kind, capacity (the default)")
    imp = action("import", cmd_sites_import, "add or update sites from a CSV or JSON file; all or nothing")
    imp.add_argument("file", type=Path, metavar="FILE")
    show = action("show", cmd_sites_show, "a site's metadata and what the pipeline keeps with it")
    show.add_argument("site", metavar="SITE")
    edit = action("set", cmd_sites_set, "change a site's metadata: key=value ... (an empty value clears it)")
    edit.add_argument("site", metavar="SITE")
    edit.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    exp = action("export", cmd_sites_export, "write every site as CSV or JSON (importable again)")
    exp.add_argument("--format", choices=("csv", "json"), default="csv", help="(default %(default)s)")
    exp.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    rep = command("replay", cmd_replay, "reprocess every raw file; stored data ends the same (idempotent)")
    rep.add_argument("--prefix", default=None, help="only files under this key prefix (default: all of raw/)")
    rep.add_argument("--via-queue", action="store_true", help="enqueue the files for the Lambda instead")
    dlq = command("dlq", cmd_dlq, "list or redrive dead-lettered messages")
    dlq.add_argument("action", choices=("list", "redrive"))
    dlq.add_argument("--limit", type=bounded_int(1), default=None, help="at most this many messages (1 or more)")
    ver = command("verify", cmd_verify, "check files, records, rollups and alerts; exit 1 when anything is wrong")
    ver.add_argument(
        "--since", type=_day, help="only raw files uploaded, and readings dated, from this day (YYYY-MM-DD)"
    )
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.add_argument("--no-save", action="store_true", help="do not save the report where the app reads it")
    alerts = command("alerts", cmd_alerts, "list the open alert episodes; acknowledge or snooze one")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="open episodes: site, rule, state, since, count")
    ack = actions.add_parser("ack", help="stop an episode's reminders until it resolves")
    snooze = actions.add_parser("snooze", help="stop an episode's reminders until readings from a time on")
    for sub in (ack, snooze):
        sub.add_argument("site", metavar="SITE")
        sub.add_argument("rule", metavar="RULE", help="a reason code, or missing_data")
    ack.add_argument("--by", help="who acknowledges (default: your AWS identity, from STS)")
    snooze.add_argument("--until", required=True, type=_snooze_time, help="ISO 8601 time, UTC unless it says otherwise")
    edits = command("edit", cmd_edit, "correct a reading, mark a flagged one as a false positive, or list the edits")
    actions = edits.add_subparsers(dest="action", required=True, metavar="ACTION")
    fix = actions.add_parser("correct", help="correct a stored reading's values (its reasons are cleared)")
    false_positive = actions.add_parser("dismiss", help="mark a flagged reading as a false positive (values kept)")
    for sub in (fix, false_positive):
        sub.add_argument("site", metavar="SITE")
        sub.add_argument("timestamp", metavar="TIMESTAMP", help="the reading's time, ISO 8601 (UTC without an offset)")
    fix.add_argument("--generated", metavar="KWH", help="the corrected energy generated")
    fix.add_argument("--consumed", metavar="KWH", help="the corrected energy consumed")
    for sub in (fix, false_positive):
        sub.add_argument("--why", required=True, help="the reason, kept in the audit trail (required)")
        sub.add_argument("--by", help="who edits (default: your AWS identity, from STS)")
    history = actions.add_parser("history", help="a site's audit trail: time, reading, who, action, change, why")
    history.add_argument("site", metavar="SITE")
    history.add_argument("--start", help="readings from this time (ISO 8601 or YYYY-MM-DD, UTC)")
    history.add_argument("--end", help="readings up to this time, inclusive (ISO 8601 or YYYY-MM-DD, UTC)")
    reb = command(
        "rebuild-rollups", cmd_rebuild_rollups, "recompute rollups from the records; writes only what differs"
    )
    reb.add_argument("--site", help="only this site (default: every registered site)")
    reb.add_argument("--since", type=_day, help="only days from this one (YYYY-MM-DD)")
    lake_command = command(
        "lake",
        cmd_lake,
        "the data lake: compact its landing area into one file a day, or check it against DynamoDB day by day",
    )
    lake_command.add_argument("action", choices=("compact", "check"))
    lake_command.add_argument(
        "--since", type=_day, help="check: readings from this UTC day on (default: the last 30 days)"
    )
    sql = command(
        "sql",
        cmd_sql,
        "run one read-only SQL query over the data lake's `records` view (DuckDB locally, Athena on AWS); "
        "rows as CSV or JSON on stdout, what it took on stderr",
    )
    sql.add_argument("query", nargs="?", help="the SQL (SELECT, WITH, VALUES, DESCRIBE, SHOW); - reads standard input")
    sql.add_argument("--ready", choices=sorted(lake_queries.BY_NAME), help="run a ready query instead")
    sql.add_argument("--format", choices=("csv", "json"), default="csv", help="(default %(default)s)")
    sql.add_argument(
        "--timeout",
        type=bounded_int(1, 3600),
        default=lake_sql.DEFAULT_TIMEOUT_SECONDS,
        help="seconds (default %(default)s)",
    )
    sql.add_argument(
        "--max-rows", type=bounded_int(1, 1_000_000), default=lake_sql.DEFAULT_MAX_ROWS, help="(default %(default)s)"
    )
    return root


def cmd_bootstrap(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if settings.backend == "aws" and settings.endpoint_url is None and not args.force:
        raise UsageError(
            "on AWS the stack belongs to Terraform (see docs/deploying.md); bootstrap would "
            "replace its queue policy and bucket notification. Pass --force to build a standalone stack."
        )
    made = bootstrap(settings)
    print(json.dumps(made, indent=2), file=out)
    return 0


def cmd_config(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """Print what is known; exit 1 when a queue or the topic cannot be resolved (a script can tell)."""
    resolved: dict[str, object] = settings.public()
    sqs = client(settings, "sqs")
    lookups: dict[str, Callable[[], str | None]] = {
        "queue_url": lambda: sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"],
        "dlq_url": lambda: sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"],
        "topic_arn": lambda: settings.topic_arn or _find_topic(settings),
    }
    problems: list[str] = []
    for name, lookup in lookups.items():
        try:
            value = lookup()
        except ClientError as exc:
            problems.append(f"{name}: {describe_error(exc, settings)}")
            continue
        except BotoCoreError as exc:  # no answer at all: the other lookups would wait as long
            problems.append(describe_error(exc, settings))
            break
        if value is None:
            problems.append(f"{name}: no topic called {settings.topic!r} here")
        else:
            resolved[name] = value
    if problems:
        resolved["unresolved"] = "; ".join(problems)
    print(json.dumps(resolved, indent=2), file=out)
    if problems:
        print(f"error: {resolved['unresolved']}", file=sys.stderr)
        return 1
    return 0


def _find_topic(settings: Settings) -> str | None:
    for page in client(settings, "sns").get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == settings.topic:
                return topic["TopicArn"]
    return None


def cmd_simulate(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if args.sites * args.readings > MAX_SIM_READINGS:
        raise UsageError(
            f"--sites {args.sites:,} x --readings {args.readings:,} = {args.sites * args.readings:,} readings; "
            f"one file holds at most {MAX_SIM_READINGS:,}: upload several smaller files instead"
        )
    upload = upload_simulated(settings, args.sites, args.readings, args.anomaly_rate, args.seed, fmt=args.format)
    summary = {k: v for k, v in asdict(upload).items() if k != "labels"}
    print(json.dumps(summary, indent=2), file=out)
    return 0


def cmd_upload(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    for path in args.paths:
        key = raw_files.raw_key(path.name, datetime.now(UTC), settings)
        raw_files.upload(settings, key, path.read_bytes())
        print(key, file=out)
    return 0


def cmd_records(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    start = _moment(args.start, "start") if args.start else "0000"
    end = _moment(args.end, "end") if args.end else "9999"
    records = site_records(settings, args.site, start, end, anomalies_only=args.anomalies_only)
    if args.anomalies_only:  # anomalous readings: an estimate is no reading
        records = (r for r in records if not r.estimated)
    # Nothing reaches `out` until the last page has arrived: a query that fails part-way must
    # not leave a truncated CSV that looks complete to whatever reads it.
    with tempfile.SpooledTemporaryFile(max_size=RECORDS_BUFFER_BYTES, mode="w+", newline="") as buffer:
        record_export.write_records(records, args.format, buffer)
        buffer.seek(0)
        shutil.copyfileobj(buffer, out)
    return 0


def _moment(text: str, which: str) -> str:
    if len(text) == 10:
        text += "T00:00:00Z" if which == "start" else "T23:59:59Z"
    normalised = normalise_timestamp(text)
    if normalised is None:
        raise UsageError(f"--{which} {text!r} is not an ISO 8601 time or a YYYY-MM-DD date")
    return normalised


def cmd_sites_list(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    for site in list_sites(settings):
        capacity = f"{site.capacity_kw} kW" if site.capacity_kw is not None else "capacity unknown"
        print(f"{site.site_id}\t{site.kind or '-'}\t{capacity}", file=out)
    return 0


def cmd_sites_import(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    with args.file.open("rb") as file:
        data = file.read(site_registry.MAX_IMPORT_BYTES + 1)  # enough to tell that it is too large
    saved = site_registry.save(settings, site_registry.parse_import(data))
    for entry in saved:
        if entry.changes:
            print(f"{entry.site_id}: {'new: ' if entry.new else ''}{'; '.join(entry.changes)}", file=out)
    new = sum(e.new for e in saved)
    changed = sum(bool(e.changes) and not e.new for e in saved)
    print(
        f"imported {len(saved)} site(s): {new} new, {changed} changed, {len(saved) - new - changed} unchanged", file=out
    )
    return 0


def cmd_sites_show(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    item = _site_item(settings, args.site)
    site, activity = Site.from_item(item), Activity.from_item(item, time.time())
    rows = [(name, _or(getattr(site, name))) for name in site_fields.FIELDS if name != "timezone"]
    rows.append(("timezone", site.timezone or "(unset: UTC)"))
    thresholds = site.thresholds or {}
    rows.append(("thresholds", ", ".join(f"{k}={v}" for k, v in thresholds.items()) or "(the defaults)"))
    rows.append(("last reading", activity.last_reading or "(none yet)"))
    rows.append(("history version", str(activity.history_version)))
    until = activity.lease_until
    rows.append(("lease", f"held by a file being stored, until {_utc(until)}" if until is not None else "not held"))
    for label, value in rows:
        print(f"{label:<17}{value}", file=out)
    return 0


def cmd_sites_set(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    change = site_registry.parse_assignments(args.site, args.assignments)
    _site_item(settings, args.site)  # only registered sites: a typo must not add one
    [saved] = site_registry.save(settings, [change])
    print(f"{args.site}: {'; '.join(saved.changes) or 'nothing changed (it was already so)'}", file=out)
    return 0


def cmd_sites_export(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    sites = list_sites(settings)
    text = (site_registry.export_json if args.format == "json" else site_registry.export_csv)(sites)
    if args.output is None:
        out.write(text)
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(sites)} site(s) to {args.output}", file=out)
    return 0


def _site_item(settings: Settings, site_id: str) -> dict:
    item = get_site_item(settings, site_id)
    if item is None:
        raise ValueError(f"there is no site {site_id!r}: `sites` lists them, `sites import FILE` adds them")
    return item


def _or(value: object) -> str:
    return "(unset)" if value is None else str(value)


def _utc(seconds: int) -> str:
    return epoch_text(seconds)


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
    patient = replace(settings, interactive=False)  # processing retries throttling as the Lambda does
    for key in keys:
        outcome = process_object(patient, key)
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


def cmd_alerts(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "ack":
        by = args.by or caller_arn(settings)
        episode_marks.acknowledge(settings, args.site, args.rule, by)
        print(f"{args.site} {args.rule}: acknowledged by {by}; no reminders until it resolves", file=out)
        return 0
    if args.action == "snooze":
        episode = episode_marks.snooze(settings, args.site, args.rule, args.until)
        print(f"{args.site} {args.rule}: {episode.state()}", file=out)
        return 0
    episodes = episode_marks.open_episodes(settings)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["site_id", "rule", "state", "since", "count", "acknowledged_by", "acknowledged_at"])
    for found in episodes:
        e = found.episode
        writer.writerow([found.site_id, e.rule, e.state(), e.started, e.count, e.acknowledged_by, e.acknowledged_at])
    return 0


def cmd_edit(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "history":
        start = _moment(args.start, "start") if args.start else "0000"
        end = _moment(args.end, "end") if args.end else "9999"
        rows = record_edits.audit_rows(record_edits.edited_records(settings, args.site, start, end))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["at", "reading", "by", "action", "change", "why"])
        for row in rows:
            change = record_edits.describe_change(row.old, row.new)
            writer.writerow([row.at, row.timestamp, row.by, row.action, change, row.why])
        return 0
    try:  # what the command line itself gets wrong is a usage error, before anything is read
        site_id, timestamp = record_edits.reading_key(args.site, args.timestamp)
        record_edits.check_why(args.why)
        if args.by is not None:
            record_edits.check_by(args.by)
        if args.action == "correct":
            if args.generated is None and args.consumed is None:
                raise UsageError("give --generated, --consumed or both")
            for value, name in ((args.generated, "energy_generated_kwh"), (args.consumed, "energy_consumed_kwh")):
                if value is not None:
                    record_edits.check_value(value, name)
    except record_edits.EditRefused as exc:
        raise UsageError(str(exc)) from None
    by = args.by or caller_arn(settings)
    try:
        if args.action == "correct":
            new = record_edits.correct(
                settings, site_id, timestamp, by=by, why=args.why, generated=args.generated, consumed=args.consumed
            )
        else:
            new = record_edits.dismiss(settings, site_id, timestamp, by=by, why=args.why)
    except TransientError as exc:  # a busy site, a lease lost, AWS throttling past its retries
        print(f"error: {exc}; the edit was not saved, try again", file=sys.stderr)
        return 1
    entry = new.edits[-1]
    what = "corrected" if args.action == "correct" else "marked as a false positive"
    change = record_edits.describe_change(entry["old"], entry["new"])
    print(f"{site_id} {timestamp}: {what} by {by}: {change}", file=out)
    return 0


def _snooze_time(text: str) -> str:
    moment = normalise_timestamp(text)
    if moment is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-12-05T08:00:00Z)")
    return moment


def cmd_lake(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "check":
        since = date.fromisoformat(args.since) if args.since else datetime.now(UTC).date() - timedelta(days=30)
        try:
            found = lake_check.check(settings, since)
        except (lake_sql.QueryFailed, lake_sql.QueryRefused) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(found.render(), file=out)
        return 0 if found.ok else 1
    try:
        report = lake_compaction.compact(settings)
    except lake_compaction.CompactionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary(), file=out)
    for entry in report.set_aside:
        print(f"set aside: {entry}", file=sys.stderr)
    return 1 if report.set_aside else 0


def cmd_sql(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    if (args.query is None) == (args.ready is None):
        ready = ", ".join(sorted(lake_queries.BY_NAME))
        raise UsageError(f"give a query, or --ready NAME ({ready}), not both")
    text = lake_queries.BY_NAME[args.ready].sql if args.ready else args.query
    if text == "-":
        text = sys.stdin.read()
    try:
        answer = lake_sql.run(settings, text, timeout_seconds=args.timeout, max_rows=args.max_rows)
    except lake_sql.QueryRefused as exc:
        print(f"error: refused: {exc}", file=sys.stderr)
        return 2
    except lake_sql.QueryFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
        print(json.dumps(rows, default=_json_value, indent=1), file=out)
    else:
        out.write(answer.csv())
    print(answer.summary() + (f"; only the first {args.max_rows:,} shown" if answer.truncated else ""), file=sys.stderr)
    return 0


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def cmd_rebuild_rollups(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    site_ids = [args.site] if args.site else [site.site_id for site in list_sites(settings)]
    changed_days, busy = 0, []
    for site_id in site_ids:
        try:
            changes = rollup_rebuild.rebuild_site(settings, site_id, args.since)
        except SitesBusy:
            busy.append(site_id)
            print(f"error: site {site_id} is being stored by a file; run rebuild-rollups again later", file=sys.stderr)
            continue
        days = sorted({c.day for c in changes})
        changed_days += len(days)
        for day in days:
            parts = [f"{c.hour}:00 {c.measure} {c.stored} -> {c.expected}" for c in changes if c.day == day]
            print(f"{site_id} {day}: " + "; ".join(parts), file=out)
    print(f"rebuilt {changed_days} day(s) across {len(site_ids) - len(busy)} site(s)", file=out)
    return 1 if busy else 0
