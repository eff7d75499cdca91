"""ONE forward pass per (model, image) that records everything the pages draw.

Hooks are registered once per model and write into a thread-local recorder, so several
sessions can analyse different images on one shared model at the same time without cross-talk.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .models import Bundle

TOP_K = 5
_local = threading.local()
_install_lock = threading.Lock()


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
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    patch_embeddings: np.ndarray  # [N, D] float32: patch vectors before positions
    pos_embed: np.ndarray  # [T, D] float32: position embeddings (zeros for the CLS row if it has none)
    cls_token: np.ndarray  # [D] float32: the learned CLS vector before block 1
    tokens_in: np.ndarray  # [T, D] float32: CLS + patches + positions, what block 1 receives
    attentions: np.ndarray  # [L, heads, T, T] float16: softmax probabilities, rows sum to 1
    block_outputs: np.ndarray  # [L, T, D] float16: tokens after each block
    logits: np.ndarray  # [C] float32 (empty for models without a classifier)
    top_indices: tuple[int, ...]
    top_probs: tuple[float, ...]
    top_labels: tuple[str, ...]

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
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


class _Recorder:
    """What one thread's forward pass produced. With ``compact``, tensors of the first image are copied
    straight into float16 buffers on the model's device (no float32 copies kept, one transfer at the
    end on a GPU); otherwise the tensors themselves are kept (gradients need them)."""

    def __init__(self, compact: bool = False, depth: int = 0) -> None:
        self.compact = compact
        self.depth = depth
        self.attn: list[torch.Tensor] = []
        self.blocks: list[torch.Tensor] = []
        self.attn_fp16: torch.Tensor | None = None  # [L, H, T, T]
        self.blocks_fp16: torch.Tensor | None = None  # [L, T, D]
        self.patch_embed: torch.Tensor | None = None

    def add_attn(self, out: torch.Tensor) -> None:
        self.attn_fp16 = self._keep(self.attn, self.attn_fp16, out)

    def add_block(self, out: torch.Tensor) -> None:
        self.blocks_fp16 = self._keep(self.blocks, self.blocks_fp16, out)

    def _keep(self, kept: list[torch.Tensor], buffer: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor | None:
        """Keep ``out`` (full mode), or copy its first image into layer len(kept) of ``buffer`` (compact)."""
        if not self.compact:
            kept.append(out)
            return buffer
        if buffer is None:
            buffer = torch.empty((self.depth, *out.shape[1:]), dtype=torch.float16, device=out.device)
        buffer[len(kept)].copy_(out[0])
        kept.append(out[:0])  # only counts the layers
        return buffer


def _install_hooks(model: torch.nn.Module) -> None:
    """Register the recording hooks once; they do nothing unless this thread is analysing."""
    with _install_lock:
        if getattr(model, "_vitviz_hooks", False):
            return

        def on_attn(_m, _inp, out):  # out: [B, heads, T, T]
            rec = getattr(_local, "recorder", None)
            if rec is not None:
                rec.add_attn(out)

        def on_block(_m, _inp, out):  # out: [B, T, D]
            rec = getattr(_local, "recorder", None)
            if rec is not None:
                rec.add_block(out)

        def on_patch_embed(_m, _inp, out):  # out: [B, N, D]
            rec = getattr(_local, "recorder", None)
            if rec is not None:
                rec.patch_embed = out

        model.patch_embed.register_forward_hook(on_patch_embed)
        for blk in model.blocks:
            blk.attn.fused_attn = False
            blk.attn.attn_drop.register_forward_hook(on_attn)
            blk.register_forward_hook(on_block)
        model._vitviz_hooks = True


class recording:
    """Context manager: record this thread's forward passes through hooked models."""

    def __init__(self, compact: bool = False, depth: int = 0) -> None:
        self.compact, self.depth = compact, depth

    def __enter__(self) -> _Recorder:
        self.previous = getattr(_local, "recorder", None)
        _local.recorder = _Recorder(self.compact, self.depth)
        return _local.recorder

    def __exit__(self, *exc) -> None:
        _local.recorder = self.previous


def image_hash(image: Image.Image) -> str:
    """A short content hash of the image (the cache key of its analysis)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{image.size}{image.mode}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def position_embeddings(model: torch.nn.Module, grid: tuple[int, int]) -> np.ndarray:
    """[T, D] position embeddings for every token (a zero row for prefix tokens without one)."""
    pos = model.pos_embed[0].detach().float().cpu()  # [T or N, D]
    n_prefix = getattr(model, "num_prefix_tokens", 1)
    if getattr(model, "no_embed_class", False):
        pos = torch.cat([torch.zeros(n_prefix, pos.shape[1]), pos])
    return pos.numpy()


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def analyze(bundle: Bundle, image: Image.Image, digest: str | None = None) -> Analysis:
    """Run the model once on ``image`` and return everything the pages need (``digest``: its image_hash)."""
    model = bundle.model
    _install_hooks(model)
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    x = bundle.transform(rgb).unsqueeze(0).to(bundle.device)  # [1, 3, H, W]
    bundle.count_call()
    with torch.inference_mode(), recording(compact=True, depth=len(model.blocks)) as rec:
        logits = model(x)  # [1, C] (or [1, D] pooled features without a classifier)
    mean = tuple(float(m) for m in bundle.data_config["mean"])
    std = tuple(float(s) for s in bundle.data_config["std"])
    pixels = x[0].float().cpu().numpy()  # [3, H, W]
    seen = pixels * np.array(std, np.float32)[:, None, None] + np.array(mean, np.float32)[:, None, None]
    seen = np.clip(np.rint(seen.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)  # [H, W, 3]
    grid = tuple(int(g) for g in model.patch_embed.grid_size)
    n_prefix = int(getattr(model, "num_prefix_tokens", 1))
    has_head = len(bundle.labels) > 0
    probs = logits[0].float().softmax(-1).cpu() if has_head else torch.zeros(0)
    k = min(TOP_K, probs.numel())
    top = probs.topk(k) if k else None
    cls = model.cls_token[0, 0].detach().float().cpu().numpy() if model.cls_token is not None else np.zeros(0)
    return Analysis(
        model_key=bundle.spec.key,
        image_hash=digest or image_hash(image),
        patch_size=int(model.patch_embed.patch_size[0]),
        grid=grid,
        num_prefix=n_prefix,
        image=_readonly(seen),
        pixels=_readonly(pixels),
        mean=mean,
        std=std,
        patch_embeddings=_readonly(rec.patch_embed[0].float().cpu().numpy()),
        pos_embed=_readonly(position_embeddings(model, grid)),
        cls_token=_readonly(cls),
        tokens_in=_readonly(_tokens_in(model, rec.patch_embed).numpy()),
        attentions=_readonly(rec.attn_fp16.cpu().numpy()),  # one device-to-host copy (none on CPU)
        block_outputs=_readonly(rec.blocks_fp16.cpu().numpy()),
        logits=_readonly(logits[0].float().cpu().numpy() if has_head else np.zeros(0, np.float32)),
        top_indices=tuple(int(i) for i in top.indices) if top is not None else (),
        top_probs=tuple(float(p) for p in top.values) if top is not None else (),
        top_labels=tuple(bundle.labels[int(i)] for i in top.indices) if top is not None else (),
    )


def _tokens_in(model: torch.nn.Module, patch_embed: torch.Tensor) -> torch.Tensor:
    """[T, D]: what block 1 receives, via timm's own ``_pos_embed`` (CLS prepended, positions added)."""
    with torch.inference_mode():
        return model.norm_pre(model._pos_embed(patch_embed))[0].float().cpu()
