"""Stage 4 — Positions: learned position embeddings, sin/cos for comparison, and what happens without them."""

import numpy as np
import streamlit as st

from ui.charts import chart, clickable_chart
from ui.on_request import ask_button, asked
from ui.tour import close_stage, open_stage
from vitviz.figures.images import encode_image
from vitviz.figures.prediction import short_label
from vitviz.model import provenance
from vitviz.stages import confidence, position_code, positions
from vitviz.views import positions as views
from vitviz.wording import difference

ctx = open_stage("positions")
a, index, bundle = ctx.analysis, ctx.patch, ctx.bundle
D = a.embed_dim

st.header(f"1 · {bundle.spec.title}'s position embeddings")
st.markdown("Each small map compares one position's embedding with every other position's by cosine similarity "
            "(1: the same direction, 0: unrelated, −1: opposite).")
left, right = st.columns([3, 2], gap="large")
with left:
    clickable_chart(ctx.figure(views.learned_similarity, per_image=False), key="pos_grid")
with right:
    chart(ctx.figure(views.one_position, index, per_image=False), key="pos_one")
code = ctx.built("position_code", per_image=False, build=lambda: position_code.position_code(
    positions.patch_positions_embed(a), a.grid))
st.markdown(position_code.verdict(code))
c1, c2 = st.columns([3, 2], gap="large")
with c1:
    chart(ctx.figure(views.code_shares, per_image=False), key="pos_code")
with c2:
    chart(ctx.figure(views.mirror_cosines, per_image=False), key="pos_mirror")
st.markdown(position_code.rule() + " Each share is the R² of a least-squares fit on that code (the share of the "
            "table's variance it explains), corrected for the number of fitted columns: **adjusted R²** = "
            "1 − (1 − R²)(N − 1)/(N − k − 1) for N positions and k columns, about 0 for noise.")
chart(ctx.figure(views.by_offset, per_image=False), key="pos_offsets")
st.markdown("Each point is the mean cosine of two positions that many patches apart in the same column (row). "
            + ctx.built("offset_note", per_image=False, build=lambda: positions.offset_note(
                positions.structure(positions.patch_positions_embed(a), a.grid), code.kinds)))

st.header("2 · Sin and cos: where the article is right")
lo, _ = ctx.built("sincos_range", per_image=False, build=lambda: views.sincos_range(a))
st.markdown("The article says positions are encoded with sin and cos. That is true of the original Transformer "
            "(Vaswani et al., 2017; 1D) and of some vision models such as MAE (2D; Masked Autoencoders, He et al. 2022, a self-supervised "
            "ViT that uses fixed 2D sin-cos positions). The models here learn theirs in training instead"
            + (f" (the weights on screen: {provenance.here(bundle.provenance)})" if provenance.here(bundle.provenance)
               else "") + ". Compare, at "
            f"the same size ({a.num_patches} positions × {D} dimensions). Every cosine in these two tables is "
            f"positive and high (most of their dimensions are slow waves that barely change across {a.num_patches} "
            "positions), so on section 1's −1…1 scale both would be one red: their colours span "
            f"{lo:.2f}…1 instead, on a sequential scale, the same for both. Compare patterns, not colours, with "
            "section 1.")
k1, k2 = st.columns(2, gap="large")
with k1:
    chart(ctx.figure(views.sincos_similarity, "1d", per_image=False), key="pos_sc1")
with k2:
    chart(ctx.figure(views.sincos_similarity, "2d", per_image=False), key="pos_sc2")


@st.fragment
def waves() -> None:
    """The dimensions chosen change only the two wave plots."""
    dims = st.multiselect("Dimensions to plot", list(range(D)), default=[0, 1, 2, 3, D // 2], key="pos_dims")
    w1, w2 = st.columns(2, gap="large")
    with w1:
        chart(ctx.figure(views.waves, "sincos", tuple(dims), per_image=False), key="pos_wave_sc")
    with w2:
        chart(ctx.figure(views.waves, "learned", tuple(dims), per_image=False), key="pos_wave_l")


waves()

st.header("3 · Another resolution: resample the positions")


@st.fragment
def another_resolution() -> None:
    """The input size changes only this section (one forward pass per other size, cached; the model's own
    size is read from the analysis)."""
    native = a.image.shape[0]
    options = sorted({native // 2, native * 3 // 4, native, native * 5 // 4, native * 3 // 2} - {0})
    options = [o - o % a.patch_size for o in options]
    size = st.select_slider("Input size (px)", options, value=native, key="pos_resolution")
    pred = positions.native_prediction(a) if size == native else ctx.experiment(
        "resolution", size, run=lambda: positions.run_at_resolution(bundle, ctx.image.image, size),
        long=True, label="Running at the new resolution…")
    q1, q2 = st.columns([1, 2])
    with q1:
        st.image(encode_image(pred.image)[0], caption=f"{size}×{size} px", width="stretch")
    with q2:
        st.metric("Tokens", pred.tokens, delta=pred.tokens - a.num_tokens)
        if bundle.labels:
            was = ("" if pred.label == a.top_labels[0] else f"{short_label(a.top_labels[0])}, ") + f"{a.top_probs[0]:.1%}"
            st.metric("Top-1", f"{short_label(pred.label)}", delta=f"{pred.prob:.1%} (at {native} px: {was})",
                      delta_color="off", delta_arrow="off")  # two probabilities, not a change: no arrow
            if not_sure := confidence.not_sure_line(a.logits):  # measured on the page's own run at the model's size
                st.info(not_sure if size == native else f"At the model's own size: {not_sure}", icon="🤷")
        if size == native:
            st.caption("At the model's own size the position embeddings are used unchanged: this is the page's own "
                       "run of the model on the image."
                       + (f" Where they come from: {bundle.provenance.converted}." if bundle.provenance.converted else ""))
        else:
            st.caption(f"Position embeddings resampled from {a.grid[0]}×{a.grid[1]} to "
                       f"{size // a.patch_size}×{size // a.patch_size} with timm's resample_abs_pos_embed (bicubic: "
                       "a smooth interpolation).")


another_resolution()

st.header("4 · Shuffle the patch tokens")
st.markdown("Take the patch vectors the projection made (before positions), put them in a random order, and run "
            "the rest of the model twice: once adding the position embeddings as usual, once leaving them out.")


@st.fragment
def shuffle() -> None:
    """The seed changes only this section (one experiment per seed, cached)."""
    seed = int(st.number_input("Shuffle seed", 0, 10_000, 0, key="shuffle_seed"))
    if not asked("shuffle_requested", ctx.has_experiment("shuffle", seed)):  # on request (ui/on_request.py)
        ask_button("shuffle_requested", "Shuffle the tokens and run the model", key="shuffle_run")
        return
    shuf = ctx.experiment("shuffle", seed, run=lambda: positions.shuffle_experiment(bundle, a, seed),
                          long=True, label="Shuffling…")
    e1, e2 = st.columns([1, 2], gap="large")
    with e1:
        chart(ctx.built("shuffled_image", seed, build=lambda: views.shuffled(bundle, a, shuf.shuffled_image)),
              key="pos_shuffled")
    with e2:
        unit = "probability" if bundle.labels else "output"
        st.metric(f"With position embeddings: max |Δ {unit}| original vs shuffled", difference(shuf.with_pos_diff, positions.SHUFFLE_ROUNDING))
        st.metric(f"Without position embeddings: max |Δ {unit}|",
                  difference(shuf.without_pos_diff, positions.SHUFFLE_ROUNDING))
        if bundle.labels:
            top = [bundle.labels[int(np.argmax(v))] for v in (*shuf.with_pos, *shuf.without_pos)]
            st.dataframe([{"": "with positions", "original": short_label(top[0]), "shuffled": short_label(top[1])},
                          {"": "positions removed", "original": short_label(top[2]),
                           "shuffled": short_label(top[3])}], hide_index=True)
        st.markdown(positions.shuffle_verdict(shuf, random=bundle.provenance.random))


shuffle()
close_stage("positions")
