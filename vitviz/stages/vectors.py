"""Stage 2: patches become vectors (one linear projection), the CLS token, and what tokens become.

Everything here is a pure function of an ``Analysis`` and, for the projection weights, the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vitviz.model.analysis import Analysis, input_dtype
from vitviz.model.forward import as_input
from vitviz.model.loading import Bundle
from vitviz.stages import linalg
from vitviz.stages.patches import all_patch_inputs, patch_input_vector, patch_rc
from vitviz.wording import difference


def projection(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """(W [D, C·P·P], b [D]): the patch embedding's convolution written as the matrix it is."""
    conv = model.patch_embed.proj
    w = conv.weight.detach().float().cpu()  # [D, C, P, P]; C = 3, or 4 with the offline model's edge channel
    b = conv.bias.detach().float().cpu() if conv.bias is not None else torch.zeros(w.shape[0])
    return w.reshape(w.shape[0], -1).numpy(), b.numpy()


@dataclass(frozen=True)
class ProjectionCheck:
    inputs: np.ndarray  # [C·P·P] the patch's projection input (normalised pixels, + edge channel if any)
    computed: np.ndarray  # [D] W·x + b, computed here
    recorded: np.ndarray  # [D] what the model's patch embedding produced in the analysis
    max_abs_diff: float


def show_the_math(bundle: Bundle, analysis: Analysis, index: int) -> ProjectionCheck:
    """Recompute one patch vector as a matrix product and compare with what the model produced."""
    w, b = projection(bundle.model)
    x = patch_input_vector(analysis, index).astype(np.float64)
    computed = (w.astype(np.float64) @ x + b).astype(np.float32)
    recorded = analysis.patch_embeddings[index]
    return ProjectionCheck(x.astype(np.float32), computed, recorded, float(np.abs(computed - recorded).max()))


def filter_components(bundle: Bundle, count: int = 28) -> np.ndarray:
    """[count, P, P, 3] in 0..1: principal components of the projection filters' colour part (ViT paper,
    Fig. 7 left). A fixed extra input channel (the offline model's colour edges) is left out."""
    p = bundle.model.patch_embed.patch_size[0]
    w, _ = projection(bundle.model)  # [D, C·P·P], channel-first
    w = w[:, :3 * p * p]  # [D, 3PP]: the R, G, B filters
    centred = w - w.mean(axis=0, keepdims=True)
    with linalg.one_thread():
        _, _, vt = np.linalg.svd(centred, full_matrices=False)  # rows of vt: components [3PP]
    comps = vt[:count].reshape(-1, 3, p, p).transpose(0, 2, 3, 1)  # [k, P, P, 3]
    lo = comps.min(axis=(1, 2, 3), keepdims=True)
    hi = comps.max(axis=(1, 2, 3), keepdims=True)
    return (comps - lo) / np.maximum(hi - lo, 1e-12)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``a`` [M, D] with each row of ``b`` [K, D] -> [M, K]."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    an = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    with linalg.one_thread():
        return an @ bn.T


@dataclass(frozen=True)
class TwinPatches:
    first: int
    second: int
    pixel_distance: float  # RMS difference of their projection inputs (normalised pixels, + edges if any)
    before_cosine: float  # cosine of their vectors before positions are added
    before_distance: float  # L2 distance of those vectors
    after_cosine: float  # after adding position embeddings
    after_distance: float


def _most_alike(x: np.ndarray, allowed: np.ndarray | None = None) -> tuple[int, int]:
    """The pair (first < second) of rows of ``x`` [N, K] closest in L2, among the ``allowed`` pairs [N, N] (all:
    None). Raises ValueError when no pair is allowed."""
    sq = (x * x).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * x @ x.T  # [N, N]
    np.fill_diagonal(d2, np.inf)
    if allowed is not None:
        d2[~allowed] = np.inf
    if not np.isfinite(d2).any():
        raise ValueError("no two patches can be made identical here")
    first, second = (int(v) for v in np.unravel_index(np.argmin(d2), d2.shape))
    return min(first, second), max(first, second)


def twin_patches(analysis: Analysis, first: int | None = None, second: int | None = None) -> TwinPatches:
    """The two patches with the most similar pixels (or the pair given), before and after positions."""
    x = all_patch_inputs(analysis).astype(np.float32)  # [N, C·P·P]
    if first is None or second is None:
        first, second = _most_alike(x)
    n0 = analysis.num_prefix
    before = analysis.patch_embeddings[[first, second]]
    after = before + analysis.pos_embed[[n0 + first, n0 + second]]
    return TwinPatches(
        first, second,
        float(np.sqrt(((x[first] - x[second]) ** 2).mean())),
        float(cosine_rows(before[:1], before[1:])[0, 0]), float(np.linalg.norm(before[0] - before[1])),
        float(cosine_rows(after[:1], after[1:])[0, 0]), float(np.linalg.norm(after[0] - after[1])))


def border_reach(model: torch.nn.Module) -> int:
    """How many pixels beyond its border a patch's projection input reads: 0 for timm's ``PatchEmbed`` (a patch's
    own pixels only), 1 for the bundled model's colour-edge channel (a 3×3 filter)."""
    return int(getattr(model.patch_embed, "border_reach", 0))


@dataclass(frozen=True)
class IdenticalPair:
    """One patch's pixels copied onto another patch of the model's input, and the patch embedding run on it."""

    source: int
    target: int
    reach: int  # px copied around the patch with it (``border_reach``): what "identical" has to include
    pixels_only_input: float  # copying the P×P pixels alone: max |Δ| of the two patches' projection inputs …
    pixels_only_vector: float  # … and of their vectors (the model's patch embedding)
    pixels_only_cosine: float
    input_difference: float  # copying the patch with its ``reach`` ring: max |Δ projection input| …
    vector_difference: float  # … and max |Δ vector|
    vector_size: float  # max |entry| of the source's vector: the scale a difference reads against
    after_cosine: float  # the two tokens once the position embeddings are added (ring copy)
    after_distance: float


def pair_choices(grid: tuple[int, int], reach: int) -> np.ndarray:
    """[N, N] bool: pairs that can be made identical with a ``reach``-pixel ring (any two when reach is 0): both
    rings inside the image, and the two patches not touching (the copy must not change the source's own ring)."""
    n = grid[0] * grid[1]
    if not reach:
        return np.ones((n, n), bool)
    r, c = (v.ravel() for v in np.mgrid[0:grid[0], 0:grid[1]])
    inner = (r >= 1) & (r <= grid[0] - 2) & (c >= 1) & (c <= grid[1] - 2)  # [N]
    apart = np.maximum(np.abs(r[:, None] - r[None]), np.abs(c[:, None] - c[None])) >= 2  # [N, N]
    return inner[:, None] & inner[None] & apart


def _copy_patch(x: np.ndarray, p: int, source: tuple[int, int], target: tuple[int, int], ring: int) -> np.ndarray:
    """A copy of ``x`` [C, H, W] with the source patch (and ``ring`` pixels around it) pasted over the target's."""
    out = x.copy()
    (sr, sc), (tr, tc) = source, target
    out[:, tr * p - ring:(tr + 1) * p + ring, tc * p - ring:(tc + 1) * p + ring] = \
        x[:, sr * p - ring:(sr + 1) * p + ring, sc * p - ring:(sc + 1) * p + ring]
    return out


def identical_pair(bundle: Bundle, analysis: Analysis, source: int | None = None,
                   target: int | None = None) -> IdenticalPair:
    """Make two patches identical in the model's input and run the model's own patch embedding on it.

    By default the pair is the two most alike patches whose ring fits in the image (the twins, when they do).
    The copy goes onto the normalised pixels, before anything the patch embedding computes from them: a model
    whose projection input looks across a patch border (``border_reach``) sees identical patches only when
    the ring around them is copied too; the pixels-only copy is measured beside it."""
    model, p = bundle.model, analysis.patch_size
    reach = border_reach(model)
    if source is None or target is None:
        source, target = _most_alike(all_patch_inputs(analysis).astype(np.float32), pair_choices(analysis.grid, reach))
    rc_s, rc_t = patch_rc(source, analysis.grid), patch_rc(target, analysis.grid)
    pixels = np.asarray(analysis.pixels, dtype=np.float32)  # [3, H, W] normalised
    images = np.stack([_copy_patch(pixels, p, rc_s, rc_t, 0), _copy_patch(pixels, p, rc_s, rc_t, reach)])
    x = as_input(images, bundle.device, input_dtype(model))  # [2, 3, H, W]
    embed = model.patch_embed
    with torch.inference_mode():
        seen = embed.projection_input(x) if hasattr(embed, "projection_input") else x  # [2, C, H, W]
        vectors = embed(x).flatten(1, -2).float().cpu().numpy()  # [2, N, D] (from [2, H', W', D] too)
    seen = seen.float().cpu().numpy()

    def patch_of(a: np.ndarray, rc: tuple[int, int]) -> np.ndarray:
        return a[:, rc[0] * p:(rc[0] + 1) * p, rc[1] * p:(rc[1] + 1) * p]

    inputs = [float(np.abs(patch_of(s, rc_t) - patch_of(s, rc_s)).max()) for s in seen]
    diffs = [float(np.abs(v[target] - v[source]).max()) for v in vectors]
    n0 = analysis.num_prefix
    pos = analysis.pos_embed[[n0 + source, n0 + target]].astype(np.float32)  # [2, D]
    after = vectors[1][[source, target]] + pos
    return IdenticalPair(
        source, target, reach, inputs[0], diffs[0],
        float(cosine_rows(vectors[0][source:source + 1], vectors[0][target:target + 1])[0, 0]),
        inputs[1], diffs[1], float(np.abs(vectors[1][source]).max()),
        float(cosine_rows(after[:1], after[1:])[0, 0]), float(np.linalg.norm(after[0] - after[1])))


def copied_image(analysis: Analysis, pair: IdenticalPair) -> np.ndarray:
    """[H, W, 3] uint8: the image as the model saw it, with the pair's copy (patch and ring) made, for drawing."""
    hwc = np.asarray(analysis.image)
    chw = _copy_patch(hwc.transpose(2, 0, 1), analysis.patch_size, patch_rc(pair.source, analysis.grid),
                      patch_rc(pair.target, analysis.grid), pair.reach)
    return np.ascontiguousarray(chw.transpose(1, 2, 0))


def identical_verdict(pair: IdenticalPair, patch: int) -> str:
    """What the made pair shows, from its measured numbers (``difference``'s words: identical, equal up to
    rounding, or a number)."""
    said = (f"Copy patch {pair.source}'s pixels onto patch {pair.target} of the model's input and run the model's "
            "own patch embedding on that image. ")
    inputs = ("identical" if pair.input_difference == 0 else
              f"not identical (max |difference| {difference(pair.input_difference)})")
    vectors_words = (f"their vectors' max |difference| is **{difference(pair.vector_difference)}** (their entries "
                     f"reach {pair.vector_size:.2f})")
    equal = difference(pair.vector_difference).startswith(("identical", "equal up to rounding"))
    if pair.reach:
        ring = f"{pair.reach}-pixel ring"
        said += (f"This model's patch embedding also reads a colour-edge channel whose filter looks {pair.reach} "
                 f"pixel{'s' if pair.reach > 1 else ''} across each patch border. Copying only the {patch}×{patch} "
                 "pixels leaves the colours identical, but the edge channel differs by up to "
                 f"{pair.pixels_only_input:.3f} on the patch's border pixels (its neighbours are not patch "
                 f"{pair.source}'s), and the vectors differ by up to {difference(pair.pixels_only_vector)} (cosine "
                 f"{pair.pixels_only_cosine:.4f}). Copying the patch with the {ring} around it (that ring belongs to "
                 f"the neighbouring patches, which change a little), what the projection reads is {inputs}, and "
                 f"{vectors_words}. " +
                 (f"On this model, identical patches means identical pixels and an identical {ring}: those give "
                  "identical vectors. " if equal and pair.input_difference == 0 else ""))
    else:
        said += (f"Their {patch}×{patch} inputs are then {inputs}, and {vectors_words}" +
                 (": identical patches give identical vectors. " if equal and pair.input_difference == 0 else ". "))
    return said + (f"Adding the position embeddings, which depend only on where each patch sits, gives the two tokens "
                   f"cosine **{pair.after_cosine:.4f}** (distance {pair.after_distance:.3f}).")


def layer_tokens(analysis: Analysis, layer: int) -> np.ndarray:
    """[T, D] float32: tokens entering block 1 (layer 0) or leaving block ``layer`` (1..L)."""
    return analysis.tokens_in if layer == 0 else analysis.block_outputs[layer - 1].astype(np.float32)


def cls_similarity_by_layer(analysis: Analysis) -> np.ndarray:
    """[L+1, N]: cosine similarity of the CLS token with each patch token, at the input and after each block."""
    n0 = analysis.num_prefix
    return np.stack([cosine_rows(t[:1], t[n0:])[0] for t in
                     (layer_tokens(analysis, i) for i in range(analysis.depth + 1))])


def cls_spread_sentence(sims: np.ndarray) -> str:
    """What to look for in the CLS-vs-patches heatmap [L+1, N], with this image's numbers."""
    last = sims.shape[0] - 1
    return (f"Each row is a layer, each column a patch: red where the patch token points like the CLS token (1: the "
            f"same direction), blue where it points away. Before block 1 (row 0) the cosines run from "
            f"{sims[0].min():.2f} to {sims[0].max():.2f}; after the last block (row {last}) from {sims[-1].min():.2f} "
            f"to {sims[-1].max():.2f}.")


def cls_trend_sentence(sims: np.ndarray) -> str:
    """What the mean/max lines of the CLS-vs-patches cosine [L+1, N] show, measured: where the mean moves most."""
    mean, top = sims.mean(1), sims.max(1)
    step = int(np.argmax(np.abs(np.diff(mean))))  # the block whose output moves the mean most
    return (f"On this image the mean goes from {mean[0]:.2f} before block 1 to {mean[-1]:.2f} after the last block "
            f"and the max from {top[0]:.2f} to {top[-1]:.2f}; the mean moves most across block {step + 1} "
            f"({mean[step]:.2f} → {mean[step + 1]:.2f}). A higher cosine means the CLS token and the patch tokens "
            "point more alike; it does not say which patches the CLS token read from (the Attention page maps that).")


def pca_share(analysis: Analysis, layer: int) -> float:
    """The share of the patch tokens' variance at ``layer`` that ``token_pca_rgb``'s 3 components hold."""
    t = layer_tokens(analysis, layer)[analysis.num_prefix:].astype(np.float64)  # [N, D]
    with linalg.one_thread():
        sv = np.linalg.svd(t - t.mean(0), compute_uv=False)
    return float((sv[:3] ** 2).sum() / max((sv ** 2).sum(), 1e-24))


ALIKE = 0.5  # cosine above which the page counts a patch token as pointing like the selected one


def alike_patches(analysis: Analysis, layer: int, index: int) -> tuple[int, float]:
    """(how many other patches have cosine above ``ALIKE`` with patch ``index`` at ``layer``, their mean cosine)."""
    cos = cosine_map(analysis, layer, index).ravel()
    others = np.delete(cos, index)
    return int((others > ALIKE).sum()), float(others.mean())


def cls_lengths(analysis: Analysis) -> tuple[float, float]:
    """(length of the CLS parameter vector, median length of the patch vectors before positions): how big the
    CLS token starts next to what the patches bring."""
    patches = np.linalg.norm(analysis.patch_embeddings.astype(np.float64), axis=1)  # [N]
    return float(np.linalg.norm(analysis.cls_token.astype(np.float64))), float(np.median(patches))


def cls_position_length(analysis: Analysis) -> float:
    """Length of the CLS token's position vector (row 0 of the position embeddings; 0 where the CLS gets none)."""
    return float(np.linalg.norm(analysis.pos_embed[0].astype(np.float64))) if analysis.num_prefix else 0.0


DWARFED = 0.01  # a CLS parameter under 1 % of its position vector's length: the CLS entering block 1 is that vector


def cls_length_sentence(analysis: Analysis) -> str:
    """Random weights: the CLS parameter starts almost at zero (timm draws it with standard deviation 1e-6), which
    the page must say, measured. What enters block 1 is that plus its position vector (row 0 of the position
    embeddings): when the parameter is under ``DWARFED`` × that vector's length, the CLS entering block 1, and so
    row 0 of the CLS figure, is in effect the position vector's."""
    cls, patch = cls_lengths(analysis)
    pos = cls_position_length(analysis)
    start = (f"At random initialisation timm draws the CLS token with a tiny spread (standard deviation 10⁻⁶): its "
             f"length here is **{cls:.1e}**, against a median of **{patch:.2g}** for the patch vectors")
    if pos == 0.0:
        return start + "; it gets no position vector, so it enters block 1 as almost nothing."
    if cls < DWARFED * pos:
        return (start + f". Before block 1 its position vector (length **{pos:.2g}**) is added to it, so the CLS "
                "token entering block 1 is in effect that position vector, and row 0 of the figure below shows the "
                "position vector's cosines with the patch tokens.")
    return start + f". Before block 1 its position vector (length **{pos:.2g}**) is added to it."


def alike_sentence(layer: int, random: bool) -> str:
    """What the count of alike tokens means when the weights are random ('' for trained weights and at layer 0)."""
    if not random or layer == 0:
        return ""
    return ("These weights are random: tokens growing alike through the blocks is a side effect of stacking random "
            "blocks, not a grouping learned from images.")


def cls_input_difference(first: Analysis, second: Analysis) -> float:
    """Max |difference| of the CLS token entering block 1 for two images (0: it ignores the image)."""
    return float(np.abs(first.tokens_in[0] - second.tokens_in[0]).max())


def cosine_map(analysis: Analysis, layer: int, index: int) -> np.ndarray:
    """[rows, cols]: cosine similarity of patch ``index`` with every patch at ``layer``."""
    t = layer_tokens(analysis, layer)[analysis.num_prefix:]
    return cosine_rows(t[index:index + 1], t)[0].reshape(analysis.grid)


def token_pca_rgb(analysis: Analysis, layer: int | None = None) -> np.ndarray:
    """[rows, cols, 3] in 0..1: patch tokens projected on their 3 principal components, as colours."""
    layer = analysis.depth if layer is None else layer
    t = layer_tokens(analysis, layer)[analysis.num_prefix:].astype(np.float64)  # [N, D]
    t = t - t.mean(0)
    with linalg.one_thread():
        _, _, vt = np.linalg.svd(t, full_matrices=False)
    proj = t @ vt[:3].T  # [N, 3]
    lo, hi = proj.min(0), proj.max(0)
    rgb = (proj - lo) / np.maximum(hi - lo, 1e-12)
    return rgb.reshape(*analysis.grid, 3)


def twin_verdict(twin: TwinPatches) -> str:
    """What the twin patches show, from the measured numbers: the projection is a fixed function of its input,
    so alike inputs get alike vectors; the position embeddings then move them apart (or barely)."""
    said = (f"The projection is a fixed function of its input: the two most alike patches (input difference "
            f"{twin.pixel_distance:.4f}) get vectors with cosine similarity **{twin.before_cosine:.4f}**. ")
    if twin.after_cosine < twin.before_cosine - 1e-3:
        return said + (f"Adding the position embeddings, which depend only on where each patch sits, brings that "
                       f"down to **{twin.after_cosine:.4f}**: the two tokens, already a little apart, move further apart. "
                       "Only for an identical pair (below) is position alone what tells the tokens apart.")
    return said + (f"Adding the position embeddings changes it only to **{twin.after_cosine:.4f}** here: in this "
                   "model the position vectors are small next to these patch vectors.")


def head_reads_words(bundle: Bundle) -> str:
    """What the model's head reads, in words (``block.head_reads``): the Vectors page says it where there is no CLS."""
    from vitviz.stages.block import head_reads

    return head_reads(bundle.model)
