"""vitviz home: choose an image and a model, see the prediction and the pipeline at a glance."""

import streamlit as st

# The welcome is drawn before torch and timm are imported (seconds on a first visit), so the page
# appears at once and the rest fills in.
st.set_page_config(page_title="Home · vitviz", page_icon="🔬", layout="wide")
st.title("vitviz — watch a Vision Transformer read your image")
st.markdown(
    "Upload a photo (or pick a sample) and follow a **real pretrained Vision Transformer** through every step: "
    "the image is cut into patches, each patch becomes a vector, a CLS token and position embeddings join them, "
    "self-attention mixes them block after block, and the CLS token becomes the prediction. "
    "Every number on every page is computed from the model you pick, on your image.")

from ui import interact, session, widgets  # noqa: E402
from ui.claims import CLAIMS  # noqa: E402
from ui.stages import STAGES  # noqa: E402
from vitviz.export import to_npz  # noqa: E402
from vitviz.figures.prediction import top_k_bar  # noqa: E402
from vitviz.handout import handout_html  # noqa: E402

widgets.fallback_notice(widgets.setup_page("Home", "🔬"))  # at the top: which model is shown, and why

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("1 · Your image")
    widgets.image_sources()

result = widgets.current_analysis(show_notice=False)
with right:
    st.subheader("2 · What the model predicts")
    if result is None:
        st.info("Choose an image on the left to see the prediction.", icon="👈")
    else:
        bundle, analysis = result
        st.image(analysis.image, caption=f"What the model sees: {analysis.image.shape[1]}×{analysis.image.shape[0]} "
                                         "pixels after its own resize and crop", width=300)
        if analysis.top_labels:
            interact.chart(top_k_bar(analysis.top_labels, analysis.top_probs, f"Top {len(analysis.top_labels)} "
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

st.subheader("4 · What the article gets wrong, shown live")
st.markdown("vitviz started from a beginner's article about how image models work. Most of it is a fine first "
            "picture; these claims are wrong or half-true. Each one has a live demonstration on your image.")
for claim in CLAIMS:
    c1, c2, c3 = st.columns([3, 3, 2])
    c1.markdown(f"*“{claim.said}”*")
    c2.markdown(f"**True:** {claim.truth}")
    with c3:
        st.page_link(claim.page, label=f"See it: {claim.where}", icon="🔎")

if result is not None:
    bundle, analysis = result
    chosen = session.chosen_image()
    st.subheader("5 · Take it with you")
    d1, d2 = st.columns(2)
    d1.download_button("Download the numbers (NPZ: every captured array + summary.json)",
                       data=lambda: to_npz(analysis, bundle.spec.title),
                       file_name=f"vitviz_{bundle.spec.key}_{analysis.image_hash}.npz",
                       mime="application/octet-stream", key="dl_npz")
    d2.download_button("Download the handout (one HTML file, opens offline)",
                       data=lambda: handout_html(bundle, analysis, chosen.name),
                       file_name=f"vitviz_handout_{bundle.spec.key}.html", mime="text/html", key="dl_handout")
    st.caption("Every chart can also be saved as a PNG from its own toolbar (the camera icon).")
