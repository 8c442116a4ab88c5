"""The scheduled simulator's entry point (terraform/simulator.tf, off by default): on each
EventBridge tick, one simulated file under raw/, named and shaped as the Simulate page's,
which the pipeline then processes through the normal S3 -> SQS path.

The file's intervals end at the tick's scheduled time (the event's `time`), not at the
moment the function runs, so a retried invocation uploads the same key and bytes and the
pipeline stores the same records again. Configuration: the stack's names as the pipeline
reads them (`Settings.from_env`: ENERGY_BACKEND, ENERGY_BUCKET) and what to simulate
(`SimulatorConfig.from_env`: ENERGY_SIMULATOR_SITES, _READINGS_PER_SITE, _ANOMALY_RATE).
The function only PUTs: the sites are not registered here (the pipeline registers the ids
it sees; the Simulate page or `python -m pipeline simulate` registers the fleet in full).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.logs import configure, log, log_context
from pipeline.ops.simulated_files import SimulatorConfig, upload_file
from pipeline.ops.simulation import make_sites
from pipeline.settings import Settings
from pipeline.timestamps import now_utc, parse_utc

configure()


def handler(
    event: dict[str, Any], context: Any, settings: Settings | None = None, config: SimulatorConfig | None = None
) -> dict[str, Any]:
    settings = settings or Settings.from_env()
    config = config or SimulatorConfig.from_env()
    when = scheduled_time(event)
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        sent = upload_file(
            settings, make_sites(config.sites), config.readings_per_site, when, config.anomaly_rate, config.seed
        )
        result = {
            "key": sent.key,
            "readings": len(sent.simulated.readings),
            "anomalies_injected": len(sent.simulated.labels),
        }
        log("simulated_file_uploaded", bucket=settings.bucket, **result)
    return result


def scheduled_time(event: dict[str, Any]) -> datetime:
    """The tick's time from a scheduled event; now for an event without one (a test invoke)."""
    text = event.get("time") if isinstance(event, dict) else None
    return parse_utc(text) if text else now_utc()
