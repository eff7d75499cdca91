"""The bundled offline model: a small timm VisionTransformer trained here on generated shapes.

It is registered as a timm model (``vitviz_shapes_vit``) whose pretrained config points at the
safetensors file shipped in ``vitviz/assets``, so it loads through ``timm.create_model`` exactly
like the hub models do. It is a timm ``VisionTransformer`` (class token, learned absolute position
embeddings, pre-norm blocks) with one change: its patch embedding reads a fourth, fixed input
channel, the colour-edge strength of each pixel (:func:`colour_edges`). With random shape colours
the class lives only in how neighbouring pixels relate; a linear projection of raw RGB has to learn
colour-independent edges first, and at this size that plateaued near 66% held-out accuracy.
See ``vitviz/assets/MODEL_CARD.md``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models import build_model_with_cfg, register_model
from timm.models._registry import generate_default_cfgs
from timm.models.vision_transformer import VisionTransformer

from vitviz.offline.shapes import IMAGE_SIZE, SHAPE_CLASSES

ASSETS = Path(__file__).parents[1] / "assets"  # vitviz/assets
WEIGHTS_FILE = ASSETS / "shapes_vit.safetensors"
MODEL_NAME = "vitviz_shapes_vit"
ATTENTION_NOTE = (
    "This model's attention was **partly taught**: in its last 1,000 training steps a loss rewarded patches on the "
    "shape for attending to other patches on the shape. In all 17,000 steps (both stages), heads used only in training (dropped "
    "afterwards) read the final patch tokens to predict how much of each patch the shape covers, and the patch tokens "
    "after every block to predict the shape's class on the patches it covers more than 30 % (the CLS token's "
    "attention was never trained directly). Its model card measured the share of CLS attention on the shape at 3.79× the shape's share of patches (3.24× before that last stage; rollout 2.71× "
    "vs 1.96×).")
PATCH_BUDGET_NOTE = (  # the model card's side-by-side run (vitviz/assets/MODEL_CARD.md, "Recipe")
    "**On a fixed compute budget the opposite can happen.** This project's bundled shapes model was trained at "
    "8-px and 14-px patches side by side, one CPU core each at the same time: about 11 minutes in, the 14-px version (8×8 = 64 tokens) "
    "reached 61.7 % held-out accuracy and the 8-px one (14×14 = 196 tokens) 47 % (its model card, "
    "`vitviz/assets/MODEL_CARD.md`). Fewer tokens make each training step cheaper.")
EDGE_GAIN = 2.0  # colour_edges = tanh(EDGE_GAIN · gradient magnitude of the normalised pixels)


def colour_edges(x: torch.Tensor) -> torch.Tensor:
    """Normalised RGB [B, 3, H, W] -> colour-edge strength [B, 1, H, W] in 0..1 (fixed, not learned).

    Sobel derivatives of each channel (replicate padding), their magnitude over all three channels,
    squashed by tanh: a step between any two contrasting colours reads about 1, flat colour 0.
    """
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")  # [B, 3, H+2, W+2]
    # Sobel as separable slices (a 3x3 conv2d on single channels is ~6x slower on CPU):
    dx = padded[..., 2:] - padded[..., :-2]  # [B, 3, H+2, W]: central difference along x
    gx = (dx[:, :, :-2] + 2 * dx[:, :, 1:-1] + dx[:, :, 2:]) / 8  # [B, 3, H, W]: smoothed along y
    dy = padded[:, :, 2:] - padded[:, :, :-2]  # [B, 3, H, W+2]
    gy = (dy[..., :-2] + 2 * dy[..., 1:-1] + dy[..., 2:]) / 8  # [B, 3, H, W]
    magnitude = (gx.square() + gy.square()).sum(1, keepdim=True).sqrt()  # [B, 1, H, W]
    return torch.tanh(EDGE_GAIN * magnitude)


class ColourEdgePatchEmbed(PatchEmbed):
    """timm's ``PatchEmbed`` over four channels: the RGB pixels plus their fixed colour-edge channel."""

    extra_channels = ("colour edges",)
    border_reach = 1  # px: the edges' 3×3 Sobel filter reads one pixel beyond each patch's border

    def __init__(self, *args, in_chans: int = 3, **kwargs) -> None:
        super().__init__(*args, in_chans=in_chans + 1, **kwargs)

    def projection_input(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> [B, 4, H, W]: what the projection ``proj`` reads."""
        return torch.cat([x, colour_edges(x)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.projection_input(x))


ARCH = dict(img_size=IMAGE_SIZE, patch_size=14, embed_dim=64, depth=4, num_heads=4, mlp_ratio=3.0,
            num_classes=len(SHAPE_CLASSES), embed_layer=ColourEdgePatchEmbed)

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
    """ViT with 14x14 patches at 112 px (8x8 patches + CLS), dim 64, 4 blocks of 4 heads, colour-edge channel."""
    args = {**ARCH, **kwargs}
    return build_model_with_cfg(VisionTransformer, MODEL_NAME, pretrained, **args)
