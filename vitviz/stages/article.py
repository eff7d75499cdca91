"""The home page's cards on three of the article's claims, computed on the model on screen and its analysis.

- ViT, VLM and multimodal LLM: the loaded model's own token arithmetic next to a well-known VLM's
  (LLaVA-1.5, cited as published).
- Cutting into patches is a convolution: timm's ``patch_embed.proj`` run on the analysed input equals
  "cut into patches, flatten, multiply by W, add b"; a classic CNN's 3×3 windows overlap instead (ConvNeXt's
  patchify stem, cited, is the exception).
- A classifier answers with its classes: the closed set, and how its probability mass is spread.

Each card's sentences are made here from the numbers, so a test can hold the text to the measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.wording import ROUNDING, difference, entropy_share


# --- ViT, VLM and multimodal LLM ---------------------------------------------------------------------

@dataclass(frozen=True)
class PublishedVLM:
    """A vision-language model's image side, as its paper describes it (literature, not measured here)."""

    name: str
    citation: str
    encoder: str
    resolution: int  # px, square input of the image encoder
    patch: int  # px
    encoder_width: int  # numbers per patch vector out of the encoder
    projector: str
    llm: str
    llm_width: int  # numbers per token in the language model

    @property
    def side(self) -> int:
        return self.resolution // self.patch

    @property
    def image_tokens(self) -> int:
        return self.side ** 2


SMOLVLM = ("SmolVLM-256M-Instruct (Marafioti et al. 2025): 512-px crops plus a global view, 64 image tokens of 576 "
           "numbers per crop")

LLAVA_15 = PublishedVLM(
    name="LLaVA-1.5",
    citation="Liu, Li, Li & Lee (2023), “Improved Baselines with Visual Instruction Tuning”, arXiv:2310.03744",
    encoder="CLIP ViT-L/14 (a ViT that OpenAI's CLIP trained to match images with their captions)", resolution=336,
    patch=14, encoder_width=1024,
    projector="a two-layer MLP (two matrix multiplications with a GELU, a smooth cut-off of negative numbers, "
              "between them)",
    llm="Vicuna-7B", llm_width=4096)


@dataclass(frozen=True)
class TokenArithmetic:
    """The loaded model's image side, measured on the analysis."""

    height: int  # px the model sees (after its resize and crop)
    width: int
    patch: int
    grid: tuple[int, int]  # (rows, cols)
    patch_tokens: int
    prefix_tokens: int  # the CLS token (and any other token before the patches)
    dim: int  # numbers per token
    classes: int  # outputs of the classifier head; 0 without one
    prefix: str = "1 CLS token"  # the prefix tokens in words (``Analysis.prefix_phrase``)
    reads: str = "the CLS token"  # what the head reads, in words (``block.head_reads``)


def token_arithmetic(bundle: Bundle, a: Analysis) -> TokenArithmetic:
    return TokenArithmetic(height=int(a.image.shape[0]), width=int(a.image.shape[1]), patch=a.patch_size,
                           grid=a.grid, patch_tokens=a.num_patches, prefix_tokens=a.num_prefix, dim=a.embed_dim,
                           classes=int(a.logits.shape[0]) if len(bundle.labels) else 0, prefix=a.prefix_phrase,
                           reads=_head_reads(bundle.model))


def _head_reads(model) -> str:
    from vitviz.stages.block import head_reads

    return head_reads(model)


def vit_sentence(title: str, t: TokenArithmetic) -> str:
    """What the model on screen is, with its own numbers."""
    head = (f"its classifier head turns {t.reads} into **{t.classes:,} class scores**: it reads an image and "
            "picks a label, and it reads no text" if t.classes else
            f"it has no classifier head: it turns an image into {t.dim}-number vectors (features) and reads no text")
    return (f"**{title} is a ViT: an image encoder.** It sees {t.height}×{t.width} px, cut into {t.patch}-px squares: "
            f"{t.height} / {t.patch} = {t.grid[0]} rows × {t.width} / {t.patch} = {t.grid[1]} columns = "
            f"**{t.patch_tokens} patch tokens** of **{t.dim} numbers** each, "
            + (f"plus {t.prefix}; {head}." if t.prefix_tokens else f"and {t.prefix}; {head}."))


def vlm_sentence(t: TokenArithmetic, vlm: PublishedVLM = LLAVA_15) -> str:
    """How a vision-language model uses such an encoder: published numbers, then this model's in the same role."""
    return (f"**A vision-language model (VLM, or multimodal LLM) reads images and text.** {vlm.name} takes the "
            f"patch vectors of an image encoder, {vlm.encoder} at {vlm.resolution} px: {vlm.resolution} / {vlm.patch} "
            f"= {vlm.side}, and {vlm.side}² = **{vlm.image_tokens} image tokens** of {vlm.encoder_width:,} numbers. "
            f"A **projector**, {vlm.projector}, turns each into {vlm.llm_width:,} numbers, the width of the language "
            f"model's own tokens ({vlm.llm}), and the language model (LLM) reads them as {vlm.image_tokens} extra "
            f"tokens next to the words of the question ({vlm.citation}). Used as such an eye, the model on screen "
            f"would hand over {t.patch_tokens} tokens of {t.dim} numbers each. The page *Into a language model* "
            f"shows these steps live on a real small VLM, {SMOLVLM}.")


# --- Cutting into patches is a convolution --------------------------------------------------------------

@dataclass(frozen=True)
class ConvCheck:
    """timm's patch embedding as a convolution, checked against "cut, flatten, multiply" on one image."""

    in_channels: int
    out_channels: int  # D
    kernel: tuple[int, int]
    stride: tuple[int, int]
    height: int  # px of the projection input
    width: int
    windows: int  # positions the patch convolution reads = patch tokens
    max_abs_diff: float  # max |Conv2d output − (patches flattened) · Wᵀ + b|
    reads_per_pixel: int  # how many of its windows the most-read pixel falls in (1: no overlap)
    cnn_kernel: int  # a typical CNN layer's window (3×3, stride 1, no padding), on the same image
    cnn_windows: int
    cnn_reads_per_pixel: int

    @property
    def values_per_window(self) -> int:
        return self.in_channels * self.kernel[0] * self.kernel[1]


def windows(height: int, width: int, kernel: int, stride: int) -> int:
    """Positions a convolution without padding reads on a height×width input."""
    return ((height - kernel) // stride + 1) * ((width - kernel) // stride + 1)


def max_reads_per_pixel(height: int, width: int, kernel: int, stride: int) -> int:
    """The most windows any one pixel falls in (``F.fold`` of all-ones windows counts them)."""
    ones = torch.ones(1, kernel * kernel, windows(height, width, kernel, stride))
    return int(F.fold(ones, (height, width), kernel, stride=stride).max())


def cut_into_patches(x: np.ndarray, patch: int) -> np.ndarray:
    """[C, H, W] -> [N, C·P·P]: squares in raster order, each flattened channel by channel, row by row."""
    c, h, w = x.shape
    rows, cols = h // patch, w // patch
    squares = x[:, :rows * patch, :cols * patch].reshape(c, rows, patch, cols, patch)
    return squares.transpose(1, 3, 0, 2, 4).reshape(rows * cols, c * patch * patch)


def conv_check(bundle: Bundle, a: Analysis, cnn_kernel: int = 3) -> ConvCheck:
    """Run the model's own ``patch_embed.proj`` (a Conv2d) on the analysed projection input and compare it with
    cutting that input into patches, flattening each and multiplying by the same weights (plus bias)."""
    proj = bundle.model.patch_embed.proj
    if not isinstance(proj, torch.nn.Conv2d):
        raise TypeError(f"the patch embedding's projection is a {type(proj).__name__}, not a Conv2d")
    x = np.asarray(a.embed_input, dtype=np.float32)  # [C, H, W]
    with torch.inference_mode():
        out = proj(torch.from_numpy(x.copy())[None].to(proj.weight.device, proj.weight.dtype))  # [1, D, rows, cols]
        conv = out[0].flatten(1).T.float().cpu().numpy()  # [N, D], raster order
        w = proj.weight.detach().float().cpu().reshape(proj.out_channels, -1).numpy()  # [D, C·P·P]
        b = (proj.bias.detach().float().cpu().numpy() if proj.bias is not None
             else np.zeros(proj.out_channels, np.float32))
    p = int(proj.kernel_size[0])
    matmul = cut_into_patches(x, p) @ w.T + b  # [N, D]
    _, h, wd = x.shape
    return ConvCheck(in_channels=int(proj.in_channels), out_channels=int(proj.out_channels),
                     kernel=tuple(int(k) for k in proj.kernel_size), stride=tuple(int(s) for s in proj.stride),
                     height=int(h), width=int(wd), windows=int(conv.shape[0]),
                     max_abs_diff=float(np.abs(conv - matmul).max()),
                     reads_per_pixel=max_reads_per_pixel(h, wd, p, int(proj.stride[0])),
                     cnn_kernel=cnn_kernel, cnn_windows=windows(h, wd, cnn_kernel, 1),
                     cnn_reads_per_pixel=max_reads_per_pixel(h, wd, cnn_kernel, 1))


def conv_sentences(c: ConvCheck) -> tuple[str, str]:
    """(the patch embedding as a convolution, what a CNN does instead), with the measured numbers."""
    k, s = c.kernel, c.stride
    same = c.kernel == c.stride
    agree = (f"the same numbers over all {c.windows} patches: {difference(c.max_abs_diff)}"
             if c.max_abs_diff <= ROUNDING else
             f"numbers that differ by up to {difference(c.max_abs_diff)} (the largest over all {c.windows} patches)")
    patch = (f"The model's `patch_embed.proj` is a **convolution** (a small window of weights slid over the image, "
             f"multiplying and adding at each place): `Conv2d({c.in_channels}, {c.out_channels}, kernel_size="
             f"{k[0]}×{k[1]}, stride={s[0]}×{s[1]})`. "
             + ("Window (kernel) = step (stride) = the patch size, so the windows never overlap and each value of "
                "its input is read exactly once: that is cutting into patches. "
                if same and c.reads_per_pixel == 1 else
                f"Its windows overlap (each pixel read up to {c.reads_per_pixel} times). ")
             + f"On your image it makes {c.windows} vectors of {c.out_channels} numbers. Cutting the same "
             f"{c.height}×{c.width} input into {c.windows} squares, flattening each into {c.values_per_window} numbers "
             f"({c.in_channels} channels × {k[0]}×{k[1]}) and multiplying by the {c.out_channels}×{c.values_per_window} "
             f"weight matrix, plus the bias, gives {agree}.")
    cnn = (f"**A classic CNN does something else: its windows overlap.** A {c.cnn_kernel}×{c.cnn_kernel} convolution "
           f"moving one pixel at a time (the layer VGG networks, a classic family of CNNs from Oxford's Visual Geometry Group, are built from) reads **{c.cnn_windows:,} windows** on "
           f"the same image without padding, each inner pixel in {c.cnn_reads_per_pixel} of them, instead of "
           f"{c.windows} patches; the next layer does it again on the result (ResNet's first layer, 7×7 moved 2 "
           "pixels at a time, overlaps too). A classic CNN never turns the image into a sequence of patch tokens. "
           "Some recent CNNs start with a patch step: ConvNeXt's first layer is a 4×4 convolution with stride 4, "
           "non-overlapping 4-px patches, before overlapping 7×7 windows again (Liu et al. 2022, “A ConvNet for the "
           "2020s”). MLP-Mixer (Tolstikhin et al., 2021) starts like a ViT: one linear projection per "
           "non-overlapping patch.")
    return patch, cnn


# --- A classifier answers with its classes ----------------------------------------------------------------

@dataclass(frozen=True)
class ClosedSet:
    """How a classifier spreads its answer over its fixed list of classes, on one image."""

    classes: int
    top_label: str
    top_prob: float
    k: int  # top-k shown (5, or fewer classes)
    top_k_mass: float
    entropy_bits: float  # −Σ p·log₂ p
    max_bits: float  # log₂ C: all classes equally likely


def probabilities(a: Analysis) -> np.ndarray:
    """[C] softmax of the logits in float64 (empty without a classifier)."""
    z = a.logits.astype(np.float64)
    if z.size == 0:
        return z
    e = np.exp(z - z.max())
    return e / e.sum()


def closed_set(bundle: Bundle, a: Analysis, k: int = 5) -> ClosedSet | None:
    """None when the model has no classifier."""
    p = probabilities(a)
    if p.size == 0 or not bundle.labels:
        return None
    order = np.argsort(-p)
    k = min(k, p.size)
    nz = p[p > 0]
    return ClosedSet(classes=int(p.size), top_label=bundle.labels[int(order[0])], top_prob=float(p[order[0]]),
                     k=k, top_k_mass=float(p[order[:k]].sum()), entropy_bits=float(-(nz * np.log2(nz)).sum()),
                     max_bits=math.log2(p.size))


UNKNOWN_SAMPLE = {"shapes": ("cat", "cat", "the cat photo"), "imagenet-1k": ("retina", "retina", "the retina photo")}
"""Per label set: (sample key, the word no class name contains, how the card names the sample)."""


def unknown_sample(bundle: Bundle) -> tuple[str, str] | None:
    """(sample key, its name in a sentence) of a gallery image this classifier has no class for, if any."""
    entry = UNKNOWN_SAMPLE.get(bundle.spec.labels)
    if entry is None or any(entry[1] in label.lower() for label in bundle.labels):
        return None
    return entry[0], entry[2]


def closed_set_sentence(title: str, s: ClosedSet | None, dim: int, unknown: str | None = None,
                        unknown_shown: bool = False) -> str:
    """The card's text. ``unknown``: a sample this model has no class for, suggested to try (``unknown_shown``:
    it is the image on screen)."""
    if s is None:
        return (f"{title} has no classifier: it turns an image into {dim} numbers (features) and gives no answer "
                "at all. A classifier head added on top would again choose from a fixed list of classes.")
    rest = s.classes - s.k
    bits, most, share = entropy_share(s.entropy_bits, s.max_bits)
    try_it = ("" if not unknown else
              f" This is {unknown}: none of its classes fits, and it still answers with one of them." if unknown_shown
              else f" Try {unknown}: none of its classes fits, and it still answers with one of them.")
    return (f"{title} can only answer with one of its **{s.classes:,} classes**, a fixed list of names. On "
            f"this image its answer is **{s.top_label.split(',')[0]}** with {s.top_prob:.1%}; its top {s.k} hold "
            f"{s.top_k_mass:.1%} of the probability, and the other {rest:,} classes share the remaining "
            f"{1 - s.top_k_mass:.1%}. How spread out the answer is, measured as **entropy**, is "
            f"{bits} bits, of at most log₂ {s.classes:,} = {most} bits (every class equally "
            f"likely; 0 bits: completely sure): {share} of the most possible. Whatever the image, the answer is one of these names; it cannot say "
            f"“a hybrid between a wolf and a dragon” unless that is a class.{try_it}")
