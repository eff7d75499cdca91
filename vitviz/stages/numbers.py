"""Number formats: one value in fp32, fp16, bf16, fp8 (e4m3, e5m2), int8 and int4, bit by bit.

Every rounding is torch's own: float formats through ``Tensor.to(dtype)``, integer formats through
``torch.fake_quantize_per_tensor_affine`` (round to nearest, clamp to the range, scale back).

Reading the bits back (``decode``): a *normal* number (exponent field neither all 0s nor, where the
format has infinities, all 1s) is (−1)^sign × 2^(exponent − bias) × 1.mantissa₂; a *subnormal* one
(exponent field all 0s, mantissa not 0) is (−1)^sign × 2^(1 − bias) × 0.mantissa₂. bias = 2^(E−1) − 1.

What torch's casts do with values beyond the largest finite value ``max`` (checked in the tests): a
Python float (fp64) is rounded to fp32 first (``as_cast_sees_it``), then to nearest in the format, so anything below max + ½ ulp(max) is *rounded* to max (fp16: 65,519 →
65,504; e5m2: 61,439 → 57,344). From that threshold on (fp16 65,520, e5m2 61,440, bf16/fp32
2^128 − 2^(127−M)) the result is inf; e4m3fn has no inf and torch's cast saturates at ±448 (even ±inf).
"""

from __future__ import annotations

import math
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
    has_inf: bool = True  # e4m3fn: no infinities; only exponent and mantissa all 1s is NaN

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

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
    FloatFormat("fp8 e4m3", torch.float8_e4m3fn, 4, 3, torch.uint8, has_inf=False),
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
    note: str  # what the cast did beyond rounding: overflow, rounding to the largest value, saturation, underflow, subnormal


def overflow_threshold(fmt: FloatFormat) -> float:
    """max + ½ ulp(max): round-to-nearest sends values below it to max, and values from it on to inf
    (or, in a format without inf, past the largest value)."""
    top = fmt.finfo.max
    return top + 2.0 ** (math.floor(math.log2(top)) - fmt.mantissa_bits) / 2


def _fmt_num(x: float) -> str:
    return f"{x:,.0f}" if x < 1e7 else f"{x:.7g}"


def as_cast_sees_it(value: float, fmt: FloatFormat) -> float:
    """The number torch's cast actually rounds: torch casts a Python float (fp64) to fp16, bf16 and fp8
    through fp32, so it is rounded to fp32 first (65,519.999 becomes 65,520.0, then inf in fp16)."""
    if fmt.dtype == torch.float32:
        return value
    return float(torch.tensor(value, dtype=torch.float64).to(torch.float32))


def _note(value: float, stored: float, fmt: FloatFormat) -> str:
    top, limit = fmt.finfo.max, overflow_threshold(fmt)
    seen = as_cast_sees_it(value, fmt)
    if np.isinf(stored) and np.isfinite(value):
        return f"overflow → inf (from ±{_fmt_num(limit)} on)"
    if np.isnan(stored) and not np.isnan(value):
        return "overflow → NaN"
    if np.isfinite(stored) and abs(seen) > top:
        if abs(seen) < limit:
            return (f"rounded to ±{_fmt_num(top)}, the nearest value (rounding, not overflow)"
                    + (f"; inf only from ±{_fmt_num(limit)}" if fmt.has_inf else ""))
        return f"saturated at ±{_fmt_num(top)}: torch's cast clamps, this format has no inf"
    if stored == 0 and value != 0:
        return "underflow → 0"
    if 0 < abs(stored) < fmt.finfo.smallest_normal:
        return "subnormal: exponent field all 0s, read as 0.mantissa × 2^(1 − bias)"
    return ""


def encode_float(value: float, fmt: FloatFormat) -> Encoded:
    """Store ``value`` (given as fp64) in ``fmt`` with torch's cast and read the bits back."""
    t = torch.tensor([value], dtype=torch.float64).to(fmt.dtype)
    stored = float(t.to(torch.float64)[0])
    raw = int(t.view(fmt.int_view)[0]) & ((1 << fmt.bits) - 1)
    bits = format(raw, f"0{fmt.bits}b")
    s, e, m = bits[0], bits[1:1 + fmt.exponent_bits], bits[1 + fmt.exponent_bits:]
    error = stored - value if np.isfinite(stored) else float("inf")
    return Encoded(fmt.name, f"{s} {e} {m}", s, e, m, stored, error, _note(value, stored, fmt))


@dataclass(frozen=True)
class Decoded:
    kind: str  # "normal", "subnormal", "zero", "inf", "NaN"
    formula: str  # e.g. "+2^-4 × 1.600000024" (the significand in decimal)
    value: float  # what the formula gives: equals the stored value


def decode(e: Encoded, fmt: FloatFormat) -> Decoded:
    """Read the bits back by the formula (normal and subnormal numbers), independently of torch."""
    sign = -1.0 if e.sign == "1" else 1.0
    exp, man = int(e.exponent, 2), int(e.mantissa, 2)
    all_ones = exp == 2 ** fmt.exponent_bits - 1
    if all_ones and fmt.has_inf:
        return Decoded("inf", f"{'−' if sign < 0 else '+'}inf", sign * math.inf) if man == 0 else \
            Decoded("NaN", "NaN", math.nan)
    if all_ones and man == 2 ** fmt.mantissa_bits - 1:  # e4m3fn: S.1111.111 is its only NaN
        return Decoded("NaN", "NaN", math.nan)
    frac = man / 2 ** fmt.mantissa_bits
    if exp == 0:
        if man == 0:
            return Decoded("zero", f"{'−' if sign < 0 else '+'}0", sign * 0.0)
        power, significand, kind = 1 - fmt.bias, frac, "subnormal"
    else:
        power, significand, kind = exp - fmt.bias, 1 + frac, "normal"
    return Decoded(kind, f"{'−' if sign < 0 else '+'}2^{power} × {significand:.10g}",
                   sign * math.ldexp(significand, power))


@dataclass(frozen=True)
class Edge:
    format: str
    value: float
    stored: float
    note: str


RANGE_EDGES = (("fp16", 65_519.0), ("fp16", 65_520.0), ("fp8 e5m2", 61_439.0), ("fp8 e5m2", 61_440.0),
               ("fp8 e4m3", 450.0), ("fp8 e4m3", 1e6))


def range_edges() -> list[Edge]:
    """What torch's casts do just below and at each format's overflow threshold (``overflow_threshold``)."""
    by_name = {f.name: f for f in FLOAT_FORMATS}
    out = []
    for name, value in RANGE_EDGES:
        e = encode_float(value, by_name[name])
        out.append(Edge(name, value, e.stored, e.note))
    return out


SUBNORMAL_EXAMPLE = 3e-5  # below fp16's and e5m2's smallest normal (2^-14 ≈ 6.1e-05): stored as subnormals


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


def integer_bits(code: int, bits: int) -> str:
    """``code`` as a ``bits``-bit signed integer is stored: two's complement, where a non-negative number is plain
    binary with a leading 0 and a negative one is 2^bits + code (−5 in 8 bits: 256 − 5 = 251 = 11111011)."""
    if not -(1 << (bits - 1)) <= code < (1 << (bits - 1)):
        raise ValueError(f"{code} does not fit in {bits} signed bits")
    return format(code & ((1 << bits) - 1), f"0{bits}b")


def integer_bits_sentence(code: int, bits: int) -> str:
    """How the bits of ``code`` read, in words: plain binary for a number ≥ 0, two's complement for a negative one
    (a positive number is not "in two's complement" in any sense a learner would notice: its bits are its binary)."""
    stored = integer_bits(code, bits)
    if code >= 0:
        return (f"`{stored}`: plain binary, {code} = " + " + ".join(
            f"2^{i}" for i in reversed(range(bits)) if code >> i & 1) if code else f"`{stored}`: zero") + (
            "; the leading 0 says it is not negative")
    return (f"`{stored}`: a negative integer, stored in two's complement, the usual binary code for negative "
            f"integers: 2^{bits} − {-code} = {(1 << bits) + code}, whose leading 1 says it is negative")


def byte_level_tokens(text: str) -> list[int]:
    """One token per UTF-8 byte: where byte-level BPE (GPT-2's tokenizer) starts before merging
    frequent byte pairs into fewer, longer tokens. An honest upper bound, not a real tokenizer."""
    return list(text.encode("utf-8"))


def utf8_bits(text: str) -> list[tuple[str, str, str]]:
    """(character, its UTF-8 bytes in hex, its bits) for each character of ``text``."""
    out = []
    for ch in text:
        b = ch.encode("utf-8")
        out.append((ch, " ".join(f"{x:02X}" for x in b), " ".join(f"{x:08b}" for x in b)))
    return out
