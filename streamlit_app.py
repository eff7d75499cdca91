"""vitviz home: choose an image and a model, see the prediction and the pipeline at a glance."""

import streamlit as st

from ui import widgets
from ui.stages import STAGES
from vitviz.figures.prediction import top_k_bar

widgets.setup_page("Home", "🔬")

st.title("vitviz — watch a Vision Transformer read your image")
st.markdown(
    "Upload a photo (or pick a sample) and follow a **real pretrained Vision Transformer** through every step: "
    "the image is cut into patches, each patch becomes a vector, a CLS token and position embeddings join them, "
    "self-attention mixes them block after block, and the CLS token becomes the prediction. "
    "Every number on every page is computed from the model you pick, on your image.")

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("1 · Your image")
    widgets.image_sources()

result = widgets.current_analysis()
with right:
    st.subheader("2 · What the model predicts")
    if result is None:
        st.info("Choose an image on the left to see the prediction.", icon="👈")
    else:
        bundle, analysis = result
        st.image(analysis.image, caption=f"What the model sees: {analysis.image.shape[1]}×{analysis.image.shape[0]} "
                                         "pixels after its own resize and crop", width=300)
        if analysis.top_labels:
            st.plotly_chart(top_k_bar(analysis.top_labels, analysis.top_probs, f"Top {len(analysis.top_labels)} "
                                      f"of {analysis.logits.shape[0]} classes"), key="home_topk")
        else:
            st.info(f"{bundle.spec.title} was trained without labels (self-supervised), so it has no classifier: "
                    "it still turns the image into tokens and attention, which the other pages show.", icon="ℹ️")
        st.caption(f"Model: **{bundle.spec.title}** (`{bundle.spec.timm_name}`) · device: **{bundle.device.type.upper()}**"
                   f" · weights: {bundle.source}")

st.subheader("3 · The pipeline at a glance")
facts = None
if result is not None:
    _, a = result
    facts = {
        "patches": f"{a.grid[0]}×{a.grid[1]} = {a.num_patches} patches of {a.patch_size}×{a.patch_size} px",
        "vectors": f"{a.num_patches} vectors of {a.embed_dim} numbers, + 1 CLS, + positions",
        "attention": f"{a.depth} blocks × {a.heads} heads, {a.num_tokens}² = {a.num_tokens ** 2:,} scores each",
        "positions": f"{a.pos_embed.shape[0]} learned position vectors",
        "bits": f"{a.num_tokens * a.embed_dim:,} numbers per layer, 4 bytes each in fp32",
    }
cols = st.columns(len(STAGES))
for col, stage in zip(cols, STAGES):
    with col:
        st.markdown(f"**{stage.title}**")
        st.caption(facts.get(stage.key, stage.summary) if facts else stage.summary)
        st.page_link(stage.page, label=f"Open {stage.title}", icon=stage.icon)
st.caption("Image → patches → vectors + CLS + positions → transformer blocks → CLS token → prediction")
