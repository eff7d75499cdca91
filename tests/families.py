"""Small random-weight models of the timm ViT families "Your own model" takes: each family's own parts (prefix
tokens, registers, pooling, layer scale, pre-norm, patch size), made small (few blocks, narrow, small images) so
that every page's core runs on each in seconds on two cores."""

from __future__ import annotations

import timm
import torch

from vitviz.model.loading import Bundle, labels_of, load_model
from vitviz.model.zoo import ModelSpec

SMALL = dict(depth=2, embed_dim=64, num_heads=2)
FAMILIES: dict[str, tuple[str, dict]] = {  # family -> (timm name, arguments)
    "vit_cls": ("vit_tiny_patch16_224", dict(depth=3, img_size=64)),
    "deit_distilled": ("deit_tiny_distilled_patch16_224", dict(depth=2, img_size=64)),
    "deit3_layer_scale": ("deit3_small_patch16_224", dict(SMALL, img_size=64)),
    "dinov2": ("vit_small_patch14_dinov2", dict(SMALL, img_size=56)),
    "dinov2_registers": ("vit_small_patch14_reg4_dinov2", dict(SMALL, img_size=56)),
    "clip_pre_norm": ("vit_base_patch16_clip_224.openai", dict(SMALL, img_size=64)),
    "siglip_map_pool": ("vit_base_patch16_siglip_224.webli", dict(SMALL, img_size=64)),
    "flexivit": ("flexivit_small", dict(SMALL, img_size=96)),
    "vit_avg_pool": ("vit_tiny_patch16_224", dict(depth=2, img_size=64, global_pool="avg", class_token=False)),
    "dynamic_size": ("vit_tiny_patch16_224", dict(depth=2, img_size=64, dynamic_img_size=True)),
    "qk_norm": ("vit_tiny_patch16_224", dict(depth=2, img_size=64, qk_norm=True)),
}


def spec_of(family: str) -> ModelSpec:
    """A spec for the family's small model, built the way ``load_model`` builds any spec."""
    name, kwargs = FAMILIES[family]
    kwargs = dict(kwargs)
    size = kwargs.pop("img_size")
    with torch.device("meta"):
        meta = timm.create_model(name, pretrained=False, img_size=size, **kwargs)
    return ModelSpec(f"test:{family}", f"{family} (small)", name, int(meta.patch_embed.patch_size[0]), size,
                     sum(p.numel() for p in meta.parameters()), f"A small {family} model for tests.",
                     labels=labels_of(meta), prefix_tokens=int(meta.num_prefix_tokens),
                     build=tuple(sorted(kwargs.items())), own=True)


def family_bundle(family: str) -> Bundle:
    return load_model(spec_of(family), device="cpu", pretrained=False)
