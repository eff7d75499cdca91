"""Stage — Into a language model: how SmolVLM-256M-Instruct cuts the image, folds patches into image tokens, reads
them next to the question's words, and answers token by token (the answer only with the published weights)."""

import numpy as np
import streamlit as st

from ui import vlm as glue
from ui.charts import chart
from ui.on_request import ask_button, asked
from ui.tour import close_stage, open_stage
from vitviz import wording
from vitviz.figures.prediction import short_label
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model import smolvlm
from vitviz.stages import article, vlm
from vitviz.views import vlm as views
from vitviz.walkthrough import BY_KEY

ctx = open_stage("vlm")
image = ctx.image.image
path = glue.files()
model, verdict = glue.model_for(path, image.width, image.height)
own = model.settings if model is not None else smolvlm.PUBLISHED  # the fetched files' own settings, once here
st.info(f"**{smolvlm.TITLE}** ({smolvlm.REPO_ID}, {smolvlm.LICENSE}) is a separate model from the ViT in the "
        f"sidebar: a SigLIP ViT, a connector and the language model SmolLM2-135M. "
        + (f"Its weights are on this computer ({glue.where(path)}; {model.identity[2]} on the {model.device.type.upper()})." if model is not None else
           verdict.sentence() if verdict is not None else vlm.no_weights_sentence()),
        icon="💬" if model is not None else "📦")

st.header("1 · The image as the VLM cuts it")
edge = st.selectbox("Long side the processor scales the image to", vlm.long_sides(own),
                    index=vlm.long_sides(own).index(own.longest_edge) if own.longest_edge in vlm.long_sides(own) else 0,
                    format_func=lambda e: f"{e} px" + (" (the model's default)" if e == own.longest_edge else ""),
                    key="vlm_edge", help="The model card's size={\"longest_edge\": N*512}: fewer crops, fewer image "
                                         "tokens, a faster answer, less detail.")
s = glue.with_long_side(own, edge)
cuts = ctx.built("vlm_cuts", model.identity if model else None, edge, build=lambda: vlm.cut(
    image, s, model.processor.image_processor if model is not None else None))
pixels = np.asarray(image.convert("RGB"))

chart(ctx.built("vlm_crops_fig", model.identity if model else None, edge,
                build=lambda: views.crops_on_image(pixels, cuts)), key="vlm_crops")
st.markdown(
    f"The processor first scales the image so that its long side is **{s.longest_edge} px** (smaller images are "
    f"scaled up), rounds both sides up to whole crops of **{s.crop} px**, and cuts "
    + (f"**{cuts.rows} × {cuts.cols} = {cuts.n_crops} crops**, then adds the whole image squeezed to {s.crop} × "
       f"{s.crop} px as a **global view**: {cuts.n_views} images for the encoder." if cuts.n_crops else
       f"nothing: the image fits one {s.crop}-px view.")
    + f" Each is cut into {s.crop} / {s.patch} = {s.patches_side} × {s.patches_side} = **{s.patches_side ** 2:,} "
      f"patches of {s.patch} px**, the same idea as the Patches page; the encoder is a ViT of its own.")
chart(ctx.built("vlm_views", model.identity if model else None, edge, build=lambda: views.views(cuts)),
      key="vlm_views")
st.page_link(BY_KEY["patches"].page, label="Patches: the same cut, for the ViT on screen", icon="🧩")

st.subheader("The encoder's own attention, for one patch")
glue.keep_in_range("vlm_view", cuts.n_views)
view = st.selectbox("View", list(range(cuts.n_views)), format_func=cuts.name, key="vlm_view",
                    help="The crops and the global view: the encoder reads each on its own.")
patch = st.number_input(f"Patch of that view (0 … {s.patches_side ** 2 - 1}, row by row)", 0,
                        s.patches_side ** 2 - 1, (s.patches_side // 2) * s.patches_side + s.patches_side // 2,
                        key="vlm_patch")
crop = cuts.crops[view]
opened_view = None
if model is None:
    st.caption("The encoder's attention needs the weights: " + (
        f"`{smolvlm.FETCH_COMMAND}`." if path is None else "this server has not enough memory for them (above)."))
else:
    view_key = glue.key(ctx, model, "view", edge, view)
    if not asked("vlm_view_requested", glue.has(view_key)):  # one more encoder pass: on request (ui/on_request.py)
        st.markdown("The encoder's own attention, and the check of section 2, run the encoder once more on this view "
                    "with its attention probabilities kept.")
        ask_button("vlm_view_requested", "Run the encoder on this view", key="vlm_view_run")
    else:
        opened_view = glue.result(view_key, run=lambda: vlm.open_view(
            model.model, vlm.inputs_for(model.processor, image, vlm.DEFAULT_QUESTION, edge)["pixel_values"][0], view,
            model.settings), label="Running the encoder on this view…")
        layers = opened_view[4].shape[0]
        layer = st.slider("Encoder block", 1, layers, layers, key="vlm_enc_layer") - 1
        side = model.settings.patches_side
        values = opened_view[4][layer, int(patch)].astype(np.float32).reshape(side, side)
        chart(views.encoder_attention(crop, values, int(patch),
                                      f"Where patch {int(patch)} looks in encoder block {layer + 1} (mean of heads)"),
              key="vlm_enc_attn")
st.page_link(BY_KEY["attention"].page, label="Attention: the same maps for the ViT on screen", icon="👀")

st.header("2 · Pixel shuffle and the projection: one image token opened up")
token = st.number_input(f"Image token of that view (0 … {s.tokens_per_crop - 1}, row by row)", 0,
                        s.tokens_per_crop - 1, (s.tokens_side // 2) * s.tokens_side + s.tokens_side // 2, key="vlm_token")
patches = vlm.token_patches(int(token), s)
c1, c2, c3 = st.columns([3, 2, 3])
with c1:
    chart(ctx.built("vlm_token_fig", model.identity if model else None, edge, view, int(token),
                    build=lambda: views.token_patches(crop, s, int(token),
                                                      f"Image token {int(token)} of the {cuts.name(view)}")),
          key="vlm_token_fig")
with c2:
    chart(ctx.built("vlm_token_zoom", model.identity if model else None, edge, view, int(token),
                    build=lambda: views.token_zoom(crop, s, int(token), f"Its {s.scale_factor ** 2} patches")),
          key="vlm_token_zoom")
with c3:
    st.markdown(
        f"**Pixel shuffle** takes the {s.patches_side} × {s.patches_side} patch vectors of a view and puts each "
        f"{s.scale_factor} × {s.scale_factor} block of neighbours into **one** vector, one after another (numbered "
        f"1–{s.scale_factor ** 2} in the middle: patches {', '.join(map(str, patches[:4]))}, … {patches[-1]}). "
        f"{s.scale_factor ** 2} × {s.encoder_width} = **{s.shuffled_width:,} numbers**, and only "
        f"{s.patches_side ** 2:,} / {s.scale_factor ** 2} = **{s.tokens_per_crop} tokens per view**. One linear "
        f"projection (a {s.shuffled_width:,} × {s.lm_width} matrix, no bias) then makes each **{s.lm_width} numbers** "
        "wide: the width of the language model's word tokens, so it can read them like words.")
    if model is None:
        st.caption("Checking this against the model's own connector needs the weights.")
    elif opened_view is None:
        st.caption("Checking this against the model's own connector: run the encoder on this view (section 1).")
    else:
        diff, scale = opened_view[2], opened_view[3]  # the view's arrays (cached above); the token is a slice
        st.success(f"Recomputed here (pixel shuffle as one reshape, then the projection matrix) and compared with "
                   f"the model's connector for all {s.tokens_per_crop} tokens of this view: "
                   f"{wording.difference(diff, vlm.tolerance(scale, model.dtype))}.", icon="✅")
if opened_view is not None:
    chart(views.token_vectors(opened_view[0][patches], opened_view[1][int(token)],
                              f"Image token {int(token)}: its numbers before and after the projection"),
          key="vlm_vectors")

st.header("3 · The prompt the language model receives")
question = vlm.clean_question(st.text_input("Your question", vlm.DEFAULT_QUESTION, max_chars=vlm.MAX_QUESTION_CHARS,
                                            key="vlm_question"))
tokenize = (lambda text: model.processor.tokenizer.tokenize(text)) if model is not None else None
pieces, strip = ctx.built("vlm_prompt", model.identity if model else None, edge, question,
                          build=lambda: glue.prompt_strip(question, cuts, s, tokenize))
st.markdown(strip, unsafe_allow_html=True)
n = vlm.counts(pieces, question, tokenize is not None)
m1, m2, m3 = st.columns(3)
m1.metric("Image tokens", f"{n.image_tokens:,}", help=f"{cuts.n_views} views × {s.image_seq_len}")
m2.metric("Special tokens", n.special_tokens, help="Fences, row/column markers, the global-view marker, start of turn.")
m3.metric("Text tokens" if n.text_tokens is not None else "Question (characters)",
          n.text_tokens if n.text_tokens is not None else n.question_chars,
          help="Your question and the role names, cut by the model's tokenizer." if n.text_tokens is not None else
          "The word tokens need the model's own tokenizer, which comes with the weights.")
if n.text_tokens is None:
    st.caption("Without the weights the text parts are shown as characters: how they are cut into word tokens needs "
               f"the model's tokenizer, which comes with them (`{smolvlm.FETCH_COMMAND}`).")
st.markdown("**What a larger image costs.** The long side the processor scales to is a setting (the model card's "
            "`size={\"longest_edge\": N*512}`, N = 4 by default); for this image's shape:")
st.table([{"long side": f"{c.longest_edge} px", "crops": f"{c.rows} × {c.cols}" if c.rows else "none (one view)",
           "image tokens": f"{c.image_tokens:,}"} for c in ctx.built("vlm_costs", build=lambda: vlm.costs(
               image.width, image.height, s))])

st.header("4 · The answer, token by token")
trace = None
if model is None:
    st.info(vlm.no_weights_sentence() if verdict is None else verdict.sentence(), icon="📦")
else:
    answer_key = glue.key(ctx, model, "answer", edge, question)
    if not asked("vlm_requested", glue.has(answer_key)):
        st.markdown(f"Greedy decoding: at each step the language model scores all {model.model.config.text_config.vocab_size:,} "
                    f"tokens and the most probable one is written (at most {vlm.MAX_NEW_TOKENS} tokens).")
        ask_button("vlm_requested", "Write the answer", key="vlm_run")
    else:
        trace = glue.result(answer_key, run=lambda: vlm.answer(model, image, question, edge),
                            label="Writing the answer, one token at a time…")
        st.markdown(f"> {trace.answer}")
        st.caption(vlm.answer_sentence(trace) + " Greedy decoding, the same tokens as `model.generate(…, "
                   "do_sample=False)`.")
        chart(views.candidates(trace.steps, "Each new token and its top-5 candidates"), key="vlm_candidates")

st.header("5 · What the answer looked at")
if trace is None:
    st.caption("Needs the answer (section 4).")
else:
    c1, c2 = st.columns(2)
    step = c1.selectbox("Answer token", [None] + list(range(len(trace.steps))), key="vlm_step",
                        format_func=lambda i: "all (mean)" if i is None else f"{i + 1}. {trace.steps[i].text!r}")
    layer_lm = c2.selectbox("Language-model layer", [None] + list(range(trace.to_image.shape[1])), key="vlm_layer",
                            format_func=lambda i: "all (mean)" if i is None else f"layer {i + 1}")
    maps = vlm.view_maps(trace, step, layer_lm)
    share = trace.image_share[:, :] if step is None else trace.image_share[step:step + 1]
    share = float(share.mean() if layer_lm is None else share[:, layer_lm].mean())
    d1, d2 = st.columns([2, 1])
    with d1:
        chart(views.answer_map(pixels, vlm.pasted(maps, cuts), "Attention from the answer to the crops' image tokens"),
              key="vlm_answer_map")
    with d2:
        chart(views.answer_map(cuts.crops[-1], maps[-1], "… and to the global view's"), key="vlm_answer_global")
    st.markdown(f"Mean of heads. {share:.0%} of this attention goes to image tokens; the rest to the text tokens and "
                "to the answer so far.")
    st.warning(vlm.FAITHFULNESS_CAVEAT, icon="⚠️")
    st.page_link(BY_KEY["faithfulness"].page, label="Faithfulness: does a map explain the prediction?", icon="🔬")

st.header("6 · A closed set against an open answer")
a = ctx.analysis
c1, c2 = st.columns(2)
with c1:
    st.markdown(vlm.closed_set_heading(ctx.bundle.spec.title, bool(a.top_labels)))
    if a.top_labels:
        st.markdown("\n".join(f"{i + 1}. {short_label(l)}: {p:.1%}" for i, (l, p) in
                              enumerate(zip(a.top_labels, a.top_probs))))
        st.caption(vlm.closed_set_caption(len(ctx.bundle.labels), ctx.bundle.provenance))
    else:
        st.caption("This model has no classifier: it gives features, no answer at all.")
with c2:
    st.markdown(f"**{smolvlm.TITLE}, a language model with eyes**")
    if trace is not None:
        st.markdown(f"> {trace.answer}")
        st.caption("Its own words: any sentence its vocabulary can write, right or wrong.")
    else:
        st.caption("Its own words need the answer (section 4)" + ("." if model is not None else
                   f": the weights first (`{smolvlm.FETCH_COMMAND}`)."))
unknown = article.unknown_sample(ctx.bundle)  # a gallery image this classifier has no class for
if unknown is not None and ctx.image.name != SAMPLES[unknown[0]].title:
    st.caption(f"Try the sample “{SAMPLES[unknown[0]].title}”: {ctx.bundle.spec.title} has no class for what {unknown[1]} shows, "
               "so it must still pick one of its own, while the language model answers in words of its own, right or "
               "wrong.")
close_stage("vlm")
