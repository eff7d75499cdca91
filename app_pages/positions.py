"""Stage 4 — Positions: how the model knows where a patch sits."""

import numpy as np
import streamlit as st

from ui import interact, widgets
from ui.tour import page_nav
from vitviz.stages import positions
from vitviz.figures.images import grid_heatmap, image_figure
from vitviz.figures.maps import similarity_grid_figure, waves_figure
from vitviz.figures.prediction import short_label
from vitviz.figures.style import DIVERGING
from vitviz.figures.tokens import layer_lines

bundle, a, chosen = widgets.open_stage("positions", "Positions: where is each patch?")
pos = positions.patch_positions_embed(a)  # [N, D]
D = a.embed_dim

st.header(f"1 · {bundle.spec.title}'s learned position embeddings")
learned_sim = positions.similarity_grid(pos, a.grid)
left, right = st.columns([3, 2], gap="large")
with left:
    interact.clickable_chart(similarity_grid_figure(
        positions.tile_grid(learned_sim), a.grid,
        title="Tile (row, col): cosine similarity of that position's embedding with every position (click one)"),
        key="pos_grid")
with right:
    index = interact.patch_picker(a.num_patches, a.grid, key="pos_picker")
    r, c = divmod(index, a.grid[1])
    interact.chart(grid_heatmap(learned_sim[r, c], f"Position {index} (row {r}, col {c}) vs all positions",
                                 colorscale=DIVERGING, zmin=-1, zmax=1, height=420, colorbar_title="cosine"),
                    key="pos_one")
s = positions.structure(pos, a.grid)
st.markdown(f"Mean cosine with the 4 neighbours: **{s.neighbour_cosine:.3f}**; with positions ≥ 3 patches away: "
            f"**{s.far_cosine:.3f}**. Nobody told the model about rows and columns: these vectors were learned "
            "from data, and the row/column structure emerged (ViT paper, Figure 7 centre).")
interact.chart(layer_lines(np.stack([s.by_row_offset, s.by_col_offset]), "Similarity falls with distance",
                            y_title="mean cosine", x_title="offset (patches)", names=["along a column", "along a row"]),
                key="pos_offsets")

st.header("2 · Sin and cos: where the article is right")
st.markdown("The article says positions are encoded with sin and cos. That is true of the original Transformer "
            "(1D) and of some vision models such as MAE (2D). The models here learn theirs instead. Compare, at "
            f"the same size ({a.num_patches} positions × {D} dimensions):")
sc1 = positions.sincos_1d(a.num_patches, D)
sc2 = positions.sincos_2d(a.grid, D)
k1, k2 = st.columns(2, gap="large")
with k1:
    interact.chart(similarity_grid_figure(positions.tile_grid(positions.similarity_grid(sc1, a.grid)), a.grid,
                                           "1D sin-cos (Vaswani et al.): positions counted along the raster",
                                           height=420), key="pos_sc1")
with k2:
    interact.chart(similarity_grid_figure(positions.tile_grid(positions.similarity_grid(sc2, a.grid)), a.grid,
                                           "2D sin-cos (MAE; timm build_sincos2d_pos_embed)", height=420),
                    key="pos_sc2")
dims = st.multiselect("Dimensions to plot", list(range(D)), default=[0, 1, 2, 3, D // 2], key="pos_dims")
w1, w2 = st.columns(2, gap="large")
with w1:
    interact.chart(waves_figure(sc1, dims, "1D sin-cos: smooth waves by construction"), key="pos_wave_sc")
with w2:
    interact.chart(waves_figure(pos, dims, f"{bundle.spec.title}: the same dimensions, learned"), key="pos_wave_l")

st.header("3 · Another resolution: resample the positions")
native = a.image.shape[0]
options = sorted({native // 2, native * 3 // 4, native, native * 5 // 4, native * 3 // 2} - {0})
options = [o - o % a.patch_size for o in options]
size = st.select_slider("Input size (px)", options, value=native, key="pos_resolution")
pred = interact.cached_experiment(
    ("resolution", bundle.spec.key, chosen.digest, size),
    lambda: positions.run_at_resolution(bundle, chosen.image, size), "Running at the new resolution…")
q1, q2 = st.columns([1, 2])
with q1:
    st.image(pred.image, caption=f"{size}×{size} px", width="stretch")
with q2:
    st.metric("Tokens", pred.tokens, delta=pred.tokens - a.num_tokens)
    if bundle.labels:
        st.metric("Top-1", f"{short_label(pred.label)}", delta=f"{pred.prob:.1%} (was {a.top_probs[0]:.1%})",
                  delta_color="off")
    st.caption(f"Position embeddings resampled from {a.grid[0]}×{a.grid[1]} to "
               f"{size // a.patch_size}×{size // a.patch_size} with timm's resample_abs_pos_embed (bicubic).")

st.header("4 · Shuffle the patches")
seed = st.number_input("Shuffle seed", 0, 10_000, 0, key="shuffle_seed")
shuf = interact.cached_experiment(("shuffle", bundle.spec.key, chosen.digest, int(seed)),
                                  lambda: positions.shuffle_experiment(bundle, a, int(seed)), "Shuffling…")
e1, e2 = st.columns([1, 2], gap="large")
with e1:
    interact.chart(image_figure(shuf.shuffled_image, "The same patches, shuffled", height=320), key="pos_shuffled")
with e2:
    unit = "probability" if bundle.labels else "output"
    st.metric(f"With position embeddings: max |Δ {unit}| original vs shuffled", f"{shuf.with_pos_diff:.4f}")
    st.metric(f"Without position embeddings: max |Δ {unit}|", f"{shuf.without_pos_diff:.1e}")
    if bundle.labels:
        top = [bundle.labels[int(np.argmax(v))] for v in (*shuf.with_pos, *shuf.without_pos)]
        st.dataframe([{"": "with positions", "original": short_label(top[0]), "shuffled": short_label(top[1])},
                      {"": "positions removed", "original": short_label(top[2]), "shuffled": short_label(top[3])}],
                     hide_index=True)
    st.markdown("Without positions, attention treats the tokens as a **set**: shuffling them changes nothing "
                "the CLS token can see, so the output is identical up to rounding. Positions are the only place "
                "where order enters.")
page_nav("positions")
