"""Stage 5 — Bits and memory: what the numbers are made of, and what the model costs."""

import streamlit as st

from ui.charts import chart
from ui.tour import close_stage, open_stage
from vitviz.stages import memory, numbers
from vitviz.views import bits as views

ctx = open_stage("bits")
a, bundle = ctx.analysis, ctx.bundle
model = bundle.model  # handed to memory's formulas, which work on any torch module (checked against accelerate)
shape = memory.Shape.of(model)
MB = 1e6

st.info("**What the article gets wrong, and what is true.** Nothing is “converted into binary” at the end. "
        "Every pixel, weight and vector is stored in binary from the start, as a floating-point number (fp32 here: "
        "32 bits = 4 bytes each). Memory is simply *how many numbers* × *bytes per number*; smaller formats "
        "(fp16, bf16, fp8, int8, int4) save memory by keeping fewer bits, at the price of rounding error.",
        icon="💡")

st.header("1 · One number, in bits")
index = ctx.patch
sources = {**ctx.experiment("values", index, run=lambda: memory.values_to_inspect(bundle, a, index),
                            label="Reading the model…"),
           "Type your own": None}
pick = st.selectbox("Which number?", list(sources), key="bits_source")
value = sources[pick]
if value is None:
    value = st.number_input("Your number", value=0.1, format="%.10g", key="bits_custom")
encoded = [numbers.encode_float(value, f) for f in numbers.FLOAT_FORMATS]
chart(ctx.figure(views.one_number, float(value)), key="bits_fields")
st.dataframe([{"format": e.format, "bits": e.bits, "stored value": repr(e.stored),
               "rounding error": f"{e.error:+.3e}", "note": e.note} for e in encoded], hide_index=True)
lo, hi = memory.projection_weight_range(bundle)
qrows = [numbers.quantize(value, lo, hi, b) for b in (8, 4)]
st.dataframe([{"format": q.format, "scale": f"{q.scale:.3e}", "zero point": q.zero_point, "stored integer": q.integer,
               "value back": f"{q.stored:.6g}", "quantisation error": f"{q.error:+.3e}"} for q in qrows],
             hide_index=True)
st.caption(f"Float formats: value = (−1)^sign × 2^(exponent − bias) × 1.mantissa, rounded by torch's own casts "
           f"(e4m3 has no infinity and saturates at ±448; e5m2 overflows to inf above 57344). Integer formats use one "
           f"scale and zero point for a whole tensor: here the range of the patch projection's weights "
           f"[{lo:.4f}, {hi:.4f}], via torch.fake_quantize_per_tensor_affine.")

st.header("2 · Text and pixels are bytes too")
text = st.text_input("Text", "What is Botpress?", key="bits_text")
rows = numbers.utf8_bits(text)
st.dataframe([{"character": c, "UTF-8 bytes": h, "bits": b} for c, h, b in rows], hide_index=True, height=220)
total_bytes = len(text.encode("utf-8"))
st.markdown(f"“{text}” is **{total_bytes} bytes = {8 * total_bytes} bits** as text. The image as the model sees it "
            f"is {a.image.shape[0]}×{a.image.shape[1]}×3 = **{a.image.size:,} bytes** of 8-bit pixels. Its "
            f"{a.num_patches} patch vectors are {a.num_patches}×{a.embed_dim} = {a.patch_embeddings.size:,} numbers of "
            f"4 bytes = **{4 * a.patch_embeddings.size:,} bytes**, already binary.")

st.header("3 · The model's memory")
rows = memory.weight_memory(model)
params = memory.parameter_count(model)
name, layer_bytes = memory.largest_layer(model)
m1, m2, m3 = st.columns(3)
m1.metric("Parameters (counted in the model)", f"{params:,}")
m2.metric("fp32 size", f"{memory.model_bytes(model) / MB:,.2f} MB")
m3.metric("Largest layer", f"{name}", f"{layer_bytes / MB:.2f} MB", delta_color="off")
st.dataframe([{"dtype": r.dtype, "weights (MB)": round(r.total / MB, 3), "largest layer (MB)": round(r.largest_layer / MB, 3),
               "training with Adam (MB)": f"{r.training_adam / MB:,.3f}" if r.training_adam else "not trainable"}
              for r in rows], hide_index=True)
st.caption("Same rule and numbers as Hugging Face accelerate's `estimate-memory`: training with Adam in fp32 = 4 × "
           "the fp32 size (weights + gradients + two Adam moments); fp16/bf16 mixed precision = 2 × the fp32 size; "
           "int8/int4 are not trainable. Simplified: it leaves out activations (below), the CUDA context and "
           "fragmentation.")

st.header("4 · Activations: the memory that grows with the batch and the tokens")
st.latex(r"\text{saved for backward (fp32)} = L\,(16sbh + a s^2 b + 4sb) + 3HWb + 2sbh + 2sb \;(+\,L\,sbh \text{ if } b=1)")
st.markdown(f"L = {shape.layers} blocks, h = {shape.width}, a = {shape.heads} heads, s = T = {shape.tokens} tokens, "
            f"b = batch. The **a·s²·b** term is the attention matrices: heads·T² numbers per layer, quadratic in "
            "the tokens.")
c1, c2 = st.columns(2)
batch = c1.select_slider("Batch size", [1, 2, 4, 8, 16, 32, 64, 128], value=8, key="act_batch")
res_options = sorted({shape.patch * k for k in range(4, 33) if shape.patch * k <= 2 * shape.height} | {shape.height})
res = c2.select_slider("Resolution (px)", res_options, value=shape.height, key="act_res")
s_res = memory.Shape.of(model, height=res)
chart(ctx.figure(views.activations, batch, res), key="act_bars")
chart(ctx.figure(views.activations_by_batch, res), key="act_scaling")
if st.button("Measure it now on this device", key="act_measure"):
    st.session_state["act_measured"] = True
if st.session_state.get("act_measured"):
    for b in (1, batch):
        measured = ctx.experiment("act_measure", b, res, run=lambda b=b: memory.measure_saved_activations(model, b, res),
                                  label=f"Measuring batch {b}…")
        formula = memory.training_activation_numbers(s_res, b) * 4
        st.markdown(f"Batch {b}: measured **{measured / MB:,.2f} MB** (sum of the unique storages autograd saved, "
                    f"via `torch.autograd.graph.saved_tensors_hooks`); formula **{formula / MB:,.2f} MB** "
                    f"({100 * (formula / measured - 1):+.2f}%).")

st.header("5 · Compute: multiply-adds, not “temporary execution”")
macs_no = memory.macs(shape, attention_matmuls=False)
macs_all = memory.macs(shape)
sec = ctx.experiment("time_forward", run=lambda: memory.time_forward(model), label="Timing the model…")
k1, k2, k3, k4 = st.columns(4)
k1.metric("GMACs / image without attention matmuls (timm model cards)", f"{macs_no / 1e9:.3f}")
k2.metric("GMACs / image with Q·Kᵀ and A·V (timm benchmark tables)", f"{macs_all / 1e9:.3f}")
k3.metric(f"Measured time / image on {bundle.device.type.upper()}", f"{1000 * sec:.1f} ms")
k4.metric("Achieved", f"{2 * macs_all / sec / 1e9:.1f} GFLOP/s", help="2 FLOPs per multiply-accumulate")
st.markdown("A GPU does not run a program “temporarily”: it runs these same multiply-adds, thousands at a time "
            "in parallel, which is why it is fast at them. The memory it needs is the counts above × bytes.")

st.header("6 · Will it fit?")
g1, g2 = st.columns(2)
gpu = g1.selectbox("GPU", list(memory.GPUS), index=1, key="fit_gpu")
dtype = g2.selectbox("Format", ["fp32", "fp16", "bf16", "int8", "int4"], key="fit_dtype")
fit = memory.largest_batch(shape, memory.model_bytes(model), memory.GPUS[gpu], dtype)
f1, f2 = st.columns(2)
f1.metric("Largest inference batch", f"{fit.inference_batch:,}")
f2.metric("Largest training batch (Adam)", f"{fit.training_batch:,}" if fit.training_batch is not None else "not trainable")
st.caption(f"{memory.CONTEXT_RESERVE_GIB:g} GiB kept for the CUDA context; activations in the format's bytes "
           "(int formats: fp16 activations). An estimate from the formulas above, not a guarantee.")
chart(ctx.figure(views.patch_size_cost), key="fit_patches")
close_stage("bits")
