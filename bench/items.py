"""Item sizes: no item grows with the number of files or uploads.

One site uploads a one-reading file every 10 seconds for a whole day (8,640 files), each
processed by the real pipeline on the embedded AWS. Afterwards the benchmark reads the items
that every file touches — the site's rollup day item, its site item, a file's ledger item —
and sizes them as DynamoDB bills them (attribute names plus values; 400 KB is the limit).
The baseline is the same day item at the first hour, measured in the same run: a bounded
item is as big at the end of the day as its hours make it, not its uploads. For comparison
the previous design (a token per file version kept on the day item, 20 characters each) is
computed from the same run: this item plus one token per file that moved it.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.billing import item_size  # noqa: E402
from bench.common import embedded_stack, machine_note, number, parse_args, progress, ratio_line  # noqa: E402
from pipeline import raw_files  # noqa: E402
from pipeline.aws import client  # noqa: E402
from pipeline.dynamo import marshal  # noqa: E402
from pipeline.processing import process_object  # noqa: E402
from pipeline.sites import Site, put_sites  # noqa: E402
from pipeline.timestamps import utc_text  # noqa: E402

CADENCE_SECONDS = 10
DAY = datetime(2026, 11, 29, tzinfo=UTC)
LIMIT_BYTES = 400 * 1024
TOKEN_BYTES = 20
BOUND_BYTES = 8 * 1024  # "a few KB", whatever the upload cadence


def main(argv: list[str] | None = None) -> int:
    options = parse_args(__doc__, argv)
    files = 360 if options.quick else 24 * 3600 // CADENCE_SECONDS
    with embedded_stack() as stack:
        settings = stack.settings
        put_sites(settings, [Site("site-1", kind="solar", capacity_kw=Decimal(5), interval_minutes=1)])
        sizes: dict[str, int] = {}
        for n in range(files):
            when = DAY + timedelta(seconds=n * CADENCE_SECONDS)
            reading = {
                "site_id": "site-1",
                "timestamp": utc_text(when),
                "energy_generated_kwh": 0.01 * (n % 7),
                "energy_consumed_kwh": 0.02,
            }
            key = f"raw/2026/11/29/site-1-{n:05d}.json"
            raw_files.upload(settings, key, json.dumps([reading]).encode())
            process_object(settings, key)
            if n == 360 - 1:
                first_hour = _size(settings, settings.rollup_table, site_id="site-1", day="2026-11-29")
                sizes["day item after the first hour"] = first_hour
            if n % 1000 == 999:
                progress(f"items: {number(n + 1)} of {number(files)} files processed")
        day = _size(settings, settings.rollup_table, site_id="site-1", day="2026-11-29")
        sizes["day item after the day"] = day
        sizes["site item (histories, version, lease)"] = _size(settings, settings.sites_table, site_id="site-1")
        sizes["a file's ledger item"] = _size(settings, settings.files_table, source_key=key)
    previous = day + files * (TOKEN_BYTES + 1) + 3

    print(f"## Item sizes over a day of uploads every {CADENCE_SECONDS} s\n\n{machine_note()}\n")
    print(f"{number(files)} one-reading files of one site, processed by the pipeline.\n")
    print("| item | bytes | of DynamoDB's 400 KB |")
    print("| --- | ---: | ---: |")
    for name, size in sizes.items():
        print(f"| {name} | {number(size)} | {size / LIMIT_BYTES:.2%} |")
    share = previous / LIMIT_BYTES
    print(f"| day item, previous design (a token per file; computed) | {number(previous)} | {share:.1%} |")
    print()
    first = sizes["day item after the first hour"]
    bounded = max(sizes.values()) < BOUND_BYTES
    print(ratio_line("day item, end of day / first hour", day / first, None, None, "24 hours of measures against 1"))
    print(ratio_line("day item, previous design / now", previous / day, f"every item < {BOUND_BYTES:,} bytes", bounded))
    return 0 if bounded else 1


def _size(settings: Any, table: str, **key: str) -> int:
    """The item's size as DynamoDB bills it (`bench.billing.item_size`)."""
    found = client(settings, "dynamodb").get_item(TableName=table, Key=marshal(key), ConsistentRead=True)
    return item_size(found.get("Item"))


if __name__ == "__main__":
    sys.exit(main())
