"""Stage 1: cutting the image into patches, and what changes when the patch size changes.

Pure functions of an ``Analysis`` (and of the bundle for the patch-size experiment, which runs
resampled copies of the model through timm's own ``set_input_size``: FlexiViT-style
``resample_patch_embed`` for the projection and ``resample_abs_pos_embed`` for the positions).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.model import forward
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle


@dataclass(frozen=True)
class PreprocessStep:
    name: str
    detail: str
    image: np.ndarray  # [H, W, 3] uint8 for display


def preprocessing_steps(bundle: Bundle, image: Image.Image) -> list[PreprocessStep]:
    """Apply the model's own timm eval transform one step at a time, keeping a picture of each."""
    steps = [PreprocessStep("Your image", f"{image.width}×{image.height} px, RGB", np.asarray(image.convert("RGB")))]
    x = image.convert("RGB")
    for t in getattr(bundle.transform, "transforms", [bundle.transform]):
        x = t(x)
        name = type(t).__name__
        if isinstance(x, Image.Image):
            detail = f"{x.width}×{x.height} px"
            if name == "Resize":
                detail = f"shorter side to {t.size} px ({getattr(t.interpolation, 'value', t.interpolation)})" \
                    if isinstance(t.size, int) else f"to {t.size[1]}×{t.size[0]} px"
            elif name == "CenterCrop":
                detail = f"centre {x.width}×{x.height} px kept"
            steps.append(PreprocessStep(name, detail, np.asarray(x)))
        elif name == "Normalize":
            mean, std = (tuple(round(float(v), 3) for v in t.mean), tuple(round(float(v), 3) for v in t.std))
            arr = x.numpy()  # [3, H, W]
            shown = np.clip((arr - arr.min()) / max(arr.max() - arr.min(), 1e-8) * 255, 0, 255)
            steps.append(PreprocessStep(
                "Normalize", f"(pixel/255 − mean {mean}) / std {std}; values now {arr.min():.2f} … {arr.max():.2f} "
                             "(shown rescaled to 0–255)", shown.transpose(1, 2, 0).astype(np.uint8)))
    return steps


def float_sentence(bundle: Bundle, image: Image.Image) -> str:
    """Which step of the eval transform turns the 8-bit pixels into floating-point numbers, read from the transform
    itself (timm: ``MaybeToTensor``, the step before ``Normalize``)."""
    x, names = image.convert("RGB"), []
    for t in getattr(bundle.transform, "transforms", [bundle.transform]):
        names.append(type(t).__name__)
        x = t(x)
        if not isinstance(x, Image.Image):
            break
    else:
        return ""
    after = getattr(bundle.transform, "transforms", [])[len(names):]
    then = f", the step before `{type(after[0]).__name__}`," if after else ""
    return (f"The pixels stay 8-bit integers (0–255) until `{names[-1]}`{then} turns them into floating-point "
            "numbers (0–1); it is not drawn below, as the picture does not change.")


def patch_rc(index: int, grid: tuple[int, int]) -> tuple[int, int]:
    """Patch index (raster order, 0-based, CLS excluded) -> (row, col)."""
    return divmod(int(index), grid[1])


def patch_pixels(analysis: Analysis, index: int) -> np.ndarray:
    """[P, P, 3] uint8: the pixels of one patch as the model sees them."""
    r, c = patch_rc(index, analysis.grid)
    p = analysis.patch_size
    return analysis.image[r * p:(r + 1) * p, c * p:(c + 1) * p]


def patch_input_vector(analysis: Analysis, index: int) -> np.ndarray:
    """[C·P·P] float32: one patch's input to the projection (normalised pixels, C = 3, plus any fixed
    extra channel), flattened channel-first as the projection reads it."""
    r, c = patch_rc(index, analysis.grid)
    p = analysis.patch_size
    return analysis.embed_input[:, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(-1)


def all_patch_inputs(analysis: Analysis) -> np.ndarray:
    """[N, C·P·P]: every patch's flattened projection input, raster order."""
    c, h, w = analysis.embed_input.shape
    p = analysis.patch_size
    gh, gw = analysis.grid
    x = analysis.embed_input[:, :gh * p, :gw * p].reshape(c, gh, p, gw, p)
    return x.transpose(1, 3, 0, 2, 4).reshape(gh * gw, c * p * p)


def extra_channel_pictures(analysis: Analysis) -> list[tuple[str, np.ndarray]]:
    """(name, [H, W, 3] uint8 grey) for each fixed channel the model adds to R, G, B (none for a stock ViT)."""
    out = []
    for name, channel in zip(analysis.input_channels[3:], analysis.embed_input[3:]):
        lo, hi = min(float(channel.min()), 0.0), max(float(channel.max()), 1.0)  # at least 0..1: no stretched noise
        grey = np.rint(255 * (channel - lo) / max(hi - lo, 1e-12)).astype(np.uint8)  # [H, W]
        out.append((name, np.repeat(grey[..., None], 3, axis=2)))
    return out


@dataclass(frozen=True)
class TokenCounts:
    patches: int
    tokens: int
    scores_per_head: int  # attention scores per head per layer: tokens²


def token_counts(height: int, width: int, patch: int, prefix: int = 1) -> TokenCounts:
    n = (height // patch) * (width // patch)
    return TokenCounts(n, n + prefix, (n + prefix) ** 2)


def patch_size_options(native: int, resolution: int, max_tokens: int = 1100) -> list[int]:
    """Patch sizes that tile the image exactly, from half to four times the native size, within a token budget."""
    return [p for p in range(max(2, native // 2), min(resolution, native * 4) + 1)
            if resolution % p == 0 and (resolution // p) ** 2 + 1 <= max_tokens]


def resized_copy(model: torch.nn.Module, patch: int | None = None, img_size: int | None = None) -> torch.nn.Module:
    """A copy of ``model`` with a new patch size and/or input size, resampled by timm (the original is untouched)."""
    clone = copy.deepcopy(model)
    clone.set_input_size(img_size=(img_size, img_size) if img_size else None,
                         patch_size=(patch, patch) if patch else None)
    return clone.eval()


@dataclass(frozen=True)
class PatchSizeResult:
    patch: int
    patches: int
    tokens: int
    attention_scores: int  # heads · tokens² · layers
    seconds: float
    top_label: str
    top_prob: float


def patch_size_experiment(bundle: Bundle, analysis: Analysis, sizes: list[int]) -> list[PatchSizeResult]:
    """Run the model at each patch size on the same pixels (the analysed input), timing each forward pass."""
    x = forward.as_input(analysis.pixels[None], bundle.device)  # [1, 3, H, W], moved once for every size
    blocks = len(bundle.model.blocks)
    heads = bundle.model.blocks[0].attn.num_heads
    out = []
    for p in sizes:
        model = bundle.model if p == analysis.patch_size else resized_copy(bundle.model, patch=p)
        result = forward.run(bundle, x, model=model, timed=True)
        counts = token_counts(x.shape[2], x.shape[3], p, analysis.num_prefix)
        label, prob = result.top1()
        out.append(PatchSizeResult(p, counts.patches, counts.tokens, heads * counts.scores_per_head * blocks,
                                   result.seconds, label, prob))
    return out
