"""Where the sun is: enough astronomy to shape solar output and to know when it is night."""

from __future__ import annotations

import math
from datetime import datetime


def sun_elevation_degrees(latitude: float, longitude: float, when: datetime) -> float:
    """Approximate solar elevation (within a degree or so) at a place and UTC time."""
    day = when.timetuple().tm_yday
    declination = math.radians(23.44) * math.sin(math.radians(360 / 365 * (day - 81)))
    solar_hour = when.hour + when.minute / 60 + when.second / 3600 + longitude / 15
    hour_angle = math.radians(15 * (solar_hour - 12))
    lat = math.radians(latitude)
    sine = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sine))))
