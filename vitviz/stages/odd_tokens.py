"""Odd tokens: high-norm tokens, registers, and the pattern a ViT's features show on a blank image.

Two findings the page lets a learner check on the model on screen (literature, cited as such):
- Darcet, Oquab, Mairal & Bojanowski, "Vision Transformers Need Registers" (ICLR 2024): in large, long-trained ViTs
  (DINOv2, OpenCLIP, DeiT-III) a few background patch tokens get norms far above the rest, draw much of the CLS
  token's attention and hold little of their own patch (their linear probes for position and pixels do worse on
  them); extra learned "register" tokens take that role instead.
- Yang et al., "Denoising Vision Transformers" (ECCV 2024): part of every feature map is a fixed pattern from the
  position embeddings; it shows even on an all-zero image.

Everything here is computed from an ``Analysis`` (the norms, the CLS attention, linear read-outs fitted on the
image's own tokens) or from the analysis of a blank image (``blank_features``: one forward pass, which the page runs
through the context's experiment helper). Each verdict's words follow a stated rule (``flag``, ``readout_words``,
``pattern_verdict``, ``isolated_hot_patches``), tested on constructed inputs.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.model.analysis import Analysis, analyze
from vitviz.model.loading import Bundle
from vitviz.model.zoo import ZOO, ModelSpec
from vitviz.wording import patch_name

# ---------------------------------------------------------------------------------------------- which token is which


@dataclass(frozen=True)
class Layout:
    """The model's token sequence: [CLS?] [registers …] [patches …] (timm's order)."""

    has_cls: bool
    registers: int
    patches: int

    @property
    def prefix(self) -> int:
        return int(self.has_cls) + self.registers

    @property
    def register_slice(self) -> slice:
        return slice(int(self.has_cls), self.prefix)

    @staticmethod
    def of(a: Analysis) -> "Layout":
        """Read from the analysis: a CLS token when the model has one (its learned vector is recorded), the rest of
        the prefix registers (timm puts the CLS token first, then ``num_reg_tokens`` registers)."""
        has_cls = a.cls_token.size > 0
        return Layout(has_cls, a.num_prefix - int(has_cls), a.num_patches)


# ----------------------------------------------------------------------------------------------------------- norms


def token_norms(a: Analysis) -> np.ndarray:
    """[L, T] float32, read-only: the Euclidean norm of every token (CLS, registers, patches) after each block.

    Computed once per analysis (4 ms on ViT-S/16; the page's rule and four of its charts read it, again at every
    block or k a learner picks) and kept while the analysis lives."""
    held = _NORMS.get(id(a))
    if held is not None and held[0]() is a:
        return held[1]
    norms = np.linalg.norm(a.block_outputs.astype(np.float32), axis=-1)
    norms.flags.writeable = False  # shared by every caller
    _NORMS[id(a)] = (weakref.ref(a), norms)
    weakref.finalize(a, _NORMS.pop, id(a), None)
    return norms


_NORMS: dict[int, tuple[weakref.ref, np.ndarray]] = {}  # id(analysis) -> (the analysis, its token norms)


NORM_K = 3.0  # the rule's default factor: "far above the rest" = a norm above NORM_K × the median patch norm
K_CHOICES = (2.0, 2.5, 3.0, 4.0, 5.0)  # the factors the page offers


@dataclass(frozen=True)
class Flags:
    """The rule applied to one block's patch tokens: a patch is flagged when its norm is above k × the median
    norm of the block's patch tokens."""

    k: float
    median: float  # median norm of the patch tokens
    largest: float  # the largest patch norm
    flagged: tuple[int, ...]  # patch indices (raster order, 0-based) above k × median, largest first
    ratios: tuple[float, ...]  # their norms ÷ the median, in the same order
    patches: int  # how many patch tokens the rule looked at

    @property
    def threshold(self) -> float:
        return self.k * self.median

    @property
    def largest_ratio(self) -> float:
        return self.largest / self.median if self.median > 0 else float("inf")


def flag(patch_norms: np.ndarray, k: float = NORM_K) -> Flags:
    """Patch norms [N] -> which are far above the rest by the rule norm > k × median (the median resists the few
    outliers it looks for: with under half of the tokens flagged, it is a normal token's norm)."""
    norms = np.asarray(patch_norms, np.float64)
    median = float(np.median(norms))
    above = np.flatnonzero(norms > k * median)
    above = above[np.argsort(-norms[above], kind="stable")]
    ratios = tuple(float(norms[i] / median) for i in above) if median > 0 else tuple(float("inf") for _ in above)
    return Flags(float(k), median, float(norms.max()), tuple(int(i) for i in above), ratios, int(norms.size))


def flags_by_block(norms: np.ndarray, layout: Layout, k: float = NORM_K) -> list[Flags]:
    """The rule on every block: ``norms`` [L, T] -> one ``Flags`` per block (patch tokens only)."""
    return [flag(row[layout.prefix:], k) for row in norms]


def _patch_list(indices: tuple[int, ...], grid: tuple[int, int], most: int = 4) -> str:
    names = [patch_name(i, grid) for i in indices[:most]]
    more = len(indices) - most
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def block_sentence(flags: Flags, block: int, grid: tuple[int, int]) -> str:
    """What the rule finds after one block (``block`` 0-based), with its numbers."""
    bar = (f"After block {block + 1} the median patch norm is {flags.median:.3g}, so the rule's bar is "
           f"{flags.k:g} × {flags.median:.3g} = {flags.threshold:.3g}: ")
    if not flags.flagged:
        return bar + f"no patch token is above it (the largest is {flags.largest_ratio:.2f} × the median)."
    n = len(flags.flagged)
    return bar + (f"{n} patch token{'s are' if n > 1 else ' is'} above it ({_patch_list(flags.flagged, grid)}; "
                  f"up to {flags.ratios[0]:.1f} × the median).")


def norm_verdict(flags: list[Flags], grid: tuple[int, int]) -> str:
    """The verdict on this model and image, over all blocks: which blocks have tokens far above the rest, or
    "none here". Its words follow ``flag``'s rule and nothing else."""
    k, depth = flags[0].k, len(flags)
    counts = [len(f.flagged) for f in flags]
    if not any(counts):
        top = max(range(depth), key=lambda b: flags[b].largest_ratio)
        return (f"**None here.** On this model and image no patch token's norm is above {k:g} × the median patch "
                f"norm after any of the {depth} blocks (the closest: {flags[top].largest_ratio:.2f} × the median, "
                f"after block {top + 1}).")
    with_flags = [b for b in range(depth) if counts[b]]
    most = max(with_flags, key=lambda b: (counts[b], flags[b].ratios[0]))
    blocks = ", ".join(str(b + 1) for b in with_flags)
    n = counts[most]
    return (f"**Tokens far above the rest, here.** On this model and image, patch tokens with a norm above {k:g} × "
            f"the median patch norm appear after {len(with_flags)} of the {depth} blocks (block{'s' if len(with_flags) > 1 else ''} "
            f"{blocks}); the most after block {most + 1}: {n} of the {flags[most].patches} patches "
            f"({_patch_list(flags[most].flagged, grid)}; up to {flags[most].ratios[0]:.1f} × the median).")


def prefix_ratios(norms: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """{name: [L]}: the CLS token's and each register's norm ÷ the median patch norm, per block."""
    median = np.median(norms[:, layout.prefix:], axis=1)  # [L]
    out = {}
    if layout.has_cls:
        out["CLS"] = norms[:, 0] / median
    for r in range(layout.registers):
        out[f"register {r + 1}"] = norms[:, int(layout.has_cls) + r] / median
    return out


# ---------------------------------------------------------------------------------------------- CLS attention shares


@dataclass(frozen=True)
class AttentionShares:
    """Where the CLS token's attention goes, per block (mean over heads; each block's four parts sum to 1)."""

    cls_self: np.ndarray  # [L]
    registers: np.ndarray  # [L]
    flagged: np.ndarray  # [L]: the flagged patches together
    other: np.ndarray  # [L]: every other patch
    flagged_count: int
    patches: int

    def even(self) -> np.ndarray:
        """[L]: what the flagged patches would receive if the CLS token's attention on patches were spread evenly."""
        return (self.flagged + self.other) * self.flagged_count / self.patches


def cls_attention_shares(a: Analysis, flagged: tuple[int, ...]) -> AttentionShares | None:
    """The CLS token's attention [L] split into itself, the registers, the ``flagged`` patches and the rest; None
    for a model without a CLS token."""
    layout = Layout.of(a)
    if not layout.has_cls:
        return None
    row = a.attentions[:, :, 0, :].mean(1, dtype=np.float32)  # [L, T]: the CLS row, mean over heads
    patches = row[:, layout.prefix:]  # [L, N]
    mask = np.zeros(layout.patches, bool)
    mask[list(flagged)] = True
    return AttentionShares(row[:, 0], row[:, layout.register_slice].sum(1), patches[:, mask].sum(1),
                           patches[:, ~mask].sum(1), int(mask.sum()), layout.patches)


def attention_sentence(shares: AttentionShares, block: int) -> str:
    """What the flagged patches of block ``block`` (0-based) receive of the CLS token's attention, as measured: in
    the next block (whose attention reads them) and at most over all blocks."""
    n = shares.flagged_count
    if n == 0:
        return "No patch is flagged after this block, so there is no attention share to measure."
    even = shares.even()
    read = block + 1 if block + 1 < shares.flagged.size else block
    where = (f"in block {read + 1}, the block that reads them," if read != block else
             f"in block {read + 1} (the last; no block reads its output),")
    top = int(np.argmax(shares.flagged))
    return (f"The {n} flagged patch{'es' if n > 1 else ''} ({n / shares.patches:.1%} of the patches) receive "
            f"{shares.flagged[read]:.1%} of the CLS token's attention {where} "
            f"{_times(shares.flagged[read], even[read])} an even spread over the patches; at most "
            f"{shares.flagged[top]:.1%}, in block {top + 1}.")


def _times(value: float, even: float) -> str:
    return f"{value / even:.1f} × what they would get from" if even > 0 else "against nothing for"


# ---------------------------------------------------------------------------------------- linear read-outs (probes)

RIDGE_ALPHAS = tuple(10.0 ** np.arange(-3, 4))  # ridge penalties tried, × the mean squared singular value
FOLDS = 5


def _t(x: np.ndarray) -> torch.Tensor:
    """float64 torch view of an array. The read-outs' and PCA's linear algebra runs in torch: it keeps to the
    threads vitviz gives torch (``cpu_threads``), where numpy's BLAS spins threads of its own: on a busy 2-core
    machine the read-outs ran 16× faster in torch (``benchmarks/odd_tokens_linalg.py``)."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


Fit = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class _Standardised:
    """x [n, d] standardised (each column to mean 0, spread 1) and its thin SVD's u and s: what every ridge fit on x
    shares, whatever it predicts (a page's position and pixel read-outs fit the same tokens)."""

    mu: torch.Tensor  # [d]
    sd: torch.Tensor  # [d]
    xc: torch.Tensor  # [n, d] the standardised x
    u: torch.Tensor  # [n, r], r = min(n, d): xc = u diag(s) vh
    s: torch.Tensor  # [r]

    @classmethod
    def of(cls, x: torch.Tensor) -> "_Standardised":
        mu, sd = x.mean(0), x.std(0, correction=0)
        sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))
        xc = (x - mu) / sd
        if xc.shape[0] <= xc.shape[1]:  # fewer tokens than numbers (196 × 384): u and s² from the n × n Gram
            # matrix xc xcᵀ = u s² uᵀ, a third of the SVD's time; the smallest s² lose digits the ridge penalty
            # (at least 1e-3 × their mean) shrinks to nothing anyway
            lam, u = torch.linalg.eigh(xc @ xc.T)  # ascending
            return cls(mu, sd, xc, u.flip(1), lam.flip(0).clamp(min=0).sqrt())
        u, s, _ = torch.linalg.svd(xc, full_matrices=False)
        return cls(mu, sd, xc, u, s)


def _ridge_fit(x: torch.Tensor, y: torch.Tensor, alphas: tuple[float, ...]) -> Fit:
    """Ridge regression with an unpenalised intercept, its penalty chosen by exact leave-one-out error on
    (x [n, d], y [n, k]). Returns (x mean, x scale, weights [d, k], y mean)."""
    return _ridge_solve(_Standardised.of(x), y, alphas)


def _ridge_solve(xs: _Standardised, y: torch.Tensor, alphas: tuple[float, ...]) -> Fit:
    """``_ridge_fit`` on x's standardised SVD ``xs``."""
    u, s = xs.u, xs.s
    n, r = u.shape
    ym = y.mean(0)
    yc = y - ym
    uty = u.T @ yc  # [r, k]
    scale = float((s ** 2).mean()) or 1.0
    # many targets (a patch's pixels: k = 768 > r): with u square (n <= d), yc = u uty exactly, so each token's
    # squared residual is a quadratic form in its row of u·(1 − shrink) with uty uty^T [r, r]: r³ products per
    # penalty instead of n·r·k
    gram = uty @ uty.T if r == n and y.shape[1] > r else None
    best, best_err = alphas[0], float("inf")
    for alpha in alphas:
        shrink = s ** 2 / (s ** 2 + alpha * scale)  # [r]
        hat = 1.0 / n + (u ** 2) @ shrink  # [n]: the smoother's diagonal, intercept included
        if gram is None:
            squared = ((yc - u @ (shrink[:, None] * uty)) ** 2).sum(1)  # [n]
        else:
            kept = u * (1 - shrink)  # [n, r]
            squared = ((kept @ gram) * kept).sum(1)  # [n]
        # the mean of the leave-one-out residuals' squares, (yc - fitted) / (1 - hat), over every token and target
        err = float((squared / torch.clamp(1 - hat, min=1e-9) ** 2).sum()) / yc.numel()
        if err < best_err:
            best, best_err = alpha, err
    w = (xs.xc.T @ u) @ ((1 / (s ** 2 + best * scale))[:, None] * uty)  # [d, k]: xcᵀ u = vhᵀ diag(s)
    return xs.mu, xs.sd, w, ym


def _ridge_predict(fit: Fit, x: torch.Tensor) -> torch.Tensor:
    mu, sd, w, ym = fit
    return ((x - mu) / sd) @ w + ym


@dataclass(frozen=True)
class ReadOut:
    """How well a linear read-out of a token recovers something of its own patch: fitted on the normal tokens of
    the image (each normal token's error measured with it held out), then applied to the flagged ones."""

    target: str  # "position" or "pixels"
    normal: np.ndarray  # [n_normal] per-token errors, held out
    flagged: np.ndarray  # [n_flagged] per-token errors
    chance: float  # the median error of guessing the normal tokens' mean target

    @property
    def normal_median(self) -> float:
        return float(np.median(self.normal)) if self.normal.size else float("nan")

    @property
    def flagged_median(self) -> float:
        return float(np.median(self.flagged)) if self.flagged.size else float("nan")


def read_out(features: np.ndarray, targets: np.ndarray, flagged: tuple[int, ...], target: str,
             folds: int = FOLDS, alphas: tuple[float, ...] = RIDGE_ALPHAS) -> ReadOut:
    """Fit ridge read-outs features [N, D] -> targets [N, K] on the normal tokens (``folds``-fold: each normal
    token predicted by a fit without it), then on all normal tokens for the flagged ones. Errors: for "position",
    the distance in patches between the predicted and the true (row, column); for "pixels", the squared error
    relative to the normal patches' spread (1: no better than the mean patch)."""
    return read_out_all(features, {target: targets}, flagged, folds, alphas)[target]


def read_out_all(features: np.ndarray, targets: dict[str, np.ndarray], flagged: tuple[int, ...],
                 folds: int = FOLDS, alphas: tuple[float, ...] = RIDGE_ALPHAS) -> dict[str, ReadOut]:
    """``read_out`` of the same features for each target {"position" or "pixels": [N, K]}: each fold's tokens are
    standardised and decomposed once for every target (each target still gets its own penalty)."""
    x = _t(features)
    ys = {name: _t(t) for name, t in targets.items()}
    mask = np.zeros(len(x), bool)
    mask[list(flagged)] = True
    normal = np.flatnonzero(~mask)
    order = np.random.default_rng(0).permutation(normal)
    predicted = {name: torch.empty((normal.size, y.shape[1]), dtype=torch.float64) for name, y in ys.items()}
    for f in range(folds):
        held = order[f::folds]
        kept = np.setdiff1d(order, held)
        xs = _Standardised.of(x[kept])
        for name, y in ys.items():
            predicted[name][np.searchsorted(normal, held)] = _ridge_predict(_ridge_solve(xs, y[kept], alphas), x[held])
    flagged_idx = np.flatnonzero(mask)
    xs = _Standardised.of(x[normal]) if flagged_idx.size else None
    out = {}
    for name, y in ys.items():
        y_normal = y[normal]
        spread = float(((y_normal - y_normal.mean(0)) ** 2).sum(1).mean()) or 1.0

        def error(pred: torch.Tensor, true: torch.Tensor) -> np.ndarray:
            if name == "position":
                return ((pred - true) ** 2).sum(1).sqrt().numpy()
            return (((pred - true) ** 2).sum(1) / spread).numpy()

        flagged_err = (error(_ridge_predict(_ridge_solve(xs, y_normal, alphas), x[flagged_idx]), y[flagged_idx])
                       if xs is not None else np.zeros(0))
        chance = float(np.median(error(y_normal.mean(0).expand_as(y_normal), y_normal)))
        out[name] = ReadOut(name, error(predicted[name], y_normal), flagged_err, chance)
    return out


def positions_of(grid: tuple[int, int]) -> np.ndarray:
    """[N, 2]: each patch's (row, column), raster order."""
    r, c = np.mgrid[0:grid[0], 0:grid[1]]
    return np.stack([r.ravel(), c.ravel()], 1).astype(np.float64)


def patch_pixels(a: Analysis) -> np.ndarray:
    """[N, 3·P·P]: each patch's normalised RGB pixels, raster order (the read-out's pixel target)."""
    p, (rows, cols) = a.patch_size, a.grid
    x = a.pixels[:, :rows * p, :cols * p].reshape(3, rows, p, cols, p)
    return x.transpose(1, 3, 0, 2, 4).reshape(rows * cols, 3 * p * p).astype(np.float64)


def read_outs(a: Analysis, block: int, flagged: tuple[int, ...]) -> tuple[ReadOut, ReadOut]:
    """Position and pixel read-outs from the patch tokens after block ``block`` (0-based)."""
    tokens = a.block_outputs[block, a.num_prefix:].astype(np.float64)  # [N, D]
    both = read_out_all(tokens, {"position": positions_of(a.grid), "pixels": patch_pixels(a)}, flagged)
    return both["position"], both["pixels"]


READ_BAND = (10, 90)  # percentiles of the normal tokens' errors: beyond them the flagged tokens read worse/better


def readout_words(r: ReadOut, band: tuple[int, int] = READ_BAND) -> str:
    """'worse', 'better' or 'about as well': the rule compares the flagged tokens' median error with the spread of
    the normal tokens' errors: above their ``band[1]``-th percentile is worse, below their ``band[0]``-th better,
    in between about as well (a median of a few tokens varies a lot: a band, not a ratio, keeps the rule honest
    for three flagged tokens as for thirty). '' when nothing is flagged."""
    if r.flagged.size == 0 or r.normal.size == 0:
        return ""
    lo, hi = np.percentile(r.normal, band)
    f = r.flagged_median
    if f > hi:
        return "worse"
    if f < lo:
        return "better"
    return "about as well"


def readout_sentence(r: ReadOut) -> str:
    """The read-out's numbers in one sentence, and the rule's word when tokens are flagged."""
    fitted = f"fitted on this image's {r.normal.size} normal tokens in {FOLDS} folds"
    if r.target == "position":
        unit = lambda v: f"{v:.2f} patches"  # noqa: E731
        said = (f"A linear read-out of its patch's place (row and column) from the token, {fitted}, is off by a "
                f"median {unit(r.normal_median)} on the tokens each fit left out (guessing the average place: "
                f"{unit(r.chance)})")
    else:  # the error is squared, as a fraction of the patches' variance: guessing the average patch has mean 1
        unit = lambda v: f"{v:.2f}"  # noqa: E731
        said = (f"A linear read-out of its patch's pixels from the token, {fitted}, has a median squared error of "
                f"{unit(r.normal_median)} × the patches' variance (their mean squared distance from the average "
                f"patch) on the tokens each fit left out (guessing the average patch: a median {unit(r.chance)}, "
                "a mean of 1)")
    if r.flagged.size == 0:
        return said + "."
    return (said + f", and by {unit(r.flagged_median)} on the {r.flagged.size} flagged one"
            f"{'s' if r.flagged.size > 1 else ''}: read **{readout_words(r)}** from them "
            f"(rule: worse above the normal tokens' {READ_BAND[1]}th percentile of error, better below their "
            f"{READ_BAND[0]}th).")


# -------------------------------------------------------------------------------------------------- a blank image

BLANKS: dict[str, tuple[str, int]] = {  # kind -> (words, the value of every pixel, 0..255)
    "zero": ("an all-zero image (every pixel 0: black)", 0),
    "grey": ("a uniform grey image (every pixel 128)", 128),
}


def blank_image(bundle: Bundle, kind: str) -> Image.Image:
    """The blank image of ``kind`` at the model's input size: every pixel the same value."""
    _, h, w = bundle.data_config["input_size"]
    value = BLANKS[kind][1]
    return Image.new("RGB", (int(w), int(h)), (value, value, value))


@dataclass(frozen=True)
class Blank:
    """The blank image's features: what the model makes of no image at all."""

    kind: str
    block_outputs: np.ndarray  # [L, T, D] float32: tokens after each block
    embed_input: np.ndarray  # [C, H, W]: what the patch projection read (pixels, and any fixed extra channel)
    input_channels: tuple[str, ...]


def blank_features(bundle: Bundle, kind: str) -> Blank:
    """One counted forward pass of the blank image through the model's own input path (its transform, and for
    the bundled model the colour-edge channel its patch embedding computes), as ``analyze`` runs every image."""
    a = analyze(bundle, blank_image(bundle, kind))
    return Blank(kind, a.block_outputs.astype(np.float32), a.embed_input, a.input_channels)


def extra_channel_range(blank: Blank) -> dict[str, tuple[float, float]]:
    """{channel: (min, max)} of each fixed extra input channel on the blank image (the bundled model's colour
    edges: 0 on a uniform image, so its patches are identical there too)."""
    return {name: (float(blank.embed_input[3 + i].min()), float(blank.embed_input[3 + i].max()))
            for i, name in enumerate(blank.input_channels[3:])}


def identical_patch_inputs(blank: Blank, patch: int) -> float:
    """The largest difference between any patch of the blank input and the first one (0: every patch identical,
    so every difference between the blank image's patch tokens comes from the position embeddings)."""
    c, h, w = blank.embed_input.shape
    x = blank.embed_input[:, :h - h % patch, :w - w % patch].reshape(c, h // patch, patch, w // patch, patch)
    return float(np.abs(x - x[:, :1, :, :1, :]).max())


def blank_flags(blank: Blank, layout: Layout, k: float = NORM_K) -> list[Flags]:
    """The norm rule on the blank image's tokens after every block."""
    return flags_by_block(np.linalg.norm(blank.block_outputs, axis=-1), layout, k)


def blank_norm_sentence(flags: list[Flags], blank_words: str) -> str:
    """The norm rule on the blank image's own tokens: a blank image is all repetition, the kind of area where Darcet
    et al. saw high-norm tokens appear. Its words follow ``flag``'s rule, as ``norm_verdict``'s do."""
    k, depth = flags[0].k, len(flags)
    with_flags = [b for b in range(depth) if flags[b].flagged]
    if not with_flags:
        return (f"On {blank_words} itself, the same rule flags no patch token after any of the {depth} blocks "
                f"(the largest: {max(f.largest_ratio for f in flags):.2f} × the median).")
    most = max(with_flags, key=lambda b: len(flags[b].flagged))
    return (f"On {blank_words} itself, the same rule (norm above {k:g} × the median) flags patch tokens after "
            f"{len(with_flags)} of the {depth} blocks; the most after block {most + 1}: {len(flags[most].flagged)} of "
            f"the {flags[most].patches} patches.")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class PatternMatch:
    """How close each patch's feature on the image is to the blank image's feature, per block."""

    same: np.ndarray  # [L, N]: cosine with the blank image's feature at the same position
    other: np.ndarray  # [L]: mean cosine with the blank image's features at every other position

    @property
    def same_mean(self) -> np.ndarray:  # [L]
        return self.same.mean(1)

    @property
    def tied(self) -> np.ndarray:  # [L]: same-position minus other-position mean cosine
        return self.same_mean - self.other


def pattern_match(image_patches: np.ndarray, blank_patches: np.ndarray) -> PatternMatch:
    """image_patches, blank_patches [L, N, D] (patch tokens only) -> cosines at the same and at other positions.
    Tokens share a common direction in most ViTs, which makes every cosine high; the other-position mean is the
    baseline that separates a pattern tied to position from what all tokens share."""
    u, v = _unit(image_patches.astype(np.float64)), _unit(blank_patches.astype(np.float64))
    same = np.einsum("lnd,lnd->ln", u, v)  # [L, N]
    n = u.shape[1]
    # [L]: the sum over all pairs of u_n · v_m, which is (Σ_n u_n) · (Σ_m v_m): L·N·D products, not L·N²·D
    # (einsum's "lnd,lmd->l" loops over every pair: 0.1 CPU-s per image on ViT-S/16)
    total = np.einsum("ld,ld->l", u.sum(1), v.sum(1))
    other = (total - same.sum(1)) / max(n * (n - 1), 1)
    return PatternMatch(same, other)


TIED_MARGIN = 0.05  # the pattern is tied to position when the same-position cosine beats the others' by this


def pattern_verdict(match: PatternMatch, block: int, blank_words: str, margin: float = TIED_MARGIN) -> str:
    """What the blank image's pattern explains of the image's features after block ``block`` (0-based), by the
    rule: tied to position when the mean same-position cosine exceeds the other-position mean by ``margin``."""
    same, other = float(match.same_mean[block]), float(match.other[block])
    said = (f"After block {block + 1}, each patch's feature has a mean cosine of {same:.2f} with the feature of "
            f"{blank_words} at the same position, and {other:.2f} with it at the other positions")
    if same - other >= margin:
        return said + (f": a pattern tied to position, there without any image, is part of this feature map (the "
                       f"difference, {same - other:.2f}, is at least the rule's {margin:g}).")
    return said + (f": no closer at the same position than elsewhere (the difference, {same - other:.2f}, is under the "
                   f"rule's {margin:g}), so by this rule no pattern tied to position shows in this feature map (a "
                   "weak one could still hide under what the image itself puts there).")


def tied_blocks_sentence(match: PatternMatch, margin: float = TIED_MARGIN) -> str:
    """Over all blocks: after which ones the pattern is tied to position by ``pattern_verdict``'s rule."""
    tied = [b for b in range(match.tied.size) if match.tied[b] >= margin]
    depth = match.tied.size
    if not tied:
        return f"By the same rule the pattern is tied to position after none of the {depth} blocks."
    if len(tied) == depth:
        return f"By the same rule it is tied to position after every one of the {depth} blocks."
    return (f"By the same rule it is tied to position after {len(tied)} of the {depth} blocks "
            f"({', '.join(str(b + 1) for b in tied)}).")


def pca_rgb(features: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, 3] in 0..1: the first three principal components of the tokens, each stretched to 0..1 (how
    DINOv2 and DVT draw feature maps). Components with no spread read 0.5."""
    x = _t(features)
    x = x - x.mean(0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    comps = (x @ vh[:3].T).numpy()  # [N, ≤3]
    out = np.full((len(x), 3), 0.5)
    for i in range(comps.shape[1]):
        lo, hi = comps[:, i].min(), comps[:, i].max()
        if hi - lo > 1e-9 * max(1.0, float(x.abs().max())):
            out[:, i] = (comps[:, i] - lo) / (hi - lo)
    return out


# ------------------------------------------------------------------------------------ the twin with/without registers

_REGISTERS = re.compile(r"_reg\d+")


def twin_spec(spec: ModelSpec) -> ModelSpec | None:
    """The zoo model that is this one with (or without) registers: the same timm architecture name but for its
    ``_reg<n>`` part (``vit_small_patch14_dinov2`` ↔ ``vit_small_patch14_reg4_dinov2``); None when the zoo has none."""
    if spec.bundled:
        return None
    plain = _REGISTERS.sub("", spec.arch)
    for other in ZOO:
        if other.key != spec.key and not other.bundled and other.arch != spec.arch \
                and _REGISTERS.sub("", other.arch) == plain:
            return other
    return None


# ---------------------------------------------------------------------------- isolated hot patches (Attention page)

HOT_K = 5.0  # a patch is hot when the CLS token gives it more than HOT_K × the median patch's attention


def isolated_hot_patches(values: np.ndarray, k: float = HOT_K) -> tuple[int, ...]:
    """values [rows, cols] (CLS attention on the patches) -> the patches that are hot (above k × the median) while
    none of their up to 8 neighbours is: single-patch spikes, as high-norm tokens make them."""
    v = np.asarray(values, np.float64)
    rows, cols = v.shape
    hot = v > k * float(np.median(v))
    found = []
    for r, c in zip(*np.nonzero(hot)):
        around = hot[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        if around.sum() == 1:  # only itself
            found.append(int(r * cols + c))
    return tuple(sorted(found, key=lambda i: -v.flat[i]))


def hot_note(patches: tuple[int, ...], grid: tuple[int, int], k: float = HOT_K, giver: str = "the CLS token") -> str:
    """The Attention page's pointer, for maps with isolated hot patches ('' without); ``giver``: whose attention
    the map shows (on a model without a CLS token, every token's on average)."""
    if not patches:
        return ""
    n = len(patches)
    return (f"This map has {n} isolated hot patch{'es' if n > 1 else ''} ({_patch_list(patches, grid)}): {giver} "
            f"gives {'each' if n > 1 else 'it'} more than {k:g} × the median patch's attention while none of "
            f"{'their' if n > 1 else 'its'} neighbours gets as much. In large trained ViTs such spikes are often "
            "high-norm tokens that hold little of their own patch (Darcet et al., ICLR 2024); the Odd tokens page "
            "measures that on this model and image.")
