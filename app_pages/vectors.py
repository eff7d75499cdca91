"""Stage 2 — Vectors: one matrix turns each patch into a vector; the CLS token joins them."""

import numpy as np
import streamlit as st

from ui.charts import chart, clickable_chart
from ui.tour import close_stage, open_stage
from vitviz.figures.images import grid_heatmap
from vitviz.figures.style import DIVERGING
from vitviz.figures.tokens import layer_lines, vector_bars
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model import provenance
from vitviz.stages import vectors
from vitviz.views import vectors as views
from vitviz.wording import difference

ctx = open_stage("vectors")
a, index = ctx.analysis, ctx.patch
P, D = a.patch_size, a.embed_dim

st.header("1 · Show the math for one patch")
left, right = st.columns([2, 3], gap="large")
with left:
    clickable_chart(ctx.figure(views.pick, index), key="vectors_pick_chart")
check = ctx.built("show_the_math", index, build=lambda: vectors.show_the_math(ctx.bundle, a, index))
with right:
    n_in = check.inputs.size  # C·P·P
    st.latex(r"\underbrace{z}_{%d} = \underbrace{W}_{%d \times %d}\;\underbrace{x}_{%d} + \underbrace{b}_{%d}"
             % (D, D, n_in, n_in, D))
    extra = a.input_channels[3:]
    st.markdown(f"`x`: the {n_in} input values of patch {index} ({P}·{P} pixels × "
                f"{', '.join(a.input_channels)}" + (f"; {', '.join(extra)} is a fixed channel this model adds"
                                                    if extra else "") +
                f"); `W` and `b`: the model's patch embedding (a {P}×{P} convolution with stride {P}, "
                "which is exactly this matrix product).")
    st.metric(f"W·x + b vs the model's own vector, for patch {index}", difference(check.max_abs_diff),
              help=f"Patch {index} only (the home page checks all patches at once): computed here in float64 from "
                   "the weights, compared with the vector the model produced in its forward pass (float32).")
    chart(ctx.built("vector_bars", index, build=lambda: vector_bars(
        check.computed, f"Patch {index} as a {D}-number vector (bars: W·x+b; crosses: the model's own)",
        compare=check.recorded, names=("W·x + b", "model"))), key="vectors_bars")

chart(ctx.figure(views.all_vectors, index), key="vectors_matrix")

st.header("2 · What the projection looks for")
st.markdown("The rows of W are filters over a patch. Their first principal components (**PCA**: the directions "
            "in which the filters vary most), shown as colour tiles, summarise the patterns the filters are made "
            "of; the ViT paper (Dosovitskiy et al., 2021, Figure 7 left) reads them as plausible basis functions for the fine structure "
            "within a patch." + (
                " Only the filters' red, green and blue parts are shown; this model's fixed extra channel is "
                "left out." if len(a.input_channels) > 3 else ""))
chart(ctx.figure(views.filters, per_image=False), key="vectors_filters")
if untrained := provenance.filters_sentence(ctx.bundle.provenance):
    st.info(untrained, icon="🎲")

st.header("3 · Are vectors always unique?")
twin = ctx.built("twin_patches", build=lambda: vectors.twin_patches(a))
c1, c2 = st.columns([2, 3], gap="large")
with c1:
    chart(ctx.figure(views.twins), key="vectors_twins")
with c2:
    st.markdown(f"Pixel difference (RMS, normalised): **{twin.pixel_distance:.4f}**. Cosine similarity compares "
                "directions: 1 when two vectors point the same way, 0 when unrelated, −1 when opposite.")
    st.dataframe([
        {"": "patch vectors (before positions)", "cosine similarity": round(twin.before_cosine, 6),
         "distance": round(twin.before_distance, 4)},
        {"": "after adding position embeddings", "cosine similarity": round(twin.after_cosine, 6),
         "distance": round(twin.after_distance, 4)},
    ], hide_index=True)
    st.markdown(vectors.twin_verdict(twin))

st.subheader("An identical pair, made")
try:
    pair = ctx.experiment("identical_pair", run=lambda: vectors.identical_pair(ctx.bundle, a),
                          label="Copying a patch and running the patch embedding on it…")
except ValueError as why:  # a grid too small for two patches apart with their rings inside the image
    st.info(f"Not on this image: {why}.", icon="ℹ️")
else:
    c1, c2 = st.columns([2, 3], gap="large")
    with c1:
        chart(ctx.figure(views.identical, pair), key="vectors_identical")
    with c2:
        st.metric(f"Max |difference| between patch {pair.source}'s and patch {pair.target}'s vectors",
                  difference(pair.vector_difference))
        st.markdown(vectors.identical_verdict(pair, P))

st.header("4 · The CLS token")
if not a.has_cls:
    st.info(f"This model has {a.prefix_phrase}: its head reads {vectors.head_reads_words(ctx.bundle)}, so there is "
            "no CLS token to follow here.", icon="ℹ️")
else:
    ref_sample = SAMPLES["cat" if ctx.image.name != SAMPLES["cat"].title else "coffee"]
    st.markdown(f"The CLS token is a {provenance.parameter(f'vector of {D} numbers', ctx.bundle.provenance, '**')}, "
                "part of the model's weights. It is not "
                "created from your image: before block 1 it is the same for every image. Only attention, block "
                "after block, mixes information from the patches into it; the last layer's CLS is what the "
                "classifier reads" + (f" ({provenance.headless_cls(ctx.bundle.provenance)})." if not ctx.bundle.labels
                                      else "."))
    if ctx.bundle.provenance.random:
        st.markdown(vectors.cls_length_sentence(a))
    with st.spinner("Analysing a second image for comparison…"):
        ref = ctx.sample_analysis(ref_sample.key)
    st.metric(f"Max difference between the CLS entering block 1 for your image and for “{ref_sample.title}”",
              difference(vectors.cls_input_difference(a, ref)))
    sims = ctx.built("cls_similarity_by_layer", build=lambda: vectors.cls_similarity_by_layer(a))  # [L+1, N]
    chart(ctx.built("cls_similarity_heatmap", build=lambda: grid_heatmap(
        sims, "Cosine similarity of the CLS token with each patch token, layer by layer", colorscale=DIVERGING, zmid=0,
        x_title="patch", y_title="layer (0 = input)", height=300)), key="vectors_cls_layers")
    st.markdown(vectors.cls_spread_sentence(sims))
    chart(ctx.built("cls_similarity_lines", build=lambda: layer_lines(
        np.stack([sims.mean(1), sims.max(1)]), "CLS vs patches: mean and max cosine per layer",
        y_title="cosine similarity", names=["mean", "max"])), key="vectors_cls_lines")
    st.markdown(vectors.cls_trend_sentence(sims))

st.header("5 · What the tokens have become")


@st.fragment
def tokens_at_layer() -> None:
    """The layer changes only these two maps."""
    layer = st.slider("Layer (0 = input to block 1)", 0, a.depth, a.depth, key="vectors_layer")
    t1, t2 = st.columns(2, gap="large")
    share = ctx.built("pca_share", layer, build=lambda: vectors.pca_share(a, layer))
    alike, mean = ctx.built("alike_patches", layer, ctx.patch, build=lambda: vectors.alike_patches(a, layer, ctx.patch))
    with t1:
        chart(ctx.figure(views.token_pca, layer), key="vectors_pca")
        st.markdown(f"Patches drawn in similar colours have similar tokens at layer {layer}: the colours are the 3 "
                    f"directions in which the patch tokens differ most, which hold **{share:.0%}** of their "
                    "variance here (the rest is not drawn).")
    with t2:
        clickable_chart(ctx.figure(views.similarity_to_patch, layer, ctx.patch), key="vectors_cos_map",
                        in_fragment=True)
        st.markdown(f"Red: tokens pointing like patch {ctx.patch}'s (1: the same direction); blue: pointing away. At "
                    f"layer {layer}, **{alike}** of the other {a.num_patches - 1} patches have cosine above "
                    f"{vectors.ALIKE:g} with it (mean {mean:.2f}). "
                    + vectors.alike_sentence(layer, ctx.bundle.provenance.random))


tokens_at_layer()
close_stage("vectors")
