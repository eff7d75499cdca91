"""Stage 3 — Attention: what each token looks at, layer by layer, head by head."""

import numpy as np
import streamlit as st

from ui.charts import chart, clickable_chart
from ui.session import K_ATTN_HEAD, K_ATTN_LAYER, head_label, head_of
from ui.on_request import ask_button, asked
from ui.tour import close_stage, open_stage
from vitviz.figures.prediction import short_label
from vitviz.model import precision, provenance
from vitviz.stages import attention, attention_distance, closeness, confidence
from vitviz.stages import odd_tokens
from vitviz.offline.vit import ATTENTION_NOTE
from vitviz.views import attention as views
from vitviz.walkthrough import BY_KEY

ODD_TOKENS = BY_KEY["odd_tokens"]

ctx = open_stage("attention")
a = ctx.analysis
if ctx.bundle.spec.bundled:
    st.info(ATTENTION_NOTE, icon="🎓")  # an info box, not a caption: it stays visible in presenter mode

st.header("1 · Where the CLS token looks" if a.has_cls else "1 · Where the attention goes (no CLS token)")
if attention.no_cls_note(a):
    st.info(attention.no_cls_note(a), icon="ℹ️")
OPACITY = 0.6
# The opacity slider sits with the maps' block and head controls, inside the fragment; the rollout and class maps
# further down use it too, so a change reruns the page (below) and they read the value it ran with.
opacity = st.session_state.get("attn_opacity", OPACITY)


@st.fragment
def where_cls_looks() -> None:
    """Block and head change only this section: moving them reruns it, not the page (the opacity reruns both)."""
    index = ctx.patch
    pictures = st.container()  # the picture first, its controls below it
    c1, c2, c3 = st.columns(3)
    layer = c1.slider("Block (layer)", 1, a.depth, a.depth, key=K_ATTN_LAYER,
                      help="A block is one round of attention followed by the MLP; the model has "
                           f"{a.depth} of them, one after the other.") - 1
    head_choice = c2.selectbox("Head", [head_label(h) for h in (None, *range(a.heads))], key=K_ATTN_HEAD,
                               help=f"Each block runs {a.heads} attention heads side by side, each with its own "
                                    f"{provenance.learned(ctx.bundle.provenance)} query, key and value projections.")
    head = head_of(head_choice)
    if c3.slider("Heatmap opacity (large maps)", 0.0, 1.0, OPACITY, 0.05, key="attn_opacity",
                 help="These two maps, and the rollout and class maps below.") != opacity:
        st.rerun()  # the whole page: the rollout and class maps outside this fragment follow the new opacity
    with pictures:
        left, right = st.columns(2, gap="large")
    with left:
        clickable_chart(ctx.figure(views.cls_map, layer, head, opacity, index), key="attn_cls", in_fragment=True)
    with right:
        chart(ctx.figure(views.query_map, layer, head, opacity, index), key="attn_query")
    st.caption("Each map is one row of a softmax (it turns scores into positive weights that sum to 1): its values "
               "sum to 1 over all tokens (the CLS column is left out "
               "of the picture). Click a patch on the CLS map (or choose one in the sidebar) to choose the query "
               "of the “Where patch … looks” map.")
    hot = ctx.built("isolated_hot", layer, head, build=lambda: odd_tokens.isolated_hot_patches(
        attention.cls_attention(a, layer, head)))
    if hot:  # single-patch spikes: the Odd tokens page measures whether they are high-norm tokens
        st.info(odd_tokens.hot_note(hot, a.grid, giver="the CLS token" if a.has_cls else "every token on average"),
                icon="✴️")
        st.page_link(ODD_TOKENS.page, label=f"{ODD_TOKENS.title}: norms, registers, a blank image",
                     icon=ODD_TOKENS.icon)
    chart(ctx.figure(views.heads, layer), key="attn_heads")
    chart(ctx.figure(views.layers), key="attn_layers")

    st.subheader("Related means close vectors?")
    st.markdown("The article says patches “which has less difference of vector number are considered as highly "
                f"related”. Left: how close each patch's token is to the selected patch's as they **enter block "
                f"{layer + 1}** (positions included: what this block's attention reads), by cosine similarity (1: "
                "same direction). Right: where that patch actually looks in this block. Attention compares "
                f"{provenance.attention_compares(ctx.bundle.provenance, '**')}, so it can differ from "
                "plain closeness; r (the Pearson correlation, −1…1, of closeness with the attention score) "
                "measures how far it does.")
    chart(ctx.figure(views.relatedness, layer, head, index), key="attn_related")
    rel = ctx.built("relatedness", layer, head, index, build=lambda: closeness.relatedness(a, layer, head, index))
    st.markdown(f"On this image, block {layer + 1}, {head_choice}: " + closeness.relatedness_sentence(rel))
    st.markdown(ctx.built("closeness_by_block", build=lambda: closeness.closeness_sentence(
        ctx.built("closeness", build=lambda: closeness.closeness_by_block(a)))))

where_cls_looks()

st.header("2 · Attention rollout (Abnar & Zuidema, 2020)")
st.latex(r"\hat A_l = \mathrm{rownorm}\!\left(0.5\,\mathrm{fuse}_h(A_l) + 0.5\,I\right),\qquad "
         r"R = \hat A_L \cdots \hat A_2\,\hat A_1,\qquad \text{map} = R[\mathrm{CLS},\ \text{patches}]")
st.markdown("Rollout multiplies the attention of all blocks together to estimate how much each patch reaches the "
            "CLS token by the end. In the formula, fuse combines a block's heads into one matrix (their mean, max or "
            "min), and the 0.5·I term accounts for the residual connection (each block adds its result "
            "to its input); rownorm divides each row by its own sum. "
            "Optionally, the weakest links in each row are discarded first (the CLS column is kept). The maps' "
            "colour, **relevance**, is how much each patch counts toward the CLS token: higher means more.")


@st.fragment
def rollout_section() -> None:
    """Fusion and discard ratio change only the rollout map."""
    r1, r2 = st.columns(2)
    fusion = r1.radio("Head fusion", attention.HEAD_FUSIONS, horizontal=True, key="rollout_fusion",
                      help="How a block's heads are combined into one attention matrix: their mean, max or min.")
    discard = r2.slider("Discard ratio (weakest links per row)", 0.0, 0.95, 0.0, 0.05, key="rollout_discard",
                        help="The share of each row's smallest attention weights set to zero before rollout "
                             "(the CLS column is always kept).")
    chart(ctx.figure(views.rollout, fusion, discard, opacity), key="attn_rollout")


rollout_section()
st.markdown("Rollout is the same for every class: it shows where information flows to the CLS token, not "
            "the evidence for one answer.")

st.header("3 · Class-specific map: gradient-weighted rollout (Chefer, Gur & Wolf, ICCV 2021)")
st.latex(r"R = I;\quad R \mathrel{+}= \mathrm{mean}_h\big((\nabla A_l \odot A_l)^{+}\big)\,R\ \ "
         r"\text{for } l = 1 \ldots L;\quad \text{map} = R[\mathrm{CLS},\ \text{patches}]")
no_gradient = attention.gradient_unavailable(ctx.bundle)
if a.top_labels and no_gradient:
    others = [k for k, why in precision.offered(ctx.bundle.device, ctx.fp32.model).items() if why is None and k != "int8"]
    st.info(f"Not in {ctx.precision}: {no_gradient}. Switch the number format to {', '.join(others)} to see this map.",
            icon="ℹ️")
elif a.top_labels:
    @st.fragment
    def class_map() -> None:
        """The class changes only this map (one backward pass per class, cached)."""
        g1, g2 = st.columns([1, 2], gap="large")
        with g1:
            cls_pick = st.selectbox("Explain class", list(range(len(a.top_labels))), key="grad_class",
                                    format_func=lambda i: f"{short_label(a.top_labels[i])} ({a.top_probs[i]:.1%})")
            st.markdown("∇A is the **gradient**: how much the chosen class's score would change if an attention "
                        "weight changed. Only the positive part of gradient × attention is kept.")
            if not_sure := confidence.not_sure_line(a.logits):
                st.info(not_sure, icon="🤷")
        target = a.top_indices[cls_pick]
        if not asked("grad_requested", ctx.has_experiment("grad_rollout", target)):
            with g2:  # a forward and a backward pass: on request (ui/on_request.py)
                st.markdown("This map needs ∇A, which the page's first run of the model did not work out. One "
                            "more run on this image goes forward to the chosen class's score, then backward from "
                            "that score through every block: the backward pass (the step training uses) gives ∇A "
                            "for every attention weight at once.")
                ask_button("grad_requested", "Compute the class map", key="grad_run")
            return
        grad_map = ctx.experiment("grad_rollout", target,
                                  run=lambda: attention.gradient_rollout(ctx.bundle, a, target),
                                  long=True, label="One forward and one backward pass for this class…")
        with g2:
            chart(ctx.built("gradient_relevance", target, opacity, build=lambda: views.relevance(
                ctx.bundle, a, grad_map, short_label(a.top_labels[cls_pick]), opacity)), key="attn_grad")

    class_map()
else:
    st.info("This model has no classifier, so there is no class to explain; the rollout above still shows "
            "where the CLS token gathers information.", icon="ℹ️")

st.header("4 · How far do heads look? Mean attention distance")
distance = ctx.built("attention distance", build=lambda: attention.mean_attention_distance(  # [L, H] px, once
    a.attentions, a.grid, a.patch_size, a.num_prefix))
chart(ctx.built("attention distance figure", build=lambda: views.distances(ctx.bundle, a, distance)),
      key="attn_distance")
st.caption("Σⱼ Aᵢⱼ·‖pᵢ − pⱼ‖ in pixels (patch-to-patch attention renormalised), averaged over all query "
           "patches (the ViT paper, Dosovitskiy et al., 2021, Figure 7 right). The line is each block's median head: the sentence below judges "
           "its trend over depth.")
st.markdown(ctx.built("distance_verdict", build=lambda: attention_distance.distance_verdict(
    distance, attention.uniform_attention_distance(a.grid, a.patch_size))))

st.header("5 · DINO-style masks", help="DINO: a self-supervised training method for ViTs, with no labels "
                                       "(Caron et al. 2021); its paper showed masks like these.")


@st.fragment
def dino_section() -> None:
    """The share kept changes only the masks."""
    fraction = st.slider("Keep the patches that hold this share of the head's CLS attention", 0.1, 0.95, 0.6, 0.05,
                         key="dino_fraction")
    chart(ctx.figure(views.dino_masks, fraction), key="attn_dino")
    mean_kept = ctx.built("dino_kept", fraction, build=lambda: float(np.mean(
        [attention.dino_mask(attention.cls_attention(a, a.depth - 1, h), fraction).mean() for h in range(a.heads)])))
    st.caption(f"On average a head needs {mean_kept:.0%} of the patches to hold {fraction:.0%} of its attention on "
               "patches.")


dino_section()
close_stage("attention")
