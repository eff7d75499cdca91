"""Stage 1 — Patches: the image the model sees, cut into fixed-size squares."""

import streamlit as st

from ui import interact, session, widgets
from ui.tour import page_nav
from vitviz.stages import patches
from vitviz.figures.images import image_figure, patch_grid_figure
from vitviz.figures.tokens import flattened_patch, patch_pixels_figure, patch_size_figure, token_strip

bundle, a, chosen = widgets.open_stage("patches", "Patches: cutting the image into squares")

st.header("1 · What the model does to your image first")
st.markdown("These steps come from the model's own timm data config: the same resize, crop and normalisation "
            "it was trained with.")
steps = patches.preprocessing_steps(chosen.image, bundle)
for col, step in zip(st.columns(len(steps)), steps):
    with col:
        st.image(step.image, caption=f"{step.name}: {step.detail}", width="stretch")

st.header("2 · The patch grid and the token sequence")
counts = patches.token_counts(a.image.shape[0], a.image.shape[1], a.patch_size, a.num_prefix)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Patch size P", f"{a.patch_size}×{a.patch_size} px")
m2.metric("Patches N = (H/P)·(W/P)", f"{a.grid[0]}·{a.grid[1]} = {counts.patches}")
m3.metric("Tokens N + 1 (CLS)", counts.tokens)
m4.metric("Attention scores (N+1)² per head per layer", f"{counts.scores_per_head:,}")

index = session.selected_patch(a.num_patches)
left, right = st.columns([3, 2], gap="large")
with left:
    interact.clickable_chart(
        patch_grid_figure(a.image, a.patch_size, a.grid, selected=index, height=560,
                          title="Click a patch (indices in raster order)"), key="patches_grid")
with right:
    index = interact.patch_picker(a.num_patches, a.grid, key="patches_picker")
    pix = patches.patch_pixels(a, index)
    interact.chart(patch_pixels_figure(pix, f"Patch {index}: {a.patch_size}×{a.patch_size}×3 pixels"),
                    key="patches_zoom")
interact.chart(token_strip(a.image, a.patch_size, a.grid, title="The sequence the transformer reads: CLS first, "
                            "then the patches row by row (zoom in to see every token)"), key="patches_strip")

st.header("3 · From pixels to numbers")
flat = patches.patch_input_vector(a, index)
extra = a.input_channels[3:]
st.markdown(f"Patch {index} enters the model as **{flat.size} numbers** = {a.patch_size}·{a.patch_size} pixels × "
            f"{len(a.input_channels)} channels: red, green and blue, each pixel normalised as "
            f"`(value/255 − mean) / std`" + (
                f", plus {', '.join(extra)}: a fixed channel this model computes from those three before its "
                "projection (not learned; the stock ViT reads only the colours)" if extra else "") +
            ". The next page multiplies them by one matrix to get the patch's vector.")
interact.chart(flattened_patch(flat, a.patch_size, f"Patch {index} flattened: {flat.size} numbers",
                               channels=a.input_channels), key="patches_flat")
for name, picture in patches.extra_channel_pictures(a):
    interact.chart(image_figure(picture, f"The {name} channel of the whole image (white: strong edge)",
                                height=320), key=f"patches_extra_{name}")

st.header("4 · Is the patch size fixed? Does a smaller patch mean more accuracy?")
st.markdown(
    "The article says patch size is fixed during training, and that more patches means more accuracy. A model "
    "is *trained* at one patch size, but timm can resample its patch projection to another size (FlexiViT's "
    "`resample_patch_embed`) and its position embeddings to the new grid (`resample_abs_pos_embed`). Run the "
    "model at several patch sizes on your image and see what more patches really buy: many more tokens, "
    "quadratically more attention, more time — and not automatically a better answer.")
options = patches.patch_size_options(a.patch_size, a.image.shape[0])
default = [p for p in options if a.patch_size // 2 <= p <= a.patch_size * 2][:5]
sizes = st.multiselect("Patch sizes to try (px)", options, default=default, key="patch_sizes")
if st.button("Run the model at these patch sizes", key="run_patch_sizes", disabled=not sizes):
    st.session_state["patch_sizes_run"] = sorted(sizes)
ran = st.session_state.get("patch_sizes_run")
if ran:
    results = interact.cached_experiment(
        ("patch_size", bundle.spec.key, chosen.digest, tuple(ran)),
        lambda: patches.patch_size_experiment(bundle, a, ran), "Running the resampled models…")
    interact.chart(patch_size_figure([r.patch for r in results], [r.tokens for r in results],
                                      [r.attention_scores for r in results], [r.seconds for r in results],
                                      [r.top_prob for r in results], [r.top_label.split(",")[0] for r in results],
                                      a.patch_size), key="patch_size_chart")
    st.dataframe([{"patch (px)": r.patch, "tokens": r.tokens, "attention scores": r.attention_scores,
                   "time (ms)": round(1000 * r.seconds, 1), "top-1": r.top_label.split(",")[0],
                   "probability": round(r.top_prob, 4)} for r in results], hide_index=True)
    st.caption("Time is one forward pass on this computer, measured now. The model was trained at "
               f"{a.patch_size} px: far from it, predictions usually get worse, whatever the token count.")

with st.expander("In depth: the image as the model sees it"):
    interact.chart(image_figure(a.image, f"{a.image.shape[1]}×{a.image.shape[0]} px after resize and crop"),
                    key="patches_seen")
page_nav("patches")
