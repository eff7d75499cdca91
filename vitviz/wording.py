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


def entropy_share(bits: float, max_bits: float) -> tuple[str, str, str]:
    """('9.86', '9.97', '98.9%'): an entropy and its maximum in bits, rounded once to 2 decimals, and the share
    computed from those rounded numbers, so every place that says it gives the same numbers, and they agree."""
    b, m = round(bits, 2), round(max_bits, 2)
    return f"{b:.2f}", f"{m:.2f}", f"{b / m:.1%}" if m > 0 else "0.0%"


def patch_place(index: int, grid: tuple[int, int]) -> str:
    """'row 2, column 1': where patch ``index`` (raster order) sits, counting from 0 at the top left, as the
    sidebar's patch picker and the patch indices do (one convention on every page)."""
    r, c = divmod(int(index), grid[1])
    return f"row {r}, column {c}"


def patch_name(index: int, grid: tuple[int, int]) -> str:
    """'patch 17 (row 2, column 1)': a patch by its index and place (0-based, see ``patch_place``)."""
    return f"patch {int(index)} ({patch_place(index, grid)})"


def span_name(lo: int, hi: int) -> str:
    """'3' or '3–4': a 0-based range of rows or columns, as ``patch_place`` counts them."""
    return f"{lo}" if lo == hi else f"{lo}–{hi}"
