"""ONE forward pass per (model, image) that records everything the pages draw.

The capture itself (hooks writing into a thread-local recorder) lives in ``capture``; several
sessions can analyse different images on one shared model at the same time without cross-talk.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vitviz.model.capture import recording
from vitviz.model.loading import Bundle

TOP_K = 5


@dataclass(frozen=True)
class Analysis:
    """What one forward pass of a ViT on one image produced. Arrays are read-only."""

    model_key: str
    image_hash: str
    patch_size: int
    grid: tuple[int, int]  # (rows, cols) of patches
    num_prefix: int  # tokens before the patches (1: the CLS token)
    image: np.ndarray  # [H, W, 3] uint8: the image as the model sees it (after resize/crop)
    pixels: np.ndarray  # [3, H, W] float32: the normalised input tensor
    embed_input: np.ndarray  # [C, H, W] float32: what the patch projection reads (``pixels`` itself for C = 3)
    input_channels: tuple[str, ...]  # names of embed_input's channels: R, G, B (+ any fixed extra channel)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    patch_embeddings: np.ndarray  # [N, D] float32: patch vectors before positions
    pos_embed: np.ndarray  # [T, D] float32: position embeddings (zeros for the CLS row if it has none)
    cls_token: np.ndarray  # [D] float32: the learned CLS vector before block 1
    tokens_in: np.ndarray  # [T, D] float32: CLS + patches + positions, what block 1 receives
    attentions: np.ndarray  # [L, heads, T, T] float16: softmax probabilities, rows sum to 1
    block_outputs: np.ndarray  # [L, T, D]: tokens after each block, float32 as computed (float16 when the blocks
    #                            compute in lower precision)
    logits: np.ndarray  # [C] float32 (empty for models without a classifier)
    top_indices: tuple[int, ...]
    top_probs: tuple[float, ...]
    top_labels: tuple[str, ...]
    prefix_names: tuple[str, ...] = ("CLS",)  # the tokens before the patches, in order (``prefix_names``)
    pool: str = "token"  # what the head reads (timm's global_pool): "token" (the CLS), "avg", "map" (attention pool)

    @property
    def has_cls(self) -> bool:
        """Whether the sequence starts with a class token (SigLIP towers and average-pooled ViTs have none)."""
        return self.prefix_names[:1] == ("CLS",)

    @property
    def prefix_phrase(self) -> str:
        """The tokens before the patches in words: "1 CLS token", "a CLS token and a distillation token", "a CLS
        token and 4 registers", "no CLS token"."""
        return prefix_phrase(self.prefix_names)

    @property
    def num_registers(self) -> int:
        return sum(n.startswith("register") for n in self.prefix_names)

    def token_name(self, token: int) -> str:
        """Token ``token`` of the sequence in words: "CLS", "distillation", "register 2", "patch 5"."""
        return self.prefix_names[token] if token < self.num_prefix else f"patch {token - self.num_prefix}"

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        return self.num_prefix + self.num_patches

    @property
    def depth(self) -> int:
        return self.attentions.shape[0]

    @property
    def heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def embed_dim(self) -> int:
        return self.patch_embeddings.shape[1]

    @property
    def nbytes(self) -> int:
        arrays = {id(v): v for v in vars(self).values() if isinstance(v, np.ndarray)}  # shared arrays once
        return sum(v.nbytes for v in arrays.values())


def model_alone(a: Analysis) -> Analysis:
    """``a`` without its image: the parts that depend on the model only (position embeddings, the CLS vector, grid,
    sizes) are kept; every array made from the image is empty and the top classes are gone. A figure built from it
    says nothing about the image, so every visitor of the model can be shown the same one."""
    depth, heads = a.attentions.shape[:2]
    empty = _readonly(np.zeros(0, np.float32))
    return dataclasses.replace(
        a, image_hash="", image=_readonly(np.zeros((0, 0, 3), np.uint8)), pixels=_readonly(np.zeros((3, 0, 0), np.float32)),
        embed_input=_readonly(np.zeros((len(a.input_channels), 0, 0), np.float32)),
        patch_embeddings=_readonly(np.zeros((0, a.embed_dim), np.float32)),
        tokens_in=_readonly(np.zeros((0, a.embed_dim), np.float32)),
        attentions=_readonly(np.zeros((depth, heads, 0, 0), np.float16)),
        block_outputs=_readonly(np.zeros((depth, 0, a.embed_dim), np.float16)),
        logits=empty, top_indices=(), top_probs=(), top_labels=())


def prefix_names(model: torch.nn.Module) -> tuple[str, ...]:
    """The names of the tokens before the patches, in the order timm puts them: the class token, DeiT's
    distillation token, the registers (Darcet et al. 2024); none for a model without them (SigLIP, average pooling)."""
    names = []
    if getattr(model, "cls_token", None) is not None:
        names.append("CLS")
    if getattr(model, "dist_token", None) is not None:
        names.append("distillation")
    names += [f"register {i + 1}" for i in range(int(getattr(model, "num_reg_tokens", 0) or 0))]
    n = int(getattr(model, "num_prefix_tokens", len(names)))
    return tuple(names[:n] + [f"prefix {i}" for i in range(len(names), n)])


def prefix_phrase(names: tuple[str, ...]) -> str:
    """``Analysis.prefix_phrase`` of the prefix token names ``names``."""
    regs = sum(n.startswith("register") for n in names)
    parts = ["a CLS token" if "CLS" in names else ""] + (["a distillation token"] if "distillation" in names else [])
    parts = [p for p in parts if p] + ([f"{regs} register{'s' if regs > 1 else ''} (extra learned tokens with no "
                                        "patch of their own)"] if regs else [])
    if not parts:
        return "no CLS token"
    if parts == ["a CLS token"]:
        return "1 CLS token"
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def pooling(model: torch.nn.Module) -> str:
    """What the model's head reads of the last tokens (timm's ``global_pool``; "token" for the bundled model)."""
    return str(getattr(model, "global_pool", "token") or "")


def image_hash(image: Image.Image) -> str:
    """A short content hash of the image (the cache key of its analysis)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{image.size}{image.mode}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def input_dtype(model: torch.nn.Module) -> torch.dtype:
    """The format the model takes its input in: that of its weights (bf16/fp16 after a cast; fp32 when quantised,
    whose weights report the format they stand for)."""
    return next(model.parameters()).dtype


def position_embeddings(model: torch.nn.Module) -> np.ndarray:
    """[T, D] position embeddings for every token (a zero row for prefix tokens without one)."""
    pos = model.pos_embed[0].detach().float().cpu()  # [T or N, D]
    n_prefix = getattr(model, "num_prefix_tokens", 1)
    if getattr(model, "no_embed_class", False):
        pos = torch.cat([torch.zeros(n_prefix, pos.shape[1]), pos])
    return pos.numpy()


def to_picture(pixels: np.ndarray, mean, std) -> np.ndarray:
    """Normalised input [3, H, W] -> the 8-bit image [H, W, 3] it was made from (undo the normalisation)."""
    rgb = pixels * np.asarray(std, np.float32)[:, None, None] + np.asarray(mean, np.float32)[:, None, None]
    return np.clip(np.rint(rgb.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def analyze(bundle: Bundle, image: Image.Image, digest: str | None = None) -> Analysis:
    """Run the model once on ``image`` and return everything the pages need (``digest``: its image_hash)."""
    model = bundle.model
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    x = bundle.transform(rgb).unsqueeze(0).to(bundle.device)  # [1, 3, H, W] float32
    bundle.count_call()
    with torch.inference_mode(), recording(model, compact=True) as rec:
        logits = model(x.to(input_dtype(model)))  # [1, C] (or [1, D] pooled features without a classifier)
    mean = tuple(float(m) for m in bundle.data_config["mean"])
    std = tuple(float(s) for s in bundle.data_config["std"])
    pixels = x[0].float().cpu().numpy()  # [3, H, W]
    embed_input, channels = _embed_input(model, x, pixels)
    embedded = rec.patch_embed[0]  # [N, D], or [H', W', D] from a model built with dynamic_img_size
    grid = tuple(int(g) for g in embedded.shape[:2]) if embedded.ndim == 3 else tuple(
        int(g) for g in model.patch_embed.grid_size)
    n_prefix = int(getattr(model, "num_prefix_tokens", 1))
    has_head = len(bundle.labels) > 0
    probs = logits[0].float().softmax(-1).cpu() if has_head else torch.zeros(0)
    k = min(TOP_K, probs.numel())
    top = probs.topk(k) if k else None
    cls_token = getattr(model, "cls_token", None)
    cls = cls_token[0, 0].detach().float().cpu().numpy() if cls_token is not None else np.zeros(0)  # [D] or empty
    return Analysis(
        model_key=bundle.spec.key,
        image_hash=digest or image_hash(image),
        patch_size=int(model.patch_embed.patch_size[0]),
        grid=grid,
        num_prefix=n_prefix,
        image=_readonly(to_picture(pixels, mean, std)),
        pixels=_readonly(pixels),
        embed_input=_readonly(embed_input),  # the same array as pixels when nothing is added
        input_channels=channels,
        mean=mean,
        std=std,
        patch_embeddings=_readonly(embedded.reshape(-1, embedded.shape[-1]).float().cpu().numpy()),
        pos_embed=_readonly(position_embeddings(model)),
        cls_token=_readonly(cls),
        tokens_in=_readonly(rec.block_input[0].float().cpu().numpy()),
        attentions=_readonly(rec.attn_fp16.cpu().numpy()),  # one device-to-host copy (none on CPU)
        block_outputs=_readonly(rec.blocks_out.cpu().numpy()),
        logits=_readonly(logits[0].float().cpu().numpy() if has_head else np.zeros(0, np.float32)),
        top_indices=tuple(int(i) for i in top.indices) if top is not None else (),
        top_probs=tuple(float(p) for p in top.values) if top is not None else (),
        top_labels=tuple(bundle.labels[int(i)] for i in top.indices) if top is not None else (),
        prefix_names=prefix_names(model),
        pool=pooling(model),
    )


def _embed_input(model: torch.nn.Module, x: torch.Tensor, pixels: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """What the patch projection reads [C, H, W], and its channel names (the offline model adds colour edges)."""
    extra = tuple(getattr(model.patch_embed, "extra_channels", ()))
    if not extra:
        return pixels, ("R", "G", "B")
    with torch.inference_mode():
        x = x.to(input_dtype(model))  # the edge channel as the model computes it, in its own format
        return model.patch_embed.projection_input(x)[0].float().cpu().numpy(), ("R", "G", "B", *extra)

