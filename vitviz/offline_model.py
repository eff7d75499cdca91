"""The bundled offline model: a small timm VisionTransformer trained here on generated shapes.

It is registered as a timm model (``vitviz_shapes_vit``) whose pretrained config points at the
safetensors file shipped in ``vitviz/assets``, so it loads through ``timm.create_model`` exactly
like the hub models do. The architecture is stock timm (class token, learned absolute position
embeddings, a plain linear patch embedding); see ``vitviz/assets/MODEL_CARD.md``.
"""

from __future__ import annotations

from pathlib import Path

from timm.models import build_model_with_cfg, register_model
from timm.models._registry import generate_default_cfgs
from timm.models.vision_transformer import VisionTransformer

from .shapes import IMAGE_SIZE, SHAPE_CLASSES

ASSETS = Path(__file__).parent / "assets"
WEIGHTS_FILE = ASSETS / "shapes_vit.safetensors"
MODEL_NAME = "vitviz_shapes_vit"
ARCH = dict(img_size=IMAGE_SIZE, patch_size=8, embed_dim=64, depth=4, num_heads=4, mlp_ratio=3.0,
            num_classes=len(SHAPE_CLASSES))

default_cfgs = generate_default_cfgs({
    f"{MODEL_NAME}.shapes": {
        "file": str(WEIGHTS_FILE),
        "num_classes": len(SHAPE_CLASSES),
        "input_size": (3, IMAGE_SIZE, IMAGE_SIZE),
        "crop_pct": 1.0,
        "crop_mode": "center",
        "interpolation": "bicubic",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        "license": "mit",
    },
})


@register_model
def vitviz_shapes_vit(pretrained: bool = False, **kwargs) -> VisionTransformer:
    """ViT with 8x8 patches at 112 px (14x14 tokens + CLS), dim 64, 4 blocks of 4 heads."""
    args = {**ARCH, **kwargs}
    return build_model_with_cfg(VisionTransformer, MODEL_NAME, pretrained, **args)
