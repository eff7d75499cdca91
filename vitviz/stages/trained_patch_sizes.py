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

from vitviz.model.zoo import ModelSpec, get_spec
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
