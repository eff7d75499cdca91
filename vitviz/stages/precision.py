"""What changes when the same model runs in fewer bits: the same image analysed at fp32 and at another
precision, compared number by number (prediction, attention per layer, patch vectors), and the weights'
bytes and the time per image measured side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitviz.model.analysis import Analysis, analyze
from vitviz.model.loading import Bundle
from vitviz.model.precision import WeightBytes, offered, stored_bytes, to_precision
from vitviz.stages import memory

TOP_K = 5


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    e = np.exp(z)
    return e / e.sum()


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence (natural log, 0 … ln 2) between distributions along the last axis."""
    p = np.clip(p.astype(np.float64), 0, None)
    q = np.clip(q.astype(np.float64), 0, None)
    p, q = p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log(a / b), 0.0).sum(-1)

    return (kl(p, m) + kl(q, m)) / 2


@dataclass(frozen=True)
class Drift:
    """The same image at fp32 and at ``precision``, compared."""

    precision: str
    top_fp32: tuple[tuple[str, float], ...]  # (label, probability) of fp32's top 5; empty without a classifier
    top: tuple[tuple[str, float], ...]  # the same at ``precision``
    max_dprob: float | None  # max |Δ probability| over every class; None without a classifier
    output_change: float  # ‖Δ output‖ / ‖fp32 output‖ (logits; the last block's tokens without a classifier)
    attention_max: np.ndarray  # [L]: max |Δ attention probability| per layer, every head and row
    attention_js: np.ndarray  # [L]: mean JS divergence of the CLS token's attention rows (over heads)
    row_sum_error: float  # max |Σ row − 1| of the attention rows at ``precision``
    patch_vectors_max: float  # max |Δ| of the patch vectors (before positions)
    patch_vectors_change: float  # ‖Δ‖ / ‖fp32‖ of the patch vectors

    @property
    def same_top1(self) -> bool | None:
        return None if not self.top else self.top[0][0] == self.top_fp32[0][0]

    @property
    def mean_js(self) -> float:
        return float(self.attention_js.mean())


def _top(a: Analysis) -> tuple[tuple[str, float], ...]:
    return tuple(zip(a.top_labels, a.top_probs))


def drift(fp32: Analysis, other: Analysis, precision: str) -> Drift:
    """Compare the analysis at ``precision`` with the fp32 analysis of the same image by the same model."""
    if fp32.image_hash != other.image_hash or fp32.model_key != other.model_key:
        raise ValueError("compare the same image by the same model")
    a32 = fp32.attentions.astype(np.float32)  # [L, H, T, T]
    a = other.attentions.astype(np.float32)
    has_head = fp32.logits.size > 0 and fp32.top_labels != ()
    max_dprob = float(np.abs(softmax(fp32.logits) - softmax(other.logits)).max()) if has_head else None
    final = (lambda x: x.logits) if has_head else (lambda x: x.block_outputs[-1])  # [C], or tokens [T, D]
    out32, out = final(fp32).astype(np.float64), final(other).astype(np.float64)
    pv32, pv = fp32.patch_embeddings.astype(np.float64), other.patch_embeddings.astype(np.float64)
    return Drift(
        precision=precision,
        top_fp32=_top(fp32), top=_top(other),
        max_dprob=max_dprob,
        output_change=float(np.linalg.norm(out - out32) / max(np.linalg.norm(out32), 1e-12)),
        attention_max=np.abs(a - a32).max(axis=(1, 2, 3)),
        attention_js=js_divergence(a[:, :, 0, :], a32[:, :, 0, :]).mean(axis=1),
        row_sum_error=float(np.abs(a.sum(-1) - 1).max()),
        patch_vectors_max=float(np.abs(pv - pv32).max()),
        patch_vectors_change=float(np.linalg.norm(pv - pv32) / max(np.linalg.norm(pv32), 1e-12)),
    )


@dataclass(frozen=True)
class Cost:
    """Bytes and time of one bundle, to set beside fp32's."""

    weights: WeightBytes
    seconds: float  # median time per image, random input of the model's size


def cost(bundle: Bundle, repeats: int = 5) -> Cost:
    """Measure the bundle's stored bytes and its time per image on its own device."""
    return Cost(stored_bytes(bundle.model), memory.time_forward(bundle.model, repeats=repeats))


def summary(d: Drift, weights: WeightBytes, weights_fp32: WeightBytes) -> str:
    """One line for every page: the format, its bytes against fp32, and what happened to the prediction."""
    parts = [f"**Running in {d.precision}**: weights {weights.total / 1e6:,.2f} MB "
             f"({weights.total / weights_fp32.total:.0%} of fp32's {weights_fp32.total / 1e6:,.2f} MB)"]
    if d.max_dprob is not None:
        label = d.top[0][0]
        parts.append(f"most probable class {'the same as' if d.same_top1 else 'not the same as'} in fp32 ({label}"
                     + ("" if d.same_top1 else f" instead of {d.top_fp32[0][0]}") + ")")
        parts.append(f"largest change of any class's probability {d.max_dprob:.2g}")
    else:
        parts.append(f"the last block's tokens changed by {d.output_change:.2%} of their size")
    parts.append(f"the attention of the CLS token (the extra token the answer is read from) moved by a mean "
                 f"Jensen–Shannon divergence of {d.mean_js:.2g} (0: unchanged; ln 2 ≈ 0.69: no overlap)")
    return " · ".join(parts)


@dataclass(frozen=True)
class FormatReport:
    """One number format on one image, against fp32 (what ``python -m vitviz precision`` prints)."""

    precision: str
    top1: str | None  # None without a classifier
    top1_probability: float | None
    top1_same_as_fp32: bool | None
    max_abs_dprob: float | None  # vs fp32, every class
    mean_attention_js: float  # mean JS divergence of the CLS attention rows vs fp32, over layers and heads
    weight_bytes: int  # measured from the stored tensors
    weight_ratio: float  # to fp32's
    seconds_per_image: float  # median, random input of the model's size, this device
    time_ratio: float  # to fp32's, timed in the same run


def compare_formats(fp32_bundle: Bundle, image, keys: list[str] | None = None, repeats: int = 5
                    ) -> tuple[list[FormatReport], dict[str, str]]:
    """Analyse ``image`` in every format offered here (or ``keys``), against fp32 on the same image.

    Returns the reports and, for formats not offered here, the reason why."""
    reasons = offered(fp32_bundle.device, fp32_bundle.model)
    wanted = list(keys) if keys else list(reasons)
    skipped = {k: reasons.get(k) or "unknown format" for k in wanted if reasons.get(k) is not None or k not in reasons}
    ref = analyze(fp32_bundle, image)
    ref_cost = cost(fp32_bundle, repeats)
    reports = []
    for key in (k for k in wanted if k not in skipped):
        bundle = to_precision(fp32_bundle, key)
        a = analyze(bundle, image, ref.image_hash)
        d = drift(ref, a, key)
        c = cost(bundle, repeats) if key != "fp32" else ref_cost
        top = d.top[0] if d.top else (None, None)
        reports.append(FormatReport(key, top[0], top[1], d.same_top1, d.max_dprob, d.mean_js, c.weights.total,
                                    c.weights.total / ref_cost.weights.total, c.seconds, c.seconds / ref_cost.seconds))
    return reports, skipped
