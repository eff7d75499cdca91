"""What a position-embedding table encodes: rows, columns, distance from the border, or nothing.

Comparing a position with its neighbours and with far positions cannot tell these apart: a ring code (how far a
position is from the border) makes neighbours alike too. So the table is regressed on candidate codes instead,
each one-hot over its values (so any function of that index fits):

- which row, which column, and the distance from the border (to the nearest edge, the same for a position and
  its mirror images);
- the side: what changes sign when the grid is mirrored left↔right (top↔bottom). Only that part of a column
  (row) code tells left from right (top from bottom); a ring code has none of it.

Each code's number is the adjusted R² of a least-squares fit of the table [N, D] on it: R² (the share of the
table's variance it explains) corrected for the number k of fitted columns, 1 − (1 − R²)(N − 1)/(N − k − 1)
(about 0 for noise, 1 for a perfect fit).
The mirror cosines (a position with its left↔right and top↔bottom mirror image, against its neighbours) are
the same finding seen in the similarity maps.

Literature: the ViT paper (Dosovitskiy et al. 2021, Figure 7 centre) found row and column structure in the
position embeddings of its trained models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitviz.stages import linalg

from vitviz.stages.vectors import cosine_rows

STRUCTURE_SHARE = 0.20  # below this, row ⊕ column ⊕ border together explain nothing beyond noise
SIDE_SHARE = 0.10  # the side (left/right, top/bottom) must explain this much to count as columns (rows)
BORDER_SHARE = 0.25  # distance from the border must explain this much to count (row/column codes give < 0.1)

ROWS, COLUMNS, BORDER = "rows", "columns", "distance from the border"


@dataclass(frozen=True)
class PositionCode:
    """Shares of the table's variance (adjusted R²) explained by each candidate code, and the mirror cosines."""

    rows: float  # which row (one-hot over rows)
    columns: float  # which column
    border: float  # distance from the nearest edge (one-hot over its values)
    together: float  # rows ⊕ columns ⊕ border
    left_right: float  # what changes sign under the left↔right mirror: tells left from right
    top_bottom: float  # the same for top↔bottom
    neighbour_cosine: float  # mean cosine of a position with its 4 neighbours
    mirror_left_right: float  # mean cosine with its left↔right mirror image (pairs that are not neighbours)
    mirror_top_bottom: float
    grid: tuple[int, int]

    @property
    def kinds(self) -> tuple[str, ...]:
        """What the rule finds, in this order: rows, columns, distance from the border; () = nothing beyond noise.

        The rule: nothing if the three codes together explain less than STRUCTURE_SHARE; else rows if the
        top/bottom side explains at least SIDE_SHARE, columns if the left/right side does, distance from the
        border if it explains at least BORDER_SHARE. Structure that is none of these gives ("other",)."""
        if not self.together >= STRUCTURE_SHARE:  # NaN (a constant table) is nothing too
            return ()
        found = tuple(k for k, ok in ((ROWS, self.top_bottom >= SIDE_SHARE), (COLUMNS, self.left_right >= SIDE_SHARE),
                                      (BORDER, self.border >= BORDER_SHARE)) if ok)
        return found or ("other",)


def grid_codes(grid: tuple[int, int]) -> dict[str, np.ndarray]:
    """The candidate codes of a rows × cols grid in raster order, each a design matrix [N, k]."""
    rows, cols = grid
    r, c = (m.ravel() for m in np.mgrid[0:rows, 0:cols])  # [N] each
    border = np.minimum.reduce([r, c, rows - 1 - r, cols - 1 - c])

    def one_hot(v: np.ndarray) -> np.ndarray:
        return (v[:, None] == np.unique(v)[None]).astype(np.float64)

    def side(v: np.ndarray, n: int) -> np.ndarray:  # [N, n // 2]: indicator(v = j) − indicator(v = n − 1 − j)
        columns = [(v == j).astype(np.float64) - (v == n - 1 - j) for j in range(n // 2)]
        return np.stack(columns, 1) if columns else np.zeros((v.size, 0))

    return {"rows": one_hot(r), "columns": one_hot(c), "border": one_hot(border),
            "left_right": side(c, cols), "top_bottom": side(r, rows)}


def explained_share(table: np.ndarray, design: np.ndarray) -> float:
    """Adjusted R² of a least-squares fit of ``table`` [N, D] on ``design`` [N, k] (with an intercept), summed over
    the D dimensions: 1 − (1 − R²)(N − 1)/(N − k − 1), k the design's rank. NaN when nothing varies or N ≤ k + 1."""
    n = table.shape[0]
    centred = table - table.mean(0)  # [N, D]
    total = float((centred ** 2).sum())
    a = np.concatenate([np.ones((n, 1)), design], 1)  # [N, k + 1]
    k = np.linalg.matrix_rank(a) - 1
    if total <= 0 or n - k - 1 <= 0:
        return float("nan")
    with linalg.one_thread():
        coef, *_ = np.linalg.lstsq(a, table, rcond=None)
    residual = float(((table - a @ coef) ** 2).sum())
    return 1 - (residual / total) * (n - 1) / (n - k - 1)


def _mean_cosine(sim: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    return float(np.mean([sim[i, j] for i, j in pairs])) if pairs else float("nan")


def position_code(pos: np.ndarray, grid: tuple[int, int]) -> PositionCode:
    """Measure what the position table ``pos`` [rows·cols, D] (raster order, prefix rows dropped) encodes."""
    table = np.asarray(pos, np.float64)
    codes = grid_codes(grid)
    share = {name: explained_share(table, d) for name, d in codes.items()}
    together = explained_share(table, np.concatenate([codes["rows"], codes["columns"], codes["border"]], 1))
    rows, cols = grid
    sim = cosine_rows(table, table)  # [N, N]

    def at(i: int, j: int) -> int:  # raster index of (row i, column j)
        return i * cols + j

    neighbours = [(at(i, j), at(i + di, j + dj)) for i in range(rows) for j in range(cols)
                  for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)) if 0 <= i + di < rows and 0 <= j + dj < cols]
    mirror_lr = [(at(i, j), at(i, cols - 1 - j)) for i in range(rows) for j in range(cols) if abs(cols - 1 - 2 * j) >= 2]
    mirror_tb = [(at(i, j), at(rows - 1 - i, j)) for i in range(rows) for j in range(cols) if abs(rows - 1 - 2 * i) >= 2]
    return PositionCode(float(share["rows"]), float(share["columns"]), float(share["border"]), float(together),
                        float(share["left_right"]), float(share["top_bottom"]), _mean_cosine(sim, neighbours),
                        _mean_cosine(sim, mirror_lr), _mean_cosine(sim, mirror_tb), (rows, cols))


def _pct(v: float) -> str:
    return "n/a" if np.isnan(v) else f"{max(v, 0):.0%}"


def _alike(mirror: float, neighbour: float, tolerance: float = 0.02) -> str:
    if mirror > neighbour + tolerance:
        return "more alike than"
    return "less alike than" if mirror < neighbour - tolerance else "as alike as"


def what_it_encodes(kinds: tuple[str, ...]) -> str:
    """The verdict's words for ``kinds``."""
    if not kinds:
        return "nothing beyond noise"
    if kinds == ("other",):
        return "a pattern that is none of rows, columns or distance from the border"
    if kinds == (BORDER,):
        return "mostly distance from the border"
    if kinds == (ROWS, COLUMNS):
        return "rows and columns"
    if len(kinds) == 1:
        return f"{kinds[0]} only"
    return "a mix: " + ", ".join(kinds[:-1]) + " and " + kinds[-1]


def numbers(code: PositionCode) -> str:
    """The shares the rule reads, in one parenthesis."""
    return (f"share of their variance explained beyond chance: distance from the border {_pct(code.border)}, "
            f"row {_pct(code.rows)}, column {_pct(code.columns)}, all three {_pct(code.together)}; "
            f"left/right side {_pct(code.left_right)}, top/bottom side {_pct(code.top_bottom)}")


def sides(code: PositionCode) -> str:
    """What the mirror test says, from the side shares and the mirror cosines."""
    told = {"left from right": COLUMNS in code.kinds, "top from bottom": ROWS in code.kinds}
    cos = (f"mirror positions (left↔right {code.mirror_left_right:.2f}, top↔bottom {code.mirror_top_bottom:.2f}) are "
           f"{_alike(max(code.mirror_left_right, code.mirror_top_bottom), code.neighbour_cosine)} neighbours "
           f"({code.neighbour_cosine:.2f})")
    barely = [k for k, ok in told.items() if not ok]
    if len(barely) == 2:
        return f"{cos[0].upper()}{cos[1:]}, so it barely tells left from right or top from bottom."
    if barely:
        return f"{cos[0].upper()}{cos[1:]}; it barely tells {barely[0]}."
    return f"{cos[0].upper()}{cos[1:]}; it tells left from right and top from bottom."


def verdict(code: PositionCode) -> str:
    """What the loaded model's position table encodes, measured, next to the ViT paper's finding."""
    kinds = code.kinds
    said = f"On this model the position embeddings encode **{what_it_encodes(kinds)}** ({numbers(code)}). "
    paper = "The ViT paper found rows and columns in the position embeddings of its trained models (Figure 7 centre)"
    if not kinds:
        return said + (f"Which row, which column and the distance from the border together explain "
                       f"{_pct(code.together)}, less than the {STRUCTURE_SHARE:.0%} the rule asks: random or untrained "
                       f"embeddings look like this. {paper}.")
    said += sides(code) + " "
    if kinds == (ROWS, COLUMNS):
        return said + f"{paper}; this model learned them too, though nobody told it about rows and columns."
    if ROWS in kinds and COLUMNS in kinds:
        return said + f"{paper}; this model learned them too, and distance from the border besides."
    if ROWS in kinds or COLUMNS in kinds:
        return said + f"{paper}; this model learned only part of that."
    return said + f"{paper}; this model learned something else."


def rule() -> str:
    """The rule in words, with its thresholds."""
    return (f"The rule: the table encodes nothing beyond noise if which row, which column and the distance from the "
            f"border together explain less than {STRUCTURE_SHARE:.0%} of its variance; otherwise it encodes rows if "
            f"the top/bottom side (what changes sign when the grid is mirrored top↔bottom) explains at least "
            f"{SIDE_SHARE:.0%}, columns if the left/right side does, and distance from the border if that explains "
            f"at least {BORDER_SHARE:.0%} (row and column codes such as 2D sin-cos give it less than 10%).")
