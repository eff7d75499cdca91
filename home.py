"""vitviz home: choose an image, see the prediction, the pipeline at a glance and the article's claims."""

import streamlit as st

from ui.charts import chart
from ui.classroom import join_box
from ui.context import current
from ui.widgets import fallback_notice, image_sources
from vitviz.claims import CARD_CLASSES, CARD_CONV, CARD_VLM, graded
from vitviz.export import to_npz
from vitviz.figures.images import encode_image
from vitviz.handout import handout_html
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model import provenance
from vitviz.stages import article, closeness, confidence
from vitviz.views import article as article_views, home as views
from vitviz.walkthrough import BY_KEY, STAGES

ctx = current()
bundle, a = ctx.bundle, ctx.analysis

fallback_notice(ctx)  # at the top: which model is shown, and why
st.title("vitviz — watch a Vision Transformer read your image")
origin = provenance.these_weights(bundle.provenance)  # '' for the published checkpoint and the bundled model
reads = "reads a picture as a sequence of squares the way a language model reads words"
st.markdown(
    "Upload a photo (or pick a sample) and follow a " + (
        f"**real pretrained Vision Transformer** (ViT: a neural network, already trained on many images, that {reads})"
        if not origin else f"**Vision Transformer** (ViT: a neural network that {reads}; on screen now, {origin})") +
    " through every step: the image is cut into **patches** (small squares of pixels), each patch "
    "becomes a **vector** (a list of numbers), a **CLS token** (CLS for *classification*: one extra "
    "vector that collects a summary of the image) and **position embeddings** (vectors that say where each patch sits) join them, **self-attention** (each "
    "vector takes in the others, weighted by how relevant it finds them) mixes them **block** after block (a block: "
    "attention, then a small network applied to each vector alone), and the CLS token becomes the " +
    ("prediction." if bundle.labels else "model's output (this one has no classifier, so no prediction)."))
st.markdown(
    "Every number about your image is computed by the **model actually shown**, named in the sidebar: the one you "
    "picked or, when its weights are neither on this computer nor downloadable, the bundled offline shapes model, "
    "and a warning on each page then says so. Where a number comes from elsewhere, the page says so too: the "
    "timings and the activation-memory measurement on the Bits & memory page, and the timed model pairs on the "
    "Patches page, run on **random input of the model's size** (their cost does not depend on what the picture "
    "shows; the pairs also use random weights), memory estimates come from formulas the page writes out, and "
    "numbers from papers are cited as published.")

join_box()  # a learner in no class: the code from the teacher's screen
left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("1 · Your image")
    image_sources(shapes_first=bundle.spec.labels == "shapes")
with right:
    st.subheader("2 · What the model predicts",
                 help="A classifier gives each of its classes (the fixed list of answers its last layer can give) a "
                      "probability; the chart shows the five most likely.")
    if a is None:
        st.info("Choose an image on the left to see the prediction.", icon="👈")
    else:
        st.image(encode_image(a.image)[0], caption=f"What the model sees: {a.image.shape[1]}×{a.image.shape[0]} "
                                  "pixels after its own resize (and crop, if any)", width=300)
        if a.top_labels:
            chart(ctx.figure(views.prediction), key="home_topk")
            if not_sure := confidence.not_sure_line(a.logits):
                st.info(not_sure, icon="🤷")
        else:
            st.info(f"{provenance.no_classifier_sentence(bundle.spec, bundle.provenance)}. A classifier is the "
                    "last layer that turns the CLS token into class probabilities; without one the model still turns the "
                    "image into tokens and attention, which the other pages show.", icon="ℹ️")
        st.caption(f"Model: **{bundle.spec.title}** ({provenance.model_name(bundle.spec, bundle.provenance)}) · device: **{bundle.device.type.upper()}**"
                   f" · weights: {bundle.source}",
                   help="timm: the PyTorch library of image models this one comes from. Device: the chip that runs "
                        "it (CPU: the computer's main processor; CUDA: an NVIDIA graphics card). Weights: the model's "
                        f"{provenance.learned(bundle.provenance)} numbers.")

st.subheader("3 · The pipeline at a glance")
facts = {}
if a is not None:
    facts = {
        "patches": f"{a.grid[0]}×{a.grid[1]} = {a.num_patches} patches of {a.patch_size}×{a.patch_size} px",
        "vectors": f"{a.num_patches} vectors of {a.embed_dim} numbers, + {a.prefix_phrase}, + positions",
        "block": f"{a.num_tokens} × {a.embed_dim} in, {a.heads} heads of {a.embed_dim // a.heads}, the same size out",
        "attention": f"{a.depth} blocks × {a.heads} heads, {a.num_tokens}² = {a.num_tokens ** 2:,} scores each",
        "positions": f"{a.num_patches} position vectors, one per patch"
                     + (f" (+ {a.num_prefix} for the prefix tokens)" if a.num_prefix and a.pos_embed.any() and
                        bool(abs(a.pos_embed[:a.num_prefix]).sum()) else ""),
        "bits": f"{a.num_tokens * a.embed_dim:,} token numbers + {a.heads * a.num_tokens ** 2:,} attention "
                f"weights per layer, 4 bytes each in fp32",
    }
terms = {
    "patches": "px: pixels. The patches are read row by row from the top left, like text.",
    "vectors": "Token: one vector in the sequence the model reads (each patch, plus the CLS token).",
    "attention": "Head: one of several attention patterns a block computes side by side. Score: how much one token "
                 "looks at another, so tokens² scores per head.",
    "positions": provenance.positions_term(bundle.provenance),
    "block": "MLP: two matrix multiplications with a GELU (a smooth cut-off of negative numbers) between them, "
             "applied to each token on its own.",
    "bits": "fp32: a 32-bit floating-point number, 4 bytes; the model computes with numbers like this.",
}
for col, stage in zip(st.columns(len(STAGES)), STAGES):
    with col:
        st.markdown(f"**{stage.title}**")
        st.caption(facts.get(stage.key, stage.summary), help=terms.get(stage.key))
        st.page_link(stage.page, label=f"Open {stage.title}", icon=stage.icon)
st.caption("Image → patches → vectors + CLS + positions → transformer blocks → CLS token → " +
           ("prediction" if bundle.labels else f"features ({bundle.spec.title} has no classifier: no prediction)"))


def vlm_card() -> None:
    t = article.token_arithmetic(bundle, a)
    st.markdown(article.vit_sentence(bundle.spec.title, t))
    st.markdown(article.vlm_sentence(t))
    st.page_link(BY_KEY["vlm"].page, label=f"{BY_KEY['vlm'].title}: the same steps live on a real small VLM",
                 icon=BY_KEY["vlm"].icon)


def conv_card() -> None:
    check = ctx.experiment("conv_patches", run=lambda: article.conv_check(bundle, a),
                           label="Running the patch embedding on your image…")
    for sentence in article.conv_sentences(check):
        st.markdown(sentence)


def classes_card() -> None:
    closed = article.closed_set(bundle, a)
    unknown = article.unknown_sample(bundle)
    if closed is not None:
        chart(ctx.figure(article_views.class_probabilities), key="home_classes")
    shown = unknown is not None and ctx.image.origin == "sample" and ctx.image.name == SAMPLES[unknown[0]].title
    st.markdown(article.closed_set_sentence(bundle.spec.title, closed, a.embed_dim, unknown and unknown[1], shown))


CARDS = {CARD_VLM: vlm_card, CARD_CONV: conv_card, CARD_CLASSES: classes_card}

st.subheader("4 · What the article says, checked live")
st.markdown("vitviz started from a beginner's article about how image models work. Most of it is a fine first "
            "picture; below are its own words (spelling and all; [sic] marks the article's spelling, … a cut), "
            "a verdict, and what is true. Each one is shown live on your image: on a page, or in a card right here.")
by_block = (ctx.built("closeness", build=lambda: closeness.closeness_by_block(a))  # shared with Block and Attention
            if a is not None and a.attentions.size else None)
for row in ctx.built("claims_graded", build=lambda: graded(bundle, a, by_block)):  # verdicts measured on this model and image
    claim = row.claim
    c1, c2, c3 = st.columns([3, 3, 2])
    c1.markdown(f"{row.verdict_label} · *“{claim.quote}”*")
    c2.markdown(row.truth)
    with c3:
        if claim.on_home:
            st.markdown(f"🔎 See it below: {claim.where}")
        else:
            st.page_link(BY_KEY[claim.stage].page, label=f"See it: {claim.where}", icon="🔎")
        if claim.also:
            st.page_link(BY_KEY[claim.also].page, label=f"Live: {BY_KEY[claim.also].title}", icon=BY_KEY[claim.also].icon)
    if claim.on_home:
        with st.expander(f"🔎 {claim.where}"):
            if a is None:
                st.info("Choose an image (section 1) to see this on your image and this model.", icon="👆")
            else:
                CARDS[claim.where]()

if a is not None:
    st.subheader("5 · Take it with you")
    d1, d2 = st.columns(2)
    d1.download_button("Download the numbers (NPZ: every captured array + summary.json)",
                       data=lambda: to_npz(a, bundle.spec.title), file_name=f"vitviz_{ctx.file_stem}.npz",
                       mime="application/octet-stream", key="dl_npz",
                       help="NPZ: NumPy's archive of arrays, readable with numpy.load in Python.")
    d2.download_button("Download the handout (one HTML file, opens offline)",
                       data=lambda: handout_html(bundle, a, ctx.image.name),
                       file_name=f"vitviz_handout_{ctx.file_stem}.html", mime="text/html", key="dl_handout",
                       help="HTML: a web page; open the file in any browser, no network needed.")
    st.caption("Every chart can also be saved as a PNG (an image file) from its own toolbar (the camera icon).")
