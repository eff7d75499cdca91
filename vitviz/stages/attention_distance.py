"""Mean attention distance over depth: does this model show the ViT paper's pattern (Figure 7 right)?

The distances themselves are ``attention.mean_attention_distance``; this module judges their trend over the
blocks with a stated rule (``distance_trend``), tested on constructed attention whose answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# The trend rule of ``distance_trend``, as fractions of the uniform-attention distance (the reference line).
NEAR = 0.4  # a head whose mean distance is under 0.4 × uniform looks near (local)
FAR = 0.6  # at or above 0.6 × uniform it looks far (global)
MIN_RISE = 0.1  # the per-block median head must grow by at least 0.1 × uniform from the first block to the last
EVEN = 0.05  # every head within 5 % of uniform: attention spread almost evenly


@dataclass(frozen=True)
class DistanceTrend:
    """How far heads look, block by block, and the three tests of the ViT paper's pattern (Figure 7 right:
    early blocks mix near and far heads, the distance grows with depth, late blocks mostly look far)."""

    uniform: float  # px: the distance if every patch attended to all patches equally
    medians: np.ndarray  # [L] px: each block's median head
    lows: np.ndarray  # [L] px: each block's nearest-looking head
    highs: np.ndarray  # [L] px: each block's farthest-looking head
    rise: float  # px: the growth of the median from block 1 to block L along the robust trend line (Theil–Sen:
    #              the median of the slopes between every two blocks, times L − 1), 0 with one block
    early: int  # the early blocks are 1..early (the first half)
    mixing: tuple[int, ...]  # 1-based early blocks with a near head and a far head
    late: int  # the late blocks are the last ``late`` (the last third)
    late_median: float  # px: the median of all heads of the late blocks

    @property
    def depth(self) -> int:
        return self.medians.size

    @property
    def grows(self) -> bool:
        return self.rise >= MIN_RISE * self.uniform

    @property
    def early_mix(self) -> bool:
        return bool(self.mixing)

    @property
    def late_far(self) -> bool:
        return self.late_median >= FAR * self.uniform

    @property
    def even(self) -> bool:
        """Every head of every block within ``EVEN`` of the uniform distance."""
        return bool(max(self.highs.max() - self.uniform, self.uniform - self.lows.min()) <= EVEN * self.uniform)

    @property
    def shown(self) -> bool:
        """The pattern the ViT paper found: all three tests pass."""
        return self.grows and self.early_mix and self.late_far


def theil_sen_rise(values: np.ndarray) -> float:
    """[L] -> the growth from the first to the last entry along the Theil–Sen line (median pairwise slope ×
    (L − 1)): one odd block (say a nearly uniform first block) does not turn a trend around, as it does a
    straight least-squares line or a first-versus-last comparison."""
    n = values.size
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, 1)
    return float(np.median((values[j] - values[i]) / (j - i)) * (n - 1))


def theil_sen_line(values: np.ndarray) -> np.ndarray:
    """[L] -> the Theil–Sen line at each entry: slope = the median pairwise slope, intercept = the median of
    values − slope · index (the line ``theil_sen_rise`` measures the growth along)."""
    n = values.size
    slope = theil_sen_rise(values) / (n - 1) if n > 1 else 0.0
    index = np.arange(n)
    return float(np.median(values - slope * index)) + slope * index


def odd_end(medians: np.ndarray, rise: float) -> tuple[int, float] | None:
    """When the first and the last block alone say the opposite of the trend line (one grows, the other shrinks,
    each by at least 1 px): (the 1-based end block farther off the line, how far it lies above (+) or below (−)
    it, px); None when they agree or there are fewer than three blocks."""
    ends = float(medians[-1] - medians[0])
    if medians.size < 3 or abs(ends) < 1 or abs(rise) < 1 or (ends > 0) == (rise > 0):
        return None
    off = medians - theil_sen_line(medians)
    first, last = float(off[0]), float(off[-1])
    return (1, first) if abs(first) >= abs(last) else (medians.size, last)


def distance_trend(dist: np.ndarray, uniform: float) -> DistanceTrend:
    """The per-block distribution of head distances [L, H] (px) and the trend of its median over depth."""
    dist = np.asarray(dist, dtype=np.float64)
    depth = dist.shape[0]
    medians = np.median(dist, axis=1)  # [L]
    early, late = (depth + 1) // 2, (depth + 2) // 3  # the first half, the last third (at least one block each)
    mixing = tuple(i + 1 for i in range(early)
                   if dist[i].min() < NEAR * uniform and dist[i].max() >= FAR * uniform)
    return DistanceTrend(float(uniform), medians, dist.min(axis=1), dist.max(axis=1), theil_sen_rise(medians),
                         early, mixing, late, float(np.median(dist[-late:])))


def _px(value: float) -> str:
    """A signed distance in whole pixels ("+51 px", "−3 px", "0 px")."""
    return "0 px" if round(value) == 0 else f"{value:+.0f} px".replace("-", "−")


def _blocks(first: int, last: int) -> str:
    return f"block {first}" if first == last else f"blocks {first}–{last}"


def _mixing(t: DistanceTrend) -> str:
    """Which early blocks have both a near and a far head, in words."""
    if t.early == 1:
        return "block 1 has both" if t.early_mix else "block 1 does not have both"
    if not t.early_mix:
        return f"no block of blocks 1–{t.early} has both"
    runs: list[list[int]] = []
    for b in t.mixing:  # consecutive blocks as one run: 2, 3, 4 -> 2–4
        if runs and b == runs[-1][-1] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    one = len(t.mixing) == 1
    which = ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"of blocks 1–{t.early}, {'block' if one else 'blocks'} {which} {'has' if one else 'have'} both"


def distance_verdict(dist: np.ndarray, uniform: float) -> str:
    """What the mean attention distances [L, H] of the loaded model show, in words that follow from
    ``distance_trend``'s three tests, next to what the ViT paper found on its trained models."""
    t = distance_trend(dist, uniform)
    u, depth = t.uniform, t.depth
    near, far = NEAR * u, FAR * u
    said = (f"On this model the median head looks {t.medians[0]:.0f} px far in block 1 and {t.medians[-1]:.0f} px "
            f"in block {depth} (uniform attention: {u:.0f} px). ")
    if depth > 1:
        said += (f"Along the trend line over all {depth} blocks (Theil–Sen: the median of the slopes between every "
                 f"two blocks, so one odd block cannot turn it around) the median changes by {_px(t.rise)} from "
                 f"block 1 to block {depth}; growing with depth means at least {_px(MIN_RISE * u)}. ")
        if (odd := odd_end(t.medians, t.rise)) is not None:
            block, off = odd
            said += (f"Block 1 against block {depth} alone would say {_px(float(t.medians[-1] - t.medians[0]))}, the "
                     f"other way, because block {block} is the odd one: it lies {abs(off):.0f} px "
                     f"{'above' if off > 0 else 'below'} the line. ")
    said += (f"A head counts as near under {near:.0f} px ({NEAR:g} × uniform) and as far from {far:.0f} px "
             f"({FAR:g} × uniform): {_mixing(t)}; in "
             f"{_blocks(depth - t.late + 1, depth)} the median head looks {t.late_median:.0f} px far. ")
    if t.even:
        said += (f"Every head of every block is within {EVEN:.0%} of the uniform distance: attention is spread "
                 "almost evenly over the image. ")
    if t.shown:
        return said + ("That is the pattern the ViT paper found on its trained models: near and far heads mixed "
                       "early, the distance growing with depth, mostly far late.")
    missing = [why for ok, why in ((t.grows, f"its median head does not grow with depth ({_px(t.rise)}, under "
                                             f"{_px(MIN_RISE * u)})"),
                                   (t.early_mix, "its early blocks do not mix near and far heads"),
                                   (t.late_far, "its late heads do not mostly look far")) if not ok]
    return said + ("That is not the pattern the ViT paper found on its trained models (near and far heads mixed "
                   "early, the distance growing with depth, mostly far late): " + "; ".join(missing) + ".")


def distance_pattern_shown(dist: np.ndarray, uniform: float) -> bool:
    """The test behind ``distance_verdict``'s wording."""
    return distance_trend(dist, uniform).shown
