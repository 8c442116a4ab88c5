"""Wall-clock timestamps: a timestamp without an offset is read in its site's timezone.

Many meters and loggers stamp readings with the local time of the place, without an offset.
Such a timestamp is read in the site's `timezone` (an IANA name in the site registry; UTC
when none is set) and stored in UTC like every other, so rollups and charts, which count
UTC hours, never see the hour that clocks skip or the one they repeat:

- a wall time inside the skipped hour (spring forward) names no moment: the row is refused
  with `timestamp_in_dst_gap`, as a meter on that clock cannot have written it;
- a wall time inside the repeated hour (fall back) names two moments. The first time a
  file shows it for a site it is the first pass (still summer time), the second time the
  second pass, as a meter counting through the night writes them. The choice depends only
  on the file's own rows (in file order, within a chunk of a big file), so storing a file
  again stores the same moments. A file that holds only the second pass of the repeated
  hour cannot be told from one holding the first: send offsets (`+01:00`) to be exact.

Timestamps with an offset or a `Z` are exact already and never look at the timezone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.logs import log

IN_DST_GAP = "timestamp_in_dst_gap"


class SiteClocks:
    """The timezones of a chunk's sites, read once and only when a row needs one, and which
    repeated wall times a site's rows have shown so far."""

    def __init__(self, load: Callable[[], Mapping[str, str]]) -> None:
        self._load = load  # site_id -> IANA name, for the sites that have one
        self._zones: dict[str, ZoneInfo] | None = None
        self._seen: set[tuple[str, datetime]] = set()

    def to_utc(self, site_id: str, wall: datetime) -> datetime | None:
        """The UTC moment of the naive `wall` time at `site_id`; None when it falls in the
        hour the site's clocks skip."""
        zone = self._zone(site_id)
        if zone is None:
            return wall.replace(tzinfo=UTC)
        first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            return None  # no moment shows this wall time: the clocks jumped over it
        if first.utcoffset() == second.utcoffset():
            return first.astimezone(UTC)
        repeated = (site_id, wall) in self._seen
        self._seen.add((site_id, wall))
        return (second if repeated else first).astimezone(UTC)

    def _zone(self, site_id: str) -> ZoneInfo | None:
        if self._zones is None:
            self._zones = {}
            for site, name in self._load().items():
                try:
                    self._zones[site] = ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    log("site_timezone_unknown", level=30, site_id=site, timezone=name)
        return self._zones.get(site_id)


def utc_clocks() -> SiteClocks:
    """Clocks for rows whose sites have no timezone: wall times are UTC."""
    return SiteClocks(dict)
