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
    labels: str = "imagenet-1k"  # an ImageNetInfo subset ("imagenet-1k", "imagenet-21k", …), "shapes", or "none"
    #                              (self-supervised models and CLIP/SigLIP image towers: no classifier)
    bundled: bool = False
    prefix_tokens: int = 1  # tokens before the patches: CLS (1), + distillation token, + registers; 0 without CLS
    build: tuple[tuple[str, object], ...] = ()  # extra timm.create_model arguments (a user's file: its own shapes)
    weights_file: str = ""  # the visitor's own safetensors file these weights are read from ('' for a hub name)
    repo: str = ""  # the hub repo of the weights when it is not timm/<timm_name> (timm's pretrained_cfg says)
    own: bool = False  # a model the visitor named or brought ("Your own model"), not one of the zoo

    @property
    def arch(self) -> str:
        return self.timm_name.split(".")[0]

    @property
    def hub_repo(self) -> str:
        return self.repo or f"timm/{self.timm_name}"

    @property
    def download_mb(self) -> float:
        """Size of the fp32 safetensors file, in MB (4 bytes per parameter)."""
        return self.params * 4 / 1e6

    @property
    def tokens(self) -> int:
        return (self.resolution // self.patch_size) ** 2 + self.prefix_tokens

    @property
    def has_classifier(self) -> bool:
        return self.labels != "none"


# The words the notes use, explained where a learner first meets them (the sidebar shows the note of the model on screen)
IN21K = "ImageNet-21k (a public collection of about 14 million labelled photos in about 21,000 classes)"
IN1K = "ImageNet-1k (1.28 million labelled photos of 1,000 classes, the usual benchmark)"
AUGREG = "AugReg (a recipe of strong augmentation, random changes to each training image, and regularisation)"
LVD142M = ("LVD-142M (142 million web photos, no labels, picked by their likeness to curated photo collections; "
           "Oquab et al. 2023)")
LAYER_SCALE = "layer scale (a learned factor per channel on each block's updates)"
FLEXIVIT_PATCHES = (8, 10, 12, 15, 16, 20, 24, 30, 40, 48)  # Beyer et al. 2023, FlexiViT, §3.1: one drawn per batch

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
              "Self-supervised (DINOv2, Oquab et al. 2023) on LVD-142M, 142 million web photos without labels: no "
              "classifier; layer scale; trained at 518 px, run here at 224.",
              labels="none"),
    ModelSpec("dinov2_s14_reg4", "DINOv2 ViT-S/14 with registers", "vit_small_patch14_reg4_dinov2.lvd142m", 14, 224,
              21_629_952,
              "DINOv2 as above, with 4 register tokens (extra learned tokens with no patch of their own, which hold "
              "the global information DINOv2 otherwise stores in a few background patches; Darcet et al. 2024, "
              "“Vision Transformers Need Registers”): no classifier.",
              labels="none", prefix_tokens=5),
    ModelSpec("deit3_s16", "DeiT-III S/16", "deit3_small_patch16_224.fb_in22k_ft_in1k", 16, 224, 22_059_496,
              f"Supervised (DeiT III, Touvron et al. 2022): {IN21K}, then fine-tuned on {IN1K}; simple augmentation "
              f"(grayscale, solarisation, blur) and {LAYER_SCALE}."),
    ModelSpec("flexivit_s", "FlexiViT-S", "flexivit_small.1200ep_in1k", 16, 240, 22_061_416,
              f"Supervised on {IN1K} for 1,200 epochs, distilled from a ViT-B/8 teacher, with a patch size drawn for "
              f"every batch from {', '.join(map(str, FLEXIVIT_PATCHES))} px at 240 px (FlexiViT, Beyer et al. "
              "2023): one model trained for many patch sizes; run at its 16-px default."),
    ModelSpec("shapes", "Offline shapes ViT (bundled)", "vitviz_shapes_vit.shapes", 14, 112, 222_154,
              f"Trained here on generated images of {len(SHAPE_CLASSES)} shapes; ships with vitviz, "
              "works with no network.",
              labels="shapes", bundled=True),
)

BY_KEY: dict[str, ModelSpec] = {s.key: s for s in ZOO}
OFFLINE_KEY = "shapes"
DEFAULT_KEY = "vit_s16"


_OWN: dict[str, ModelSpec] = {}  # the visitors' own models met in this process, by key (``register_own``)


def register_own(spec: ModelSpec) -> ModelSpec:
    """Remember a visitor's own model so that ``get_spec(spec.key)`` finds it (the model store loads by key)."""
    if not spec.own:
        raise ValueError(f"{spec.key} is not a model of one's own")
    _OWN[spec.key] = spec
    return spec


def get_spec(key: str) -> ModelSpec:
    """The spec for ``key`` (a zoo key, or a visitor's own model: ``timm:<name>`` is made from timm's name on
    first use; a file's key is known once its spec was made); raises KeyError with the list of known keys."""
    if key in BY_KEY:
        return BY_KEY[key]
    if key in _OWN:
        return _OWN[key]
    if key.startswith(NAME_PREFIX):
        from vitviz.model import own  # timm is needed to read a name; the zoo itself is plain data

        return own.spec_for_name(key[len(NAME_PREFIX):])
    raise KeyError(f"unknown model {key!r}; known: {', '.join(BY_KEY)}")


NAME_PREFIX = "timm:"  # the key of a model named by its timm name: timm:<arch>.<tag>
FILE_PREFIX = "file:"  # the key of a visitor's file: file:<arch>:<content hash>
