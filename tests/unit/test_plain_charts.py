"""The per-image charts written as plotly JSON (vitviz.figures.plain) send what the graph_objects figures they
replace sent: each is compared with the validated figure built as it was built before, on the bundled model and on
random-weight ViTs with and without registers and a CLS token, and validating it changes nothing."""

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit  # noqa: F401  (the app's template, Streamlit's, is plotly's default from here on)

from tests.unit.test_odd_tokens import case, plain14, reg4  # noqa: F401  (fixtures: four models, one image each)
from tests.unit.test_plain_figures import _sent, _validated
from vitviz.figures.images import heatmap_overlay
from vitviz.figures.style import ACCENT, HIGHLIGHT, base_layout
from vitviz.stages import odd_tokens as odd
from vitviz.views import odd_tokens as views
from vitviz.views.odd_tokens import FLAG_COLOUR, PREFIX_COLOURS


# --- the odd-token charts as they were built, with graph_objects --------------------------------------------------

def _ref_norm_map(a, block, k, selected):
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)[block]
    flags = odd.flag(norms[layout.prefix:], k)
    fig = heatmap_overlay(a.image, norms[layout.prefix:].reshape(a.grid), a.patch_size, 0.65, selected=selected,
                          height=460, colorbar_title="norm",
                          title=f"Patch token norms after block {block + 1}<br><sup>dotted: above {k:g} × the median "
                                f"({flags.threshold:.3g}), {len(flags.flagged)} patch{'es' if len(flags.flagged) != 1 else ''}</sup>")
    p, cols = a.patch_size, a.grid[1]
    for i in flags.flagged:
        r, c = divmod(int(i), cols)
        fig.add_shape(type="rect", x0=c * p - 0.5, x1=(c + 1) * p - 0.5, y0=r * p - 0.5, y1=(r + 1) * p - 0.5,
                      line=dict(color=FLAG_COLOUR, width=3, dash="dot"))
    return fig


def _ref_norm_histogram(a, block, k):
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)[block]
    patches = norms[layout.prefix:]
    flags = odd.flag(patches, k)
    fig = go.Figure(go.Histogram(x=patches, nbinsx=min(60, max(10, patches.size // 4)), name="patch tokens",
                                 marker_color=ACCENT, hovertemplate="norm %{x}<br>%{y} patches<extra></extra>"))
    names = (["CLS"] if layout.has_cls else []) + [f"register {r + 1}" for r in range(layout.registers)]
    for j, name in enumerate(names):
        fig.add_trace(go.Scatter(x=[norms[j], norms[j]], y=[0, 1], yaxis="y2", mode="lines+markers", name=name,
                                 line=dict(color=PREFIX_COLOURS[j % len(PREFIX_COLOURS)], width=3),
                                 marker=dict(symbol="diamond", size=10),
                                 hovertemplate=f"{name}: norm %{{x:.4g}}<extra></extra>"))
    fig.add_vline(x=flags.threshold, line=dict(color=HIGHLIGHT, dash="dash", width=3),
                  annotation_text=f"{k:g} × median", annotation_position="top right")
    fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1.05], visible=False), bargap=0.05,
                      legend=dict(orientation="h", y=-0.25))
    fig.update_xaxes(title="token norm", rangemode="tozero")
    fig.update_yaxes(title="patch tokens")
    return base_layout(fig, f"Token norms after block {block + 1}", height=460)


def _ref_norm_ratios(a, k):
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)
    median = np.median(norms[:, layout.prefix:], axis=1)
    x = np.arange(1, a.depth + 1)
    fig = go.Figure(go.Scatter(x=x, y=norms[:, layout.prefix:].max(1) / median, mode="lines+markers",
                               name="largest patch", line=dict(color=ACCENT, width=3)))
    for j, (name, ratio) in enumerate(odd.prefix_ratios(norms, layout).items()):
        fig.add_trace(go.Scatter(x=x, y=ratio, mode="lines+markers", name=name,
                                 line=dict(color=PREFIX_COLOURS[j % len(PREFIX_COLOURS)], dash="dot")))
    fig.add_hline(y=k, line=dict(color=HIGHLIGHT, dash="dash", width=3), annotation_text=f"the rule's bar: {k:g}",
                  annotation_position="top left")
    fig.update_xaxes(title="block", dtick=1)
    fig.update_yaxes(title="norm ÷ median patch norm", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return base_layout(fig, "Norm ÷ the median patch norm, after each block", height=380)


def _ref_attention_shares(a, block, k):
    flags = views._flags(a, block, k)
    shares = odd.cls_attention_shares(a, flags.flagged)
    x = np.arange(1, a.depth + 1)
    parts = [("the CLS token itself", shares.cls_self, "#999999")]
    if odd.Layout.of(a).registers:
        parts.append(("the registers", shares.registers, "#009E73"))
    parts += [(f"the {len(flags.flagged)} flagged patch{'es' if len(flags.flagged) != 1 else ''}" if flags.flagged
               else "flagged patches (none)", shares.flagged, FLAG_COLOUR),
              ("the other patches", shares.other, ACCENT)]
    fig = go.Figure([go.Bar(x=x, y=v, name=n, marker_color=c, hovertemplate=f"{n}: %{{y:.1%}}<extra></extra>")
                     for n, v, c in parts])
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=-0.3))
    fig.update_xaxes(title="block", dtick=1)
    fig.update_yaxes(title="share of the CLS token's attention", tickformat=".0%", range=[0, 1.001])
    return base_layout(fig, f"Where the CLS token's attention goes (mean of heads)<br><sup>flagged: the patches "
                            f"above {k:g} × the median after block {block + 1}</sup>", height=400)


def _ref_pattern_lines(a, match, kind):
    x = np.arange(1, a.depth + 1)
    fig = go.Figure([go.Scatter(x=x, y=match.same_mean, mode="lines+markers", name="same position",
                                line=dict(color=ACCENT, width=3)),
                     go.Scatter(x=x, y=match.other, mode="lines+markers", name="other positions",
                                line=dict(color=HIGHLIGHT, width=3, dash="dash"))])
    fig.update_xaxes(title="block", dtick=1)
    fig.update_yaxes(title="mean cosine", range=[-1, 1])
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return base_layout(fig, f"Image vs {odd.BLANKS[kind][0].split(' (')[0]}: mean cosine per block", height=380)


def _ref_readout_errors(result):
    unit = "patches" if result.target == "position" else "× the patches' spread"
    fig = go.Figure(go.Box(y=result.normal, name="normal tokens", marker_color=ACCENT, boxpoints="all", jitter=0.4,
                           pointpos=0))
    if result.flagged.size:
        fig.add_trace(go.Box(y=result.flagged, name="flagged tokens", marker_color=FLAG_COLOUR, boxpoints="all",
                             jitter=0.4, pointpos=0))
    fig.add_hline(y=result.chance, line=dict(color=HIGHLIGHT, dash="dash", width=3),
                  annotation_text="guessing the average", annotation_position="top left")
    fig.update_layout(showlegend=False)
    fig.update_yaxes(title=f"error ({unit})", rangemode="tozero")
    what = "its place" if result.target == "position" else "its pixels"
    return base_layout(fig, f"Read-out of {what} from the token", height=360)


def _same(new: go.Figure, ref: go.Figure) -> None:
    assert _sent(new) == _sent(ref)
    assert _sent(new) == _sent(_validated(new))  # validating it changes nothing


def test_the_odd_token_charts_send_what_their_graph_objects_figures_sent(case):  # noqa: F811
    bundle, _, a = case
    last = a.depth - 1
    for k in (0.5, 1.5, odd.NORM_K, 1e9):  # patches flagged (half of them at 0.5), and none
        for block in (0, last):
            _same(views.norm_map(bundle, a, block, k, 3), _ref_norm_map(a, block, k, 3))
            _same(views.norm_histogram(bundle, a, block, k), _ref_norm_histogram(a, block, k))
            if odd.Layout.of(a).has_cls:
                _same(views.attention_shares(bundle, a, block, k), _ref_attention_shares(a, block, k))
        _same(views.norm_ratios(bundle, a, k), _ref_norm_ratios(a, k))
    rng = np.random.default_rng(0)
    match = odd.pattern_match(a.block_outputs[:, a.num_prefix:], rng.normal(size=a.block_outputs[:, a.num_prefix:].shape))
    _same(views.pattern_lines(bundle, a, match, "grey"), _ref_pattern_lines(a, match, "grey"))
    for flagged in ((), (0, 2)):
        for r in odd.read_outs(a, last, flagged):
            _same(views.readout_errors(bundle, a, r), _ref_readout_errors(r))
    assert views.norm_map(bundle, a, last, 0.5, 3).layout.shapes[-1].line.dash == "dot"  # still a figure to read


# --- the language-model page's image figures as they were built --------------------------------------------------

def _ref_crops_on_image(image, cuts, height=None):
    from vitviz.figures.images import image_figure

    fig = image_figure(image, f"{cuts.rows} × {cuts.cols} crops of {cuts.crop} px, plus the whole image as the global "
                       "view" if cuts.n_crops else f"One view of {cuts.crop} px (the image was not split)", height)
    for i in range(cuts.n_crops):
        x0, y0, x1, y1 = cuts.box(i)
        fig.add_shape(type="rect", x0=x0 - 0.5, x1=x1 - 0.5, y0=y0 - 0.5, y1=y1 - 0.5,
                      line=dict(color=HIGHLIGHT, width=3))
        r, c = divmod(i, cuts.cols)
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"row {r + 1}, col {c + 1}", showarrow=False,
                           font=dict(color="white", size=14), bgcolor="rgba(0,0,0,0.55)")
    return fig


def _ref_token_patches(crop, s, token, title):
    from vitviz.figures.images import image_figure

    fig = image_figure(crop, title)
    h = crop.shape[0]
    px = h / s.patches_side
    xs, ys = [], []
    for k in range(1, s.patches_side):
        xs += [k * px - 0.5, k * px - 0.5, None, -0.5, h - 0.5, None]
        ys += [-0.5, h - 0.5, None, k * px - 0.5, k * px - 0.5, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(255,255,255,0.35)", width=1),
                             hoverinfo="skip", showlegend=False))
    tx, ty = [], []
    step = px * s.scale_factor
    for k in range(1, s.tokens_side):
        tx += [k * step - 0.5, k * step - 0.5, None, -0.5, h - 0.5, None]
        ty += [-0.5, h - 0.5, None, k * step - 0.5, k * step - 0.5, None]
    fig.add_trace(go.Scatter(x=tx, y=ty, mode="lines", line=dict(color="white", width=2), hoverinfo="skip",
                             showlegend=False))
    tr, tc = divmod(token, s.tokens_side)
    fig.add_shape(type="rect", x0=tc * step - 0.5, x1=(tc + 1) * step - 0.5, y0=tr * step - 0.5,
                  y1=(tr + 1) * step - 0.5, line=dict(color=HIGHLIGHT, width=4))
    return fig


def _ref_token_zoom(crop, s, token, title):
    from vitviz.figures.images import image_figure

    h = crop.shape[0]
    px = h // s.patches_side
    tr, tc = divmod(token, s.tokens_side)
    f = s.scale_factor
    block = crop[tr * f * px:(tr + 1) * f * px, tc * f * px:(tc + 1) * f * px]
    zoom = max(1, 320 // block.shape[0])
    big = np.kron(block, np.ones((zoom, zoom, 1), dtype=np.uint8))
    fig = image_figure(big, title)
    cell = px * zoom
    for i in range(f):
        for j in range(f):
            fig.add_shape(type="rect", x0=j * cell - 0.5, x1=(j + 1) * cell - 0.5, y0=i * cell - 0.5,
                          y1=(i + 1) * cell - 0.5, line=dict(color=HIGHLIGHT, width=2))
            fig.add_annotation(x=(j + 0.5) * cell, y=(i + 0.5) * cell, text=str(i * f + j + 1), showarrow=False,
                               font=dict(color="white", size=16), bgcolor="rgba(0,0,0,0.55)")
    return fig


def test_the_language_model_image_figures_send_what_their_graph_objects_figures_sent():
    import dataclasses

    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import BY_KEY
    from vitviz.model import smolvlm
    from vitviz.stages import vlm
    from vitviz.views import vlm as vlm_views

    photo = load_image(BY_KEY["rocket"].data())
    pixels = np.asarray(photo)
    for edge in (1024, 512):  # crops, and a single view
        s = dataclasses.replace(smolvlm.PUBLISHED, longest_edge=edge)
        cuts = vlm.cut(photo, s)
        _same(vlm_views.crops_on_image(pixels, cuts), _ref_crops_on_image(pixels, cuts))
        _same(vlm_views.crops_on_image(pixels, cuts, 300), _ref_crops_on_image(pixels, cuts, 300))
        names = [cuts.name(i).replace("crop row ", "r").replace(", column ", " c") for i in range(cuts.n_views)]
        from vitviz.figures.images import tiles_figure  # the views as drawn before: the crops in 0..1
        _same(vlm_views.views(cuts), tiles_figure(
            cuts.crops / 255.0, columns=min(cuts.cols + 1 if cuts.n_crops else 1, 6), titles=names,
            title=f"What the encoder reads: {cuts.n_views} images of {cuts.crop} × {cuts.crop} px"))
        crop = cuts.crops[0]
        for token in (0, s.tokens_side ** 2 - 1):
            _same(vlm_views.token_patches(crop, s, token, "t"), _ref_token_patches(crop, s, token, "t"))
            _same(vlm_views.token_zoom(crop, s, token, "z"), _ref_token_zoom(crop, s, token, "z"))


def test_the_distance_figure_from_the_pages_distances_is_the_figure_from_the_analysis(case):  # noqa: F811
    from vitviz.stages import attention
    from vitviz.views import attention as attention_views

    bundle, _, a = case
    distance = attention.mean_attention_distance(a.attentions, a.grid, a.patch_size, a.num_prefix)
    assert _sent(attention_views.distances(bundle, a, distance)) == _sent(attention_views.distances(bundle, a))


# --- the shared line, bar and heatmap charts as they were built --------------------------------------------------

def _ref_depth_lines(values, names, title=None, y_title="", x_title="depth", x_labels=None, height=320, y_range=None):
    from vitviz.figures.steps import _LEGEND

    fig = go.Figure()
    x = x_labels or list(range(values.shape[-1]))
    for row, name in zip(np.atleast_2d(values), names):
        fig.add_trace(go.Scatter(x=x, y=row, mode="lines+markers", name=name))
    fig.update_xaxes(title=x_title, type="category")
    fig.update_yaxes(title=y_title, range=y_range)
    fig.update_layout(legend=_LEGEND)
    return base_layout(fig, title, height)


def _ref_flattened_patch(values, patch, title=None, channels=("R", "G", "B")):
    from vitviz.figures.tokens import CHANNEL_COLOURS, EXTRA_CHANNEL_COLOUR, INSIDE_LEGEND

    per = patch * patch
    colours = (*CHANNEL_COLOURS, EXTRA_CHANNEL_COLOUR)
    fig = go.Figure()
    for ch, name in enumerate(channels):
        idx = np.arange(ch * per, (ch + 1) * per)
        label = f"{name} channel" if len(name) == 1 else name
        fig.add_trace(go.Bar(x=idx, y=values[idx], name=label, marker_color=colours[min(ch, len(colours) - 1)],
                             marker_line_width=0))
    fig.update_layout(bargap=0, legend=INSIDE_LEGEND)
    fig.update_xaxes(title=f"position in the flattened patch (0 … {len(channels) * per - 1})")
    fig.update_yaxes(title="normalised value")
    return base_layout(fig, title, height=260)


def _ref_vector_bars(vector, title=None, compare=None, names=("vector", "compare")):
    from vitviz.figures.tokens import INSIDE_LEGEND

    fig = go.Figure(go.Bar(x=np.arange(vector.size), y=vector, name=names[0], marker_color=ACCENT,
                           marker_line_width=0))
    if compare is not None:
        fig.add_trace(go.Scatter(x=np.arange(compare.size), y=compare, name=names[1], mode="markers",
                                 marker=dict(color=HIGHLIGHT, size=4, symbol="x")))
    fig.update_layout(bargap=0, legend=INSIDE_LEGEND)
    fig.update_xaxes(title="dimension")
    return base_layout(fig, title, height=260)


def _ref_layer_lines(values, title=None, y_title="", x_title="layer", names=None):
    fig = go.Figure()
    for i, row in enumerate(np.atleast_2d(values)):
        fig.add_trace(go.Scatter(x=np.arange(row.size), y=row, mode="lines+markers",
                                 name=names[i] if names else str(i)))
    fig.update_xaxes(title=x_title, dtick=1)
    fig.update_yaxes(title=y_title)
    return base_layout(fig, title, height=320)


def _ref_grid_heatmap(values, title=None, colorscale="Cividis", zmin=None, zmax=None, height=None, x_title="",
                      y_title="", zmid=None, colorbar_title=""):
    fig = go.Figure(go.Heatmap(z=values, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid,
                               colorbar=dict(title=colorbar_title, thickness=12, exponentformat="power")))
    fig.update_yaxes(autorange="reversed", title=y_title)
    fig.update_xaxes(title=x_title)
    return base_layout(fig, title, height)


def test_the_shared_charts_send_what_their_graph_objects_figures_sent():
    from vitviz.figures import images, steps, tokens

    rng = np.random.default_rng(5)
    rows = rng.random((2, 13)).astype(np.float32)
    for kw in ({}, {"title": "t", "y_title": "y", "x_title": "", "x_labels": [f"b{i}" for i in range(13)],
                    "height": 400, "y_range": (0, 1.02)}, {"y_range": (-1.02, 1.02), "title": "a<br><sup>b</sup>"}):
        _same(steps.depth_lines(rows, ["a", "b"], **kw), _ref_depth_lines(rows, ["a", "b"], **kw))
        _same(steps.depth_lines(rows[0], ["a"], **kw), _ref_depth_lines(rows[0], ["a"], **kw))
    vec = rng.standard_normal(48).astype(np.float32)
    _same(tokens.flattened_patch(vec, 4, "f"), _ref_flattened_patch(vec, 4, "f"))
    four = rng.random(64).astype(np.float32)
    _same(tokens.flattened_patch(four, 4, None, ("R", "G", "B", "colour edges")),
          _ref_flattened_patch(four, 4, None, ("R", "G", "B", "colour edges")))
    _same(tokens.vector_bars(vec), _ref_vector_bars(vec))
    _same(tokens.vector_bars(vec, "v", vec.astype(np.float64) / 2, ("a", "b")),
          _ref_vector_bars(vec, "v", vec.astype(np.float64) / 2, ("a", "b")))
    _same(tokens.layer_lines(rows), _ref_layer_lines(rows))
    _same(tokens.layer_lines(rows, "l", "y", "block", ["r", "c"]), _ref_layer_lines(rows, "l", "y", "block", ["r", "c"]))
    grid = rng.standard_normal((14, 14))
    _same(images.grid_heatmap(grid), _ref_grid_heatmap(grid))
    _same(images.grid_heatmap(grid, "g", "RdBu_r", -1, 1, 400, "x", "y", 0, "cos"),
          _ref_grid_heatmap(grid, "g", "RdBu_r", -1, 1, 400, "x", "y", 0, "cos"))


def test_the_block_depth_charts_send_what_they_sent(case):  # noqa: F811
    """The logit lens changes its second line after depth_lines drew it, the precision section its y axis: both
    still read and change a plain figure as they changed a validated one."""
    from vitviz.figures.prediction import short_label
    from vitviz.stages import block
    from vitviz.views import block as block_views

    bundle, _, a = case
    stream = block.residual_stream(bundle, a)
    ln = block.logit_lens(stream, a)
    labels = ["input"] + [f"block {i}" for i in range(1, stream.depth + 1)]
    if ln.has_classifier:
        ref = _ref_depth_lines(np.stack([ln.final_prob, [t[0][1] for t in ln.top]]),
                               [f"P(“{short_label(bundle.labels[ln.final_class])}”), the final prediction",
                                "P(top-1 at that depth)"], x_labels=labels, y_title="probability", y_range=(0, 1.02),
                               title=f"The logit lens: {block.head_reads(bundle.model)} after each block through the "
                                     "final norm and the head")
        ref.data[1].update(text=[short_label(bundle.labels[t[0][0]]) for t in ln.top],
                           hovertemplate="%{x}: %{text} %{y:.3f}<extra></extra>", line=dict(dash="dot"))
    else:
        ref = _ref_depth_lines(ln.similarity[None], ["cosine with the final features"], x_labels=labels,
                               y_title="cosine similarity", y_range=(-1.02, 1.02),
                               title=f"No classifier: how close {block.head_reads(bundle.model)} (after the final norm) "
                                     "is to its final state")
    _same(block_views.lens(bundle, a, stream), ref)
    token = block.token_index(a, a.num_patches // 2)
    rows = np.stack([block.update_sizes(stream, 0), block.update_sizes(stream, token)])
    names = [block_views._tok(a, 0), block_views._tok(a, token)]
    _same(block_views.updates(bundle, a, stream, token),
          _ref_depth_lines(rows, names, x_labels=[f"block {i}" for i in range(1, stream.depth + 1)], x_title="",
                           y_title="‖update‖ / ‖token‖", title="The residual stream: how much each block changes the token"))
    from vitviz.figures.steps import depth_lines
    drift = rows[0].astype(np.float64)
    _same(depth_lines(drift[None], ["d"]).update_yaxes(exponentformat="power"),
          _ref_depth_lines(drift[None], ["d"]).update_yaxes(exponentformat="power"))


def test_the_block_diagram_reads_the_model_alone(case):  # noqa: F811
    """The page builds it once per model (``per_image=False``): without the image it is the same figure."""
    from vitviz.model.analysis import model_alone
    from vitviz.views import block as block_views

    bundle, _, a = case
    for step in (None, "attn"):
        assert _sent(block_views.diagram(bundle, model_alone(a), step)) == _sent(block_views.diagram(bundle, a, step))
