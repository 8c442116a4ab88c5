"""A site's state packed into one attribute comes back exactly as it went in."""

from __future__ import annotations

from decimal import Decimal

from pipeline.anomalies import History
from pipeline.dynamo import pack, unpack
from pipeline.episodes import Episode, Notice, Pending, SiteEpisodes
from pipeline.estimates import Profile
from pipeline.site_claims import Inflight

HISTORY = History(
    last_timestamp="2026-11-29T06:15:00Z",
    consumed=(Decimal("2.125"), Decimal("0.0001"), Decimal("-3")),
    generated_run=4,
    last_generated=Decimal("1E+2"),
    shape=tuple(Decimal(h) / 7 for h in range(24)),
    profile=Profile(generated=(Decimal("1.5"),) * 24, consumed=(Decimal("0.25"),) * 24, weight=(3,) * 24),
)


def test_an_in_flight_record_comes_back_exactly_with_every_decimal_digit():
    episode = Episode("stuck_meter", "2026-11-29T05:00:00Z", "2026-11-29T06:00:00Z", 5, "2026-11-29T05:00:00Z", 1)
    notice = Notice("STARTED", "site-1", "stuck_meter", episode.started, episode.started, 1, 1)
    inflight = Inflight(
        "raw/a.json#2",
        HISTORY,
        "2026-11-29T07:00:00Z",
        ("2026-11-28", "2026-11-29"),
        episodes=SiteEpisodes("2026-11-29T06:00:00Z", {"stuck_meter": episode}),
        pending=(Pending("raw/a.json", "v1", (notice,), {"STARTED": 1}),),
    )

    packed = pack(inflight.to_item())

    assert isinstance(packed, bytes)
    assert Inflight.from_item(unpack(packed)) == inflight
    assert unpack(packed)["history"]["shape"][1] == Decimal(1) / 7, "28 significant digits kept"


def test_a_value_written_before_packing_is_read_as_it_is():
    assert History.from_item(unpack(HISTORY.to_item())) == HISTORY
    assert unpack(None) is None
