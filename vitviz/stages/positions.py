"""Stage 4: position embeddings — learned or sin/cos — and what happens without them.

Similarity grids follow the ViT paper's Figure 7 (centre); what the table encodes (rows, columns, distance from
the border) is measured in ``position_code``. Sin/cos references: 1D as in Vaswani
et al. (2017); 2D from timm's ``build_sincos2d_pos_embed`` (as used by MAE). Resolution changes
use timm's ``set_input_size`` (``resample_abs_pos_embed`` underneath). The shuffle experiment
rearranges the patch *tokens* (the patch embedding's output), not the pixels: a patch embedding that
looks across patch borders (the offline model's colour-edge channel) would otherwise see new
borders, and "without positions nothing changes" would no longer be the experiment's question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from timm.data import create_transform
from timm.layers import build_sincos2d_pos_embed

from vitviz.model import forward
from vitviz.model.forward import NO_CLASSIFIER
from vitviz.model.analysis import Analysis, to_picture
from vitviz.model.loading import Bundle
from vitviz.stages import position_code
from vitviz.stages.patches import resized_copy
from vitviz.stages.vectors import cosine_rows
from vitviz.wording import difference


def patch_positions_embed(analysis: Analysis) -> np.ndarray:
    """[N, D]: the position embeddings of the patch tokens (prefix rows dropped)."""
    return analysis.pos_embed[analysis.num_prefix:]


def similarity_grid(pos: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """[rows, cols, rows, cols]: cosine similarity of each position's embedding with every other's."""
    sim = cosine_rows(pos, pos)  # [N, N]
    return sim.reshape(grid[0], grid[1], grid[0], grid[1])


def tile_grid(sim: np.ndarray, gap: int = 1) -> np.ndarray:
    """[rows, cols, rows, cols] -> one 2D canvas of small maps (NaN in the gaps), map (i, j) at tile (i, j)."""
    r, c = sim.shape[:2]
    canvas = np.full((r * (r + gap) - gap, c * (c + gap) - gap), np.nan)
    for i in range(r):
        for j in range(c):
            canvas[i * (r + gap):i * (r + gap) + r, j * (c + gap):j * (c + gap) + c] = sim[i, j]
    return canvas


def sincos_1d(positions: int, dim: int, temperature: float = 10000.0) -> np.ndarray:
    """[positions, dim]: PE(p, 2i) = sin(p / T^(2i/d)), PE(p, 2i+1) = cos(p / T^(2i/d)) (Vaswani et al.)."""
    p = np.arange(positions)[:, None].astype(np.float64)
    i = np.arange(dim // 2)[None].astype(np.float64)
    angle = p / temperature ** (2 * i / dim)
    pe = np.zeros((positions, dim))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)[:, : pe[:, 1::2].shape[1]]
    return pe


def sincos_2d(grid: tuple[int, int], dim: int) -> np.ndarray:
    """[rows·cols, dim]: timm's 2D sin-cos embedding (MAE-style), raster order."""
    return build_sincos2d_pos_embed(list(grid), dim=dim - dim % 4).numpy()


@dataclass(frozen=True)
class Structure:
    neighbour_cosine: float  # mean cosine of each position with its 4 neighbours
    far_cosine: float  # mean cosine with positions >= 3 patches away (Chebyshev)
    by_row_offset: np.ndarray  # [rows]: mean cosine at vertical offset d, same column
    by_col_offset: np.ndarray  # [cols]: mean cosine at horizontal offset d, same row


def structure(pos: np.ndarray, grid: tuple[int, int]) -> Structure:
    """Neighbours vs far positions, and similarity by row/column offset (the offset chart). Neither tells a row/column
    code from a ring code: ``position_code`` does."""
    sim = similarity_grid(pos, grid)
    rows, cols = grid
    near, far = [], []
    for i in range(rows):
        for j in range(cols):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= i + di < rows and 0 <= j + dj < cols:
                    near.append(sim[i, j, i + di, j + dj])
    r, c = np.mgrid[0:rows, 0:cols]
    cheb = np.maximum(np.abs(r.ravel()[:, None] - r.ravel()[None]), np.abs(c.ravel()[:, None] - c.ravel()[None]))
    flat = sim.reshape(rows * cols, rows * cols)
    far = flat[cheb >= 3]
    by_row = np.array([np.mean([sim[i, j, i + d, j] for i in range(rows - d) for j in range(cols)])
                       for d in range(rows)])
    by_col = np.array([np.mean([sim[i, j, i, j + d] for i in range(rows) for j in range(cols - d)])
                       for d in range(cols)])
    return Structure(float(np.mean(near)), float(far.mean()) if far.size else float("nan"), by_row, by_col)


@dataclass(frozen=True)
class Prediction:
    label: str
    prob: float
    tokens: int
    image: np.ndarray  # [H, W, 3] uint8 as fed


def native_prediction(analysis: Analysis) -> Prediction:
    """What ``run_at_resolution`` gives at the model's own size, read from the analysis (the same transform, the
    same model, the position embeddings unchanged): no forward pass."""
    label, prob = (analysis.top_labels[0], analysis.top_probs[0]) if analysis.top_labels else (NO_CLASSIFIER, float("nan"))
    return Prediction(label, prob, analysis.num_tokens, analysis.image)


def run_at_resolution(bundle: Bundle, image: Image.Image, size: int) -> Prediction:
    """Resample the position embeddings to ``size`` px (grid size/P) and classify the image at that size."""
    model = bundle.model if size == bundle.data_config["input_size"][-1] else resized_copy(bundle.model, img_size=size)
    cfg = {**bundle.data_config, "input_size": (3, size, size)}
    x = create_transform(**cfg, is_training=False)(image.convert("RGB"))  # [3, size, size] on the CPU
    label, prob = forward.run(bundle, x[None], model=model).top1()
    tokens = model.patch_embed.num_patches + model.num_prefix_tokens
    return Prediction(label, prob, tokens, to_picture(x.numpy(), cfg["mean"], cfg["std"]))


def shuffle_pixels(pixels: np.ndarray, patch: int, order: np.ndarray) -> np.ndarray:
    """[C, H, W] with its patches rearranged: output patch k is input patch ``order[k]``."""
    c, h, w = pixels.shape
    gh, gw = h // patch, w // patch
    tiles = pixels[:, :gh * patch, :gw * patch].reshape(c, gh, patch, gw, patch).transpose(1, 3, 0, 2, 4)
    tiles = tiles.reshape(gh * gw, c, patch, patch)[order].reshape(gh, gw, c, patch, patch)
    return tiles.transpose(2, 0, 3, 1, 4).reshape(c, gh * patch, gw * patch)


@dataclass(frozen=True)
class ShuffleResult:
    order: np.ndarray  # [N] permutation applied: shuffled token k is patch order[k]
    shuffled_image: np.ndarray  # [H, W, 3] uint8: the image's patches in that order
    with_pos: tuple[np.ndarray, np.ndarray]  # (original, shuffled) outputs [C]: probabilities (raw without a classifier)
    without_pos: tuple[np.ndarray, np.ndarray]  # the same with no position embeddings added

    @staticmethod
    def _diff(pair: tuple[np.ndarray, np.ndarray]) -> float:
        return float(np.abs(pair[0] - pair[1]).max())

    @property
    def with_pos_diff(self) -> float:
        return self._diff(self.with_pos)

    @property
    def without_pos_diff(self) -> float:
        return self._diff(self.without_pos)


def shuffle_experiment(bundle: Bundle, analysis: Analysis, seed: int = 0) -> ShuffleResult:
    """Shuffle the patch tokens; compare outputs with and without position embeddings.

    The tokens are the patch embeddings the analysis recorded (what ``patch_embed`` made of the
    image), rearranged so that token k is patch ``order[k]``; the rest of the model then runs
    with positions added as usual, or with none at all. The picture shows the same rearrangement.
    """
    order = np.random.default_rng(seed).permutation(analysis.num_patches)
    tokens = analysis.patch_embeddings  # [N, D]
    pair = np.stack([tokens, tokens[order]])  # [2, N, D]: original, shuffled
    with_pos = forward.run_from_patch_tokens(bundle, pair, with_positions=True).scores  # [2, C]
    without = forward.run_from_patch_tokens(bundle, pair, with_positions=False).scores  # [2, C]
    image = shuffle_pixels(analysis.image.transpose(2, 0, 1), analysis.patch_size, order).transpose(1, 2, 0)
    return ShuffleResult(order, np.ascontiguousarray(image), (with_pos[0], with_pos[1]), (without[0], without[1]))


OFFSET_RETURN = 0.1  # the offset chart "climbs back" when its far end is this much above its lowest point


def offset_note(s: Structure, kinds: tuple[str, ...]) -> str:
    """What the offset chart shows, from its numbers: where each line is lowest and whether it climbs back at the
    far end, where the only pair left is the first and the last row (column): each other's mirror image."""
    parts, climbed = [], []
    for axis, other, values in (("column", "row", s.by_row_offset), ("row", "column", s.by_col_offset)):
        n = values.size
        if n < 3:
            continue
        low = int(np.argmin(values[1:])) + 1
        said = (f"along a {axis} it is {values[1]:.2f} at offset 1, lowest ({values[low]:.2f}) at offset {low} and "
                f"{values[-1]:.2f} at offset {n - 1}")
        if values[-1] - values[low] >= OFFSET_RETURN:
            said += f" (the first and the last {other}, mirror images)"
            climbed.append(axis)
        parts.append(said)
    if not parts:
        return ""
    note = "In the chart, " + "; ".join(parts) + "."
    if climbed:
        note += (" The cosine climbs back at the far end: a position is more like its mirror image than like "
                 "positions halfway across.")
        if position_code.BORDER in kinds and position_code.COLUMNS not in kinds:
            note += " That is a code of distance from the border, not of side."
    return note


SHUFFLE_ROUNDING = 1e-6  # the shuffle's output differences at or below this are float32 rounding (wording.difference)


def shuffle_comparison(result: ShuffleResult, random: bool = False) -> str:
    """The two measured changes side by side, with their ratio; on random weights, why the contrast is small."""
    said = (f"With the position embeddings, shuffling moves the output by at most "
            f"{difference(result.with_pos_diff, SHUFFLE_ROUNDING)}; without them: "
            f"{difference(result.without_pos_diff, SHUFFLE_ROUNDING)}")
    if result.without_pos_diff > SHUFFLE_ROUNDING:  # a ratio over rounding noise would be noise too
        ratio = result.with_pos_diff / result.without_pos_diff
        said += f", so {ratio:,.0f}× as much with them" if ratio >= 10 else f", a ratio of {ratio:.2g}"
    said += "."
    if random:
        said += (" These weights are random: their position embeddings barely change the output at all, so the "
                 "contrast is small in absolute terms.")
    return said


def shuffle_verdict(result: ShuffleResult, tolerance: float = 1e-4, random: bool = False) -> str:
    """What the shuffle experiment measured: the two changes compared, then whether the tokens are a set."""
    said = shuffle_comparison(result, random) + " "
    if result.without_pos_diff <= tolerance:
        return said + ("Without positions, attention treats the tokens as a **set**: shuffling them changed nothing "
                       "the CLS token can see — the outputs are equal up to rounding. Once the patch tokens exist, "
                       "the position embeddings are the only place where their order enters.")
    return said + (f"Without positions the outputs still differ by {result.without_pos_diff:.2e}: this model does not "
            "treat its tokens as a set (something besides the position embeddings depends on order).")
