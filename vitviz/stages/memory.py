"""What a ViT costs: parameters and bytes (Hugging Face accelerate's rule), activations, multiply-adds.

- Weights: Σ numel · element_size over parameters and buffers; fp16/bf16 = /2, int8 = /4, int4 = /8
  of the fp32 size; the largest layer is the biggest leaf module (accelerate ``estimate-memory``).
- Training peak with Adam (accelerate's rule): fp32 = 4 × fp32 size (weights, gradients, two Adam
  states); fp16/bf16 mixed precision = 2 × fp32 size; int8/int4 are not trainable. Activations
  are not part of that rule: they are counted separately below.
- Activations saved for the backward pass, fp32, eager timm ViT (counted storage by storage):
  L·(16·s·b·h + a·s²·b + 4·s·b) + C·H·W·b + 2·s·b·h + 2·s·b numbers, plus L·s·b·h when b = 1
  (then k and v stay views of the qkv output instead of being copied for the batched matmul);
  C·H·W·b is the input the patch projection saves (C = 3, or 4 with the offline model's edge channel).
- MACs per image: patch projection N·D·C·P² (C = 3 colour channels), per block 12·T·D² (qkv, proj, MLP with ratio 4;
  in general (4 + 2·mlp_ratio)·T·D²) plus 2·T²·D for the attention matmuls Q·Kᵀ and A·V, and the head.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages.patches import patch_input_vector

DTYPE_DIVISORS = {"fp32": 1, "fp16": 2, "bf16": 2, "int8": 4, "int4": 8}
TRAINING_MULTIPLIER = {"fp32": 4, "fp16": 2, "bf16": 2}  # × fp32 size; int8/int4: not trainable


def values_to_inspect(bundle: Bundle, analysis: Analysis, index: int) -> dict[str, float]:
    """A few real numbers from the live model and analysis, by description."""
    model = bundle.model
    with torch.no_grad():
        return {
            "A weight: patch projection W[0, 0]": float(model.patch_embed.proj.weight.flatten()[0]),
            f"A value of patch {index}'s vector (dimension 0)": float(analysis.patch_embeddings[index, 0]),
            f"A normalised pixel of patch {index}": float(patch_input_vector(analysis, index)[0]),
            "The largest |weight| in the model": float(max(p.abs().max() for p in model.parameters())),
        }


def projection_weight_range(bundle: Bundle) -> tuple[float, float]:
    """(min, max) of the patch projection's weights: the range a per-tensor int8/int4 quantisation maps."""
    with torch.no_grad():
        w = bundle.model.patch_embed.proj.weight  # [D, C, P, P]
        return float(w.min()), float(w.max())


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _tensor_sizes(model: torch.nn.Module) -> dict[str, int]:
    """Bytes of parameters and buffers under every module name prefix ("" is the whole model)."""
    sizes: dict[str, int] = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        size = t.numel() * t.element_size()
        parts = name.split(".")
        for i in range(len(parts) + 1):
            key = ".".join(parts[:i])
            sizes[key] = sizes.get(key, 0) + size
    return sizes


def model_bytes(model: torch.nn.Module) -> int:
    """fp32 size of the model as loaded (parameters and buffers)."""
    return _tensor_sizes(model)[""]


def largest_layer(model: torch.nn.Module) -> tuple[str, int]:
    """(name, bytes) of the biggest leaf module or top-level tensor, walking modules as accelerate does."""
    sizes = _tensor_sizes(model)
    todo = (list(model.named_parameters(recurse=False)) + list(model.named_children())
            + list(model.named_buffers(recurse=False)))
    best, best_size = "", 0
    while todo:
        name, item = todo.pop(0)
        children = list(item.named_children()) if isinstance(item, torch.nn.Module) else []
        if children:
            todo = [(f"{name}.{n}", c) for n, c in children] + todo
        elif sizes.get(name, 0) > best_size:
            best, best_size = name, sizes[name]
    return best, best_size


@dataclass(frozen=True)
class WeightMemory:
    dtype: str
    total: float  # bytes
    largest_layer: float  # bytes
    training_adam: float | None  # bytes, None: not trainable in this format


def weight_memory(model: torch.nn.Module) -> list[WeightMemory]:
    """accelerate ``estimate-memory``'s table for this model (plus bf16, which equals fp16)."""
    total = model_bytes(model)
    _, layer = largest_layer(model)
    rows = []
    for dtype, div in DTYPE_DIVISORS.items():
        mult = TRAINING_MULTIPLIER.get(dtype)
        rows.append(WeightMemory(dtype, total / div, layer / div, total * mult if mult else None))
    return rows


@dataclass(frozen=True)
class Shape:
    """The sizes the formulas need: L blocks, h width, a heads, mlp ratio, patch P, image H×W, classes."""

    layers: int
    width: int
    heads: int
    mlp_ratio: float
    patch: int
    height: int
    width_px: int
    classes: int
    prefix: int = 1
    channels: int = 3  # what the patch projection reads: RGB (4 for the offline model's edge channel)

    @property
    def patches(self) -> int:
        return (self.height // self.patch) * (self.width_px // self.patch)

    @property
    def tokens(self) -> int:
        return self.patches + self.prefix

    @classmethod
    def of(cls, model: torch.nn.Module, height: int | None = None, patch: int | None = None) -> Shape:
        img = model.patch_embed.img_size
        blk = model.blocks[0]
        return cls(layers=len(model.blocks), width=model.embed_dim, heads=blk.attn.num_heads,
                   mlp_ratio=blk.mlp.fc1.out_features / model.embed_dim,
                   patch=patch or model.patch_embed.patch_size[0], height=height or img[0],
                   width_px=height or img[1], classes=getattr(model, "num_classes", 0),
                   prefix=getattr(model, "num_prefix_tokens", 1), channels=model.patch_embed.proj.in_channels)


def training_activation_numbers(s: Shape, batch: int) -> int:
    """Numbers autograd keeps for the backward pass (fp32 eager timm ViT, train mode); see module doc."""
    t, h, a, b = s.tokens, s.width, s.heads, batch
    mlp_extra = int(round(2 * (s.mlp_ratio - 4) * t * b * h))  # the formula's 16 assumes mlp ratio 4
    per_layer = 16 * t * b * h + mlp_extra + a * t * t * b + 4 * t * b + (t * b * h if b == 1 else 0)
    return s.layers * per_layer + s.channels * s.height * s.width_px * b + 2 * t * b * h + 2 * t * b


def attention_matrix_numbers(s: Shape, batch: int) -> int:
    """heads · T² per layer, for all layers: the part that grows with the square of the tokens."""
    return s.layers * s.heads * s.tokens ** 2 * batch


def inference_activation_numbers(s: Shape, batch: int) -> int:
    """Peak working set of one block in inference (nothing is kept for backward): the residual stream,
    qkv, the attention scores and their softmax, and the MLP hidden layer, alive at the same time."""
    t, h, b = s.tokens, s.width, batch
    return b * (2 * t * h + 3 * t * h + 2 * s.heads * t * t + int(s.mlp_ratio * t * h)) + s.channels * s.height * s.width_px * b


def measure_saved_activations(model: torch.nn.Module, batch: int, size: int | None = None) -> int:
    """Bytes of the unique storages autograd saves in one training forward pass (parameters excluded)."""
    size = size or model.patch_embed.img_size[0]
    device = next(model.parameters()).device
    x = torch.randn(batch, 3, size, size, device=device)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in params:
            storages[st.data_ptr()] = st.nbytes()
        return t

    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
        del out
    finally:
        model.train(was_training)
    return sum(storages.values())


def macs(s: Shape, attention_matmuls: bool = True) -> int:
    """Multiply-accumulates for one image (timm's model cards leave the attention matmuls out)."""
    t, h = s.tokens, s.width
    per_block = int((4 + 2 * s.mlp_ratio) * t * h * h)
    if attention_matmuls:
        per_block += 2 * t * t * h
    return s.patches * h * s.channels * s.patch ** 2 + s.layers * per_block + h * s.classes


def time_forward(model: torch.nn.Module, batch: int = 1, repeats: int = 5) -> float:
    """Median seconds per image of a plain forward pass on the model's device."""
    device = next(model.parameters()).device
    size = model.patch_embed.img_size[0]
    x = torch.randn(batch, 3, size, size, device=device)
    times = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / batch)
    return sorted(times)[len(times) // 2]


GPUS: dict[str, float] = {  # usable memory in GiB
    "Laptop GPU, 8 GB": 8, "NVIDIA T4, 16 GB": 16, "NVIDIA L4 / RTX 4090, 24 GB": 24,
    "NVIDIA A100, 40 GB": 40, "NVIDIA A100 / H100, 80 GB": 80,
}
CONTEXT_RESERVE_GIB = 1.0  # CUDA context and library workspaces, roughly; not part of any formula above


@dataclass(frozen=True)
class Fit:
    inference_batch: int
    training_batch: int | None  # None: not trainable in this format


def largest_batch(s: Shape, model_fp32_bytes: int, gpu_gib: float, dtype: str) -> Fit:
    """The largest batch that fits for inference and for training with Adam (activations in the dtype's bytes)."""
    free = gpu_gib * 2**30 - CONTEXT_RESERVE_GIB * 2**30
    bytes_per = 4 / DTYPE_DIVISORS[dtype] if dtype in ("fp32", "fp16", "bf16") else 2  # int: fp16 activations
    weights = model_fp32_bytes / DTYPE_DIVISORS[dtype]
    per_inf = inference_activation_numbers(s, 1) * bytes_per
    inf = max(0, int((free - weights) // per_inf)) if free > weights else 0
    mult = TRAINING_MULTIPLIER.get(dtype)
    if mult is None:
        return Fit(inf, None)
    state = model_fp32_bytes * mult
    per_train = training_activation_numbers(s, 2) / 2 * bytes_per
    train = max(0, int((free - state) // per_train)) if free > state else 0
    return Fit(inf, train)
