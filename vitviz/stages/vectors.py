"""Stage 2: patches become vectors (one linear projection), the CLS token, and what tokens become.

Everything here is a pure function of an ``Analysis`` and, for the projection weights, the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages.patches import all_patch_inputs, patch_input_vector


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


def twin_patches(analysis: Analysis, first: int | None = None, second: int | None = None) -> TwinPatches:
    """The two patches with the most similar pixels (or the pair given), before and after positions."""
    x = all_patch_inputs(analysis).astype(np.float32)  # [N, C·P·P]
    if first is None or second is None:
        sq = (x * x).sum(1)
        d2 = sq[:, None] + sq[None, :] - 2 * x @ x.T  # [N, N]
        np.fill_diagonal(d2, np.inf)
        first, second = (int(v) for v in np.unravel_index(np.argmin(d2), d2.shape))
        first, second = min(first, second), max(first, second)
    n0 = analysis.num_prefix
    before = analysis.patch_embeddings[[first, second]]
    after = before + analysis.pos_embed[[n0 + first, n0 + second]]
    return TwinPatches(
        first, second,
        float(np.sqrt(((x[first] - x[second]) ** 2).mean())),
        float(cosine_rows(before[:1], before[1:])[0, 0]), float(np.linalg.norm(before[0] - before[1])),
        float(cosine_rows(after[:1], after[1:])[0, 0]), float(np.linalg.norm(after[0] - after[1])))


def layer_tokens(analysis: Analysis, layer: int) -> np.ndarray:
    """[T, D] float32: tokens entering block 1 (layer 0) or leaving block ``layer`` (1..L)."""
    return analysis.tokens_in if layer == 0 else analysis.block_outputs[layer - 1].astype(np.float32)


def cls_similarity_by_layer(analysis: Analysis) -> np.ndarray:
    """[L+1, N]: cosine similarity of the CLS token with each patch token, at the input and after each block."""
    n0 = analysis.num_prefix
    return np.stack([cosine_rows(t[:1], t[n0:])[0] for t in
                     (layer_tokens(analysis, i) for i in range(analysis.depth + 1))])


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
    _, _, vt = np.linalg.svd(t, full_matrices=False)
    proj = t @ vt[:3].T  # [N, 3]
    lo, hi = proj.min(0), proj.max(0)
    rgb = (proj - lo) / np.maximum(hi - lo, 1e-12)
    return rgb.reshape(*analysis.grid, 3)


def twin_verdict(twin: TwinPatches) -> str:
    """What the twin patches show, from the measured numbers: the projection is a fixed function of its input,
    so alike inputs get alike vectors; the position embeddings then move them apart (or barely)."""
    said = (f"The projection is a fixed function of its input: the two most alike patches (input difference "
            f"{twin.pixel_distance:.4f}) get vectors with cosine similarity **{twin.before_cosine:.4f}** — identical "
            "inputs would give identical vectors, so vectors are not unique by themselves. ")
    if twin.after_cosine < twin.before_cosine - 1e-3:
        return said + (f"Adding the position embeddings, which depend only on where each patch sits, brings that "
                       f"down to **{twin.after_cosine:.4f}**: position is what tells such tokens apart.")
    return said + (f"Adding the position embeddings changes it only to **{twin.after_cosine:.4f}** here: in this "
                   "model the position vectors are small next to these patch vectors.")
