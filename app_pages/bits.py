"""Stage 5 — Bits and memory: what the numbers are made of, and what the model costs."""

import streamlit as st

from ui.caches import of_model
from ui.charts import chart, chart_row
from ui.on_request import ask_button, asked
from ui.precision import precision_section
from ui.timing import DEVICE_NAMES, time_per_image, timed
from ui.tour import close_stage, open_stage
from vitviz.stages import memory, numbers
from vitviz.views import bits as views

ctx = open_stage("bits")
a, bundle = ctx.analysis, ctx.bundle  # the model on screen, in the sidebar's number format
model = ctx.fp32.model  # as loaded, in fp32: memory's formulas (checked against accelerate) give every format from it
shape = of_model(model, "shape", lambda: memory.Shape.of(model))
MB = 1e6
running = ("" if ctx.precision == "fp32" else
           f" The model on screen now runs in **{ctx.precision}** (the sidebar's number format): section 2 measures "
           "what that saves and what it changes.")

st.info("**What the article gets wrong, and what is true.** Nothing is “converted into binary” at the end. "
        "Every pixel is stored in binary from the start as an 8-bit integer, and every weight and vector as a "
        "floating-point number (**fp32** as loaded: a 32-bit floating-point number, 4 bytes each). Memory is simply *how many numbers* × *bytes per "
        "number*; smaller formats (fp16, bf16, fp8, int8, int4) save memory by keeping fewer bits, at the price of "
        "rounding error." + running, icon="💡")

st.header("1 · One number, in bits")
st.markdown("A floating-point number is three fields of bits: the **sign**, the **exponent** (the power of two that "
            "sets how large the number is) and the **mantissa** (the binary digits after the leading 1, which set how "
            "precise it is). fp32 has 1 + 8 + 23 bits, fp16 1 + 5 + 10, bf16 1 + 8 + 7, the fp8 formats 1 + 4 + 3 "
            "(e4m3) and 1 + 5 + 2 (e5m2).")
index = ctx.patch
FMT = {f.name: f for f in numbers.FLOAT_FORMATS}
tiny = f"A tiny number, {numbers.SUBNORMAL_EXAMPLE:g} (a subnormal in fp16 and fp8 e5m2)"
largest = ctx.built("largest weight", per_image=False, build=lambda: memory.largest_weight(ctx.fp32.model))
sources = {**ctx.experiment("values", index, run=lambda: memory.values_to_inspect(ctx.fp32, ctx.reference, index,
                                                                                   largest), label="Reading the model…"),
           tiny: numbers.SUBNORMAL_EXAMPLE, "Type your own": None}
pick = st.selectbox("Which number?", list(sources), key="bits_source",
                    help="Real numbers read from the model on screen as loaded (fp32), a tiny number, or your own. A subnormal is a number "
                         "below a format's smallest normal one, stored with a leading 0 instead of 1.")
value = sources[pick]
if value is None:
    value = st.number_input("Your number", value=0.1, format="%.10g", key="bits_custom")
encoded = [numbers.encode_float(value, f) for f in numbers.FLOAT_FORMATS]
decoded = [numbers.decode(e, f) for e, f in zip(encoded, numbers.FLOAT_FORMATS)]
chart(ctx.figure(views.one_number, float(value), per_image=False), key="bits_fields")
st.dataframe([{"format": e.format, "bits": e.bits, "kind": d.kind, "read back: sign × 2^power × significand": d.formula,
               "stored value": repr(e.stored), "rounding error": f"{e.error:+.3e}", "note": e.note}
              for e, d in zip(encoded, decoded)], hide_index=True)
stored = of_model(model, "stored_float_format", lambda: memory.stored_float_format(bundle.weights_path))
if pick in memory.WEIGHT_VALUES and stored not in (None, "fp32"):
    st.markdown(f"This model's weights are stored in **{stored}** in their file (every floating-point tensor in its "
                f"safetensors header) and widened to fp32 when loaded, so {stored} holds this weight exactly: the "
                f"{stored} row's rounding error is 0. Pick an activation (a value of a patch's vector, a "
                "pixel) to see rounding.")
sub = numbers.encode_float(numbers.SUBNORMAL_EXAMPLE, FMT["fp16"])
sub_read = numbers.decode(sub, FMT["fp16"])
smallest = FMT["fp16"].finfo.smallest_normal
st.markdown(f"**Reading the bits back.** A *normal* number is (−1)^sign × 2^(exponent − bias) × 1.mantissa₂, with "
            f"bias = 2^(E−1) − 1 for E exponent bits (127 in fp32 and bf16, 15 in fp16 and e5m2, 7 in e4m3). That "
            f"formula covers normal numbers only. When the exponent field is all 0s the number is **subnormal** (smaller "
            f"than the smallest normal number): the leading 1 becomes 0, (−1)^sign × 2^(1 − bias) × 0.mantissa₂, which "
            f"reaches closer to zero at the cost of precision. Example: {numbers.SUBNORMAL_EXAMPLE:g} in fp16 is stored as "
            f"`{sub.bits}` = {sub_read.formula} = {sub.stored!r} (the smallest normal fp16 number is 2^-14 = "
            f"{smallest:.4g}).")
st.markdown("**At the top of each range**, torch's casts round to the nearest value first, so a number a little above "
            "the largest one is *rounded* to it; only from max + ½ step (half the gap between the two "
            "largest values) on does it overflow to inf (infinity: the format's overflow value; fp8 e4m3 has no "
            "inf: torch's cast saturates, clamping to the largest value instead of overflowing, at ±448, even for "
            "inf). torch casts a typed number to fp16, bf16 and fp8 through "
            "fp32, so it is rounded to fp32 first: 65,519.999 becomes 65,520 there, and then inf in fp16.")
st.dataframe([{"format": r.format, "value": r.value, "stored by torch": repr(r.stored), "note": r.note}
              for r in numbers.range_edges()], hide_index=True)
lo, hi = of_model(model, "projection_range", lambda: memory.projection_weight_range(ctx.fp32))
qrows = [numbers.quantize(value, lo, hi, b) for b in (8, 4)]
st.markdown("**Quantisation** stores each number as a small integer times one shared **scale**: value ≈ scale × "
            "(integer − zero point), where the **zero point** is the integer that stands for the real value 0.")
st.dataframe([{"format": q.format, "scale": f"{q.scale:.3e}", "zero point": q.zero_point, "stored integer": q.integer,
               "value back": f"{q.stored:.6g}", "quantisation error": f"{q.error:+.3e}"} for q in qrows],
             hide_index=True)
st.caption(f"Float formats are rounded by torch's own casts (`Tensor.to`). Integer formats here use one scale and zero "
           f"point for a whole tensor: the range of the patch projection's weights [{lo:.4f}, {hi:.4f}], via "
           f"torch.fake_quantize_per_tensor_affine. The model in section 2 quantises differently: only the Linear "
           f"layers, with a scale per row (int8) or per 32 weights (int4) and zero point 0.")

precision_section(ctx)

st.header("3 · Text and pixels are bytes too")
text = st.text_input("Text", "What is Botpress?", key="bits_text",
                     help="Any text: each character becomes 1 to 4 bytes in UTF-8, the usual way to store text.")
rows = numbers.utf8_bits(text)
st.dataframe([{"character": c, "UTF-8 bytes": h, "bits": b} for c, h, b in rows], hide_index=True, height=220)
total_bytes = len(text.encode("utf-8"))
tokens = numbers.byte_level_tokens(text)
D, N = a.embed_dim, a.num_patches
t1, t2, t3 = st.columns(3)
t1.metric("Text: UTF-8 bytes", f"{total_bytes:,}", help="8 bits each: the text as stored.")
t2.metric("Text: byte-level tokens → vectors", f"{len(tokens):,} × {D}",
          help="One token per UTF-8 byte, where byte-level BPE (byte-pair encoding; GPT-2's tokenizer) starts "
               "before it merges frequent byte pairs. Not a real tokenizer: a real one gives fewer tokens. Each token becomes one vector; "
               f"{D} is this model's width, for comparison.")
t3.metric("Image: patch vectors", f"{N:,} × {D}", help="One vector per patch, from the analysis of your image.")
st.markdown(f"“{text}” is **{total_bytes} bytes = {8 * total_bytes} bits** as text. The article shows one list of 240 "
            "numbers and says “this is the vector presentation of \"What is Botpress?\"”. A transformer does not make "
            "one vector for a sentence: it makes **one vector per token**, as this ViT makes one per patch. Split "
            f"honestly at the byte level (one token per UTF-8 byte), this text is **{len(tokens)} tokens**; at a width "
            f"of {D} that is {len(tokens)}×{D} = {len(tokens) * D:,} numbers. A real tokenizer merges bytes into fewer, "
            "longer tokens. (One vector for a whole sentence is a *sentence embedding*, which some models compute at "
            f"their end by pooling the token vectors.) The image as the model sees it is {a.image.shape[0]}×"
            f"{a.image.shape[1]}×3 = **{a.image.size:,} bytes** of 8-bit pixels. Its {N} patch vectors are "
            f"{N}×{D} = {a.patch_embeddings.size:,} numbers, in fp32 4 bytes each = **{4 * a.patch_embeddings.size:,} bytes**, "
            "already binary.")

st.header("4 · The model's memory")
rows = of_model(model, "weight_memory", lambda: memory.weight_memory(model))
params = of_model(model, "parameters", lambda: memory.parameter_count(model))
name, layer_bytes = of_model(model, "largest_layer", lambda: memory.largest_layer(model))
m1, m2, m3 = st.columns(3)
m1.metric("Parameters (counted in the model)", f"{params:,}",
          help="The learned numbers: weights and biases of every layer, embeddings, the CLS token.")
m2.metric("fp32 size", f"{of_model(model, 'bytes', lambda: memory.model_bytes(model)) / MB:,.2f} MB", help="Parameters × 4 bytes (and any buffers).")
m3.metric("Largest layer", f"{name}", f"{layer_bytes / MB:.2f} MB", delta_color="off", delta_arrow="off")
st.dataframe([{"dtype": r.dtype, "weights (MB)": round(r.total / MB, 3), "largest layer (MB)": round(r.largest_layer / MB, 3),
               "accelerate's training figure: its largest single stage (MB)":
                   f"{r.training_adam / MB:,.3f}" if r.training_adam else memory.INTEGER_TRAINING_NOTE}
              for r in rows], hide_index=True)
st.caption("Same rule and numbers as `estimate-memory` of Hugging Face accelerate (a library for running models), byte for byte (bf16 added: the same as fp16). Its training figure is "
           "the largest of the four stages it lists (model, gradients, optimizer, step), not their sum; it is empty "
           "for int8/int4. These are nominal sizes, everything packed at the format's bits; section 2 measures what the "
           "model in the sidebar's format really stores (torchao, PyTorch's library for quantisation, keeps "
           "LayerNorms, biases and the patch projection in "
           "fp32, adds scales, and keeps each int4 code in a byte of its own).")
states = [of_model(model, "training_memory", lambda f=f: memory.training_memory(model, f), f) for f in ("fp32", "bf16")]
st.subheader("Training with Adam: what sits in memory at once")
st.markdown("Training computes **gradients** (how the error changes with each weight: one number per weight) and "
            "hands them to **Adam**, the usual optimiser, which keeps two running averages per weight: **m** (of the "
            "gradients) and **v** (of their squares). **Mixed precision** computes in fp16/bf16 and keeps an fp32 "
            "**master copy** of the weights for the updates, so that small updates are not rounded away.")
s32, smx = states
table = [{"part": p, "fp32 (bytes / parameter)": s32.components[p] / s32.params,
          "fp16/bf16 mixed (bytes / parameter)": smx.components[p] / smx.params,
          "fp32 (MB)": round(s32.components[p] / MB, 3), "fp16/bf16 mixed (MB)": round(smx.components[p] / MB, 3)}
         for p in s32.components]
table.append({"part": "sum", "fp32 (bytes / parameter)": s32.bytes_per_param,
              "fp16/bf16 mixed (bytes / parameter)": smx.bytes_per_param,
              "fp32 (MB)": round(s32.total / MB, 3), "fp16/bf16 mixed (MB)": round(smx.total / MB, 3)})
st.dataframe(table, hide_index=True)
s1, s2, s3 = st.columns(3)
s1.metric("fp32 training: the sum", f"{states[0].total / MB:,.2f} MB", f"{states[0].bytes_per_param:g} B / parameter",
          delta_color="off", delta_arrow="off", help="weights 4 + gradients 4 + Adam m 4 + Adam v 4 bytes per parameter")
s2.metric("Mixed-precision training: the sum", f"{states[1].total / MB:,.2f} MB",
          f"{states[1].bytes_per_param:g} B / parameter", delta_color="off", delta_arrow="off",
          help="fp16/bf16 weights 2 + fp16/bf16 gradients 2 + fp32 master copy 4 + Adam m 4 + Adam v 4 bytes per parameter")
s3.metric("accelerate estimate-memory, mixed precision", f"{states[1].accelerate_peak / MB:,.2f} MB",
          "its largest single stage, not the sum", delta_color="off", delta_arrow="off",
          help="accelerate lists four stages (model, gradients, optimizer, step) and prints the largest.")
st.markdown(f"Mixed precision keeps **{states[1].bytes_per_param:g} bytes per parameter**, the same as fp32 "
            f"({states[0].bytes_per_param:g}): it saves activation memory and time, not optimizer state (Micikevicius et "
            "al. 2018; ZeRO, Rajbhandari et al. 2020, §3). PyTorch's `torch.autocast` keeps fp32 weights and gradients "
            "instead and makes fp16/bf16 copies on the fly: 4 + 4 + 4 + 4 = 16 bytes as well. accelerate's "
            f"`estimate-memory` prints {states[1].accelerate_peak / MB:,.2f} MB for mixed precision: the largest of its "
            f"stages (the optimizer), half of what sits in memory. For fp32 its figure ({states[0].accelerate_peak / MB:,.2f} "
            "MB, its step stage) equals the sum. Neither counts activations (the numbers computed on the way through "
            "the model: section 5). int8/int4 are **not trained "
            "directly here**; training with fewer bits exists: 8-bit optimisers store Adam's m and v in 8 bits "
            "(Dettmers et al. 2022), and QLoRA trains small added adapter matrices on top of frozen 4-bit weights "
            "(Dettmers et al. 2023).")

st.header("5 · Activations: the memory that grows with the batch and the tokens")
st.markdown("**Activations** are the numbers a forward pass computes on the way: the token vectors after each step, "
            "the attention matrices, the MLP's hidden values. Training keeps many of them for the backward pass; "
            "inference can drop each one once it is used.")
mlp_term = int(round(8 + 2 * shape.mlp_ratio))  # 16 for the usual MLP ratio 4 (Korthikanti et al.'s 16sbh)
# in lines: one line was 800 px wide, cut off on a phone's 390 px
st.latex(r"\begin{aligned}&\text{saved for backward (fp32)}\\ &= L\,(%d\,sbh + a s^2 b + 4sb)\\ "
         r"&\quad + %d\,H_{px}W_{px}b + 2sbh + 2sb\\ &\quad (+\,L\,sbh \text{ if } b=1)\end{aligned}"
         % (mlp_term, shape.channels))
if memory.parts_sentence(shape):
    st.markdown(memory.parts_sentence(shape))
td_numbers, attn_numbers = memory.layer_numbers(shape)
st.markdown(f"L = {shape.layers} blocks, h = {shape.width} numbers per token, a = {shape.heads} heads, s = "
            f"{shape.tokens} tokens, b = batch, H_px × W_px = {shape.height}×{shape.width_px} pixels of "
            f"{shape.channels} input channels; {mlp_term} = 8 + 2 × the MLP ratio ({shape.mlp_ratio:g}). Per layer "
            f"and image the token vectors are s·h = {shape.tokens}×{shape.width} = {td_numbers:,} numbers, and the "
            f"attention matrices add a·s² = {shape.heads}×{shape.tokens}² = {attn_numbers:,} more: the "
            "**a·s²·b** term, quadratic in the tokens.")
one, share = (memory.training_activation_numbers(shape, b) * 4 / b for b in (1, 2))
st.markdown(f"**Why one image costs a little more (the L·sbh term).** Attention computes the queries, keys and values "
            "of all tokens in one matrix product, one combined output of 3·s·h numbers per block. With **one image**, "
            "the keys and values that attention keeps for the backward pass are slices of that combined output, so "
            "the whole output stays in memory, its queries included, beside the scaled copy of the queries attention "
            "multiplies with: s·h numbers more per block, L·s·h in all. With **two or more images**, PyTorch's "
            "batched matrix product copies the keys and values out, the combined output is freed, and every image "
            f"costs the same. On this model: **{one / MB:,.2f} MB** for one image alone, **{share / MB:,.2f} MB** per "
            "image in a batch of 2 or more (the figure section 8 uses).")
c1, c2 = st.columns(2)
batch = c1.select_slider("Batch size", [1, 2, 4, 8, 16, 32, 64, 128], value=8, key="act_batch",
                         help="How many images go through the model at once.")
res_options = sorted({shape.patch * k for k in range(4, 33) if shape.patch * k <= 2 * shape.height} | {shape.height})
res = c2.select_slider("Resolution (px)", res_options, value=shape.height, key="act_res",
                       help="Image side in pixels: more pixels → more patches → more tokens.")
s_res = of_model(model, "shape", lambda: memory.Shape.of(model, height=res), res)
chart(ctx.figure(views.activations, batch, res, per_image=False), key="act_bars")
chart_row([ctx.figure(views.activations_by_batch, res, i, per_image=False) for i in range(2)], "act_scaling",
          views.activations_by_batch_title(res))
chart(ctx.figure(views.training_stack, batch, res, per_image=False), key="train_stack")
st.markdown(f"Everything training with Adam holds at once, batch {batch} at {res} px: the training state above plus "
            f"the saved activations (fp32: 4 bytes per number; mixed precision: about 2, since autocast keeps a few in "
            "fp32). The diamonds are accelerate's figure, its largest single stage, for comparison.")
if st.button("Measure it now on this device", key="act_measure",
             help="Runs one training forward pass and adds up what autograd (PyTorch's automatic gradient "
                  "machinery) keeps for the backward pass."):
    st.session_state["act_measured"] = True
if st.session_state.get("act_measured"):
    for b in (1, batch):
        measured = ctx.experiment("act_measure", b, res, run=lambda b=b: memory.measure_saved_activations(model, b, res),
                                  long=True, label=f"Measuring batch {b}…", per_image=False)
        formula = memory.training_activation_numbers(s_res, b) * 4
        st.markdown(f"Batch {b}: measured **{measured / MB:,.2f} MB** on a random input of {b}×3×{res}×{res} "
                    f"(the saved sizes do not depend on the pixel values): the sum of the unique storages autograd "
                    f"saved (a storage is the memory block behind a tensor, shared by its views), found with "
                    f"`torch.autograd.graph.saved_tensors_hooks` (a hook that sees each tensor saved for the backward "
                    f"pass); formula **{formula / MB:,.2f} MB** "
                    f"({100 * (formula / measured - 1):+.2f}%).")

gpu_name = memory.cuda_name()
st.header(memory.compute_heading(gpu_name is not None))
st.markdown("The article says “GPU is used to execute the program temperorly [sic]”. It is the other way round: the **CPU** "
            "(the computer's main processor) runs the program, here Python, torch and this app. A **GPU** is a "
            "parallel arithmetic co-processor: the CPU hands it the big matrix products and it does thousands of "
            "multiply-adds at once. **CUDA** is NVIDIA's way of running computations on its GPUs; torch uses one when "
            "`torch.cuda.is_available()`. A **MAC** (multiply-accumulate) is one a × b + c; a **FLOP** is one "
            "floating-point operation, so 1 MAC = 2 FLOPs. Speed is counted in **GFLOP/s**, billions of FLOPs per "
            "second, or in **Gop/s**, billions of operations per second, where the products are integer ones (int8).")
macs_no = memory.macs(shape, attention_matmuls=False)
macs_all = memory.macs(shape)
k1, k2, k3, k4 = st.columns(4)
k1.metric("GMACs / image without attention matmuls (timm model cards)", f"{macs_no / 1e9:.3f}",
          help="Billions of multiply-accumulates for one image, counted from the layer sizes.")
k2.metric("GMACs / image with Q·Kᵀ and A·V (timm benchmark tables)", f"{macs_all / 1e9:.3f}")
OPS = "Gop/s" if ctx.precision == "int8" else "GFLOP/s"  # int8's Linear products are integer operations
ops_help = (f"{OPS} = 2 operations per MAC × the GMACs with Q·Kᵀ and A·V (second figure) / seconds"
            + (" (int8: the Linear layers' multiply-adds are integer operations)" if ctx.precision == "int8" else ""))
# six passes of the model (per process and model, shared by every visitor): on request (ui/on_request.py)
if not asked("timing_requested", timed(ctx, "cpu")):
    with k3:
        st.markdown(f"**Measured time / image on the CPU ({ctx.precision})**")
        ask_button("timing_requested", "Time on this server", key="timing_run")
        st.caption("Not timed yet for this model and number format. The button runs the model 6 times on a random "
                   "input" + (" on the CPU and 6 times on the GPU" if gpu_name else "") + "; the result is kept and "
                   "shown to everyone using this server.")
    if gpu_name:
        k4.markdown(f"**Measured time / image on CUDA ({gpu_name}, {ctx.precision})**: timed with the CPU")
else:
    sec_cpu = time_per_image(ctx, "cpu")  # the one measurement section 2 shows too, where the model runs on the CPU
    sec_gpu = time_per_image(ctx, "cuda") if gpu_name else None
    k3.metric(f"Measured time / image on the CPU ({ctx.precision})", f"{1000 * sec_cpu:.1f} ms",
              f"{2 * macs_all / sec_cpu / 1e9:.1f} {OPS}", delta_color="off", delta_arrow="off",
              help=ops_help)
    if sec_gpu is not None:
        k4.metric(f"Measured time / image on CUDA ({gpu_name}, {ctx.precision})", f"{1000 * sec_gpu:.2f} ms",
                  f"{2 * macs_all / sec_gpu / 1e9:.1f} {OPS}", delta_color="off", delta_arrow="off", help=ops_help)
if not gpu_name:
    k4.metric("Measured time / image on CUDA", "no CUDA GPU",
              help="torch.cuda.is_available() is False on this machine.")
_, _, H, W = memory.timing_input(model)
st.markdown(f"Timed on a **random input** of the model's size (1×3×{H}×{W}, `torch.randn`), median of 5 runs after a "
            "warm-up: the multiply-adds are the same for every image of that size. The time is measured on this server "
            "once per model and number format, when someone first asks for it, and then shown to everyone; if the "
            "server was busy at that moment, everyone sees that slower time. "
            + (f"Section 2's time is this same measurement on the {DEVICE_NAMES[bundle.device.type]}, not a second "
               "one. " if ctx.precision != "fp32" else "")
            + (f"On this machine the CPU runs the program and hands the matrix products to the GPU ({gpu_name}); "
               "the CPU figure times a copy of the model run entirely on the CPU, for comparison."
               if gpu_name else
               "On this machine `torch.cuda.is_available()` is False: there is no CUDA GPU, so the CPU does the "
               "multiply-adds itself.")
            + " The memory the model needs is the same on the CPU or the GPU: the counts above × bytes per number.")

st.header("7 · A prediction needs the weights and the image, not the training data")
data = memory.training_data(bundle)
n_tensors, held = of_model(bundle.model, "state_dict_bytes", lambda: memory.state_dict_bytes(bundle.model))  # as stored in the number format on screen
file_bytes = memory.weights_file_bytes(bundle)
w1, w2, w3 = st.columns(3)
w1.metric("Everything the model holds", f"{held / MB:,.2f} MB", f"{n_tensors} tensors", delta_color="off", delta_arrow="off",
          help="Its state_dict: the parameters (and buffers), nothing else.")
if file_bytes is not None:
    header = memory.safetensors_header_bytes(bundle.weights_path)
    w2.metric("Weights file", f"{file_bytes / MB:,.3f} MB",
              help=f"The size on disk of the file these weights were read from ({bundle.source}): "
                   f"{file_bytes - header:,} bytes of tensors ({(file_bytes - header) / params:.2f} bytes per "
                   f"parameter{memory.file_format_note(file_bytes - header, params, bundle.spec.bundled)}) and a "
                   f"{header:,}-byte header that names each tensor and its shape.")
else:
    w2.metric("Weights file: parameters × 4 bytes", f"{memory.nominal_file_bytes(bundle) / MB:,.3f} MB",
              help="No file was read: these weights are random. The published fp32 checkpoint holds 4 bytes per "
                   "parameter, and its file adds a short header that names each tensor.")
origin = bundle.provenance  # random weights or a user's file: the data below is the published checkpoint's
if data is not None:
    w3.metric("Images its published pretraining used" if origin.packaged else
              "Different images it was trained on" if origin.trained_as_documented else
              "Images the published checkpoint was trained on",
              data.count, help=("Literature: " if data.literature else "Recorded in ") + data.source)
    cite = f", as reported in the literature ({data.source})" if data.literature else f" ({data.source})"
quote = "The article says “user input data is compared with the pretrin [sic] data”. It is not. "
if not origin.trained_as_documented:
    st.markdown(quote + ("These weights are **random**: trained on nothing at all" if origin.random else
                         f"These weights are **your file** {origin.file}: its training is unknown to vitviz")
                + ", and the model still makes a prediction"
                + (" (a poor one)" if origin.random else "")
                + f", because a prediction is the image multiplied through {params:,} weights "
                f"({held / MB:,.2f} MB), with nothing else loaded."
                + (f" The published checkpoint `{bundle.spec.timm_name}` was trained on {data.trained_on}{cite}."
                   if data else ""))
elif data is not None:
    st.markdown(quote + ("The prediction on the home page was" if bundle.labels else
                         "The features this model hands out (it has no classifier, so no prediction) were")
                + f" computed from the image's {a.image.size:,} pixel bytes "
                f"and these {params:,} weights ({held / MB:,.2f} MB), with nothing else loaded. "
                + (f"Its published pretraining used {data.trained_on}{cite} (what the package that ships these "
                   "weights trained them on afterwards, if anything, is not documented)" if origin.packaged else
                   f"The model was trained on {data.trained_on}{cite}")
                + f"; none of them is loaded to predict. The weights could not even hold them: "
                f"in memory now ({ctx.precision}) they take {held:,} bytes, and {held:,} bytes ÷ {data.count} "
                f"{data.unit} {'≈' if data.approximate else '='} **{held / data.images:.2f} bytes per training "
                "image**"
                + (f" (the weights file on disk: {file_bytes:,} bytes ÷ {data.count} = {file_bytes / data.images:.2f})"
                   if file_bytes is not None else "") +
                f", while one image of {a.image.shape[0]}×{a.image.shape[1]} pixels is "
                f"{a.image.size:,} bytes. Training changed the weights; a prediction only runs the image through them.")

st.header("8 · Will it fit?")
g1, g2 = st.columns(2)
gpu = g1.selectbox("GPU", list(memory.GPUS), index=1, key="fit_gpu", help="Its usable memory in GiB (2^30 bytes).")
dtype = g2.selectbox("Format", ["fp32", "fp16", "bf16", "int8", "int4"], key="fit_dtype",
                     help="fp16/bf16: mixed precision for training; int8/int4: weights only, for inference.")
fit = of_model(model, "largest_batch", lambda: memory.largest_batch(shape, model, memory.GPUS[gpu], dtype), gpu, dtype)
f1, f2 = st.columns(2)
f1.metric("Largest inference batch", f"{fit.inference_batch:,}", help="weights + inference activations × batch")
f2.metric("Largest training batch (Adam)",
          f"{fit.training_batch:,}" if fit.training_batch is not None else memory.INTEGER_TRAINING_NOTE,
          help="weights + gradients + optimizer state + saved activations × batch")
GB = 2**30
if fit.training is not None:
    st.markdown(f"Training counts weights + gradients + optimizer state (Adam m and v"
                f"{', fp32 master copy' if dtype != 'fp32' else ''}) = **{fit.training.total / MB:,.1f} MB** "
                f"({fit.training.bytes_per_param:g} B per parameter), plus **{fit.training_per_image / MB:,.2f} MB** of "
                f"saved activations per image (in a batch of 2 or more: one image alone keeps a little more, see "
                f"section 5): batch {fit.training_batch:,} → {fit.training_bytes / GB:,.2f} GiB of the "
                f"{fit.free / GB:,.2f} GiB available. Inference: {fit.weights / MB:,.1f} MB of weights plus "
                f"{fit.inference_per_image / MB:,.2f} MB of activations per image.")
else:
    st.markdown(f"{dtype} is used here for inference only (training: {memory.INTEGER_TRAINING_NOTE}): "
                f"{fit.weights / MB:,.1f} MB of weights plus {fit.inference_per_image / MB:,.2f} MB of fp16 activations "
                f"per image, of the {fit.free / GB:,.2f} GiB available.")
st.caption(f"{memory.CONTEXT_RESERVE_GIB:g} GiB kept for the CUDA context (memory the GPU driver and "
           "libraries take before any model is loaded); activations in the format's bytes "
           "(int formats: fp16 activations). An estimate from the formulas above, not a guarantee.")
chart_row([ctx.figure(views.patch_size_cost, i, per_image=False) for i in range(3)], "fit_patches",
          views.PATCH_SIZE_COST_TITLE)
close_stage("bits")
