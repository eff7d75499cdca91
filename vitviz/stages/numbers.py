"""Number formats: one value in fp32, fp16, bf16, fp8 (e4m3, e5m2), int8 and int4, bit by bit.

Every rounding is torch's own: float formats through ``Tensor.to(dtype)``, integer formats through
``torch.fake_quantize_per_tensor_affine`` (round to nearest, clamp to the range, scale back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class FloatFormat:
    name: str
    dtype: torch.dtype
    exponent_bits: int
    mantissa_bits: int
    int_view: torch.dtype  # same-width integer dtype, to read the raw bits

    @property
    def bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def finfo(self) -> torch.finfo:
        return torch.finfo(self.dtype)


FLOAT_FORMATS: tuple[FloatFormat, ...] = (
    FloatFormat("fp32", torch.float32, 8, 23, torch.int32),
    FloatFormat("fp16", torch.float16, 5, 10, torch.int16),
    FloatFormat("bf16", torch.bfloat16, 8, 7, torch.int16),
    FloatFormat("fp8 e4m3", torch.float8_e4m3fn, 4, 3, torch.uint8),
    FloatFormat("fp8 e5m2", torch.float8_e5m2, 5, 2, torch.uint8),
)


@dataclass(frozen=True)
class Encoded:
    format: str
    bits: str  # e.g. "0 01111011 10011001100110011001101"
    sign: str
    exponent: str
    mantissa: str
    stored: float  # the value the format actually holds
    error: float  # stored − original
    note: str  # "", "overflow → inf", "saturated at ±448", "underflow → 0"


def encode_float(value: float, fmt: FloatFormat) -> Encoded:
    """Store ``value`` (given as fp64) in ``fmt`` with torch's cast and read the bits back."""
    t = torch.tensor([value], dtype=torch.float64).to(fmt.dtype)
    stored = float(t.to(torch.float64)[0])
    raw = int(t.view(fmt.int_view)[0]) & ((1 << fmt.bits) - 1)
    bits = format(raw, f"0{fmt.bits}b")
    s, e, m = bits[0], bits[1:1 + fmt.exponent_bits], bits[1 + fmt.exponent_bits:]
    note = ""
    if np.isinf(stored) and np.isfinite(value):
        note = "overflow → inf"
    elif np.isnan(stored) and not np.isnan(value):
        note = "overflow → NaN"
    elif abs(value) > fmt.finfo.max and np.isfinite(stored):
        note = f"saturated at ±{fmt.finfo.max:g}"
    elif stored == 0 and value != 0:
        note = "underflow → 0"
    elif 0 < abs(stored) < fmt.finfo.smallest_normal:
        note = "subnormal"
    error = stored - value if np.isfinite(stored) else float("inf")
    return Encoded(fmt.name, f"{s} {e} {m}", s, e, m, stored, error, note)


@dataclass(frozen=True)
class Quantized:
    format: str
    bits: int
    scale: float
    zero_point: int
    integer: int  # the stored integer
    stored: float  # scale · (integer − zero_point)
    error: float


def quant_params(lo: float, hi: float, bits: int) -> tuple[float, int, int, int]:
    """Affine quantisation of the range [lo, hi] (always containing 0) to signed ``bits``-bit integers."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (qmax - qmin) if hi > lo else 1.0
    zero = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return scale, zero, qmin, qmax


def quantize(value: float, lo: float, hi: float, bits: int) -> Quantized:
    """``value`` stored as a ``bits``-bit integer with the scale and zero point of the range [lo, hi]."""
    scale, zero, qmin, qmax = quant_params(lo, hi, bits)
    x = torch.tensor([value], dtype=torch.float32)
    stored = float(torch.fake_quantize_per_tensor_affine(x, scale, zero, qmin, qmax)[0])
    integer = int(round(stored / scale)) + zero
    return Quantized(f"int{bits}", bits, scale, zero, integer, stored, stored - value)


def utf8_bits(text: str) -> list[tuple[str, str, str]]:
    """(character, its UTF-8 bytes in hex, its bits) for each character of ``text``."""
    out = []
    for ch in text:
        b = ch.encode("utf-8")
        out.append((ch, " ".join(f"{x:02X}" for x in b), " ".join(f"{x:08b}" for x in b)))
    return out
