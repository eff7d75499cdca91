"""Models *trained* at different patch sizes, side by side: what a smaller patch costs and what it buys.

The resampling experiment on the Patches page shows one model meeting patch sizes it was not trained
for. This module answers the article's "more patches means more accuracy" with pairs of zoo models
that were each trained at their own patch size: tokens, attention scores and MACs are computed from
the architectures, time is measured here (random weights and a random input: the cost of the
arithmetic does not depend on the weights), accuracy is what the literature published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import timm
import torch

from vitviz.model.provenance import Provenance
from vitviz.model.zoo import FLEXIVIT_PATCHES, ModelSpec, get_spec
from vitviz.stages import memory


@dataclass(frozen=True)
class Published:
    """An ImageNet-1k accuracy reported for a zoo model, and where it comes from."""

    top1: float  # percent
    metric: str  # what was measured
    source: str


PUBLISHED: dict[str, Published] = {
    "vit_b16": Published(85.096, "ImageNet-1k val top-1, fine-tuned classifier",
                         "timm results-imagenet.csv (vit_base_patch16_224.augreg2_in21k_ft_in1k)"),
    "vit_b32": Published(80.716, "ImageNet-1k val top-1, fine-tuned classifier",
                         "timm results-imagenet.csv (vit_base_patch32_224.augreg_in21k_ft_in1k)"),
    "dino_s16": Published(77.0, "ImageNet-1k val top-1, linear probe on frozen features",
                          "Caron et al. 2021 (DINO), Table 2"),
    "dino_s8": Published(79.7, "ImageNet-1k val top-1, linear probe on frozen features",
                         "Caron et al. 2021 (DINO), Table 2"),
}
# The zoo's ViT-B/16 uses the second AugReg fine-tune; the same recipe as its B/32 gives 84.532
# (timm results-imagenet.csv, vit_base_patch16_224.augreg_in21k_ft_in1k): still 3.8 points above B/32.
SAME_RECIPE: dict[str, Published] = {  # a pair's smaller-patch model, published with its partner's recipe
    "vit_b16": Published(84.532, "ImageNet-1k val top-1, fine-tuned classifier",
                         "timm results-imagenet.csv (vit_base_patch16_224.augreg_in21k_ft_in1k)"),
}
PAIRS: tuple[tuple[str, str], ...] = (("vit_b16", "vit_b32"), ("dino_s8", "dino_s16"))


@dataclass(frozen=True)
class PatchCost:
    spec: ModelSpec
    tokens: int
    attention_scores: int  # per image: layers · heads · tokens²
    gmacs: float  # per image, attention matmuls included
    seconds: float  # one forward pass here, random weights and input
    published: Published


def cost(key: str, device: torch.device | str = "cpu", repeats: int = 3) -> PatchCost:
    """Build ``key``'s architecture with random weights, count its work and time one image."""
    spec = get_spec(key)
    model = timm.create_model(spec.arch, pretrained=False, num_classes=1000 if spec.has_classifier else 0)
    model = model.eval().to(device)
    shape = memory.Shape.of(model)
    x = torch.randn(1, 3, spec.resolution, spec.resolution, device=device)  # [1, 3, H, W]
    times = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    times.sort()
    return PatchCost(spec, shape.tokens, shape.layers * shape.heads * shape.tokens ** 2, memory.macs(shape) / 1e9,
                     times[len(times) // 2], PUBLISHED[key])


def pair_costs(device: torch.device | str = "cpu") -> list[PatchCost]:
    """Every model of every pair, smaller patch first within a pair."""
    return [cost(key, device) for pair in PAIRS for key in pair]


def recipe(spec: ModelSpec) -> str:
    """The checkpoint's pretrained tag in timm ("augreg2_in21k_ft_in1k"): which training recipe it comes from."""
    return spec.timm_name.partition(".")[2]


def recipe_note(small: PatchCost, large: PatchCost) -> str:
    """When a pair's checkpoints come from different recipes, say so, and the same-recipe number where published
    ('' when both share one recipe: then the pair differs in patch size alone)."""
    a, b = recipe(small.spec), recipe(large.spec)
    if a == b:
        return ""
    said = (f" The two checkpoints also differ in training recipe ({small.spec.title}: `{a}`, {large.spec.title}: "
            f"`{b}`), so this difference mixes patch size with the recipe.")
    same = SAME_RECIPE.get(small.spec.key)
    if same is not None:
        said += (f" With {large.spec.title}'s recipe, {small.spec.title} is published at {same.top1:.1f}% "
                 f"({same.top1 - large.published.top1:+.1f} points; {same.source}).")
    return said


def verdict(costs: list[PatchCost]) -> str:
    """One sentence per pair, from the numbers: how much more a smaller patch costs and what was published."""
    by_key = {c.spec.key: c for c in costs}
    lines = []
    for small, large in PAIRS:
        s, b = by_key[small], by_key[large]
        better = s.published.top1 > b.published.top1
        lines.append(
            f"- **{s.spec.title} vs {b.spec.title}**: {s.tokens / b.tokens:.1f}× the tokens, "
            f"{s.attention_scores / b.attention_scores:.0f}× the attention scores, {s.gmacs / b.gmacs:.1f}× the "
            f"MACs and {s.seconds / b.seconds:.1f}× the time here; published top-1 {s.published.top1:.1f}% vs "
            f"{b.published.top1:.1f}% ({'+' if better else ''}{s.published.top1 - b.published.top1:.1f} points)."
            + recipe_note(s, b))
    return "\n".join(lines)


# -- one model trained for many patch sizes (FlexiViT) ---------------------------------------------------------

TRAINED_AT: dict[str, tuple[tuple[int, ...], str]] = {  # checkpoint -> (patch sizes trained at, source)
    "flexivit_small.1200ep_in1k": (FLEXIVIT_PATCHES, "Beyer et al. 2023, “FlexiViT: One Model for All Patch Sizes”, "
                                                     "§3.1: one patch size drawn for every batch, at 240 px"),
}


def sizes_trained_at(spec: ModelSpec, p: Provenance) -> tuple[int, ...]:
    """The patch sizes the weights on screen were trained at, when they were trained for several (FlexiViT's
    published checkpoint); () otherwise: random weights or a user's file were not, and a classic ViT was trained at
    its one patch size."""
    if not p.trained_as_documented or spec.timm_name not in TRAINED_AT:
        return ()
    return TRAINED_AT[spec.timm_name][0]


def several_sizes_sentence(spec: ModelSpec, p: Provenance) -> str:
    """What the resampling experiment shows on a model trained for several patch sizes ('' for any other)."""
    sizes = sizes_trained_at(spec, p)
    if not sizes:
        return ""
    return (f"**{spec.title} was trained for many patch sizes**: {', '.join(map(str, sizes))} px, one drawn for every "
            f"training batch ({TRAINED_AT[spec.timm_name][1]}). timm resamples its {spec.patch_size}-px projection "
            "with the same method FlexiViT's training used to resize its patch embedding (`resample_patch_embed`, "
            "its pseudo-inverse resize), so at those sizes this experiment runs the model at a patch size it was "
            "trained for, and a change of answer is the model's own answer at that size, not a model meeting an input "
            "it never saw; at any other size it meets one it was not trained for.")


def trained_here(spec: ModelSpec, p: Provenance, patch: int) -> str:
    """The experiment table's column: whether the weights on screen were trained at ``patch`` px, in words."""
    sizes = sizes_trained_at(spec, p)
    if sizes:
        return "yes" if patch in sizes else "no"
    if p.trained_as_documented:
        return "yes" if patch == spec.patch_size else "no"
    return "unknown" if p.unknown else "no (random weights)"
