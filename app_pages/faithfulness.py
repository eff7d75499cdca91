"""Stage — Faithfulness: does a map explain the prediction? Occlusion, and deletion/insertion curves per map."""

import streamlit as st

from ui.charts import chart, chart_row
from ui.on_request import ask_button, asked
from ui.progress import progress_bar
from ui.tour import close_stage, open_stage
from vitviz.figures.prediction import short_label
from vitviz.model import provenance
from vitviz.stages import attention, confidence
from vitviz.stages import faithfulness as faith
from vitviz.views import faithfulness as views

ctx = open_stage("faithfulness")
a, bundle = ctx.analysis, ctx.bundle

if a.top_labels:
    rank = st.selectbox("Explain class", list(range(len(a.top_labels))), key="faith_class",
                        format_func=lambda i: f"{short_label(a.top_labels[i])} ({a.top_probs[i]:.1%})",
                        help="Any of the model's top-5 classes: the score below is that class's probability.")
    if not_sure := confidence.not_sure_line(a.logits):
        st.info(not_sure, icon="🤷")
else:
    rank = 0
    st.info(f"{provenance.no_classifier_sentence(bundle.spec, bundle.provenance)}, so there is no class probability "
            "to test. The score here is the **cosine similarity** of the model's output (the CLS token's features "
            "after the last block and final norm) with its output on the whole image: how closely the two vectors "
            "point the same way (1 with nothing hidden, by definition; its length may still change). Lower means the "
            "hidden patches changed it. Gradient rollout weights attention by the gradient of a class score; this "
            "model has none, and this similarity is at its maximum on the whole image, where its gradient is zero, "
            "so it is left out.",
            icon="ℹ️")
target = faith.target_for(a, rank)

st.header("1 · Occlusion: hide a patch, watch the score")
picture = st.container()  # the picture first, its controls below it
c1, c2 = st.columns(2)
choices = [g for g in faith.GROUPINGS if g == 1 or faith.group_count(a.grid, g) >= 4]
default = faith.default_group(a.grid)
group = c1.selectbox(
    "Hide together", choices, index=choices.index(default), key="faith_group",
    format_func=lambda g: (f"{g}×{g} patches" if g > 1 else "1 patch (full resolution)")
                          + f": {faith.group_count(a.grid, g)} masked images" + (" (default)" if g == default else ""),
    help="Big grids are hidden in groups of patches so that the map needs fewer forward passes.")
variant = c2.radio("Hide a patch by", list(faith.VARIANTS), format_func=faith.VARIANTS.get, key="faith_variant",
                   horizontal=True, help="Remove its token: the patch is simply not there. Mean colour: the patch's "
                                         "pixels become the image's average colour, which the model still reads.")

if not asked("faith_requested", ctx.has_experiment("occlusion", target.class_index, group, variant)):
    with picture:  # tens of masked forward passes per map: on request (ui/on_request.py)
        st.markdown(f"The occlusion map runs the model on **{faith.group_count(a.grid, group)} masked images**, and "
                    "the deletion and insertion curves below on many more, in batches.")
        ask_button("faith_requested", "Run the occlusion map and the curves", key="faith_run")
    close_stage("faithfulness")
    st.stop()


def occlusion_of(how: str) -> faith.Occlusion:
    with progress_bar(f"Hiding each region ({faith.VARIANTS[how]})") as report:
        return ctx.experiment("occlusion", target.class_index, group, how,
                              run=lambda: faith.occlusion(bundle, a, target, group, how, report),
                              long=True, label="Running the masked images in batches…")


occ = occlusion_of(variant)
with picture:
    chart(ctx.built("occlusion_map", target.class_index, group, variant,
                    build=lambda: views.occlusion_map(bundle, a, occ)), key="faith_occ")
st.markdown(faith.occlusion_summary(occ))
st.caption(f"This map hides {'one patch' if group == 1 else f'{group}×{group} patches'} at a time: "
           f"{occ.passes} masked images, run in batches (the default keeps a map at ≤ {faith.MAX_DEFAULT_GROUPS} "
           "masked images; choose 1 patch for full resolution). Red: hiding it lowers the score; blue: raises it.")

with st.expander("Two ways to hide a patch, compared", expanded=variant == "pixels"):
    st.markdown("**Removing the token** is the ViT's own way: the patch is not in the sequence, the other tokens "
                "keep their position embeddings, and nothing new is shown. **Painting the mean colour** keeps a "
                "token there, the vector of a flat square, which is itself something the model reads (a flat hole "
                "can look like an object's part), and a patch embedding that reads across patch borders also sees "
                "the square's edges in the neighbouring patches.")
    if variant == "pixels":
        tokens = occlusion_of("tokens")
        limit = float(max(abs(tokens.drop).max(), abs(occ.drop).max()))
        left, right = st.columns(2)
        with left:
            chart(ctx.built("occlusion_pair", target.class_index, group, "tokens", build=lambda: views.occlusion_map(
                bundle, a, tokens, title="Token removed", limit=limit, height=380)), key="faith_tokens")
        with right:
            chart(ctx.built("occlusion_pair", target.class_index, group, "pixels", build=lambda: views.occlusion_map(
                bundle, a, occ, title="Mean colour painted", limit=limit, height=380)), key="faith_pixels")
        changed = ctx.built("changed_patches", target.class_index, group, build=lambda: faith.changed_patches(
            bundle, a, occ.groups, int(occ.group_drops.argmax())))
        st.markdown(faith.variants_summary(tokens, occ, changed))
    else:
        st.caption("Choose “paint the image's mean colour” above to see both maps side by side, measured.")

st.header("2 · Deletion and insertion: does each map's order matter?")
st.markdown("Each map ranks the patches. **Deletion** removes the patches from the most to the least important by "
            "that ranking and follows the score: a map that points at the evidence makes it fall fast. **Insertion** "
            "starts from a blank input, no patch token, reveals the patches the map ranks "
            f"first, about {1 / faith.STEPS:.0%} of them at a time, and measures the score after each step: if the "
            "map's first patches are what the prediction needs, the score should rise fast. The area under each curve "
            "sums it up "
            "(the x axis runs from 0 to 1, so the area is the curve's average score: a small deletion area means the "
            f"score fell early, a large insertion area that it rose early); {faith.RANDOM_ORDERS} random orders are "
            "the baseline, their mean and their range (smallest to largest area) side by side. Insertion's first "
            "steps show the model a few patches and nothing else, an input unlike the whole images ViTs are "
            "trained on, so they can say little about importance: a map can beat random on deletion and still score "
            "below random order's mean on insertion.")
st.caption(faith.empty_end_note(a))
gradient = None
no_gradient = attention.gradient_unavailable(bundle)
if target.has_class and no_gradient:
    st.info(f"Gradient rollout is left out in {ctx.precision}: {no_gradient}.", icon="ℹ️")
elif target.has_class:
    gradient = ctx.experiment("grad_rollout", target.class_index,
                              run=lambda: attention.gradient_rollout(bundle, a, target.class_index),
                              long=True, label="One forward and one backward pass for gradient rollout…")
occ_tokens = occ if variant == "tokens" else occlusion_of("tokens")
maps = ctx.built("method_maps", target.class_index, group,
                 build=lambda: faith.method_maps(bundle, a, occ_tokens.drop, gradient))
with progress_bar("Removing and revealing patches") as report:
    curves = ctx.experiment("faithfulness_curves", target.class_index, group,
                            run=lambda: faith.curves(bundle, a, target, maps, progress=report),
                            long=True, label="Running the deletion and insertion curves…")
chart_row([ctx.built("curves_figure", target.class_index, group, kind,
                     build=lambda kind=kind: views.curves(bundle, a, curves, kind)) for kind in ("deletion", "insertion")],
          "faith_curves")
st.markdown(f"**{faith.verdict(curves)}**")
st.markdown(faith.areas_table(curves))
if note := faith.insertion_note(curves, bundle.provenance):
    st.markdown(note)
elif caveat := faith.weights_caveat(bundle.provenance):  # the verdict's words, on weights trained on nothing
    st.markdown(caveat)
st.markdown(faith.rule(faith.RANDOM_ORDERS, curves.base))
st.caption("The occlusion map here is the token-removal one at the grouping chosen above. "
           f"{curves.passes} masked inputs, in batches of equal length.")
chart(ctx.built("curve_maps", target.class_index, group, build=lambda: views.maps(bundle, a, curves)),
      key="faith_maps")

st.header("3 · What this does and does not show")
st.markdown("The curves test one thing: whether the patches a map ranks first are the ones this prediction depends "
            f"on, on this image. {faith.far_ends_sentence(bundle.provenance)} Occlusion measures each region's effect with the "
            "same token removal the deletion curve uses, so it starts with an advantage there: read it as a measured "
            "reference, not as a fair competitor or ground truth. Because it hides one region at a time, it can miss "
            "evidence that only counts together (two patches that can stand in for each other). Petsiuk et al. (2018) "
            "average deletion and insertion areas over ImageNet images (on pixels); Chefer et al. (2021) black out the "
            "most or least relevant pixels and measure accuracy over the ImageNet validation set. One image is a "
            "demonstration, not a benchmark, and four random orders are a rough baseline, not a significance test "
            "(`python -m vitviz faithfulness --images DIR` averages over a folder).")
close_stage("faithfulness")
