"""The guided tour: each page opens with a learner's question and a short true answer, and ends
with previous/next links (the image and model travel in the session, so they carry along)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from .stages import STAGES, home_page


@dataclass(frozen=True)
class Intro:
    question: str
    answer: str
    depth: str


INTROS: dict[str, Intro] = {
    "patches": Intro(
        "Is a pixel like a sub-token?",
        "Not quite. The token of a Vision Transformer is a whole square **patch** of pixels (16×16 for most "
        "models here), not a pixel: the model never looks at single pixels on their own. Patches are the image's "
        "words; there is no smaller unit the model falls back on.",
        "A text model splits a rare word into sub-tokens it knows. A ViT has no such fallback: every image, "
        "familiar or not, is cut into the same grid of patches, and each patch is turned into a vector by one "
        "linear projection. What helps with unseen things is what the later layers learned about textures, "
        "shapes and parts, which the Attention page shows."),
    "vectors": Intro(
        "How does a patch become a vector, and is every vector unique?",
        "Each patch's pixels are multiplied by one learned matrix (plus a bias): that is the whole “linear "
        "projection”. Two patches with the same pixels get the **same** vector; only after the position embeddings "
        "are added do they differ. The CLS token is a learned vector, identical for every image, until attention "
        "mixes the image into it.",
        "The article says vectors are always unique and encode position with sin and cos. Both are checked live "
        "below: identical patches give identical vectors, and the position information is a separate, added "
        "vector (learned in these models; sin/cos in some others, see Positions)."),
    "attention": Intro(
        "How does the model relate patches to each other?",
        "In every block, each token computes a softmax-weighted average of all tokens' values: the weights are "
        "the **attention** probabilities shown here, one map per head. The CLS token reads the image only this "
        "way, so its attention shows where the model gathers evidence.",
        "Attention weights are not a full explanation: values and MLPs matter too. Rollout and gradient rollout "
        "combine the layers; mean attention distance shows heads that look near and heads that look far."),
    "positions": Intro(
        "How does the model know where a patch is?",
        "A position embedding, one vector per grid position, is **added** to each patch vector before the first "
        "block. In ViT-B and the other models here these vectors are learned from data, not computed with sin "
        "and cos — yet they learn rows and columns on their own.",
        "Sin/cos position encodings exist (the original Transformer, MAE) and are compared side by side. Without "
        "positions a transformer cannot tell order at all: shuffle the patches and the output does not change."),
    "bits": Intro(
        "Why does AI need so much memory?",
        "Because it stores many numbers, not because they are “converted into binary” at the end: every weight "
        "and activation is a binary floating-point number (fp32: 4 bytes) from the start. Memory is count × "
        "bytes per number — weights, activations, attention matrices, and for training gradients and optimiser "
        "state.",
        "A GPU does not “execute temporarily”: it does many multiply-adds in parallel. This page counts the "
        "numbers and the multiply-adds for the loaded model, and measures them."),
}


def page_intro(stage_key: str) -> None:
    intro = INTROS[stage_key]
    st.markdown(f"#### ❓ {intro.question}")
    st.markdown(intro.answer)
    with st.expander("In depth"):
        st.markdown(intro.depth)


def page_nav(stage_key: str) -> None:
    """Previous/next links at the bottom of a stage page (home before the first, home after the last)."""
    keys = [s.key for s in STAGES]
    i = keys.index(stage_key)
    st.divider()
    prev_col, next_col = st.columns(2)
    with prev_col:
        if i > 0:
            st.page_link(STAGES[i - 1].page, label=f"← {STAGES[i - 1].title}", icon=STAGES[i - 1].icon)
        else:
            st.page_link(home_page(), label="← Home: image and prediction", icon="🏠")
    with next_col:
        if i + 1 < len(STAGES):
            st.page_link(STAGES[i + 1].page, label=f"{STAGES[i + 1].title} →", icon=STAGES[i + 1].icon)
        else:
            st.page_link(home_page(), label="Back to the prediction →", icon="🏠")
