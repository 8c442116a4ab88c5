"""Numbers with units as every page writes them: energy, shares, counts, sizes."""

from __future__ import annotations


def energy(kwh: float | None) -> str:
    """`812.4 kWh`, `3.23 MWh`, `412.6 MWh`, `4.56 GWh`: at most four significant digits."""
    if kwh is None:
        return "—"
    for unit, scale in (("GWh", 1e6), ("MWh", 1e3)):
        if abs(kwh) >= scale:
            value = kwh / scale
            return f"{value:,.2f} {unit}" if abs(value) < 100 else f"{value:,.1f} {unit}"
    return f"{kwh:,.1f} kWh"


def energy_delta(kwh: float) -> str:
    """Signed with an ASCII minus, which st.metric reads to pick the arrow and colour."""
    return f"{'+' if kwh >= 0 else '-'}{energy(abs(kwh))}"


def percent(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{share * 100:.{digits}f} %"


def points_delta(now: float | None, before: float | None) -> str | None:
    """Change of a share in percentage points, or None when either side is unknown."""
    if now is None or before is None:
        return None
    change = (now - before) * 100
    return f"{'+' if change >= 0 else '-'}{abs(change):.1f} pp"


def count(n: int | float | None, unit: str = "") -> str:
    """`1 file`, `2 files`, `1,024 readings` (unit given in the plural; `None` is a dash)."""
    if n is None or n != n:  # None or NaN
        return "—"
    n = int(n)
    if n == 1 and unit:
        first, _, rest = unit.partition(" ")
        unit = f"{first.removesuffix('s')} {rest}".strip()
    return f"{n:,} {unit}".strip()


def size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < 1024**2:
        return f"{n_bytes / 1024:.1f} KB"
    return f"{n_bytes / 1024**2:.1f} MB"
