"""Numbers for people: how a measured difference or a count is said on a page."""

from __future__ import annotations

ROUNDING = 1e-4  # float32 arithmetic in another order differs by ~1e-6; anything below this is rounding


def difference(value: float, tolerance: float = ROUNDING) -> str:
    """'identical (0)', 'equal up to rounding (3.8e-06)' or the plain number when it is a real difference."""
    if value == 0:
        return "identical (0)"
    if abs(value) <= tolerance:
        return f"equal up to rounding ({value:.1e})"
    return f"{value:.2e}" if abs(value) < 0.01 else f"{value:.3f}"
