"""The model zoo, as data: what each model is, how it was trained, and what it costs to fetch."""

from __future__ import annotations

from dataclasses import dataclass

from vitviz.offline.shapes import SHAPE_CLASSES


@dataclass(frozen=True)
class ModelSpec:
    """One model the app can show. ``timm_name`` carries the pretrained tag (``arch.tag``)."""

    key: str
    title: str
    timm_name: str
    patch_size: int
    resolution: int
    params: int  # exact parameter count of the timm model with its head
    note: str  # one line: how it was trained
    labels: str = "imagenet-1k"  # "imagenet-1k", "shapes", or "none" (self-supervised, no classifier)
    bundled: bool = False

    @property
    def arch(self) -> str:
        return self.timm_name.split(".")[0]

    @property
    def hub_repo(self) -> str:
        return f"timm/{self.timm_name}"

    @property
    def download_mb(self) -> float:
        """Size of the fp32 safetensors file, in MB (4 bytes per parameter)."""
        return self.params * 4 / 1e6

    @property
    def tokens(self) -> int:
        return (self.resolution // self.patch_size) ** 2 + 1

    @property
    def has_classifier(self) -> bool:
        return self.labels != "none"


# The words the notes use, explained where a learner first meets them (the sidebar shows the note of the model on screen)
IN21K = "ImageNet-21k (a public collection of about 14 million labelled photos in about 21,000 classes)"
IN1K = "ImageNet-1k (1.28 million labelled photos of 1,000 classes, the usual benchmark)"
AUGREG = "AugReg (a recipe of strong augmentation, random changes to each training image, and regularisation)"

ZOO: tuple[ModelSpec, ...] = (
    ModelSpec("vit_ti16", "ViT-Ti/16", "vit_tiny_patch16_224.augreg_in21k_ft_in1k", 16, 224, 5_717_416,
              f"Supervised: {IN21K}, then fine-tuned on {IN1K} with {AUGREG}."),
    ModelSpec("vit_s16", "ViT-S/16", "vit_small_patch16_224.augreg_in21k_ft_in1k", 16, 224, 22_050_664,
              f"Supervised: {IN21K}, then fine-tuned on {IN1K} with {AUGREG}."),
    ModelSpec("vit_b16", "ViT-B/16", "vit_base_patch16_224.augreg2_in21k_ft_in1k", 16, 224, 86_567_656,
              f"Supervised: {IN21K}, fine-tuned on {IN1K} with {AUGREG}, its second fine-tune recipe."),
    ModelSpec("vit_b32", "ViT-B/32", "vit_base_patch32_224.augreg_in21k_ft_in1k", 32, 224, 88_224_232,
              f"Supervised: {IN21K}, then {IN1K} with {AUGREG}; 32-px patches: 49 patches, 50 tokens with CLS."),
    ModelSpec("deit_s16", "DeiT-S/16", "deit_small_patch16_224.fb_in1k", 16, 224, 22_050_664,
              f"Supervised on {IN1K} only, with heavy augmentation and regularisation (DeiT)."),
    ModelSpec("dino_s16", "DINO ViT-S/16", "vit_small_patch16_224.dino", 16, 224, 21_665_664,
              f"Self-supervised on the photos of {IN1K} without their labels (DINO): no classifier, famous attention maps.",
              labels="none"),
    ModelSpec("dino_s8", "DINO ViT-S/8", "vit_small_patch8_224.dino", 8, 224, 21_670_272,
              "Self-supervised (DINO) with 8-px patches: 785 tokens, sharp maps, no classifier.",
              labels="none"),
    ModelSpec("dinov2_s14", "DINOv2 ViT-S/14", "vit_small_patch14_dinov2.lvd142m", 14, 224, 21_628_800,
              "Self-supervised (DINOv2, Oquab et al. 2023) on LVD-142M, 142 million curated photos without labels: "
              "no classifier; 14-px patches, layer scale.",
              labels="none"),
    ModelSpec("shapes", "Offline shapes ViT (bundled)", "vitviz_shapes_vit.shapes", 14, 112, 222_154,
              f"Trained here on generated images of {len(SHAPE_CLASSES)} shapes; ships with vitviz, "
              "works with no network.",
              labels="shapes", bundled=True),
)

BY_KEY: dict[str, ModelSpec] = {s.key: s for s in ZOO}
OFFLINE_KEY = "shapes"
DEFAULT_KEY = "vit_s16"


def get_spec(key: str) -> ModelSpec:
    """The spec for ``key``; raises KeyError with the list of known keys."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown model {key!r}; known: {', '.join(BY_KEY)}") from None
