"""Stage — Odd tokens: high-norm tokens, registers, and the pattern a blank image leaves in the features."""

import streamlit as st

from ui.charts import chart, clickable_chart
from ui.tour import close_stage, open_stage
from ui.twin import twin
from vitviz.model import provenance
from vitviz.stages import odd_tokens as odd
from vitviz.views import odd_tokens as views

ctx = open_stage("odd_tokens")
a, bundle = ctx.analysis, ctx.bundle
layout = odd.Layout.of(a)
caveat = provenance.these_weights(bundle.provenance)

st.markdown(f"**On the model on screen** ({bundle.spec.title}: {a.depth} blocks, {a.embed_dim} numbers per token, "
            f"{a.num_patches} patch tokens, " + ("a CLS token" if layout.has_cls else "no CLS token")
            + (f" and {layout.registers} register{'s' if layout.registers > 1 else ''}" if layout.registers
               else ", no registers") + "), everything below is measured on your image. "
            + (f"{caveat[0].upper()}{caveat[1:]}: whatever shows here was not learned, and the papers' findings are "
               "about trained models." if bundle.provenance.random else
               f"{caveat[0].upper()}{caveat[1:]}, so whether what shows here was learned is unknown too."
               if caveat else ""))

st.header("1 · Token norms")
st.markdown("A token's **norm** is its length, √(sum of its squared numbers). Darcet et al. found, in large trained "
            "ViTs, a few patch tokens with norms far above the rest. The rule used here: a patch token is **far "
            "above the rest** when its norm is more than **k × the median** norm of the patch tokens after the same "
            "block (the median is a typical token's norm, whatever the few outliers do).")


@st.fragment
def norms_and_what_they_do() -> None:
    """Block and k change sections 1–3 only (no forward pass: everything is read from the analysis)."""
    pictures = st.container()
    c1, c2 = st.columns(2)
    block = c1.slider("Block (layer)", 1, a.depth, a.depth, key="odd_block",
                      help="The tokens as they leave this block.") - 1
    k = c2.select_slider("The rule's factor k", odd.K_CHOICES, value=odd.NORM_K, key="odd_k",
                         help="Flag a patch token when its norm is above k × the median patch norm.")
    flags = ctx.built("odd_flags", k, build=lambda: odd.flags_by_block(odd.token_norms(a), layout, k))
    with pictures:
        st.markdown(odd.norm_verdict(flags, a.grid))
        left, right = st.columns(2, gap="large")
        with left:
            clickable_chart(ctx.figure(views.norm_map, block, k, ctx.patch), key="odd_map", in_fragment=True)
        with right:
            chart(ctx.figure(views.norm_histogram, block, k), key="odd_hist")
    st.markdown(odd.block_sentence(flags[block], block, a.grid))
    chart(ctx.figure(views.norm_ratios, k), key="odd_ratios")
    prefix_words = ("The CLS token" + (" and the registers are not patches" if layout.registers else
                                       " is not a patch") if layout.has_cls
                    else "The registers are not patches" if layout.registers else "")
    st.caption("Each line is a token's norm divided by the median patch norm of the same block; the dashed line is "
               "the rule's bar." + (f" {prefix_words}: the rule flags patches only, and "
                                    f"{'their lines show' if layout.prefix > 1 else 'its line shows'} where "
                                    f"{'they stand' if layout.prefix > 1 else 'it stands'} beside them."
                                    if prefix_words else " This model has no token besides its patches."))
    flagged = flags[block].flagged

    st.header("2 · What the flagged tokens do")
    st.markdown("Darcet et al.'s tests, on their models: the high-norm tokens receive much of the CLS token's "
                "attention, and a linear read-out of a token recovers its patch's place and pixels worse from them "
                "than from normal tokens (they hold global rather than local information). The same tests here, on "
                f"the patches flagged after block {block + 1}:")
    if layout.has_cls:
        shares = ctx.built("odd_shares", block, k, build=lambda: odd.cls_attention_shares(a, flagged))
        chart(ctx.figure(views.attention_shares, block, k), key="odd_shares")
        st.markdown(odd.attention_sentence(shares, block))
    else:
        st.info("This model has no CLS token, so there is no CLS attention to share out.", icon="ℹ️")
    position, pixels = ctx.built("odd_readouts", block, k, build=lambda: odd.read_outs(a, block, flagged))
    r1, r2 = st.columns(2, gap="large")
    with r1:
        chart(ctx.built("odd_readout_position", block, k, build=lambda: views.readout_errors(bundle, a, position)),
              key="odd_read_pos")
        st.markdown(odd.readout_sentence(position))
    with r2:
        chart(ctx.built("odd_readout_pixels", block, k, build=lambda: views.readout_errors(bundle, a, pixels)),
              key="odd_read_pix")
        st.markdown(odd.readout_sentence(pixels))
    st.caption("Ridge regression (a linear map with a penalty on large weights, chosen by leave-one-out error) from "
               "the token's numbers to its patch's (row, column) or its normalised pixels, fitted on this image's "
               f"normal patch tokens after block {block + 1} in {odd.FOLDS} folds: each normal token is predicted by a "
               "fit that never saw it; the flagged ones by the fit on all normal tokens. A token can also give its place "
               "away by what its patch shows, where the image's content changes with place (sky above, ground "
               "below). The paper fitted its probes on many images; one image has few tokens, so these numbers are "
               "rougher.")

    st.header("3 · Registers")
    if layout.registers:
        norms = odd.token_norms(a)[block]
        row = a.attentions[block, :, 0, :].mean(0) if layout.has_cls else None  # [T]: the CLS row, mean of heads
        median = flags[block].median
        table = [{"token": "CLS" if layout.has_cls and j == 0 else f"register {j - int(layout.has_cls) + 1}",
                  "norm": f"{norms[j]:.4g}", "× median patch norm": f"{norms[j] / median:.2f}",
                  "share of the CLS token's attention": "" if row is None else f"{float(row[j]):.1%}"}
                 for j in range(layout.prefix)]
        table.append({"token": "a typical patch (median)", "norm": f"{median:.4g}", "× median patch norm": "1.00",
                      "share of the CLS token's attention": "" if row is None else
                      f"{float(row[layout.prefix:].mean()):.1%} (mean)"})
        st.dataframe(table, hide_index=True)
        st.markdown(f"This model has {layout.registers} registers: extra tokens with "
                    f"{provenance.learned(bundle.provenance)} values, "
                    + ("after the CLS token, " if layout.has_cls else "before the patches, ") + "that "
                    "belong to no patch. Darcet et al. added them so that the global information the high-norm "
                    "patches held in their models has a place of its own; with them, their attention maps were clean. "
                    f"After block {block + 1} here, the registers' norms are "
                    f"{min(norms[layout.register_slice]) / median:.2f}–{max(norms[layout.register_slice]) / median:.2f} "
                    "× the median patch norm" + (f", and together they receive {float(row[layout.register_slice].sum()):.1%} "
                                                 "of the CLS token's attention" if row is not None else "") + ".")
    else:
        st.markdown("This model has **no registers**: "
                    + ("the only token before the patches is the CLS token" if layout.has_cls else
                       "no token comes before the patches") + " (`num_prefix_tokens` = " + str(a.num_prefix) + "). "
                    "Registers are extra learned tokens that belong to no patch (Darcet et al.); DINOv2 comes with "
                    "and without them.")


norms_and_what_they_do()

pair = twin(ctx)
if pair.spec is not None:
    st.subheader(f"The same image through the twin: {pair.spec.title}")
    if pair.why_not:
        st.info(pair.why_not, icon="ℹ️")
    else:
        t1, t2 = st.columns(2, gap="large")
        with t1:
            chart(ctx.figure(views.cls_last_map, bundle.spec.title), key="odd_twin_this")
        with t2:
            chart(ctx.built("odd_twin_map", str(pair.bundle.identity), build=lambda: views.cls_last_map(
                pair.bundle, pair.analysis, pair.spec.title)), key="odd_twin_other")
        twin_flags = odd.flags_by_block(odd.token_norms(pair.analysis), odd.Layout.of(pair.analysis), odd.NORM_K)
        st.markdown(f"**{pair.spec.title}** (the twin, fp32): " + odd.norm_verdict(twin_flags, pair.analysis.grid))
elif layout.registers == 0 and not bundle.spec.bundled:
    st.caption("vitviz's zoo has no twin of this model with registers to compare with.")

st.header("4 · A blank image")
st.markdown("Yang et al. (Denoising Vision Transformers, ECCV 2024) found that part of every feature map of their "
            "ViTs is a fixed pattern that comes from the position embeddings: it shows even on an all-zero image. "
            "Below, a blank image goes through this model (one extra run, shared by every visitor of the model), and "
            "each patch's feature on your image is compared with the blank image's at the same position.")


@st.fragment
def blank_section() -> None:
    """The blank image and the block change this section only (one forward pass per blank image and model)."""
    b1, b2 = st.columns(2)
    kind = b1.radio("Blank image", list(odd.BLANKS), format_func=lambda k: odd.BLANKS[k][0], key="odd_blank")
    block = b2.slider("Block (layer)", 1, a.depth, a.depth, key="odd_blank_block") - 1
    blank = ctx.experiment("blank", kind, per_image=False, run=lambda: odd.blank_features(bundle, kind),
                           label="Running the model on a blank image…")
    chart(ctx.built("odd_blank_maps", kind, per_image=False, build=lambda: views.blank_maps(bundle, a, blank)),
          key="odd_blank_maps")
    same = odd.identical_patch_inputs(blank, a.patch_size)
    extra = odd.extra_channel_range(blank)
    note = "".join(f"; its fixed extra input channel, {name}, is " + (f"{lo:.3g} everywhere on it" if lo == hi else
                                                                     f"between {lo:.3g} and {hi:.3g} on it")
                   for name, (lo, hi) in extra.items())
    st.markdown(f"Every patch of the blank input is the same (largest difference between two patches' inputs: "
                f"{same:.3g}){note}. "
                + ("So every patch token enters block 1 as the same vector plus its own position embedding: any "
                   "pattern in these maps comes from the positions." if same == 0 else
                   "So the patches' inputs are not all equal: the maps mix what the input holds with the positions."))
    blank_flags = ctx.built("odd_blank_flags", kind, per_image=False, build=lambda: odd.blank_flags(blank, layout))
    st.markdown(odd.blank_norm_sentence(blank_flags, odd.BLANKS[kind][0].split(" (")[0]))
    match = ctx.built("odd_pattern", kind, build=lambda: odd.pattern_match(a.block_outputs[:, a.num_prefix:],
                                                                           blank.block_outputs[:, a.num_prefix:]))
    p1, p2 = st.columns(2, gap="large")
    with p1:
        chart(ctx.built("odd_pattern_map", kind, block, build=lambda: views.pattern_map(bundle, a, match, block, kind)),
              key="odd_pattern_map")
    with p2:
        chart(ctx.built("odd_pattern_lines", kind, build=lambda: views.pattern_lines(bundle, a, match, kind)),
              key="odd_pattern_lines")
    st.markdown(odd.pattern_verdict(match, block, odd.BLANKS[kind][0]) + " " + odd.tied_blocks_sentence(match))
    st.caption("Cosine similarity: 1 the same direction, 0 unrelated, −1 opposite. Tokens often share a common "
               "direction, which moves every cosine alike; the other-position mean is the baseline. The rule: a pattern tied to "
               f"position when the same-position mean beats it by {odd.TIED_MARGIN:g} or more.")


blank_section()
close_stage("odd_tokens")
