"""Closeness or learned relation? The article's "less difference of vector number" against attention, measured.

One query row's correlation (``relatedness``), each block's grade over all rows (``closeness_by_block``) and the
sentences that say them, from a rule tested on constructed attention (follows, opposes, mixed sign, independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitviz.model.analysis import Analysis
from vitviz.stages.attention import Spread, query_attention, spread
from vitviz.stages.vectors import cosine_rows


# The article: patches whose vectors differ little "are considered as highly related". Attention in block ℓ scores
# token j for query i with a learned query and key, qᵢ·kⱼ/√d, computed from the tokens that ENTER block ℓ. The fair
# comparison is that score against the cosine of those same entering tokens. Within one attention row,
# log aᵢⱼ = qᵢ·kⱼ/√d − log Σₖ exp(qᵢ·kₖ/√d): the log of the weight is the score up to one constant for the whole
# row, so the Pearson correlation of cosine with log attention over a row IS its correlation with the score, and r²
# is the share of the scores' variation that plain closeness explains.

FOLLOWS_R2 = 0.5  # closeness explains at least half of the variation of the attention scores: attention follows it
PARTLY_R2 = 0.1  # at least a tenth (|r| ≥ 0.32, about Cohen's "medium" correlation of 0.3): partly
SAME_SIGN = 0.9  # of the rows closeness explains ≥ PARTLY_R2 of, this share must have one sign for a block to lean
LOG_FLOOR = float(np.finfo(np.float16).smallest_subnormal)  # 2⁻²⁴: a weight float16 stored as 0 (its log is finite)
FOLLOWS, PARTLY, NOT, OPPOSITE, MIXED = "follows", "partly", "not", "opposite", "mixed"
CLOSENESS_WORDS = {
    FOLLOWS: "attention follows closeness",
    PARTLY: "attention partly follows closeness",
    NOT: "attention does not follow closeness",
    OPPOSITE: "attention goes the other way (the least alike tokens get the most)",
    MIXED: "rows go either way (some follow closeness, others go against it)",
}
CLOSENESS_SHORT = {FOLLOWS: "follows closeness", PARTLY: "partly follows it", NOT: "does not follow it",
                   OPPOSITE: "goes the other way (the least alike get the most)",
                   MIXED: "is of mixed sign (many single rows correlate with closeness, some positively and "
                          "others negatively, so closeness alone does not say where a row's attention goes)"}
CLOSENESS_TAG = {FOLLOWS: "follows closeness", PARTLY: "partly follows", NOT: "does not follow",
                 OPPOSITE: "the other way", MIXED: "mixed sign"}  # a figure title's few words


def closeness_kind(r: float) -> str:
    """The rule for one row: r² ≥ FOLLOWS_R2 with r > 0 follows; r² ≥ PARTLY_R2 partly (r > 0) or the opposite
    (r < 0); else not (also for nan: a constant row says nothing)."""
    if not np.isfinite(r) or r * r < PARTLY_R2:
        return NOT
    if r < 0:
        return OPPOSITE
    return FOLLOWS if r * r >= FOLLOWS_R2 else PARTLY


def block_kind(median_r2: float, positive: float, negative: float) -> str:
    """The rule for many rows (a block's heads × query patches), so that positive and negative r do not cancel:
    ``median_r2`` is the median r² (how much of a row's scores closeness explains, whatever the sign);
    ``positive`` / ``negative`` the shares of rows with r² ≥ PARTLY_R2 and r > 0 / r < 0.

    Median r² below PARTLY_R2 (or nan) -> not; else, of the rows closeness explains, at least SAME_SIGN positive ->
    follows (median r² ≥ FOLLOWS_R2) or partly; at least SAME_SIGN negative -> opposite; split -> mixed."""
    if not np.isfinite(median_r2) or median_r2 < PARTLY_R2:
        return NOT
    signed = positive + negative
    if signed <= 0:
        return NOT
    if positive >= SAME_SIGN * signed:
        return FOLLOWS if median_r2 >= FOLLOWS_R2 else PARTLY
    return OPPOSITE if negative >= SAME_SIGN * signed else MIXED


def block_input(analysis: Analysis, layer: int) -> np.ndarray:
    """[T, D] float32: the tokens that enter block ``layer`` (0-based): block 1 gets the embedded tokens with their
    positions, block ℓ + 1 gets block ℓ's output."""
    return (analysis.tokens_in if layer == 0 else analysis.block_outputs[layer - 1]).astype(np.float32)


def row_correlations(cosine: np.ndarray, attn: np.ndarray) -> np.ndarray:
    """Pearson r per query row of cosine [N, N] with log attention [..., N, N] over the other patches (the query's
    own entry left out) -> [..., N]; nan where either row is constant. One [N, N] at a time (DINO-S/8: 784²)."""
    n = cosine.shape[-1]
    off = ~np.eye(n, dtype=bool)
    x = cosine.astype(np.float64)[off].reshape(n, n - 1)  # [N, N-1]
    x = x - x.mean(-1, keepdims=True)
    sx = np.sqrt((x * x).sum(-1))  # [N]
    flat = attn.reshape(-1, n, n)
    out = np.empty((flat.shape[0], n))
    for k, a in enumerate(flat):
        y = np.log(np.maximum(a.astype(np.float64)[off], LOG_FLOOR)).reshape(n, n - 1)  # [N, N-1]
        y -= y.mean(-1, keepdims=True)
        sy = np.sqrt((y * y).sum(-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (x * y).sum(-1) / (sx * sy)
        out[k] = np.where((sx > 1e-12) & (sy > 1e-12), r, np.nan)
    return out.reshape(*attn.shape[:-2], n)


def patch_closeness(analysis: Analysis, layer: int) -> np.ndarray:
    """[N, N]: cosine similarity of the patch tokens entering block ``layer``."""
    x = block_input(analysis, layer)[analysis.num_prefix:]  # [N, D]
    return cosine_rows(x, x)


@dataclass(frozen=True)
class Relatedness:
    """The closeness of the tokens entering a block next to that block's learned attention, for one query patch."""

    cosine: np.ndarray  # [rows, cols]: cosine of the query's token entering the block with every patch's token
    attention: np.ndarray  # [rows, cols]: the query's attention row over the patches (layer, head)
    correlation: float  # Pearson r of cosine with log attention (the score) over the other patches
    kind: str  # closeness_kind(correlation)
    spread: Spread | None = None  # the row's largest weight against uniform 1/T: how far from flat the row is

    @property
    def explained(self) -> float:
        """r²: the share of the attention scores' variation that closeness explains (0 for nan)."""
        return float(self.correlation ** 2) if np.isfinite(self.correlation) else 0.0


def relatedness(analysis: Analysis, layer: int, head: int | None, index: int) -> Relatedness:
    """The article says patches whose vectors differ little are "related". Put the cosine of the tokens entering
    block ``layer`` next to what attention in that block does from the same query: relatedness is learned
    (query·key), and r says how much of it plain closeness explains here."""
    cos = patch_closeness(analysis, layer)[index]  # [N]
    att = query_attention(analysis, layer, head, index).ravel()  # [N]
    n = cos.size
    others = np.arange(n) != index
    x = cos[others].astype(np.float64)
    y = np.log(np.maximum(att[others].astype(np.float64), LOG_FLOOR))
    r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 1e-12 and y.std() > 1e-12 else float("nan")
    return Relatedness(cos.reshape(analysis.grid), att.reshape(analysis.grid), r, closeness_kind(r),
                       spread(att, analysis.num_tokens))


NEAR_FLAT = 2.0  # a row whose largest weight is under 2× uniform moves little weight, whatever its r


def relatedness_sentence(rel: Relatedness) -> str:
    """r for one query, what it means, the words the rule gives it, and how far the row is from flat (an r on a
    near-uniform row moves almost no weight)."""
    flat = ""
    if rel.spread is not None:
        s = rel.spread
        flat = (f" The weights themselves: the row's largest is {s.ratio_text} uniform (1/{s.tokens} = {s.uniform:.2g})"
                + (": a nearly flat row, so whatever r says, attention here picks out no patch."
                   if s.ratio < NEAR_FLAT else "."))
    return (f"r = **{rel.correlation:.2f}** (r, the Pearson correlation, −1…1) between closeness and the attention "
            "score (the log of the weight, which for one head is query·key/√d up to a constant for the whole row), "
            f"so closeness explains **{rel.explained:.0%}** of its variation over the other patches"
            f"{_sign_words(rel)}: {CLOSENESS_WORDS[rel.kind]} here.{flat}")


def _sign_words(rel: Relatedness) -> str:
    """", inversely" for a negative r whose share shows (r² ≥ 0.5 %); a negative r whose share rounds to 0 %
    explains nothing, inversely or not: " (r slightly negative)"; nothing for r ≥ 0."""
    if not rel.correlation < 0:
        return ""
    return ", inversely" if f"{rel.explained:.0%}" != "0%" else " (r slightly negative)"


@dataclass(frozen=True)
class Closeness:
    """How far attention follows closeness, block by block, over every head and query patch of one image."""

    median_r2: np.ndarray  # [L]: per block, the median over heads and query patches of r² (cosine vs log attention)
    positive: np.ndarray  # [L]: share of those rows with r² ≥ PARTLY_R2 and r > 0
    negative: np.ndarray  # [L]: share with r² ≥ PARTLY_R2 and r < 0

    @property
    def kinds(self) -> tuple[str, ...]:
        """[L]: ``block_kind`` of each block."""
        return tuple(block_kind(*v) for v in zip(self.median_r2, self.positive, self.negative))

    @property
    def depth(self) -> int:
        return len(self.median_r2)

    def blocks(self, kind: str) -> list[int]:
        """1-based numbers of the blocks of this kind."""
        return [i + 1 for i, k in enumerate(self.kinds) if k == kind]

    @property
    def grade(self) -> str:
        """The rule for the article's claim: every block follows -> "follows"; some block follows or partly follows
        -> "partly"; else some block goes the other way -> "opposite"; else some block of mixed sign -> "mixed";
        else "not"."""
        kinds = self.kinds
        if kinds and all(k == FOLLOWS for k in kinds):
            return FOLLOWS
        if any(k in (FOLLOWS, PARTLY) for k in kinds):
            return PARTLY
        for k in (OPPOSITE, MIXED):
            if k in kinds:
                return k
        return NOT


def closeness_of_rows(r: np.ndarray) -> tuple[float, float, float]:
    """r of many rows (any shape, nan for constant rows) -> (median r², share positive, share negative) as
    ``block_kind`` reads them; the shares are of the rows with a finite r."""
    r = np.asarray(r, np.float64).ravel()
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), 0.0, 0.0
    strong = r * r >= PARTLY_R2
    return float(np.median(r * r)), float(np.mean(strong & (r > 0))), float(np.mean(strong & (r < 0)))


def closeness_from(attentions: np.ndarray, closeness: list[np.ndarray], num_prefix: int) -> Closeness:
    """attentions [L, H, T, T], closeness per block [N, N] -> the per-block summary (for constructed inputs too)."""
    rows = [closeness_of_rows(row_correlations(cos, attn[:, num_prefix:, num_prefix:]))  # each from r [H, N]
            for attn, cos in zip(attentions, closeness)]
    m, pos, neg = (np.asarray(v, np.float64) for v in zip(*rows)) if rows else (np.zeros(0),) * 3
    return Closeness(m, pos, neg)


def closeness_by_block(analysis: Analysis) -> Closeness:
    """Every block, every head, every query patch of the analysis: cosine of the tokens entering the block against
    the block's log attention."""
    return closeness_from(analysis.attentions, [patch_closeness(analysis, l) for l in range(analysis.depth)],
                          analysis.num_prefix)


def block_list(numbers: list[int]) -> str:
    """'block 3' or 'blocks 1, 2, 4'."""
    return ("block " if len(numbers) == 1 else "blocks ") + ", ".join(str(n) for n in numbers)


def closeness_sentence(c: Closeness) -> str:
    """What the per-block numbers show, in words that follow the rule (numbers included)."""
    cut = np.sqrt(PARTLY_R2)
    per = ", ".join(f"block {i + 1}: {m:.0%} ({p:.0%} / {n:.0%})" if np.isfinite(m) else f"block {i + 1}: —"
                    for i, (m, p, n) in enumerate(zip(c.median_r2, c.positive, c.negative)))
    parts = [f"{CLOSENESS_SHORT[k]} in {block_list(c.blocks(k))}" for k in (FOLLOWS, PARTLY, OPPOSITE, MIXED, NOT)
             if c.blocks(k)]
    most = ""
    if np.isfinite(c.median_r2).any():
        top = int(np.nanargmax(c.median_r2))
        most = f" Closeness explains most in block {top + 1} (median r² {c.median_r2[top]:.0%})."
    return (f"Over every head and query patch of this image, r between the closeness of the tokens entering a block "
            f"and its attention scores, block by block as median r² (how much of a row's scores closeness explains, "
            f"whatever the sign) and the share of rows with r > {cut:.2f} / r < −{cut:.2f}: {per}.{most} Attention "
            + "; ".join(parts) + ". "
            f"(Rule: a median r² below {PARTLY_R2:.0%} does not follow; else, of the rows with r² ≥ {PARTLY_R2:.0%}, "
            f"at least {SAME_SIGN:.0%} with r > 0 follows (median r² ≥ {FOLLOWS_R2:.0%}) or partly follows, at least "
            f"{SAME_SIGN:.0%} with r < 0 goes the other way, a split is of mixed sign.)")

