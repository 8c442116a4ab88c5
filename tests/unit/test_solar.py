"""The sun's elevation against published values from other sources, within half a degree.

Every expected value is geometric (no atmospheric refraction), as `sun_elevation_degrees` is.
"""

from datetime import UTC, datetime

import pytest

from pipeline.solar import sun_elevation_degrees

SUNRISE_OR_SUNSET = -0.833  # the sun's centre at the moment almanacs give (refraction and radius)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("latitude", "longitude", "when", "expected"),
    [
        # NREL's Solar Position Algorithm example (Reda & Andreas 2004), Golden, Colorado,
        # 2003-10-17 12:30:30 MST; pvlib-python tests/test_solarposition.py, `elevation`.
        pytest.param(39.742476, -105.1786, utc(2003, 10, 17, 19, 30, 30), 39.872046, id="golden-autumn"),
        # toitware/toit-solar-position tests/azimuth_elevation_test.toit, known values:
        pytest.param(56.09, 10.1337, utc(2021, 10, 11, 8), 16.17, id="denmark-autumn-morning"),
        pytest.param(56.09, 10.1337, utc(2000, 1, 1, 12), 10.57, id="denmark-winter-noon"),
        pytest.param(-72.011667, 2.53472, utc(2000, 1, 1, 12), 41.03, id="antarctica-summer"),
        pytest.param(18.176191, -63.117931, utc(2024, 6, 1, 16, 10, 15), 85.99, id="caribbean-near-zenith"),
        pytest.param(18.176191, -63.117931, utc(2024, 6, 1, 8, 30, 45), -14.64, id="caribbean-before-dawn"),
        pytest.param(18.176191, -63.117931, utc(2024, 6, 1, 9), -8.5, id="caribbean-dawn"),
        pytest.param(-27.11667, -109.36667, utc(2024, 6, 1, 0, 5), 4.63, id="easter-island-before-sunset"),
    ],
)
def test_elevation_matches_published_values(latitude, longitude, when, expected):
    assert sun_elevation_degrees(latitude, longitude, when) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize(
    ("latitude", "longitude", "when"),
    [
        # pvlib-python tests/test_solarposition.py, test_get_sun_rise_set_transit (NREL SPA):
        # 35° S on the prime meridian, in the southern winter and summer.
        pytest.param(-35.0, 0.0, utc(1996, 7, 5, 7, 8, 15), id="35S-winter-sunrise"),
        pytest.param(-35.0, 0.0, utc(1996, 7, 5, 17, 1, 4), id="35S-winter-sunset"),
        pytest.param(-35.0, 0.0, utc(2004, 12, 4, 4, 38, 57), id="35S-summer-sunrise"),
        pytest.param(-35.0, 0.0, utc(2004, 12, 4, 19, 2, 2), id="35S-summer-sunset"),
        # the same test, "tests from USNO": 39° N 105° W, times in MST (UTC-7).
        pytest.param(39.0, -105.0, utc(2015, 1, 2, 14, 19, 2), id="39N-winter-sunrise"),
        pytest.param(39.0, -105.0, utc(2015, 1, 2, 23, 49, 10), id="39N-winter-sunset"),
        pytest.param(39.0, -105.0, utc(2015, 8, 2, 12, 1, 26), id="39N-summer-sunrise"),
        pytest.param(39.0, -105.0, utc(2015, 8, 3, 2, 11, 31), id="39N-summer-sunset"),
    ],
)
def test_sunrise_and_sunset_at_published_times(latitude, longitude, when):
    assert sun_elevation_degrees(latitude, longitude, when) == pytest.approx(SUNRISE_OR_SUNSET, abs=0.5)
