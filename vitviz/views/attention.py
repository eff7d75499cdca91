"""Figures of the Attention stage."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.images import heatmap_overlay
from vitviz.figures.maps import distance_figure, small_multiples
from vitviz.figures import plain
from vitviz.figures.style import DIVERGING, SEQUENTIAL, house_layout
from vitviz.model import provenance
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import attention, closeness

SMALL_OPACITY = 0.6  # small multiples keep one blend; the page's opacity control is for the large maps


def _head_name(head: int | None) -> str:
    return "mean of heads" if head is None else f"head {head}"


def _spread_line(values: np.ndarray, a: Analysis) -> str:
    """The title's second line: uniform = 1/T for this model and the map's largest weight against it (the
    colour scale runs from the map's own smallest to largest value, so the colours alone cannot say)."""
    return "<br>" + attention.spread(values, a.num_tokens).sentence()


def _tile_titles(names: list[str], maps: list[np.ndarray], a: Analysis) -> list[str]:
    """Small-panel titles with each map's largest weight against uniform (1/T)."""
    return [f"{n} · {attention.spread(m, a.num_tokens).ratio_text}" for n, m in zip(names, maps)]


def _tiles_note(a: Analysis) -> str:
    return (f"<br>uniform would be 1/{a.num_tokens} = {1 / a.num_tokens:.2g}; each panel: its largest weight, "
            "× uniform")


def cls_map(_bundle: Bundle, a: Analysis, layer: int, head: int | None, opacity: float, selected: int) -> go.Figure:
    """Where the CLS token looks in block ``layer`` (0-based)."""
    values = attention.cls_attention(a, layer, head)  # [rows, cols]
    return heatmap_overlay(a.image, values, a.patch_size, opacity, selected=selected,
                           height=460, colorbar_title="attention",
                           title=f"{attention.reader(a)} → patches, block {layer + 1}, {_head_name(head)}{_spread_line(values, a)}")


def query_map(_bundle: Bundle, a: Analysis, layer: int, head: int | None, opacity: float, index: int) -> go.Figure:
    values = attention.query_attention(a, layer, head, index)  # [rows, cols]
    return heatmap_overlay(a.image, values, a.patch_size, opacity,
                           selected=index, height=400, colorbar_title="attention",
                           title=f"Where patch {index} looks (its query row), block {layer + 1}"
                                 f"{_spread_line(values, a)}")


def heads(_bundle: Bundle, a: Analysis, layer: int) -> go.Figure:
    maps = [attention.cls_attention(a, layer, h) for h in range(a.heads)]
    return small_multiples(a.image, maps, _tile_titles([f"head {h}" for h in range(a.heads)], maps, a),
                           SMALL_OPACITY, columns=min(6, a.heads),
                           title=f"All {a.heads} heads of block {layer + 1}: {attention.reader(a)} attention (each map scaled on its own)"
                                 f"{_tiles_note(a)}")


def layers(_bundle: Bundle, a: Analysis) -> go.Figure:
    maps = [attention.cls_attention(a, i) for i in range(a.depth)]
    return small_multiples(a.image, maps, _tile_titles([f"block {i + 1}" for i in range(a.depth)], maps, a),
                           SMALL_OPACITY, columns=min(6, a.depth),
                           title=f"Mean over heads, every block: how {attention.reader(a)} attention changes with depth{_tiles_note(a)}")


def rollout(_bundle: Bundle, a: Analysis, fusion: str = "mean", discard: float = 0.0,
            opacity: float = 0.6) -> go.Figure:
    """The rollout's CLS row over the patches: a distribution over the tokens (rollout's rows sum to 1)."""
    values = attention.rollout_map(a, fusion, discard)  # [rows, cols]
    return heatmap_overlay(a.image, values, a.patch_size, opacity, height=440, colorbar_title="relevance",
                           title=f"Rollout ({fusion}, discard {discard:.2f}){_spread_line(values, a)}")


def relevance_title(bundle: Bundle, relevance_map: np.ndarray, label: str) -> str:
    """"Evidence for" only where the weights were trained as documented: random or unknown weights learned no
    evidence, so their map is named for what it computes, with the provenance's note. Second line: the map's
    largest value against a flat map (its colours are scaled on their own)."""
    p = bundle.provenance
    flat = attention.flat_text(attention.flat_ratio(relevance_map))
    if p.trained_as_documented:
        return f"Evidence for “{label}”<br>{flat} (a flat map: 1×)"
    note = provenance.these_weights(p)
    return (f"Gradient-weighted rollout for “{label}”<br>{note[:1].upper() + note[1:]}, so this is not evidence "
            f"of anything learned; {flat} (a flat map: 1×)")


def relevance(bundle: Bundle, a: Analysis, relevance_map: np.ndarray, label: str, opacity: float) -> go.Figure:
    """A class-specific relevance map (gradient rollout, computed by an experiment) over the image."""
    return heatmap_overlay(a.image, relevance_map, a.patch_size, opacity, height=400, colorbar_title="relevance",
                           title=relevance_title(bundle, relevance_map, label))


def distances(_bundle: Bundle, a: Analysis, distance: np.ndarray | None = None) -> go.Figure:
    """Mean attention distance per head and block; ``distance`` [L, H]: ``attention.mean_attention_distance`` of
    ``a`` when the caller has it already (the page's verdict reads the same numbers)."""
    return distance_figure(
        attention.mean_attention_distance(a.attentions, a.grid, a.patch_size, a.num_prefix) if distance is None
        else distance,
        attention.uniform_attention_distance(a.grid, a.patch_size),
        f"Mean attention distance per head and block, on this image ({a.grid[0]}×{a.grid[1]} patches of "
        f"{a.patch_size} px)")


def dino_masks(_bundle: Bundle, a: Analysis, fraction: float) -> go.Figure:
    masks = [attention.dino_mask(attention.cls_attention(a, a.depth - 1, h), fraction).astype(float)
             for h in range(a.heads)]
    return small_multiples(a.image, masks, [f"head {h}: {int(m.sum())} patches" for h, m in enumerate(masks)],
                           SMALL_OPACITY, columns=min(6, a.heads),
                           title=f"Last block, per head: the fewest patches holding {fraction:.0%} of the {attention.reader(a)} attention")


def relatedness(bundle: Bundle, a: Analysis, layer: int, head: int | None, index: int) -> go.Figure:
    """The cosine of the tokens entering block ``layer`` with the query's, next to the query's attention row in that
    block: closeness next to learned relatedness, with r (cosine against log attention, the score).

    Short panel titles and each colour bar under its own map: the two maps read side by side at a phone's
    width (about 360 px) as on a projector."""
    rel = closeness.relatedness(a, layer, head, index)
    # plain JSON in validated form (vitviz.figures.plain), laid out as make_subplots(1, 2, horizontal_spacing=0.08)
    # lays it out: drawn for every patch, layer and head a learner picks, on two pages
    bar = {"len": 0.4, "orientation": "h", "thickness": 10, "ticks": "outside", "xanchor": "center", "y": -0.04,
           "yanchor": "top"}
    data = [{"colorbar": {**bar, "tickvals": [-1, 0, 1], "title": {"side": "bottom", "text": "cosine"}, "x": 0.23},
             "colorscale": plain.colorscale(DIVERGING), "hovertemplate": "cosine %{z:.3f}<extra></extra>",
             "xaxis": "x", "yaxis": "y", "z": rel.cosine, "zmax": 1, "zmin": -1, "type": "heatmap"},
            {"colorbar": {**bar, "nticks": 4, "title": {"side": "bottom", "text": "attention"}, "x": 0.77},
             "colorscale": plain.colorscale(SEQUENTIAL), "hovertemplate": "attention %{z:.4f}<extra></extra>",
             "xaxis": "x2", "yaxis": "y2", "z": rel.attention, "type": "heatmap"}]
    panel = {"font": {"size": 16}, "showarrow": False, "xanchor": "center", "xref": "paper", "y": 1.0,
             "yanchor": "bottom", "yref": "paper"}
    titles = (f"block input: cosine with patch {index}",
              f"attention from patch {index} · largest {rel.spread.ratio_text} uniform (1/{a.num_tokens})")
    house = house_layout(f"Close vectors or {provenance.learned_or(bundle.provenance, 'computed')} relation?<br>"
                         f"Block {layer + 1}, {_head_name(head)}: r = {rel.correlation:.2f} "
                         f"({closeness.CLOSENESS_TAG[rel.kind]})", height=440)
    axis = {"constrain": "domain", "showticklabels": False}
    return plain.figure(data, {
        "annotations": [{**panel, "text": titles[0], "x": 0.23}, {**panel, "text": titles[1], "x": 0.77}],
        "xaxis": {**axis, "anchor": "y", "domain": [0.0, 0.46]}, "xaxis2": {**axis, "anchor": "y2", "domain": [0.54, 1.0]},
        "yaxis": {**axis, "anchor": "x", "autorange": "reversed", "domain": [0.0, 1.0], "scaleanchor": "x"},  # square
        "yaxis2": {**axis, "anchor": "x2", "autorange": "reversed", "domain": [0.0, 1.0], "scaleanchor": "x2"},
        **house, "margin": {**house["margin"], "t": house["margin"]["t"] + 18, "b": 70}})  # room for the panel titles
