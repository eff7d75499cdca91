"""Stage 3: self-attention, read the ways researchers read it.

- CLS and query-row maps straight from the recorded probabilities;
- attention rollout (Abnar & Zuidema 2020): Â = 0.5·A + 0.5·I, rows renormalised (a true row sum,
  ``keepdim``), layers multiplied; optional per-row discard of the weakest links;
- gradient-weighted rollout (Chefer et al. 2021, gradient-only variant): R = I; R += mean_h((∇A ⊙ A)⁺)·R,
  each layer's gradient paired with that same layer's attention;
- mean attention distance (ViT paper, Fig. 7 right) and DINO-style masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vitviz.model.analysis import Analysis, input_dtype
from vitviz.model.capture import recording
from vitviz.model.forward import as_input
from vitviz.model.loading import Bundle
from vitviz.stages.vectors import cosine_rows

HEAD_FUSIONS = ("mean", "max", "min")


def _heads(attn: np.ndarray, head: int | None) -> np.ndarray:
    """[H, ...] -> [...]: one head, or the mean over heads (head None), in float32."""
    return attn.mean(0, dtype=np.float32) if head is None else attn[head].astype(np.float32)


def cls_attention(analysis: Analysis, layer: int, head: int | None = None) -> np.ndarray:
    """[rows, cols]: how much the CLS token attends to each patch at ``layer`` (0-based block)."""
    n0 = analysis.num_prefix
    return _heads(analysis.attentions[layer][:, 0, n0:], head).reshape(analysis.grid)  # [H, N] -> [N]


def query_attention(analysis: Analysis, layer: int, head: int | None, index: int) -> np.ndarray:
    """[rows, cols]: where patch ``index`` looks (its query row), over the patches."""
    n0 = analysis.num_prefix
    return _heads(analysis.attentions[layer][:, n0 + index, n0:], head).reshape(analysis.grid)  # [H, N] -> [N]


@dataclass(frozen=True)
class Spread:
    """How far a map of attention weights is from uniform attention over the tokens its rows cover.

    A softmax row sums to 1 over all ``tokens`` tokens, so uniform attention gives each 1/T; a colour scale
    stretched from the map's smallest to its largest value makes a near-uniform map look as contrasted as a
    sharp one. ``ratio`` = largest weight / (1/T): 1 for uniform attention, T when one token takes it all."""

    tokens: int  # T: the tokens each row is a distribution over (patches + prefix tokens)
    largest: float  # the largest weight in the map

    @property
    def uniform(self) -> float:
        return 1.0 / self.tokens

    @property
    def ratio(self) -> float:
        return self.largest * self.tokens

    @property
    def ratio_text(self) -> str:
        return f"{self.ratio:.1f}×" if self.ratio < 10 else f"{self.ratio:.0f}×"

    def sentence(self) -> str:
        return (f"uniform would be 1/{self.tokens} = {self.uniform:.2g}; the largest weight here is "
                f"{self.ratio_text} that")


def spread(weights: np.ndarray, tokens: int) -> Spread:
    """The spread of ``weights`` (any part of attention rows that each sum to 1 over ``tokens`` tokens)."""
    if tokens < 1:
        raise ValueError("a distribution needs at least one token")
    return Spread(tokens, float(np.max(weights)))


@dataclass(frozen=True)
class QueryPeaks:
    """How sharply the patches' query rows of one block pick out a patch: per head and query patch, the row's
    largest weight against uniform 1/T (1 for a flat row, T when one token takes it all)."""

    layer: int  # 0-based
    tokens: int  # T
    ratios: np.ndarray  # [H, N]: largest weight × T of each head's query row of each patch

    @property
    def median(self) -> float:
        return float(np.median(self.ratios))

    @property
    def largest(self) -> float:
        return float(np.max(self.ratios))


def query_peaks(analysis: Analysis, layer: int) -> QueryPeaks:
    """Every head's query row of every patch in block ``layer``: its largest weight (over all T tokens) × T."""
    rows = analysis.attentions[layer][:, analysis.num_prefix:, :].astype(np.float32)  # [H, N, T]
    return QueryPeaks(layer, analysis.num_tokens, rows.max(-1) * analysis.num_tokens)


def flat_ratio(values: np.ndarray) -> float:
    """A non-negative map that is not a distribution over T tokens (gradient rollout's relevance, occlusion's
    drops): its largest value against a flat map of the same total, i.e. max / mean (1 for a flat map; nan when
    the map is all zero or has no positive total)."""
    v = np.asarray(values, np.float64)
    mean = float(v.mean()) if v.size else 0.0
    return float(v.max()) / mean if mean > 0 else float("nan")


def flat_text(ratio: float) -> str:
    """'3.2× a flat map' in a title's few words ('no positive value' for nan)."""
    if not np.isfinite(ratio):
        return "no positive value"
    return f"largest {ratio:.1f}× a flat map's" if ratio < 10 else f"largest {ratio:.0f}× a flat map's"


def fuse_heads(attn: np.ndarray, fusion: str = "mean") -> np.ndarray:
    """[..., H, T, T] -> [..., T, T] by mean, max or min over heads."""
    if fusion not in HEAD_FUSIONS:
        raise ValueError(f"head fusion must be one of {HEAD_FUSIONS}")
    return getattr(np, fusion)(attn.astype(np.float64), axis=-3)


def discard_weakest(a: np.ndarray, ratio: float, keep_cols: int = 1) -> np.ndarray:
    """Zero the weakest ``ratio`` of each row's entries (never the first ``keep_cols`` columns: CLS)."""
    if ratio <= 0:
        return a
    out = a.copy()
    body = out[..., keep_cols:]  # [T, T - keep]
    k = int(body.shape[-1] * ratio)
    if k > 0:
        idx = np.argsort(body, axis=-1)[..., :k]
        np.put_along_axis(body, idx, 0.0, axis=-1)
    return out


def rollout(attn: np.ndarray, fusion: str = "mean", discard_ratio: float = 0.0, keep_cols: int = 1) -> np.ndarray:
    """Attention rollout over layers: attn [L, H, T, T] -> R [T, T] (rows sum to 1)."""
    fused = fuse_heads(attn, fusion)  # [L, T, T]
    t = fused.shape[-1]
    result = np.eye(t)
    for a in fused:
        a = discard_weakest(a, discard_ratio, keep_cols)
        a = 0.5 * a + 0.5 * np.eye(t)
        a = a / a.sum(axis=-1, keepdims=True)  # each row sums to 1
        result = a @ result
    return result


def rollout_map(analysis: Analysis, fusion: str = "mean", discard_ratio: float = 0.0) -> np.ndarray:
    """[rows, cols]: the CLS row of the rollout, over the patches."""
    r = rollout(analysis.attentions, fusion, discard_ratio, analysis.num_prefix)
    return r[0, analysis.num_prefix:].reshape(analysis.grid)


def gradient_rollout_from(attn: list[torch.Tensor] | np.ndarray, grads: list[torch.Tensor] | np.ndarray) -> np.ndarray:
    """Chefer et al. gradient-only rollout: R = I; for each layer R += mean_h((∇A ⊙ A)⁺) · R.

    attn, grads: per layer [H, T, T], the gradient of layer l paired with the attention of layer l.
    """
    attn = [np.asarray(a, dtype=np.float64) for a in attn]
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    t = attn[0].shape[-1]
    r = np.eye(t)
    for a, g in zip(attn, grads):
        cam = np.clip(g * a, 0, None).mean(axis=0)  # [T, T]
        r = r + cam @ r
    return r


NO_GRADIENT_INT8 = ("in int8 the activations are rounded to integers on the fly before every Linear layer, a "
                    "step with no gradient, so the class score has no gradient with respect to the attention")


def gradient_unavailable(bundle: Bundle) -> str | None:
    """Why gradient rollout cannot run on ``bundle``, or None (int8 rounds activations: no gradient flows)."""
    return NO_GRADIENT_INT8 if bundle.precision == "int8" else None


def gradient_rollout(bundle: Bundle, analysis: Analysis, class_index: int) -> np.ndarray:
    """[rows, cols]: class-specific relevance of each patch for ``class_index`` (one backward pass).

    Raises ValueError when the model's number format has no gradient (``gradient_unavailable``)."""
    reason = gradient_unavailable(bundle)
    if reason:
        raise ValueError(f"gradient rollout needs gradients: {reason}")
    model = bundle.model
    x = as_input(analysis.pixels[None], bundle.device, input_dtype(model))  # [1, 3, H, W]
    bundle.count_call()
    with torch.enable_grad(), recording(model) as rec:
        logits = model(x)  # [1, C]
        attn = rec.attn  # per layer [1, H, T, T], in forward order
        grads = torch.autograd.grad(logits[0, class_index], attn)
    r = gradient_rollout_from([a[0].detach().float().cpu() for a in attn], [g[0].float().cpu() for g in grads])
    n0 = analysis.num_prefix
    return r[0, n0:].reshape(analysis.grid)


def patch_positions(grid: tuple[int, int], patch: int) -> np.ndarray:
    """[N, 2] pixel centres (y, x) of the patches, raster order."""
    r, c = np.mgrid[0:grid[0], 0:grid[1]]
    return (np.stack([r.ravel(), c.ravel()], axis=1) + 0.5) * patch


def mean_attention_distance(attn: np.ndarray, grid: tuple[int, int], patch: int, num_prefix: int = 1) -> np.ndarray:
    """[L, H] in pixels: Σⱼ Aᵢⱼ·‖pᵢ − pⱼ‖ over patch keys (rows renormalised over patches), averaged over patch queries.

    In float32 (sums of N terms; the pixel distances need no more): a tenth of the time of float64 on ViT-S/16."""
    pos = patch_positions(grid, patch)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1).astype(np.float32)  # [N, N]
    a = attn[..., num_prefix:, num_prefix:].astype(np.float32)  # [L, H, N, N]
    weighted = np.einsum("lhij,ij->lhi", a, dist)  # [L, H, N]: Σⱼ Aᵢⱼ·dᵢⱼ
    return (weighted / np.maximum(a.sum(-1), 1e-12)).mean(-1, dtype=np.float64)


def uniform_attention_distance(grid: tuple[int, int], patch: int) -> float:
    """The mean distance if every patch attended to all patches equally (the reference line)."""
    pos = patch_positions(grid, patch)
    return float(np.linalg.norm(pos[:, None] - pos[None], axis=-1).mean())


def dino_mask(values: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask (same shape): the fewest entries holding ``fraction`` of the total mass (DINO's threshold)."""
    flat = values.ravel().astype(np.float64)
    order = np.argsort(flat)[::-1]
    cum = np.cumsum(flat[order]) / max(flat.sum(), 1e-12)
    keep = int(np.searchsorted(cum, fraction) + 1)
    mask = np.zeros(flat.size, bool)
    mask[order[:min(keep, flat.size)]] = True
    return mask.reshape(values.shape)


def focus_ratio(values: np.ndarray, object_patches: np.ndarray) -> float:
    """Share of the map's mass on patches overlapping the object, divided by the share of such patches."""
    v = values.ravel().astype(np.float64)
    m = object_patches.ravel().astype(bool)
    if not m.any():
        return float("nan")
    return float((v[m].sum() / max(v.sum(), 1e-12)) / m.mean())


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


# --- Closeness or learned relation? -------------------------------------------------------------------
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
                   MIXED: "is of mixed sign (single rows correlate with it, some with it and others against it: "
                          "closeness does not decide where attention goes)"}
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
            f"{', inversely' if rel.correlation < 0 else ''}: {CLOSENESS_WORDS[rel.kind]} here.{flat}")


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
