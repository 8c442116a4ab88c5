"""Where the sun is: enough astronomy to shape solar output and to know when it is night.

The formulas are NOAA's (the NOAA Solar Calculator and its spreadsheet, after Meeus,
"Astronomical Algorithms"): good to a small fraction of a degree for years 1800-2100,
which is far finer than any reading interval needs. The elevation is geometric: no
atmospheric refraction, which lifts the sun's image by about half a degree at the horizon
and by less than 0.1 degree above 10 degrees. Sunrise, as almanacs give it, is when this
elevation is -0.833 degrees.
"""

from __future__ import annotations

import math
from datetime import datetime

UNIX_EPOCH_JULIAN_DAY = 2440587.5
J2000_JULIAN_DAY = 2451545.0


def sun_elevation_degrees(latitude: float, longitude: float, when: datetime) -> float:
    """The sun's elevation above the horizon (degrees, geometric) at a place (degrees, east
    positive) and an aware UTC time."""
    declination, equation_of_time = _sun_declination_and_equation_of_time(when)
    minutes = when.hour * 60 + when.minute + (when.second + when.microsecond / 1e6) / 60
    true_solar_minutes = (minutes + equation_of_time + 4 * longitude) % 1440
    hour_angle = math.radians(true_solar_minutes / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def _sun_declination_and_equation_of_time(when: datetime) -> tuple[float, float]:
    """The sun's declination (radians) and the equation of time (minutes): NOAA's steps
    from the Julian century through the apparent longitude and the corrected obliquity."""
    century = (when.timestamp() / 86400 + UNIX_EPOCH_JULIAN_DAY - J2000_JULIAN_DAY) / 36525
    mean_longitude = math.radians((280.46646 + century * (36000.76983 + century * 0.0003032)) % 360)
    mean_anomaly = math.radians(357.52911 + century * (35999.05029 - 0.0001537 * century))
    eccentricity = 0.016708634 - century * (0.000042037 + 0.0000001267 * century)
    equation_of_center = math.radians(
        math.sin(mean_anomaly) * (1.914602 - century * (0.004817 + 0.000014 * century))
        + math.sin(2 * mean_anomaly) * (0.019993 - 0.000101 * century)
        + math.sin(3 * mean_anomaly) * 0.000289
    )
    node = math.radians(125.04 - 1934.136 * century)  # the moon's ascending node: nutation
    apparent_longitude = mean_longitude + equation_of_center - math.radians(0.00569 + 0.00478 * math.sin(node))
    mean_obliquity = 23 + (26 + (21.448 - century * (46.815 + century * (0.00059 - century * 0.001813))) / 60) / 60
    obliquity = math.radians(mean_obliquity + 0.00256 * math.cos(node))
    declination = math.asin(math.sin(obliquity) * math.sin(apparent_longitude))
    y = math.tan(obliquity / 2) ** 2
    equation_of_time = 4 * math.degrees(
        y * math.sin(2 * mean_longitude)
        - 2 * eccentricity * math.sin(mean_anomaly)
        + 4 * eccentricity * y * math.sin(mean_anomaly) * math.cos(2 * mean_longitude)
        - 0.5 * y * y * math.sin(4 * mean_longitude)
        - 1.25 * eccentricity * eccentricity * math.sin(2 * mean_anomaly)
    )
    return declination, equation_of_time
