"""Stage 1 — Patches: the image the model sees, cut into fixed-size squares."""

import streamlit as st

from ui.charts import chart, chart_row, clickable_chart
from ui.on_request import ask_button, asked
from ui.tour import close_stage, open_stage
from vitviz import wording
from vitviz.figures.tokens import patch_size_figures
from vitviz.figures.images import encode_image
from vitviz.model import provenance
from vitviz.offline.vit import PATCH_BUDGET_NOTE
from vitviz.stages import patches, trained_patch_sizes
from vitviz.views import home as home_views, patches as views

ctx = open_stage("patches")
a, index = ctx.analysis, ctx.patch

st.header("1 · What the model does to your image first")
st.markdown("These steps are the model's own **evaluation** transform (timm's data config, `create_transform("
            "is_training=False)`): the resize, crop and **normalisation** (shifting and scaling each colour so the "
            "numbers sit around 0) it is tested with. " +
            provenance.recipe_sentence(ctx.bundle.spec, ctx.bundle.provenance) +
            patches.float_sentence(ctx.bundle, ctx.image.image))
steps = ctx.experiment("preprocessing", run=lambda: patches.preprocessing_steps(ctx.bundle, ctx.image.image),
                       label="Preprocessing…")
for col, step in zip(st.columns(len(steps)), steps):
    with col:
        st.image(encode_image(step.image)[0], caption=f"{step.name}: {step.detail}", width="stretch")

st.header("2 · The patch grid and the token sequence")
counts = patches.token_counts(a.image.shape[0], a.image.shape[1], a.patch_size, a.num_prefix)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Patch size P", f"{a.patch_size}×{a.patch_size} px")
m2.metric("Patches N = (H/P)·(W/P)", f"{a.grid[0]}·{a.grid[1]} = {counts.patches}")
m3.metric(f"Tokens N + {a.num_prefix} ({', '.join(a.prefix_names) or 'no CLS token'})" if a.num_prefix < 3 else
          f"Tokens N + {a.num_prefix} (CLS and {a.num_registers} registers)" if a.num_registers else
          f"Tokens N + {a.num_prefix}", counts.tokens)
m4.metric("Attention scores (N+1)² per head per layer", f"{counts.scores_per_head:,}")

left, right = st.columns([3, 2], gap="large")
with left:
    clickable_chart(ctx.figure(views.grid, index, "Click a patch (indices in raster order)"), key="patches_grid")
    st.caption("Raster order: row by row from the top left, left to right, the way text is read.")
with right:
    st.markdown(f"**Patch {index}**: {wording.patch_place(index, a.grid)}. Choose another in the sidebar or click the grid.")
    chart(ctx.figure(views.one_patch, index), key="patches_zoom")
chart(ctx.figure(views.sequence), key="patches_strip")

st.header("3 · From pixels to numbers")
n_values = a.patch_size * a.patch_size * len(a.input_channels)
extra = a.input_channels[3:]
st.markdown(f"Patch {index} enters the model as **{n_values} numbers** = {a.patch_size}·{a.patch_size} pixels × "
            f"{len(a.input_channels)} channels: red, green and blue, each pixel normalised as "
            f"`(value/255 − mean) / std`" + (
                f", plus {', '.join(extra)}: a fixed channel this model computes from those three before its "
                "projection (not learned; the stock ViT reads only the colours)" if extra else "") +
            ". The next page multiplies them by one matrix to get the patch's vector.")
chart(ctx.figure(views.flattened, index), key="patches_flat")
for name in extra:
    chart(ctx.figure(views.extra_channel, name), key=f"patches_extra_{name}")

st.header("4 · Does a smaller patch mean more accuracy?")
st.markdown(
    "The article says “high patches means high accuracy”. Two different questions hide in it. **Models trained** "
    "with smaller patches see more tokens; in the published results for the pairs below they are also the more "
    "accurate ones, at a steep price in attention. " + provenance.one_model_run(ctx.bundle.provenance) +
    " is another experiment: " + (
        "this model was trained for many patch sizes, so at those it meets a size it was trained for"
        if trained_patch_sizes.sizes_trained_at(ctx.bundle.spec, ctx.bundle.provenance)
        else provenance.meets_other_size(ctx.bundle.provenance)) + ".")
st.subheader("Models trained at different patch sizes")
st.markdown("Pairs from the model zoo, each trained at its own patch size. Tokens, attention scores and "
            "multiply-adds (MACs) are counted from the architectures; accuracy is what was published, as **top-1** "
            "(the share of ImageNet validation images whose most probable class is the right one). A **fine-tuned "
            "classifier** is the whole model trained further on labelled ImageNet images; a **linear probe on frozen "
            "features** is a single linear classifier trained on top of the unchanged model, the usual test for "
            "self-supervised models like DINO (trained without labels). The two DINO rows are measured by linear "
            "probe and the two ViT-B rows are fine-tuned classifiers, so compare within a pair, not across pairs.")
# the zoo's architectures with random weights on a random input: one measurement per process, for every model and image
if not asked("trained_pairs_run", ctx.has_on_this_computer("trained_pairs")):
    ask_button("trained_pairs_run", "Count and time the trained pairs on this computer", key="run_trained_pairs")
else:
    costs = ctx.on_this_computer("trained_pairs", run=trained_patch_sizes.pair_costs,
                                 long=True, label="Building each architecture and timing one image…")
    st.dataframe([{"model": c.spec.title, "patch (px)": c.spec.patch_size, "tokens": c.tokens,
                   "attention scores per image": f"{c.attention_scores:,}", "GMACs per image": round(c.gmacs, 2),
                   "time here (ms)": round(1000 * c.seconds, 1), "published top-1 (%)": c.published.top1,
                   "what was measured": c.published.metric, "source": c.published.source} for c in costs],
                 hide_index=True)
    st.markdown("Time: one image through each architecture on this computer, with random weights and a random "
               "input (the arithmetic costs the same whatever the weights and the image). It is one measurement of "
               "each architecture, taken once per process when someone first asks, and then shown to everyone using "
               "this server, whatever their model and image; it is apart from the Bits page's timing, so the two "
               "differ with the machine's load when each was taken. A GMAC is a billion multiply-accumulate "
               "operations.")
    st.markdown(trained_patch_sizes.verdict(costs))
st.markdown(PATCH_BUDGET_NOTE)
st.subheader(provenance.resampled_heading(ctx.bundle.provenance))
st.markdown(
    ("A model is built at one patch size at a time; this one was trained at many"
     if trained_patch_sizes.sizes_trained_at(ctx.bundle.spec, ctx.bundle.provenance)
     else provenance.built_at_one_size(ctx.bundle.provenance)) +
    " (the article is right that it does not depend on the image). "
    "timm can still resample its patch projection to another size (`resample_patch_embed`, from FlexiViT, a ViT "
    "trained to work at many patch sizes) and its **position embeddings** (the "
    f"{provenance.learned(ctx.bundle.provenance)} vectors that say where each "
    "patch sits) to the new grid (`resample_abs_pos_embed`, which resamples the grid of position vectors to the "
    "new size). Run this model at several patch sizes on "
    "your image: the token count and the attention cost change as above; "
    + (trained_patch_sizes.several_sizes_sentence(ctx.bundle.spec, ctx.bundle.provenance)
       or provenance.resampled_meaning(ctx.bundle.provenance)))
options = patches.patch_size_options(a.patch_size, a.image.shape[0])
default = [p for p in options if a.patch_size // 2 <= p <= a.patch_size * 2][:5]
sizes = st.multiselect("Patch sizes to try (px)", options, default=default, key="patch_sizes")
if st.button("Run the model at these patch sizes", key="run_patch_sizes", disabled=not sizes):
    st.session_state["patch_sizes_run"] = sorted(sizes)
ran = st.session_state.get("patch_sizes_run")
if ran:
    results = ctx.experiment("patch_size", tuple(ran), run=lambda: patches.patch_size_experiment(ctx.bundle, a, ran),
                             long=True, label="Running the resampled models…")
    chart_row(patch_size_figures([r.patch for r in results], [r.tokens for r in results],
                                 [r.attention_scores for r in results], [r.seconds for r in results],
                                 [r.top_prob for r in results], [r.top_label.split(",")[0] for r in results],
                                 a.patch_size), "patch_size_chart")
    st.dataframe([{"patch (px)": r.patch, "tokens": r.tokens, "attention scores": r.attention_scores,
                   "time (ms)": round(1000 * r.seconds, 1), "top-1": r.top_label.split(",")[0],
                   "probability": round(r.top_prob, 4),
                   "trained at this size": trained_patch_sizes.trained_here(ctx.bundle.spec, ctx.bundle.provenance,
                                                                            r.patch)} for r in results],
                 hide_index=True)
    st.markdown("Time is one forward pass on this computer, measured now. "
                + ("" if trained_patch_sizes.sizes_trained_at(ctx.bundle.spec, ctx.bundle.provenance)
                   else provenance.patch_size_sentence(a.patch_size, ctx.bundle.provenance)))

with st.expander("In depth: the image as the model sees it"):
    chart(ctx.figure(home_views.seen_image), key="patches_seen")
close_stage("patches")
