"""Stage — Inside a block: one token through LayerNorm, attention, the MLP and the residual adds, on real numbers."""

import streamlit as st

from ui.caches import of_model
from ui.charts import chart, clickable_chart
from ui.session import K_BLOCK_HEAD as K_HEAD, K_BLOCK_LAYER as K_LAYER
from ui.tour import close_stage, open_stage
from vitviz.figures.prediction import short_label
from vitviz.model import provenance
from vitviz.stages import block, closeness
from vitviz.views import attention as attention_views, block as views
from vitviz.wording import difference

K_STEP, K_TEMPERATURE, K_QUERY = "block_step", "block_temperature", "block_query"
DIAGRAM = "block_diagram"
TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
FP16 = 1e-3  # the analysis keeps attention in float16: differences below this are its rounding


def _on_step_click() -> None:
    """A click on a box of the diagram opens that step (the step's one home is the radio's key)."""
    points = getattr(getattr(st.session_state.get(DIAGRAM), "selection", None), "points", None) or []
    for p in points:
        key = p.get("customdata")
        key = key[0] if isinstance(key, (list, tuple)) else key
        if key in block.STEP_KEYS:
            st.session_state[K_STEP] = key
            return


ctx = open_stage("block")
a, bundle = ctx.analysis, ctx.bundle
why_not = of_model(bundle.model, "block_unsupported", lambda: block.unsupported(bundle.model))
if why_not:
    st.info(f"This page cannot open {bundle.spec.title}: {why_not}.", icon="ℹ️")
    close_stage("block")
    st.stop()
# widget values from another model (fewer blocks or heads) fall back to the defaults
if not 1 <= st.session_state.get(K_LAYER, 1) <= a.depth:
    del st.session_state[K_LAYER]
if st.session_state.get(K_HEAD, 0) not in range(a.heads):
    del st.session_state[K_HEAD]
if st.session_state.get(K_STEP) not in block.STEP_KEYS:
    st.session_state[K_STEP] = "attn"

st.header("1 · The block")
left, right = st.columns([3, 2], gap="large")  # the diagram beside its controls; a phone stacks them
with left:
    chart(ctx.figure(views.diagram, st.session_state[K_STEP], per_image=False),  # the model's sizes: once per model
          key=DIAGRAM, on_select=_on_step_click, selection_mode="points")
layer = right.slider("Block (layer)", 1, a.depth, a.depth, key=K_LAYER,
                     help=f"The model has {a.depth} blocks; each reads the previous one's output.") - 1
head = right.selectbox("Head", range(a.heads), key=K_HEAD, format_func=lambda h: f"head {h}",
                       help=f"The {a.heads} heads of a block attend side by side, each with its own query, key and value "
                            "projections (explained at step 2, Multi-head attention).")
patch = ctx.patch
# the prefix tokens can be followed too: "cls" is token 0, "prefix i" token i (DeiT's distillation token, registers)
followed = {"patch": f"patch {patch}"} | {("cls" if i == 0 else f"prefix {i}"): block.token_name(a, i)
                                          for i in range(a.num_prefix)}
if st.session_state.get(K_QUERY, "patch") not in followed:  # a token another model had (a register, the CLS)
    st.session_state[K_QUERY] = "patch"
query = right.radio("Follow", tuple(followed), key=K_QUERY, horizontal=True, format_func=followed.get,
                    help="The selected patch (sidebar, or click one on the image below)"
                         + (f", or a token before the patches ({a.prefix_phrase})." if a.num_prefix
                            else "; this model has no CLS token."))
step = right.radio("Step", block.STEP_KEYS, key=K_STEP,
                   format_func=lambda k: f"{block.STEP_KEYS.index(k) + 1} · {block.BY_STEP[k].title}",
                   help="Or click a box of the diagram.")
token = (0 if query == "cls" else int(query.split()[1]) if query.startswith("prefix ")
         else block.token_index(a, patch))
name = block.token_name(a, token)

PRECISION_NOTE = {  # the sidebar's number format, when it is not fp32
    "bf16": " The model runs in {p}. Here its {p} weights are widened to float32 (exactly), “the model's own block” "
            "above is that float32 copy, and the tokens from block 1 on are recomputed in float32: they drift from the "
            "{p} forward pass by the rounding of {p} arithmetic accumulated over the blocks (the attention difference "
            "above).",
    "int8": " The model runs in {p}: its Linear layers are the quantised ones, used here as they are (inputs rounded "
            "to int8 on the fly, integer products, scaled back); everything between them is float32.",
}
PRECISION_NOTE["fp16"] = PRECISION_NOTE["bf16"]
PRECISION_NOTE["int4"] = (" The model runs in {p}: its Linear layers are the quantised ones, used here as they are "
                          "(4-bit weight codes turned back into numbers before each product); everything else is float32.")

stream = ctx.experiment("block_stream", run=lambda: block.residual_stream(bundle, a),
                        label="Reading the tokens between blocks through the final norm and head…"
                        if block.stream_from_analysis(bundle, a) else
                        "Recomputing the blocks in float32 from block 1's input…")
trace = ctx.experiment("block_trace", layer, run=lambda: block.trace(bundle, a, layer, stream),
                       label=f"Opening block {layer + 1}…")
check = trace.check
st.markdown(f"Every number in section 2 is recomputed in float32 from block {layer + 1}'s input with the model's own "
            f"layers. Its output against the model's own block run on the same input: "
            f"**{difference(check.output_vs_block)}**; its attention against the attention the model produced in its "
            f"forward pass (kept in float16): **{difference(check.attention_vs_captured, FP16)}** at most, over all "
            f"{a.heads} heads and {a.num_tokens} rows." + PRECISION_NOTE.get(ctx.precision, "").format(p=ctx.precision))

st.header(f"2 · {block.BY_STEP[step].title} (step {block.STEP_KEYS.index(step) + 1} of {len(block.STEPS)}): "
          f"{name}, block {layer + 1}")
st.markdown(block.BY_STEP[step].explain[0].upper() + block.BY_STEP[step].explain[1:] + ".")
if step in ("norm1", "norm2"):
    n = block.layer_norm(bundle, trace, token, step)
    st.latex(r"\hat x = \gamma \odot \frac{x - \mathrm{mean}(x)}{\sqrt{\mathrm{var}(x) + \varepsilon}} + \beta"
             r"\qquad \varepsilon = %s" % f"{n.eps:g}")
    chart(ctx.figure(views.norm, trace, token, step), key=f"block_{step}")
    st.caption("Each token is normalised on its own, over its own numbers: the LayerNorm never looks at another "
               f"token. γ and β are {provenance.learned(bundle.provenance)} parameters, one pair per block and per "
               "LayerNorm.")
elif step == "attn":
    s = block.query_step(trace, a, head, token)
    d = trace.head_dim
    st.latex(r"q = W_q\hat x + b_q,\quad k_j = W_k\hat x_j + b_k,\quad v_j = W_v\hat x_j + b_v\qquad "
             r"a = \mathrm{softmax}\!\left(\frac{q\cdot k_j}{\sqrt{%d}}\right)_{j=1\ldots%d},\quad "
             r"\text{out} = \sum_j a_j v_j" % (d, a.num_tokens))
    st.markdown(f"One {a.embed_dim}→{3 * a.heads * d} matrix (`qkv`) gives every token a **query** (what this token "
                f"looks for), a **key** (what it offers to be found by) and a **value** (what it passes on when "
                f"attended to) for each of the {a.heads} heads ({d} numbers each). The query of {name} is compared "
                f"with every token's key: a dot product, divided by √{d}.")
    left, right = st.columns(2, gap="large")
    with left:
        chart(ctx.figure(views.query_keys, trace, head, token), key="block_qk")
    with right:
        chart(ctx.figure(views.scores, trace, head, token), key="block_scores")
    st.markdown(f"The **softmax** turns the {a.num_tokens} scores into positive weights that sum to 1: the attention "
                "row. Recomputed here, against the row the model produced (kept in float16): max difference "
                f"**{difference(s.row_vs_captured, FP16)}**.")
    left, right = st.columns([3, 2], gap="large")
    with right:
        st.markdown("**What-if: a softmax temperature.** The model always uses 1. Dividing the same scores by a "
                    "temperature below 1 sharpens the row, above 1 flattens it.")
        temperature = st.select_slider("Temperature (what-if)", TEMPERATURES, value=1.0, key=K_TEMPERATURE,
                                       format_func=lambda t: f"{t:g}")
        s = block.query_step(trace, a, head, token, temperature)
        real, what_if = block.effective_tokens(s.row), block.effective_tokens(s.row_t)
        st.metric("Tokens the row spreads over (exp of its entropy)", f"{what_if:.1f}",
                  None if temperature == 1.0 else f"{what_if - real:+.1f} vs temperature 1", delta_color="off",
                  help="Entropy: how spread out the row's weights are (0 when all the weight is on one token, in "
                       f"natural-log units); its exp: 1 means one token, {a.num_tokens} means all tokens alike.")
        st.metric("Largest weight", f"{s.row_t.max():.3f}",
                  None if temperature == 1.0 else f"{s.row_t.max() - s.row.max():+.3f}", delta_color="off")
        st.metric(f"Change of head {head}'s output", "0 (the model)" if temperature == 1.0 else
                  f"{s.out_change:.1%}", help="‖Σ aⱼvⱼ at this temperature − at 1‖ / ‖at 1‖")
    with left:
        clickable_chart(ctx.figure(views.row_on_image, trace, head, token, temperature), key="block_row_image")
        st.caption("Click a patch to follow it." if query == "patch" else
                   "Click a patch to select it; choose it under “Follow” to open its query.")
    chart(ctx.figure(views.head_output, trace, head, token, temperature), key="block_heads")
    st.markdown(f"Each head returns the weighted sum of the values; the {a.heads} heads' outputs are put side by side "
                f"and multiplied by one more matrix (`proj`) back to {a.embed_dim} numbers. This is the only step "
                "where a token receives anything from other tokens.")
elif step in ("add1", "add2"):
    chart(ctx.figure(views.residual_add, trace, token, step), key=f"block_{step}")
    st.markdown("The token is not replaced, it is **added to**: each step's result goes into a running sum, the "
                "residual stream (section 7). " + block.add_sentence(trace, token, step, name))
    if step == "add2":
        st.metric(f"This sum vs the model's own block {layer + 1}, computed in float32",
                  difference(float(abs(trace.out[token] - stream.tokens[layer + 1, token]).max())))
elif step == "mlp":
    st.latex(r"\text{MLP}(\hat x) = W_2\,\mathrm{GELU}(W_1\hat x + b_1) + b_2")
    chart(ctx.figure(views.mlp, trace, token), key="block_mlp")
    st.markdown("GELU lets positive numbers through and squashes negative ones to near zero: the hidden units with a "
                "positive output are the ones that **fire** for this token. The MLP reads this token's numbers "
                "only (section 3 checks it).")

st.header("3 · Only attention mixes tokens")
mix = ctx.experiment("block_mixing", layer, token, run=lambda: block.mixing_what_ifs(bundle, trace, token),
                     label="Two what-ifs with noise…")
other = block.token_name(a, mix.other)
st.markdown(f"Two what-ifs in block {layer + 1}, on {name}. The other token is **{other}**, the one {name} attends "
            f"to most here (mean over heads); its numbers are replaced by random noise of the same mean and spread.")
st.dataframe([
    {f"what changes in {name}": "its attention output",
     f"(a) noise in {other}'s MLP input": "— (the noise comes after attention)",
     f"(b) noise in {other}'s block input": f"{mix.attention_moved:.2%}"},
    {f"what changes in {name}": "its MLP input",
     f"(a) noise in {other}'s MLP input": difference(mix.mlp_input_alone),
     f"(b) noise in {other}'s block input": f"{mix.mlp_input_moved:.2%}"},
    {f"what changes in {name}": "its MLP output",
     f"(a) noise in {other}'s MLP input": difference(mix.mlp_alone),
     f"(b) noise in {other}'s block input": f"{mix.mlp_output_moved:.2%}"},
], hide_index=True)
st.caption("(a): the largest absolute difference; (b): ‖change‖ / ‖value‖.")
st.markdown(f"So information travels between tokens only through attention: the MLP works on each token alone. "
            f"The article says the “{block.ARTICLE_FEED_FORWARD}”. The MLP never reads the CLS token (or any other "
            "token) while it works on a patch; it can only use what attention already brought into this token.")

st.header(f"4 · Relatedness is {provenance.learned_or(bundle.provenance, 'computed')}")
st.markdown(f"The article: “{block.ARTICLE_RELATED}”. Left: the cosine similarity of the tokens entering block "
            f"{layer + 1} (what its attention reads) to patch {ctx.patch}'s; right: where patch {ctx.patch} looks in "
            f"block {layer + 1}, head {head}. Attention (step 2) compares "
            f"{provenance.attention_compares(bundle.provenance)}, so it "
            "can differ from plain closeness; r (the Pearson correlation, −1…1, of closeness with the attention "
            "score) measures how far it does.")
chart(ctx.figure(attention_views.relatedness, layer, head, ctx.patch), key="block_related")
rel = ctx.built("relatedness", layer, head, ctx.patch,
                build=lambda: closeness.relatedness(a, layer, head, ctx.patch))
st.markdown(f"On this image, block {layer + 1}, head {head}: " + closeness.relatedness_sentence(rel))
st.markdown(ctx.built("closeness_by_block", build=lambda: closeness.closeness_sentence(
    ctx.built("closeness", build=lambda: closeness.closeness_by_block(a)))))

st.header("5 · The whole attention matrix")
chart(ctx.figure(views.matrix, layer, head, token), key="block_matrix")
st.markdown(f"Row *i* is where token *i* looks (its weights sum to 1); the tokens, in rows and columns alike: "
            f"{block.sequence_order(a)}. The outlined row is {name}'s: the map on the Attention page is one row of "
            f"this matrix, drawn on the image. One head of one block holds {a.num_tokens ** 2:,} weights.")

st.header("6 · Where the answer forms: the logit lens")
lens = ctx.built("logit_lens", build=lambda: block.logit_lens(stream, a))
chart(ctx.figure(views.lens, stream), key="block_lens")
if lens.has_classifier:
    reads = of_model(bundle.model, "head_reads", lambda: block.head_reads(bundle.model))
    st.markdown(f"{reads[0].upper() + reads[1:]} after each block, read through the model's final norm and "
                f"classifier as if the model stopped there (nostalgebraist's “logit lens”, 2020, for GPT-2; **logits** are the "
                f"raw scores before softmax, one per class). At the last depth this is "
                + (f"the model's output itself: max difference from its logits "
                   f"**{difference(lens.last_vs_logits, 1e-5)}**." if ctx.precision not in ("bf16", "fp16") else
                   f"the float32 recomputation of the model's output: max difference from the {ctx.precision} model's "
                   f"own logits **{lens.last_vs_logits:.2g}**, the rounding of {ctx.precision} arithmetic.")
                + " On this image "
                + block.settled_phrase(lens, [short_label(label) for label in bundle.labels]) +
                f"; its probability goes from {lens.final_prob[0]:.1%} before block 1 to "
                f"{lens.final_prob[-1]:.1%} at the end.")
    st.markdown((f"Before block 1 the CLS token is the same {provenance.learned(bundle.provenance)} vector for every image, so the first reading is "
                 "the same for every image. " if reads == "the CLS token" else "") +
                provenance.head_training_sentence(reads, bundle.provenance))  # a caveat that changes what the figure means: not a caption
    st.dataframe([{"depth": "input" if d == 0 else f"block {d}",
                   **{f"top {k + 1}": f"{short_label(bundle.labels[c])} ({p:.1%})" for k, (c, p) in enumerate(row)}}
                  for d, row in enumerate(lens.top)], hide_index=True)
else:
    half = stream.depth // 2
    st.markdown(f"{provenance.no_classifier_sentence(bundle.spec, bundle.provenance)}, so there is no prediction to "
                f"read between blocks. Instead: the cosine similarity of the features of "
                f"{block.head_reads(bundle.model)} at each depth "
                f"(after the final norm) with its final state — {lens.similarity[0]:.2f} before block 1, "
                f"{lens.similarity[half]:.2f} after block {half}, and 1 after the last block by definition.")

st.header("7 · The residual stream")
chart(ctx.figure(views.updates, stream, token), key="block_updates")
sizes = block.update_sizes(stream, token)
st.markdown("Each block adds an update to the token instead of replacing it; the chart divides the update's length by "
            f"the length of the token it is added to. On this image: {block.update_sentence(sizes, name)}")
close_stage("block")
