"""vitviz home: choose an image, see the prediction, the pipeline at a glance and the article's claims."""

import streamlit as st

from ui.charts import chart
from vitviz.claims import CLAIMS
from ui.context import current
from vitviz.walkthrough import BY_KEY, STAGES
from ui.widgets import fallback_notice, image_sources
from vitviz.export import to_npz
from vitviz.handout import handout_html
from vitviz.views import home as views

ctx = current()
bundle, a = ctx.bundle, ctx.analysis

fallback_notice(ctx)  # at the top: which model is shown, and why
st.title("vitviz — watch a Vision Transformer read your image")
st.markdown(
    "Upload a photo (or pick a sample) and follow a **real pretrained Vision Transformer** through every step: "
    "the image is cut into patches, each patch becomes a vector, a CLS token and position embeddings join them, "
    "self-attention mixes them block after block, and the CLS token becomes the prediction. "
    "Every number on every page is computed from the model you pick, on your image.")

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("1 · Your image")
    image_sources(shapes_first=bundle.spec.labels == "shapes")
with right:
    st.subheader("2 · What the model predicts")
    if a is None:
        st.info("Choose an image on the left to see the prediction.", icon="👈")
    else:
        st.image(a.image, caption=f"What the model sees: {a.image.shape[1]}×{a.image.shape[0]} "
                                  "pixels after its own resize and crop", width=300)
        if a.top_labels:
            chart(ctx.figure(views.prediction), key="home_topk")
        else:
            st.info(f"{bundle.spec.title} was trained without labels (self-supervised), so it has no classifier: "
                    "it still turns the image into tokens and attention, which the other pages show.", icon="ℹ️")
        st.caption(f"Model: **{bundle.spec.title}** (`{bundle.spec.timm_name}`) · device: **{bundle.device.type.upper()}**"
                   f" · weights: {bundle.source}")

st.subheader("3 · The pipeline at a glance")
facts = {}
if a is not None:
    facts = {
        "patches": f"{a.grid[0]}×{a.grid[1]} = {a.num_patches} patches of {a.patch_size}×{a.patch_size} px",
        "vectors": f"{a.num_patches} vectors of {a.embed_dim} numbers, + 1 CLS, + positions",
        "attention": f"{a.depth} blocks × {a.heads} heads, {a.num_tokens}² = {a.num_tokens ** 2:,} scores each",
        "positions": f"{a.pos_embed.shape[0]} learned position vectors",
        "bits": f"{a.num_tokens * a.embed_dim:,} numbers per layer, 4 bytes each in fp32",
    }
for col, stage in zip(st.columns(len(STAGES)), STAGES):
    with col:
        st.markdown(f"**{stage.title}**")
        st.caption(facts.get(stage.key, stage.summary))
        st.page_link(stage.page, label=f"Open {stage.title}", icon=stage.icon)
st.caption("Image → patches → vectors + CLS + positions → transformer blocks → CLS token → prediction")

st.subheader("4 · What the article gets wrong, shown live")
st.markdown("vitviz started from a beginner's article about how image models work. Most of it is a fine first "
            "picture; these claims are wrong or half-true. Each one has a live demonstration on your image.")
for claim in CLAIMS:
    c1, c2, c3 = st.columns([3, 3, 2])
    c1.markdown(f"*“{claim.said}”*")
    c2.markdown(f"**True:** {claim.truth}")
    with c3:
        st.page_link(BY_KEY[claim.stage].page, label=f"See it: {claim.where}", icon="🔎")

if a is not None:
    st.subheader("5 · Take it with you")
    d1, d2 = st.columns(2)
    d1.download_button("Download the numbers (NPZ: every captured array + summary.json)",
                       data=lambda: to_npz(a, bundle.spec.title), file_name=f"vitviz_{ctx.file_stem}.npz",
                       mime="application/octet-stream", key="dl_npz")
    d2.download_button("Download the handout (one HTML file, opens offline)",
                       data=lambda: handout_html(bundle, a, ctx.image.name),
                       file_name=f"vitviz_handout_{ctx.file_stem}.html", mime="text/html", key="dl_handout")
    st.caption("Every chart can also be saved as a PNG from its own toolbar (the camera icon).")
