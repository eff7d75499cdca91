"""What running the model in fewer bits changed: one line above every page, and a section of Bits & memory.

Both read one experiment per (identity, image): the analysis at the sidebar's number format against the fp32
analysis of the same image by the same model, and the bytes each stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vitviz.figures.bits import bit_fields
from vitviz.figures.prediction import short_label
from vitviz.figures.steps import depth_lines
from vitviz.model import precision
from vitviz.model.precision import WeightBytes, stored_bytes, stored_weight
from vitviz.stages import numbers
from vitviz.stages.precision import Drift, drift, summary

from .charts import chart
from .context import Context
from .timing import DEVICE_NAMES, time_per_image

MB = 1e6
WEIGHT_LAYER = "blocks.0.attn.qkv"  # the weight shown "as stored": block 1's query/key/value projection


@dataclass(frozen=True)
class PrecisionDrift:
    drift: Drift  # this image at the running precision against fp32
    weights: WeightBytes  # the running model's bytes as stored
    weights_fp32: WeightBytes  # the same model's in fp32


def precision_drift(ctx: Context) -> PrecisionDrift:
    """The model on screen at its precision against fp32, on this image: computed once per identity and image."""
    def run() -> PrecisionDrift:
        return PrecisionDrift(drift(ctx.reference, ctx.analysis, ctx.precision), stored_bytes(ctx.bundle.model),
                              stored_bytes(ctx.fp32.model))
    return ctx.experiment("precision_drift", run=run, label="Comparing with fp32…")


def precision_line(ctx: Context) -> None:
    """One line above every page when the model does not run in fp32: bytes, prediction and attention against fp32."""
    d = precision_drift(ctx)
    st.caption(summary(d.drift, d.weights, d.weights_fp32) + " · details on the Bits & memory page")


def _not_fp32_intro(ctx: Context) -> None:
    reasons = precision.offered(ctx.bundle.device, ctx.fp32.model)
    offered = [k for k, why in reasons.items() if why is None and k != "fp32"]
    missing = [f"{k} ({why})" for k, why in reasons.items() if why is not None]
    st.markdown("The model on screen runs in **fp32** (32-bit floats, as loaded). Pick another **number format** in "
                "the sidebar "
                f"({', '.join(offered)} run here) and this same model is stored and run in fewer bits: every page then "
                "shows it in that format, and this section measures what it saves and what it changes on your image."
                + (f" Not offered here: {'; '.join(missing)}." if missing else ""))


def _stored_weight(ctx: Context) -> None:
    layer = WEIGHT_LAYER if WEIGHT_LAYER in dict(ctx.bundle.model.named_modules()) else None
    if layer is None:
        return
    w = stored_weight(ctx.fp32.model, ctx.bundle.model, ctx.precision, layer, 0, 0)
    st.subheader("One weight, as the running model stores it")
    if w.code is None:
        fmt = {f.name: f for f in numbers.FLOAT_FORMATS}[ctx.precision]
        chart(bit_fields([numbers.encode_float(w.fp32, numbers.FLOAT_FORMATS[0]), numbers.encode_float(w.value, fmt)],
                         f"{w.name}: as loaded (fp32) and as the model holds it ({ctx.precision})"),
              key="prec_weight_bits")
        exact = (f" This weight is exactly representable in {ctx.precision}"
                 + (": the bundled model's weights ship in fp16, so casting them back loses nothing, and what changes "
                    "comes from fp16 arithmetic." if ctx.bundle.spec.bundled and ctx.precision == "fp16" else ".")
                 if w.error == 0 else "")
        st.markdown(f"`{w.name}` is **{w.fp32!r}** as loaded; the {ctx.precision} model holds **{w.value!r}** "
                    f"(error {w.error:+.2e}) and computes with that number.{exact}")
        return
    bits = 8 if ctx.precision == "int8" else 4
    stored = (f"({numbers.integer_bits_sentence(w.code, 8)})" if bits == 8 else
              f"(as a 4-bit code {numbers.integer_bits_sentence(w.code, 4)}; kept in a full byte here: "
              f"`{numbers.integer_bits(w.code, 8)}`)")
    st.markdown(f"`{w.name}` is **{w.fp32!r}** as loaded. The {ctx.precision} model holds the integer "
                f"**{w.code}** {stored}, with the scale **{w.scale:.6g}** and zero point "
                f"**{w.zero_point}** shared by {w.group}. The value it stands for is scale × (code − zero point) = "
                f"{w.scale:.6g} × ({w.code} − {w.zero_point}) = **{w.value:.6g}** (error {w.error:+.2e}).")
    if ctx.precision == "int8":
        st.caption("In int8 the matrix product itself runs on integers: the layer's input is rounded to int8 codes "
                   "on the fly, multiplied with these codes, and the integer sums are scaled back.")
    else:
        st.caption("int4 is weight-only: before the matrix product the codes are turned back into numbers "
                   "(scale × (code − zero point)) and multiplied with the fp32 input.")


def _powers(fig: go.Figure) -> go.Figure:
    """Small numbers as 1.5×10⁻⁵, not plotly's SI prefixes (“15µ”), which read as units."""
    return fig.update_yaxes(exponentformat="power")


def precision_section(ctx: Context) -> None:
    """Bits & memory's section: the model on screen in the sidebar's number format, against fp32, measured."""
    st.header("2 · This model in fewer bits, measured")
    if ctx.precision == "fp32":
        _not_fp32_intro(ctx)
        return
    d = precision_drift(ctx)
    device = ctx.bundle.device.type  # where the model on screen runs: section 6 shows the same measurement
    sec32, sec = time_per_image(ctx, device, fp32=True), time_per_image(ctx, device)
    st.markdown(precision.PRECISIONS[ctx.precision].what)
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Weights stored, {ctx.precision}", f"{d.weights.total / MB:,.2f} MB",
              f"{d.weights.total / d.weights_fp32.total:.1%} of fp32's {d.weights_fp32.total / MB:,.2f} MB",
              delta_color="off", delta_arrow="off", help="Measured tensor by tensor: codes, scales and zero points of the quantised ones.")
    m2.metric("Weight matrices of the Linear layers", f"{d.weights.linear_weights / MB:,.2f} MB",
              f"{d.weights.linear_weights / d.weights_fp32.linear_weights:.1%} of fp32", delta_color="off", delta_arrow="off")
    m3.metric(f"Time / image, {ctx.precision}", f"{1000 * sec:.1f} ms",
              f"{sec / sec32:.2f} × fp32's {1000 * sec32:.1f} ms", delta_color="off", delta_arrow="off",
              help=f"Median of 5 runs on a random input of the model's size on this server's {DEVICE_NAMES[device]}. "
                   "Each model and number format is timed once, when someone first needs it, and that one "
                   "measurement is shown everywhere: here, in section 6, and to everyone using this server.")
    rest = d.weights.other / MB
    st.markdown(f"The **Linear layers** are the fully connected ones: query/key/value, attention's output, the MLP's two "
                f"matrices and the classifier. Everything else ({rest:,.2f} MB: LayerNorms, biases, the patch projection, "
                f"which is a convolution, the CLS token and the position embeddings) is stored as "
                f"{', '.join(d.weights.other_dtypes)}. "
                + ("**Faster** here" if sec < sec32 else "**Slower** here")
                + f" than fp32 ({sec / sec32:.2f}×): fewer bits in storage save memory (here, the stored "
                "weights), but time only where the processor has fast arithmetic in that format and the library uses it.")
    if d.drift.max_dprob is not None:
        rows = [{"rank": i + 1, "fp32": short_label(l32), "fp32 probability": f"{p32:.2%}",
                 ctx.precision: short_label(l), f"{ctx.precision} probability": f"{p:.2%}"}
                for i, ((l32, p32), (l, p)) in enumerate(zip(d.drift.top_fp32, d.drift.top))]
        st.dataframe(rows, hide_index=True)
        st.markdown(f"The most probable class is **{'the same' if d.drift.same_top1 else 'different'}**; the largest change of any "
                    f"class's probability is **{d.drift.max_dprob:.2g}**.")
    else:
        st.markdown(f"This model has no classifier: the tokens after its last block changed by "
                    f"**{d.drift.output_change:.2%}** of their size (the length of the change over the length of the "
                    "fp32 tokens).")
    depth = len(d.drift.attention_js)
    blocks = [str(i + 1) for i in range(depth)]
    g1, g2 = st.columns(2)
    with g1:
        chart(_powers(depth_lines(np.asarray(d.drift.attention_js)[None], ["mean JS divergence"],
                          "The CLS token's attention: how far it moved, per block", "JS divergence (0 … ln 2)",
                          "block", blocks)), key="prec_js")
    with g2:
        chart(_powers(depth_lines(np.asarray(d.drift.attention_max)[None], ["max |Δ attention|"],
                          "Largest change of any attention weight, per block", "max |Δ|", "block", blocks)),
              key="prec_max")
    js = np.asarray(d.drift.attention_js)
    rising = bool(np.all(np.diff(js) >= 0))
    st.markdown("The Jensen–Shannon divergence says how different two probability distributions are (0: identical; "
                f"ln 2 ≈ 0.69: no overlap). The CLS token's attention moved least in block {int(np.argmin(js)) + 1} and "
                f"most in block {int(np.argmax(js)) + 1}; it is "
                + ("larger after the last block than after the first" if js[-1] > js[0] else
                   "not larger after the last block than after the first")
                + (" and grows block after block" if rising and js[-1] > js[0] else "")
                + " on this image. Both analyses keep attention in float16, so changes of a weight below about 1e-3 "
                "are storage rounding, not the format's.")
    if d.drift.patch_vectors_max == 0:
        st.markdown("The patch vectors (before positions) did not change at all: the patch projection is a "
                    f"convolution, not a Linear layer, so {ctx.precision} leaves it in fp32.")
    else:
        st.markdown(f"The patch vectors (before positions) moved by up to {d.drift.patch_vectors_max:.2g} "
                    f"({d.drift.patch_vectors_change:.2%} of their size).")
    _stored_weight(ctx)
