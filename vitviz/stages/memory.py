"""What a ViT costs: parameters and bytes (Hugging Face accelerate's rule), training state, activations,
multiply-adds, and what a prediction needs.

- Weights: Σ numel · element_size over parameters and buffers; fp16/bf16 = /2, int8 = /4, int4 = /8
  of the fp32 size; the largest layer is the biggest leaf module (accelerate ``estimate-memory``).
- accelerate's "training" figure is the LARGEST of four stages it lists (model, gradients, optimizer,
  step), not their sum: fp32 = 4 × fp32 size (its step), fp16/bf16 = 2 × fp32 size (its optimizer).
- What sits in memory during Adam training, per parameter (``training_memory``): fp32 = weights 4 B +
  gradients 4 B + Adam m 4 B + Adam v 4 B = 16 B; fp16/bf16 mixed precision = half weights 2 B + half
  gradients 2 B + fp32 master weights 4 B + Adam m, v 8 B = 16 B (Micikevicius et al. 2018; ZeRO,
  Rajbhandari et al. 2020, §3). Mixed precision saves activation memory and time, not optimizer state.
- Activations saved for the backward pass, fp32, eager timm ViT (counted storage by storage):
  L·(16·s·b·h + a·s²·b + 4·s·b) + C·H·W·b + 2·s·b·h + 2·s·b numbers, plus L·s·b·h when b = 1
  (then k and v stay views of the qkv output instead of being copied for the batched matmul);
  C·H·W·b is the input the patch projection saves (C = 3, or 4 with the offline model's edge channel). That is the
  classic ViT; each other part counts what it keeps (``training_activation_parts``: layer scale, q/k norm, pre-norm,
  average or attention pooling, no head), equal to the measurement on every timm family tests/families.py builds.
- MACs per image: patch projection N·D·C·P² (C = 3 colour channels), per block 12·T·D² (qkv, proj, MLP with ratio 4;
  in general (4 + 2·mlp_ratio)·T·D²) plus 2·T²·D for the attention matmuls Q·Kᵀ and A·V, and the head.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass

import torch

from vitviz.model.analysis import Analysis, input_dtype, pooling
from vitviz.model.loading import Bundle
from vitviz.model.precision import tensor_bytes
from vitviz.stages.patches import patch_input_vector

DTYPE_DIVISORS = {"fp32": 1, "fp16": 2, "bf16": 2, "int8": 4, "int4": 8}
ACCELERATE_PEAK_MULTIPLIER = {"fp32": 4, "fp16": 2, "bf16": 2}  # accelerate's largest stage, × fp32 size
ACTIVATION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 2, "int4": 2}  # int formats: fp16 activations
INTEGER_TRAINING_NOTE = "not trained directly here"  # 8-bit optimisers and QLoRA exist: see the page


WEIGHT_W00 = "A weight: patch projection W[0, 0]"
WEIGHT_MAX = "The largest |weight| in the model"
WEIGHT_VALUES = (WEIGHT_W00, WEIGHT_MAX)  # the entries of ``values_to_inspect`` that are weights (not activations)


def values_to_inspect(bundle: Bundle, analysis: Analysis, index: int,
                      largest: float | None = None) -> dict[str, float]:
    """A few real numbers from the live model and analysis, by description (the weights: ``WEIGHT_VALUES``).
    ``largest``: ``largest_weight(bundle.model)`` when the caller keeps it per model (it reads every weight)."""
    model = bundle.model
    with torch.no_grad():
        return {
            WEIGHT_W00: float(model.patch_embed.proj.weight.flatten()[0]),
            f"A value of patch {index}'s vector (dimension 0)": float(analysis.patch_embeddings[index, 0]),
            f"A normalised pixel of patch {index}": float(patch_input_vector(analysis, index)[0]),
            WEIGHT_MAX: largest_weight(model) if largest is None else largest,
        }


def largest_weight(model: torch.nn.Module) -> float:
    """The largest |weight| of ``model``: every parameter read once (40 ms on ViT-S/16), a number of the model
    alone, so pages keep it per model rather than per image and patch."""
    with torch.no_grad():
        return float(max(p.abs().max() for p in model.parameters()))


SAFETENSORS_FLOATS = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64"}  # header dtype -> format name


def stored_float_format(path: str | os.PathLike | None) -> str | None:
    """The one float format every floating-point tensor of a safetensors file is stored in ("fp16", ...), read from
    its header; None without a file, or when its tensors mix formats. Why: weights stored in fp16 and loaded into
    fp32 are fp16 numbers already, so fp16 rounds them with no error at all."""
    if path is None:
        return None
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    kinds = {entry["dtype"] for name, entry in header.items() if name != "__metadata__"}
    floats = {SAFETENSORS_FLOATS[k] for k in kinds if k in SAFETENSORS_FLOATS}
    return floats.pop() if len(floats) == 1 else None


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


def state_dict_bytes(model: torch.nn.Module) -> tuple[int, int]:
    """(tensors, bytes) of everything the model object holds (its state_dict): a prediction needs only
    these and the image."""
    tensors = model.state_dict().values()
    return len(tensors), sum(tensor_bytes(t) for t in tensors)  # a quantised weight: its codes, scales, zero points


@dataclass(frozen=True)
class WeightMemory:
    dtype: str
    total: float  # bytes
    largest_layer: float  # bytes
    training_adam: float | None  # bytes: accelerate's training figure, its LARGEST single stage (not the
    # sum of what sits in memory: see ``training_memory``); None for int8/int4 (not trained directly here)


def weight_memory(model: torch.nn.Module) -> list[WeightMemory]:
    """accelerate ``estimate-memory``'s table for this model (plus bf16, which equals fp16)."""
    total = model_bytes(model)
    _, layer = largest_layer(model)
    rows = []
    for dtype, div in DTYPE_DIVISORS.items():
        mult = ACCELERATE_PEAK_MULTIPLIER.get(dtype)
        rows.append(WeightMemory(dtype, total / div, layer / div, total * mult if mult else None))
    return rows


@dataclass(frozen=True)
class TrainingMemory:
    """What sits in memory at once while training with Adam, in bytes, before activations."""

    regime: str  # "fp32" or "fp16 mixed precision" / "bf16 mixed precision"
    params: int
    weights: float  # the weights the forward pass uses (fp32, or the fp16/bf16 copy)
    gradients: float  # one per parameter, in the same format as the weights
    master: float  # fp32 master copy of the weights (mixed precision only): the optimiser updates it
    adam_m: float  # Adam's running mean of the gradients, fp32
    adam_v: float  # Adam's running mean of the squared gradients, fp32
    accelerate_peak: float  # accelerate estimate-memory's figure: its largest single stage

    @property
    def components(self) -> dict[str, float]:
        return {"weights": self.weights, "gradients": self.gradients, "fp32 master copy": self.master,
                "Adam m": self.adam_m, "Adam v": self.adam_v}

    @property
    def total(self) -> float:
        """weights + gradients + optimizer state (master copy, Adam m, v): the sum, not a stage."""
        return sum(self.components.values())

    @property
    def bytes_per_param(self) -> float:
        return self.total / self.params


def training_memory(model: torch.nn.Module, dtype: str) -> TrainingMemory:
    """Adam training state of ``model`` in fp32 or fp16/bf16 mixed precision: 16 B per parameter in both
    (mixed: 2 + 2 + 4 + 4 + 4; Micikevicius et al. 2018, ZeRO §3). int8/int4: ValueError."""
    if dtype not in ACCELERATE_PEAK_MULTIPLIER:
        raise ValueError(f"{dtype}: {INTEGER_TRAINING_NOTE} (only fp32 and fp16/bf16 mixed precision)")
    p, total = parameter_count(model), model_bytes(model)
    peak = total * ACCELERATE_PEAK_MULTIPLIER[dtype]
    if dtype == "fp32":
        return TrainingMemory("fp32", p, total, 4 * p, 0, 4 * p, 4 * p, peak)
    return TrainingMemory(f"{dtype} mixed precision", p, total / 2, 2 * p, 4 * p, 4 * p, 4 * p, peak)


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
    # the parts that keep activations of their own for the backward pass (the classic ViT's are the defaults)
    layer_scale: bool = False  # LayerScale after attention and MLP (DeiT-III, DINOv2): each keeps its input
    qk_norm: bool = False  # a LayerNorm on q and on k in every block
    pre_norm: bool = False  # a LayerNorm before block 1 (CLIP's norm_pre)
    final_norm: bool = True  # a LayerNorm after the last block on every token (False when pooling uses fc_norm)
    pool: str = "token"  # what the head reads (timm's global_pool): "token", "avg"/"max"/"avgmax", "map"
    fc_norm: bool = False  # a LayerNorm on the pooled vector (average pooling)
    head: bool = True  # a Linear head (a classifier, or CLIP's projection); False: the pooled features are the output
    pool_heads: int = 0  # heads of the attention pool ("map")
    pool_mlp_ratio: float = 4.0

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
        pool = pooling(model)
        attn_pool = getattr(model, "attn_pool", None)
        return cls(layers=len(model.blocks), width=model.embed_dim, heads=blk.attn.num_heads,
                   mlp_ratio=blk.mlp.fc1.out_features / model.embed_dim,
                   patch=patch or model.patch_embed.patch_size[0], height=height or img[0],
                   width_px=height or img[1], classes=getattr(model, "num_classes", 0),
                   prefix=getattr(model, "num_prefix_tokens", 1), channels=model.patch_embed.proj.in_channels,
                   layer_scale=_is(getattr(blk, "ls1", None), "LayerScale"),
                   qk_norm=_is(getattr(blk.attn, "q_norm", None), "LayerNorm"),
                   pre_norm=_is(getattr(model, "norm_pre", None), "LayerNorm"),
                   final_norm=_is(getattr(model, "norm", None), "LayerNorm"),
                   pool=pool, fc_norm=_is(getattr(model, "fc_norm", None), "LayerNorm"),
                   head=isinstance(getattr(model, "head", None), torch.nn.Linear),
                   pool_heads=int(getattr(attn_pool, "num_heads", 0)) if attn_pool is not None else 0,
                   pool_mlp_ratio=(attn_pool.mlp.fc1.out_features / model.embed_dim) if attn_pool is not None else 4.0)


def _is(module: object, kind: str) -> bool:
    """Whether ``module`` is a ``kind`` (LayerNorm, LayerScale) by its class name, subclasses included."""
    return module is not None and any(c.__name__ == kind for c in type(module).__mro__)


def training_activation_numbers(s: Shape, batch: int) -> int:
    """Numbers autograd keeps for the backward pass (fp32 eager timm ViT, train mode), part by part; see module doc."""
    return sum(training_activation_parts(s, batch).values())


def training_activation_parts(s: Shape, batch: int) -> dict[str, int]:
    """The numbers each part of the model keeps for the backward pass (fp32, eager, train mode), by part: what
    autograd saves, storage by storage (a view of a kept tensor costs nothing more). Parts a model lacks are absent.

    - input: the image the patch projection keeps, C·H·W·b;
    - blocks: per block 16·s·b·h (+ 2·(mlp_ratio − 4)·s·b·h) + a·s²·b + 4·s·b, plus s·b·h when b = 1 (k and v then
      stay views of the qkv output); layer scale keeps each of its two inputs (2·s·b·h); a q/k LayerNorm keeps its
      statistics for q and for k (4·a·s·b) and makes q and k tensors of their own, 3·s·b·h more for a batch and
      s·b·h for one image (measured: the plain block's views of the qkv output then no longer serve);
    - pre-norm (CLIP): its input and statistics, s·b·h + 2·s·b; the final norm likewise;
    - head: reading the CLS token, the head keeps a view of the final norm's output, whose storage is s·b·h; after
      average pooling the mean keeps nothing, fc_norm its input and statistics (b·h + 2·b), the head its b·h input;
      no head (self-supervised models, SigLIP's tower): nothing;
    - attention pool (SigLIP's MAP head, timm's fused attention): its LayerNorm'd key/value input and the k, v it
      makes (3·s·b·h), the query, attention output, norm input and MLP (4 + 2·mlp_ratio)·b·h, the norm's statistics
      and one log-sum-exp per head (2·b + a_pool·b)."""
    t, h, a, b = s.tokens, s.width, s.heads, batch
    mlp_extra = int(round(2 * (s.mlp_ratio - 4) * t * b * h))  # the formula's 16 assumes mlp ratio 4
    per_layer = 16 * t * b * h + mlp_extra + a * t * t * b + 4 * t * b + (t * b * h if b == 1 else 0)
    parts = {"input": s.channels * s.height * s.width_px * b, "blocks": s.layers * per_layer}
    if s.layer_scale:
        parts["layer scale"] = s.layers * 2 * t * b * h
    if s.qk_norm:
        parts["q/k norm"] = s.layers * ((1 if b == 1 else 3) * t * b * h + 4 * a * t * b)
    if s.pre_norm:
        parts["pre-norm"] = t * b * h + 2 * t * b
    if s.final_norm:
        parts["final norm"] = t * b * h + 2 * t * b
    if s.pool == "map":
        parts["attention pool"] = 3 * t * b * h + int(round((4 + 2 * s.pool_mlp_ratio) * b * h)) + 2 * b + \
            s.pool_heads * b
    if s.fc_norm:
        parts["pooled norm"] = b * h + 2 * b
    if s.head:
        parts["head"] = t * b * h if s.pool == "token" else b * h  # the CLS token is a view of the norm's output
    return parts


CLASSIC_END = ("final norm", "head")  # the formula's 2sbh + 2sb: the final norm (sbh + 2sb) and the head (sbh)
PART_TERMS = {  # what each part beyond the classic ViT keeps, as the formula writes it
    "layer scale": "layer scale keeps both its inputs, 2·L·sbh",
    "q/k norm": "the q and k LayerNorms keep their statistics and own q and k, L·(3sbh + 4asb) (L·(sbh + 4asb) "
                "for one image)",
    "pre-norm": "the LayerNorm before block 1 keeps its input and statistics, sbh + 2sb",
    "attention pool": "the attention pool keeps its key/value input, its k and v, query, output and MLP, "
                      "3sbh + (4 + 2·mlp ratio)·bh + 2b + a_pool·b",
    "pooled norm": "average pooling keeps nothing, its LayerNorm on the pooled vector bh + 2b",
}


def parts_sentence(s: Shape) -> str:
    """How this model's activations differ from the classic ViT's formula, part by part ('' for the classic ViT)."""
    parts = training_activation_parts(s, 2)
    extra = [PART_TERMS[k] for k in PART_TERMS if k in parts]
    if "final norm" not in parts:
        extra.append("there is no final norm on every token (its sbh + 2sb is not kept)")
    if "head" not in parts:
        extra.append("there is no head, so nothing is kept for one (the formula's last sbh)")
    elif s.pool != "token":
        extra.append("the head reads the pooled vector, so it keeps bh, not the sbh of a CLS token's view")
    if not extra:
        return ""
    return "This model's own parts change the formula: " + "; ".join(extra) + "."


def layer_numbers(s: Shape) -> tuple[int, int]:
    """Per layer and image: (T·D numbers of the token vectors, H·T² numbers of the attention matrices)."""
    return s.tokens * s.width, s.heads * s.tokens ** 2


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


def timing_input(model: torch.nn.Module, batch: int = 1) -> tuple[int, ...]:
    """Shape of the random input ``time_forward`` times: the model's own input size."""
    size = model.patch_embed.img_size
    return (batch, 3, size[0], size[1])


def cuda_name() -> str | None:
    """The CUDA GPU torch can use, or None (``torch.cuda.is_available()`` is False)."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def compute_heading(gpu: bool) -> str:
    """The Bits page's compute section heading: the GPU multiplies only where there is one (``cuda_name``)."""
    if gpu:
        return "6 · Compute: the CPU runs the program, the GPU multiplies"
    return "6 · Compute: the CPU runs the program; with no GPU on this server, the CPU multiplies too"


def time_forward(model: torch.nn.Module, batch: int = 1, repeats: int = 5,
                 device: torch.device | str | None = None) -> float:
    """Median seconds per image of a plain forward pass on ``device`` (default: the model's own), on a
    random input of the model's size (``timing_input``): the multiply-adds do not depend on the pixel
    values. On another device it times a copy of the model there."""
    own = next(model.parameters()).device
    device = torch.device(device) if device is not None else own
    if device.type != own.type:
        model = copy.deepcopy(model).to(device)
    x = torch.randn(*timing_input(model, batch), device=device, dtype=input_dtype(model))
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


@dataclass(frozen=True)
class TrainingData:
    """What a checkpoint was trained on (for the comparison with its weights' size)."""

    what: str
    images: int
    approximate: bool  # a round figure
    source: str  # the papers (literature) or the document that records it
    literature: bool  # True: a figure reported by papers, not measured here
    shown: str = ""  # how many images training showed, when some were shown more than once ("" : each once)

    @property
    def count(self) -> str:
        return f"about {self.images / 1e6:,.0f} million" if self.approximate else f"{self.images:,}"

    @property
    def trained_on(self) -> str:
        """What follows "trained on": "the ImageNet-1k training set: 1,281,167 images", or the data then how many
        images were shown and how many differ."""
        return f"{self.what}; {self.shown}" if self.shown else f"{self.what}: {self.count} images"

    @property
    def unit(self) -> str:
        """What ``images`` counts: "images", or "different images" where some were shown twice."""
        return "different images" if self.shown else "images"


SHAPES_TRAINING_STEPS = (16_000, 1_000)  # vitviz/assets/MODEL_CARD.md: stage 1 and stage 2
SHAPES_BATCH = 64  # a fresh batch of generated images at every step
# stage 2 ran with the same seed and counts its steps from 0 again, so its 1,000 batches are stage 1's first 1,000
SHAPES_SHOWN = (f"it saw {sum(SHAPES_TRAINING_STEPS) * SHAPES_BATCH:,} images: "
                f"{SHAPES_TRAINING_STEPS[0] * SHAPES_BATCH:,} different ones in stage 1 ({SHAPES_TRAINING_STEPS[0]:,} "
                f"batches of {SHAPES_BATCH}), and stage 2 re-used stage 1's first {SHAPES_TRAINING_STEPS[1]:,} batches")
IMAGENET_1K = 1_281_167  # the ILSVRC-2012 training set (Russakovsky et al. 2015)
IMAGENET_21K = TrainingData("ImageNet-21k, then fine-tuned on ImageNet-1k", 14_000_000, True,
                            "Deng et al. 2009, ImageNet; Steiner et al. 2022, “How to train your ViT?”, AugReg", True)
TRAINING_DATA: dict[str, TrainingData] = {  # by the pretrained tag of the timm name
    "augreg_in21k_ft_in1k": IMAGENET_21K,
    "augreg2_in21k_ft_in1k": IMAGENET_21K,
    "fb_in1k": TrainingData("the ImageNet-1k training set", IMAGENET_1K, False,
                            "Russakovsky et al. 2015, ILSVRC-2012; Touvron et al. 2021, DeiT", True),
    "dino": TrainingData("the ImageNet-1k training set, without its labels", IMAGENET_1K, False,
                         "Russakovsky et al. 2015, ILSVRC-2012; Caron et al. 2021, DINO", True),
    "lvd142m": TrainingData("LVD-142M, web photos without labels", 142_000_000, True,
                            "Oquab et al. 2023, DINOv2, §3 (data processing)", True),
    "fb_in22k_ft_in1k": TrainingData("ImageNet-21k, then fine-tuned on ImageNet-1k", 14_000_000, True,
                                     "Deng et al. 2009, ImageNet; Touvron et al. 2022, DeiT III", True),
    "1200ep_in1k": TrainingData("the ImageNet-1k training set", IMAGENET_1K, False,
                                "Russakovsky et al. 2015, ILSVRC-2012; Beyer et al. 2023, FlexiViT", True),
    "shapes": TrainingData("generated shape images", SHAPES_TRAINING_STEPS[0] * SHAPES_BATCH, False,
                           "vitviz/assets/MODEL_CARD.md, its Data section; vitviz/offline/train.py", False,
                           shown=SHAPES_SHOWN),
}


def training_data(bundle: Bundle) -> TrainingData | None:
    """What the published checkpoint of the model's architecture and tag was trained on (None: tag unknown).

    A fact about the weights on screen only when ``bundle.provenance.trained_as_documented``; for random
    weights or a user's file it is what the published checkpoint was trained on."""
    return TRAINING_DATA.get(bundle.spec.timm_name.split(".", 1)[-1])


def weights_file_bytes(bundle: Bundle) -> int | None:
    """Bytes on disk of the safetensors file the bundle's weights were read from (a local file, the Hugging Face
    cache, the bundled file): its tensors plus safetensors' header, which names each tensor and its shape. None
    when no file was read (random weights): ``nominal_file_bytes`` then says what the published file holds."""
    path = bundle.weights_path
    return os.path.getsize(path) if path is not None and os.path.isfile(path) else None


def nominal_file_bytes(bundle: Bundle) -> int:
    """Parameters × 4 bytes: the fp32 tensors of the published checkpoint's file, without its header."""
    return bundle.spec.params * 4


def file_format_note(tensor_bytes: int, params: int, bundled: bool) -> str:
    """What the bytes per parameter of a weights file say about its format, in words (", fp32" …), or ""."""
    per = tensor_bytes / params
    if bundled and round(per) == 2:
        return ": fp16, as the bundled model ships"
    return {4: ": fp32", 2: ": 16-bit floats"}.get(round(per), "") if abs(per - round(per)) < 0.01 else ""


def safetensors_header_bytes(path: str | os.PathLike) -> int:
    """Bytes before the tensors of a safetensors file: its first 8 bytes give the length N of the JSON header
    (little-endian) that follows them, so the tensors start at 8 + N."""
    with open(path, "rb") as f:
        return 8 + int.from_bytes(f.read(8), "little")


GPU_GB: dict[str, float] = {  # the memory printed on the box, in GB (10^9 bytes)
    "Laptop GPU, 8 GB": 8, "NVIDIA T4, 16 GB": 16, "NVIDIA L4 / RTX 4090, 24 GB": 24,
    "NVIDIA A100, 40 GB": 40, "NVIDIA A100 / H100, 80 GB": 80,
}
GPUS: dict[str, float] = {name: gb * 1e9 / 2**30 for name, gb in GPU_GB.items()}  # the same, in GiB (2^30 bytes)
CONTEXT_RESERVE_GIB = 1.0  # CUDA context and library workspaces, roughly; not part of any formula above


@dataclass(frozen=True)
class Fit:
    free: float  # bytes left for the model after the CUDA reserve
    weights: float  # inference: the weights in the format
    inference_per_image: float  # bytes of inference activations per image
    inference_batch: int
    training: TrainingMemory | None  # weights + gradients + optimizer state; None: not trained directly here
    training_per_image: float | None  # bytes of saved activations per image
    training_batch: int | None

    @property
    def training_bytes(self) -> float | None:
        """weights + gradients + optimizer + activations of the largest training batch."""
        if self.training is None:
            return None
        return self.training.total + self.training_batch * self.training_per_image


def largest_batch(s: Shape, model: torch.nn.Module, gpu_gib: float, dtype: str) -> Fit:
    """The largest batch that fits for inference (weights + activations) and for training with Adam
    (weights + gradients + optimizer state, 16 B per parameter in fp32 and in mixed precision, +
    activations in the format's bytes)."""
    free = gpu_gib * 2**30 - CONTEXT_RESERVE_GIB * 2**30
    act = ACTIVATION_BYTES[dtype]
    weights = model_bytes(model) / DTYPE_DIVISORS[dtype]
    per_inf = inference_activation_numbers(s, 1) * act
    inf = max(0, int((free - weights) // per_inf)) if free > weights else 0
    if dtype not in ACCELERATE_PEAK_MULTIPLIER:
        return Fit(free, weights, per_inf, inf, None, None, None)
    state = training_memory(model, dtype)
    per_train = training_activation_numbers(s, 2) / 2 * act  # per image, for batches ≥ 2
    train = max(0, int((free - state.total) // per_train)) if free > state.total else 0
    return Fit(free, weights, per_inf, inf, state, per_train, train)
