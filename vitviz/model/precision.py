"""The number format a model runs in: fp32 as loaded, bf16 and fp16 by casting, int8 and int4 by quantising.

- bf16 / fp16: every parameter and buffer is cast (``Module.to``); the model computes in that format.
- int8: torchao's ``Int8DynamicActivationInt8WeightConfig`` on every ``nn.Linear``: each weight row
  (output channel) is stored as int8 codes with its own scale (zero point 0), and each Linear layer's input
  is rounded to int8 on the fly, one scale per token, before its matrix product (an integer product);
  attention's own products (Q·Kᵀ, A·V) stay fp32.
- int4: torchao's ``IntxWeightOnlyConfig(weight_dtype=torch.int4)`` on every ``nn.Linear``: weight-only,
  one scale per group of 32 weights of a row (zero point 0), activations stay fp32. This config stores each
  4-bit code in a byte of its own on every device (torchao's packed int4 layouts belong to other configs),
  so the rounding is that of int4 but the memory is slightly more than int8's: the bytes shown are measured.

torchao is the maintained route: ``torch.ao.quantization`` (``quantize_dynamic``) warns that it is
deprecated and points to torchao's ``quantize_``. What stays fp32 under int8/int4: every tensor that is not
a Linear weight (LayerNorms, biases, the patch projection, which is a convolution, the CLS token and the
position embeddings). ``stored_bytes`` counts what the model object really holds.

A converted model is a copy: the fp32 bundle stays as loaded (the pages compare against it).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from dataclasses import dataclass, replace

import torch

from vitviz.model.loading import Bundle, CallCounter

INT4_GROUP = 32  # weights of one row sharing a scale (a common group size; all zoo widths are multiples of it)


@dataclass(frozen=True)
class Precision:
    key: str  # "fp32", "bf16", "fp16", "int8", "int4"
    title: str  # for the picker
    compute_dtype: torch.dtype  # the format the input and the activations are in
    what: str  # one sentence: what is stored and how it computes


PRECISIONS: dict[str, Precision] = {p.key: p for p in (
    Precision("fp32", "fp32 (as loaded)", torch.float32,
              "32-bit floats, 4 bytes each: the model as loaded (the bundled model's weights ship in fp16 and are "
              "widened exactly)."),
    Precision("bf16", "bf16", torch.bfloat16,
              "Every weight and activation in bfloat16: fp32's range with 8 significant bits (7 stored + the leading "
              "1), 2 bytes each."),
    Precision("fp16", "fp16", torch.float16,
              "Every weight and activation in float16: 11 significant bits (10 stored + the leading 1), a smaller "
              "range, 2 bytes each."),
    Precision("int8", "int8 (torchao)", torch.float32,
              "The weight matrices of the fully connected (Linear) layers as 8-bit integers, one scale per row; each "
              "such layer's input is rounded to int8 on the fly (one scale per token) and multiplied as integers. "
              "Attention's own products stay fp32 (torchao, PyTorch's quantisation library)."),
    Precision("int4", "int4 weights (torchao)", torch.float32,
              f"The weight matrices of the fully connected (Linear) layers rounded to 4-bit integers, one scale per "
              f"{INT4_GROUP} weights of a row, each code kept in a byte of its own; only the weights are rounded, the "
              "activations stay fp32 (torchao, PyTorch's quantisation library)."),
)}
DEFAULT = "fp32"


def torchao_missing() -> str | None:
    """Why torchao cannot be used here, or None."""
    return None if importlib.util.find_spec("torchao") is not None else "needs torchao (`pip install torchao`)"


def unavailable(key: str, device: torch.device | str, model: torch.nn.Module | None = None) -> str | None:
    """Why ``key`` cannot run on ``device`` (for ``model``), in one line; None when it can."""
    device = torch.device(device)
    if key not in PRECISIONS:
        return f"unknown number format {key!r}; known: {', '.join(PRECISIONS)}"
    if key == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        return "this GPU has no bf16 arithmetic (torch would emulate it)"
    if key in ("int8", "int4"):
        missing = torchao_missing()
        if missing:
            return missing
    if key == "int4" and model is not None:
        odd = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.in_features % INT4_GROUP]
        if odd:
            return f"{odd[0]} has {dict(model.named_modules())[odd[0]].in_features} inputs, not a multiple of {INT4_GROUP}"
    return None


def offered(device: torch.device | str, model: torch.nn.Module | None = None) -> dict[str, str | None]:
    """Every precision, with None when it runs here or the one-line reason why it does not."""
    return {key: unavailable(key, device, model) for key in PRECISIONS}


class _TorchaoEnumNotice(logging.Filter):
    """Drops exactly one log line: torch 2.14 logs that registering an Enum as a pytree constant is deprecated, and
    torchao 0.18 does that for its own ``KernelPreference`` when ``torchao.quantization`` is imported
    (``torchao.utils.register_as_pytree_constant``). It is torchao's internals, not a call vitviz makes or could
    make differently, and it printed on every int8/int4 run; every other message of that logger still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage().endswith("is an Enum subclass and is now natively supported by torch.compile "
                                                 "as an opaque value type. Calling register_constant() on Enum "
                                                 "subclasses is deprecated and will be an error in a future release.")
                    and "KernelPreference" in record.getMessage())


def _import_torchao():
    """torchao's quantisation API, imported without torch's notice about torchao's own enum (see above)."""
    notice, pytree_log = _TorchaoEnumNotice(), logging.getLogger("torch.utils._pytree")
    pytree_log.addFilter(notice)
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, IntxWeightOnlyConfig, quantize_
        from torchao.quantization.granularity import PerGroup
    finally:
        pytree_log.removeFilter(notice)
    return Int8DynamicActivationInt8WeightConfig, IntxWeightOnlyConfig, quantize_, PerGroup


def _quantise(model: torch.nn.Module, key: str) -> None:
    Int8DynamicActivationInt8WeightConfig, IntxWeightOnlyConfig, quantize_, PerGroup = _import_torchao()

    config = (Int8DynamicActivationInt8WeightConfig() if key == "int8"
              else IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(INT4_GROUP)))
    quantize_(model, config)  # every nn.Linear, in place


def convert_model(model: torch.nn.Module, key: str) -> torch.nn.Module:
    """A copy of ``model`` (fp32) in the format ``key``; the capture hooks come along with the copy."""
    if key == "fp32":
        return model
    reason = unavailable(key, next(model.parameters()).device, model)
    if reason:
        raise ValueError(f"{key} is not offered here: {reason}")
    out = copy.deepcopy(model)
    if key in ("int8", "int4"):
        _quantise(out, key)
    else:
        out.to(PRECISIONS[key].compute_dtype)
    return out.eval()


def to_precision(bundle: Bundle, key: str) -> Bundle:
    """The bundle's model in the format ``key``: a model of its own (own call counter), same transform and labels."""
    if bundle.fell_back:
        raise ValueError("convert the loaded model, not a fallback view of it")
    if bundle.precision != "fp32":
        raise ValueError(f"convert from fp32, not from {bundle.precision}")
    if key == "fp32":
        return bundle
    return replace(bundle, model=convert_model(bundle.model, key), precision=key, calls=CallCounter())


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor really holds: a torchao tensor is the sum of its inner tensors (codes, scales, zero points)."""
    if hasattr(t, "__tensor_flatten__"):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


@dataclass(frozen=True)
class WeightBytes:
    """What the model's parameters and buffers occupy, measured tensor by tensor."""

    total: int  # bytes
    linear_weights: int  # bytes of the nn.Linear weights (what int8/int4 quantise)
    other: int  # bytes of everything else (norms, biases, patch projection, CLS token, positions)
    other_dtypes: tuple[str, ...]  # the formats those are stored in


def stored_bytes(model: torch.nn.Module) -> WeightBytes:
    """Bytes of every parameter and buffer as stored, Linear weights apart."""
    linear_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    lin = other = 0
    dtypes: set[str] = set()
    for t in list(model.parameters()) + list(model.buffers()):
        n = tensor_bytes(t)
        if id(t) in linear_ids:
            lin += n
        else:
            other += n
            dtypes.add(str(t.dtype).removeprefix("torch."))
    return WeightBytes(lin + other, lin, other, tuple(sorted(dtypes)))


@dataclass(frozen=True)
class StoredWeight:
    """One Linear weight of the running model, as stored and as computed with."""

    name: str  # e.g. "blocks.0.attn.qkv.weight[0, 0]"
    fp32: float  # the value as loaded
    precision: str
    stored: str  # what the model holds: a float in the format, or "code 87" for integer formats
    code: int | None  # the integer code (int8/int4), None for float formats
    scale: float | None  # the scale of its row (int8) or group (int4)
    zero_point: int | None
    group: str | None  # which weights share the scale, in words
    value: float  # the number the model computes with: the cast value, or scale × (code − zero point)

    @property
    def error(self) -> float:
        return self.value - self.fp32


def stored_weight(fp32_model: torch.nn.Module, model: torch.nn.Module, precision: str, layer: str,
                  row: int = 0, col: int = 0) -> StoredWeight:
    """Weight [row, col] of the Linear layer ``layer`` (e.g. "blocks.0.attn.qkv") in ``model`` (format
    ``precision``), next to the fp32 value in ``fp32_model``."""
    ref = dict(fp32_model.named_modules())[layer].weight.detach()  # [out, in]
    w = dict(model.named_modules())[layer].weight.detach()
    name, original = f"{layer}.weight[{row}, {col}]", float(ref[row, col])
    if not hasattr(w, "qdata"):
        v = float(w[row, col].float())
        return StoredWeight(name, original, precision, repr(v), None, None, None, None, v)
    scale_grid, zp_grid = w.scale, w.zero_point  # [out, in / group] (int8: one column, the whole row)
    per = w.shape[1] // scale_grid.shape[1]
    g = col // per
    code, scale, zp = int(w.qdata[row, col]), float(scale_grid[row, g]), int(zp_grid[row, g])
    group = (f"row {row} (all {w.shape[1]} inputs)" if scale_grid.shape[1] == 1
             else f"row {row}, inputs {g * per}…{g * per + per - 1}")
    return StoredWeight(name, original, precision, f"code {code}", code, scale, zp, group, scale * (code - zp))
