"""Stage 3 — Attention: what each token looks at, layer by layer, head by head."""

import numpy as np
import streamlit as st

from ui import interact, session, widgets
from ui.tour import page_nav
from vitviz.stages import attention
from vitviz.figures.images import heatmap_overlay
from vitviz.figures.maps import distance_figure, small_multiples
from vitviz.figures.prediction import short_label

bundle, a, chosen = widgets.open_stage("attention", "Attention: every token looks at every other")
P = a.patch_size

c1, c2, c3 = st.columns(3)
layer = c1.slider("Block (layer)", 1, a.depth, a.depth, key="attn_layer") - 1
head_choice = c2.selectbox("Head", ["mean of heads"] + [f"head {h}" for h in range(a.heads)], key="attn_head")
opacity = c3.slider("Heatmap opacity (large maps)", 0.0, 1.0, 0.6, 0.05, key="attn_opacity")
head = None if head_choice == "mean of heads" else int(head_choice.split()[1])
A = (bundle.spec.key, chosen.digest)  # what every figure below is drawn from
SMALL_OPACITY = 0.6  # small multiples keep one blend; the opacity control is for the large maps
index = session.selected_patch(a.num_patches)

st.header("1 · Where the CLS token looks")
left, right = st.columns(2, gap="large")
with left:
    interact.clickable_chart(interact.figure(("attn_cls", *A, layer, head, opacity, index), lambda: heatmap_overlay(
        a.image, attention.cls_attention(a, layer, head), P, opacity, selected=index, height=460,
        colorbar_title="attention", title=f"CLS → patches, block {layer + 1}, {head_choice}")), key="attn_cls")
with right:
    interact.patch_picker(a.num_patches, a.grid, key="attn_picker")
    interact.chart(interact.figure(("attn_query", *A, layer, head, opacity, index), lambda: heatmap_overlay(
        a.image, attention.query_attention(a, layer, head, index), P, opacity, selected=index, height=400,
        colorbar_title="attention", title=f"Where patch {index} looks (its query row), block {layer + 1}")),
        key="attn_query")
st.caption("Each map is one row of a softmax: its values sum to 1 over all tokens (the CLS column is left out "
           "of the picture). Click a patch on the left map to choose the query on the right.")

interact.chart(interact.figure(("attn_heads", *A, layer), lambda: small_multiples(
    a.image, [attention.cls_attention(a, layer, h) for h in range(a.heads)],
    [f"head {h}" for h in range(a.heads)], SMALL_OPACITY, columns=min(6, a.heads),
    title=f"All {a.heads} heads of block {layer + 1}: CLS attention (each map scaled on its own)")),
    key="attn_heads")
interact.chart(interact.figure(("attn_layers", *A), lambda: small_multiples(
    a.image, [attention.cls_attention(a, layer_i) for layer_i in range(a.depth)],
    [f"block {i + 1}" for i in range(a.depth)], SMALL_OPACITY, columns=min(6, a.depth),
    title="Mean over heads, every block: how CLS attention changes with depth")), key="attn_layers")

st.header("2 · Attention rollout (Abnar & Zuidema, 2020)")
st.latex(r"\hat A_l = \mathrm{rownorm}\!\left(0.5\,\mathrm{fuse}_h(A_l) + 0.5\,I\right),\qquad "
         r"R = \hat A_L \cdots \hat A_2\,\hat A_1,\qquad \text{map} = R[\mathrm{CLS},\ \text{patches}]")
st.markdown("The 0.5·I term accounts for the residual connection; each row is divided by its own sum. "
            "Optionally, the weakest links in each row are discarded first (the CLS column is kept).")
r1, r2 = st.columns(2)
fusion = r1.radio("Head fusion", attention.HEAD_FUSIONS, horizontal=True, key="rollout_fusion")
discard = r2.slider("Discard ratio (weakest links per row)", 0.0, 0.95, 0.0, 0.05, key="rollout_discard")

st.header("3 · Class-specific map: gradient-weighted rollout (Chefer et al., 2021)")
st.latex(r"R = I;\quad R \mathrel{+}= \mathrm{mean}_h\big((\nabla A_l \odot A_l)^{+}\big)\,R\ \ "
         r"\text{for } l = 1 \ldots L;\quad \text{map} = R[\mathrm{CLS},\ \text{patches}]")
g1, g2 = st.columns(2, gap="large")
with g1:
    interact.chart(interact.figure(("attn_rollout", *A, fusion, discard, opacity), lambda: heatmap_overlay(
        a.image, attention.rollout_map(a, fusion, discard), P, opacity, height=440, colorbar_title="relevance",
        title=f"Rollout ({fusion}, discard {discard:.2f})")), key="attn_rollout")
with g2:
    if a.top_labels:
        cls_pick = st.selectbox("Explain class", list(range(len(a.top_labels))), key="grad_class",
                                format_func=lambda i: f"{short_label(a.top_labels[i])} ({a.top_probs[i]:.1%})")
        target = a.top_indices[cls_pick]
        grad_map = interact.cached_experiment(
            ("grad_rollout", bundle.spec.key, chosen.digest, target),
            lambda: attention.gradient_rollout(bundle, a, target), "One backward pass for this class…")
        interact.chart(interact.figure(("attn_grad", *A, target, opacity), lambda: heatmap_overlay(
            a.image, grad_map, P, opacity, height=400, colorbar_title="relevance",
            title=f"Evidence for “{short_label(a.top_labels[cls_pick])}”")), key="attn_grad")
    else:
        st.info("This model has no classifier, so there is no class to explain; rollout on the left still shows "
                "where the CLS token gathers information.", icon="ℹ️")

st.header("4 · How far do heads look? Mean attention distance")
interact.chart(interact.figure(("attn_distance", *A), lambda: distance_figure(
    attention.mean_attention_distance(a.attentions, a.grid, P, a.num_prefix),
    attention.uniform_attention_distance(a.grid, P),
    f"Mean attention distance per head and block, on this image ({a.grid[0]}×{a.grid[1]} patches of {P} px)")),
    key="attn_distance")
st.caption("Σⱼ Aᵢⱼ·‖pᵢ − pⱼ‖ in pixels (patch-to-patch attention renormalised), averaged over all query "
           "patches (ViT paper, Figure 7 right). Early blocks mix near and far heads; later ones mostly look far.")

st.header("5 · DINO-style masks")
fraction = st.slider("Keep the patches that hold this share of the head's CLS attention", 0.1, 0.95, 0.6, 0.05,
                     key="dino_fraction")
masks = [attention.dino_mask(attention.cls_attention(a, a.depth - 1, h), fraction).astype(float)
         for h in range(a.heads)]
interact.chart(interact.figure(("attn_dino", *A, fraction), lambda: small_multiples(
    a.image, masks, [f"head {h}: {int(m.sum())} patches" for h, m in enumerate(masks)], SMALL_OPACITY,
    columns=min(6, a.heads), title=f"Last block, per head: the fewest patches holding {fraction:.0%} of the "
                                   "CLS attention")), key="attn_dino")
mean_kept = float(np.mean([m.mean() for m in masks]))
st.caption(f"On average a head needs {mean_kept:.0%} of the patches to hold {fraction:.0%} of its attention.")
page_nav("attention")
