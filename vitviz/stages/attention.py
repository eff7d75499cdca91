"""Stage 3: self-attention, read the ways researchers read it.

- CLS and query-row maps straight from the recorded probabilities;
- attention rollout (Abnar & Zuidema 2020): Â = 0.5·A + 0.5·I, rows renormalised (a true row sum,
  ``keepdim``), layers multiplied; optional per-row discard of the weakest links;
- gradient-weighted rollout (Chefer et al. 2021, gradient-only variant): R = I; R += mean_h((∇A ⊙ A)⁺)·R,
  each layer's gradient paired with that same layer's attention;
- mean attention distance (ViT paper, Fig. 7 right; its trend over depth is judged in ``attention_distance``) and
  DINO-style masks; closeness against attention is ``closeness``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vitviz.model.analysis import Analysis, input_dtype
from vitviz.model.capture import recording
from vitviz.model.forward import as_input
from vitviz.model.loading import Bundle

HEAD_FUSIONS = ("mean", "max", "min")


def _heads(attn: np.ndarray, head: int | None) -> np.ndarray:
    """[H, ...] -> [...]: one head, or the mean over heads (head None), in float32."""
    return attn.mean(0, dtype=np.float32) if head is None else attn[head].astype(np.float32)


def cls_attention(analysis: Analysis, layer: int, head: int | None = None) -> np.ndarray:
    """[rows, cols]: how much the CLS token attends to each patch at ``layer`` (0-based block). A model without a
    CLS token (SigLIP, average pooling) has no such row: the map is then the attention each patch receives, averaged
    over every query (``reader``)."""
    n0 = analysis.num_prefix
    attn = analysis.attentions[layer]  # [H, T, T]
    if head is not None:  # the one head first: without a CLS token the mean over queries is per head
        attn, head = attn[head:head + 1], 0
    rows = attn[:, 0, n0:] if analysis.has_cls else attn[:, :, n0:].mean(axis=1, dtype=np.float32)  # [H, N]
    return _heads(rows, head).reshape(analysis.grid)


def reader(analysis: Analysis) -> str:
    """Whose attention the "CLS" maps show, as a title's adjective ("CLS attention", "CLS → patches"): the CLS
    token's, or, without a CLS token, every query's on average ("average-token attention")."""
    return "CLS" if analysis.has_cls else "average-token"


def no_cls_note(analysis: Analysis) -> str:
    """What the CLS maps show on a model without a CLS token, in a sentence ('' when it has one)."""
    if analysis.has_cls:
        return ""
    return ("This model has no CLS token: its head reads " + analysis_pool_words(analysis) + ". No single token "
            "gathers the answer, so the maps show how much attention each patch receives, averaged over every token's "
            "query.")


def analysis_pool_words(analysis: Analysis) -> str:
    from vitviz.stages.block import POOL_WORDS  # the one place that names timm's poolings

    return POOL_WORDS.get(analysis.pool, f"the tokens pooled by “{analysis.pool}”")


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


def rollout_row(attn: np.ndarray, fusion: str = "mean", discard_ratio: float = 0.0, keep_cols: int = 1,
                row: int | None = 0) -> np.ndarray:
    """Row ``row`` of ``rollout(attn, …)`` [T], without the whole product: R = A_L ⋯ A_1, so its row is
    e_rowᵀ A_L ⋯ A_1, a vector times each layer's matrix from the last block to the first (L vector-matrix
    products instead of L matrix products: a thousandth of the work at 197 tokens). ``row=None``: the mean of
    every row, (1/T)·1ᵀR, the same way."""
    fused = fuse_heads(attn, fusion)  # [L, T, T]
    t = fused.shape[-1]
    out = np.full(t, 1.0 / t) if row is None else np.eye(t)[row]  # [T]; None: the mean of every row
    for a in fused[::-1]:
        a = discard_weakest(a, discard_ratio, keep_cols)
        a = 0.5 * a + 0.5 * np.eye(t)
        a = a / a.sum(axis=-1, keepdims=True)  # each row sums to 1, as in rollout
        out = out @ a
    return out


def rollout_map(analysis: Analysis, fusion: str = "mean", discard_ratio: float = 0.0) -> np.ndarray:
    """[rows, cols]: the CLS row of the rollout, over the patches (the mean of every row without a CLS token)."""
    # one row is needed (the CLS row, or the mean of every row): a vector times the matrices, not the full product
    row = rollout_row(analysis.attentions, fusion, discard_ratio, analysis.num_prefix,
                      0 if analysis.has_cls else None)  # [T]
    return row[analysis.num_prefix:].reshape(analysis.grid)


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
