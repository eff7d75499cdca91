"""Figures of the Odd tokens stage: token norms on the image and as a histogram, the norm rule over depth, where the
CLS token's attention goes, and the blank image's features."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures import plain
from vitviz.figures.images import heatmap_overlay, tiles_figure
from vitviz.figures.style import ACCENT, DIVERGING, HIGHLIGHT, house_layout
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import attention, odd_tokens as odd

PREFIX_COLOURS = ("#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#F0E442")  # CLS, then registers
FLAG_COLOUR = "#D55E00"


def _flags(a: Analysis, block: int, k: float) -> odd.Flags:
    return odd.flags_by_block(odd.token_norms(a)[block:block + 1], odd.Layout.of(a), k)[0]


# The charts below are written as plotly JSON in validated form (vitviz.figures.plain): they are drawn for every
# image; tests/unit/test_plain_figures.py checks each against the graph_objects figure it replaces.
_BAR_LINE = {"color": HIGHLIGHT, "dash": "dash", "width": 3}  # the rule's bar, the chance line
_LEGEND_BELOW = {"orientation": "h", "y": -0.3}


def _hline(y: float, text: str) -> dict:
    """``add_hline(y, annotation_text=text, annotation_position="top left")``'s shape and annotation."""
    return {"shapes": [{"line": _BAR_LINE, "type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": y, "y1": y,
                        "yref": "y"}],
            "annotations": [{"showarrow": False, "text": text, "x": 0, "xanchor": "left", "xref": "x domain", "y": y,
                             "yanchor": "bottom", "yref": "y"}]}


def _outlines(patches: tuple[int, ...], a: Analysis) -> tuple[dict, ...]:
    """A rectangle around each flagged patch (shape and colour, not colour alone), as shapes in validated form."""
    p, cols = a.patch_size, a.grid[1]
    return tuple({"line": {"color": FLAG_COLOUR, "dash": "dot", "width": 3}, "type": "rect", "x0": c * p - 0.5,
                  "x1": (c + 1) * p - 0.5, "y0": r * p - 0.5, "y1": (r + 1) * p - 0.5}
                 for r, c in (divmod(int(i), cols) for i in patches))


def norm_map(_bundle: Bundle, a: Analysis, block: int, k: float, selected: int) -> go.Figure:
    """The patch tokens' norms after block ``block`` (0-based) over the image; flagged patches outlined."""
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)[block]  # [T]
    flags = odd.flag(norms[layout.prefix:], k)
    return heatmap_overlay(a.image, norms[layout.prefix:].reshape(a.grid), a.patch_size, 0.65, selected=selected,
                           height=460, colorbar_title="norm", shapes=_outlines(flags.flagged, a),
                           title=f"Patch token norms after block {block + 1}<br><sup>dotted: above {k:g} × the median "
                                 f"({flags.threshold:.3g}), {len(flags.flagged)} "
                                 f"patch{'es' if len(flags.flagged) != 1 else ''}</sup>")


def norm_histogram(_bundle: Bundle, a: Analysis, block: int, k: float) -> go.Figure:
    """How the norms after block ``block`` are spread: the patches as a histogram, the rule's bar, and the CLS
    token and each register as a marked line of its own."""
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)[block]
    patches = norms[layout.prefix:]
    flags = odd.flag(patches, k)
    data = [{"hovertemplate": "norm %{x}<br>%{y} patches<extra></extra>", "marker": {"color": ACCENT},
             "name": "patch tokens", "nbinsx": min(60, max(10, patches.size // 4)), "x": patches, "type": "histogram"}]
    names = (["CLS"] if layout.has_cls else []) + [f"register {r + 1}" for r in range(layout.registers)]
    for j, name in enumerate(names):
        data.append({"hovertemplate": f"{name}: norm %{{x:.4g}}<extra></extra>",
                     "line": {"color": PREFIX_COLOURS[j % len(PREFIX_COLOURS)], "width": 3},
                     "marker": {"size": 10, "symbol": "diamond"}, "mode": "lines+markers", "name": name,
                     "x": [float(norms[j])] * 2, "y": [0, 1], "yaxis": "y2", "type": "scatter"})
    t = flags.threshold  # add_vline(annotation_position="top right"); update_yaxes titles yaxis2 too
    return plain.figure(data, {
        "shapes": [{"line": _BAR_LINE, "type": "line", "x0": t, "x1": t, "xref": "x", "y0": 0, "y1": 1,
                    "yref": "y domain"}],
        "annotations": [{"showarrow": False, "text": f"{k:g} × median", "x": t, "xanchor": "left", "xref": "x",
                         "y": 1, "yanchor": "top", "yref": "y domain"}],
        "yaxis2": {"overlaying": "y", "range": [0, 1.05], "visible": False, "title": {"text": "patch tokens"}},
        "legend": {"orientation": "h", "y": -0.25}, "bargap": 0.05,
        "xaxis": {"title": {"text": "token norm"}, "rangemode": "tozero"}, "yaxis": {"title": {"text": "patch tokens"}},
        **house_layout(f"Token norms after block {block + 1}", height=460)})


def norm_ratios(_bundle: Bundle, a: Analysis, k: float) -> go.Figure:
    """Per block: the largest patch norm, the CLS token's and each register's, each ÷ the median patch norm, with
    the rule's bar at k."""
    layout = odd.Layout.of(a)
    norms = odd.token_norms(a)  # [L, T]
    median = np.median(norms[:, layout.prefix:], axis=1)
    x = np.arange(1, a.depth + 1)
    data = [{"line": {"color": ACCENT, "width": 3}, "mode": "lines+markers", "name": "largest patch", "x": x,
             "y": norms[:, layout.prefix:].max(1) / median, "type": "scatter"}]
    for j, (name, ratio) in enumerate(odd.prefix_ratios(norms, layout).items()):
        data.append({"line": {"color": PREFIX_COLOURS[j % len(PREFIX_COLOURS)], "dash": "dot"},
                     "mode": "lines+markers", "name": name, "x": x, "y": ratio, "type": "scatter"})
    return plain.figure(data, {**_hline(k, f"the rule's bar: {k:g}"), "xaxis": {"title": {"text": "block"}, "dtick": 1},
                               "yaxis": {"title": {"text": "norm ÷ median patch norm"}, "rangemode": "tozero"},
                               "legend": _LEGEND_BELOW,
                               **house_layout("Norm ÷ the median patch norm, after each block", height=380)})


def attention_shares(_bundle: Bundle, a: Analysis, block: int, k: float) -> go.Figure:
    """Where the CLS token's attention goes in each block: itself, the registers, the patches flagged after block
    ``block``, and the other patches (stacked, summing to 1)."""
    flags = _flags(a, block, k)
    shares = odd.cls_attention_shares(a, flags.flagged)
    x = np.arange(1, a.depth + 1)
    parts = [("the CLS token itself", shares.cls_self, "#999999")]
    if odd.Layout.of(a).registers:
        parts.append(("the registers", shares.registers, "#009E73"))
    parts += [(f"the {len(flags.flagged)} flagged patch{'es' if len(flags.flagged) != 1 else ''}" if flags.flagged
               else "flagged patches (none)", shares.flagged, FLAG_COLOUR),
              ("the other patches", shares.other, ACCENT)]
    data = [{"hovertemplate": f"{n}: %{{y:.1%}}<extra></extra>", "marker": {"color": c}, "name": n, "x": x, "y": v,
             "type": "bar"} for n, v, c in parts]
    return plain.figure(data, {
        "legend": _LEGEND_BELOW, "barmode": "stack", "xaxis": {"title": {"text": "block"}, "dtick": 1},
        "yaxis": {"title": {"text": "share of the CLS token's attention"}, "tickformat": ".0%", "range": [0, 1.001]},
        **house_layout(f"Where the CLS token's attention goes (mean of heads)<br><sup>flagged: the patches above "
                       f"{k:g} × the median after block {block + 1}</sup>", height=400)})


def cls_last_map(_bundle: Bundle, a: Analysis, title: str) -> go.Figure:
    """The last block's CLS attention on the patches (mean of heads): the map the twin comparison sets side by side."""
    values = attention.cls_attention(a, a.depth - 1)
    return heatmap_overlay(a.image, values, a.patch_size, 0.6, height=420, colorbar_title="attention",
                           title=f"{title}<br><sup>{attention.reader(a)} → patches, block {a.depth}, mean of heads</sup>")


def _upsample(rgb: np.ndarray, grid: tuple[int, int], scale: int) -> np.ndarray:
    return np.kron(rgb.reshape(*grid, 3), np.ones((scale, scale, 1)))


def blank_maps(_bundle: Bundle, a: Analysis, blank: odd.Blank) -> go.Figure:
    """The blank image's patch features after each block, as colour: their first three principal components as
    red, green and blue (each block on its own)."""
    n0 = a.num_prefix
    scale = max(1, 96 // max(a.grid))
    tiles = np.stack([_upsample(odd.pca_rgb(blank.block_outputs[b, n0:]), a.grid, scale) for b in range(a.depth)])
    columns = min(6, a.depth)
    return tiles_figure(tiles, columns=columns, titles=[f"block {b + 1}" for b in range(a.depth)],
                        title=f"{odd.BLANKS[blank.kind][0].capitalize()}: its patch features after each block<br>"
                              "<sup>first three principal components as red, green, blue (each block on its own)</sup>",
                        height=120 + -(-a.depth // columns) * 150)


def pattern_map(_bundle: Bundle, a: Analysis, match: odd.PatternMatch, block: int, kind: str) -> go.Figure:
    """Each patch's cosine with the blank image's feature at the same position, after block ``block``."""
    return heatmap_overlay(a.image, match.same[block].reshape(a.grid), a.patch_size, 0.7, colorscale=DIVERGING,
                           zmin=-1, zmax=1, height=440, colorbar_title="cosine",
                           title=f"Cosine with {odd.BLANKS[kind][0].split(' (')[0]}'s feature at the same "
                                 f"position,<br>after block {block + 1}")


def pattern_lines(_bundle: Bundle, a: Analysis, match: odd.PatternMatch, kind: str) -> go.Figure:
    """Per block: the mean cosine with the blank image's feature at the same position and at the other positions."""
    x = np.arange(1, a.depth + 1)
    data = [{"line": {"color": ACCENT, "width": 3}, "mode": "lines+markers", "name": "same position", "x": x,
             "y": match.same_mean, "type": "scatter"},
            {"line": {"color": HIGHLIGHT, "dash": "dash", "width": 3}, "mode": "lines+markers",
             "name": "other positions", "x": x, "y": match.other, "type": "scatter"}]
    return plain.figure(data, {"xaxis": {"title": {"text": "block"}, "dtick": 1},
                               "yaxis": {"title": {"text": "mean cosine"}, "range": [-1, 1]}, "legend": _LEGEND_BELOW,
                               **house_layout(f"Image vs {odd.BLANKS[kind][0].split(' (')[0]}: mean cosine per block",
                                              height=380)})


def readout_errors(_bundle: Bundle, a: Analysis, result: odd.ReadOut) -> go.Figure:
    """Per-token read-out errors: normal tokens (held out) against flagged ones, with guessing the average."""
    unit = "patches" if result.target == "position" else "× the patches' spread"
    boxes = [("normal tokens", result.normal, ACCENT)] + (
        [("flagged tokens", result.flagged, FLAG_COLOUR)] if result.flagged.size else [])
    data = [{"boxpoints": "all", "jitter": 0.4, "marker": {"color": c}, "name": n, "pointpos": 0, "y": y,
             "type": "box"} for n, y, c in boxes]
    what = "its place" if result.target == "position" else "its pixels"
    return plain.figure(data, {**_hline(result.chance, "guessing the average"), "showlegend": False,
                               "yaxis": {"title": {"text": f"error ({unit})"}, "rangemode": "tozero"},
                               **house_layout(f"Read-out of {what} from the token", height=360)})


