"""Figures of the Faithfulness stage: the occlusion map with its patch groups, the maps side by side, and the
deletion and insertion curves. They take the experiments' results (computed by the page's experiments or by
``faithfulness.evaluate``) after the usual (bundle, analysis)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vitviz.figures.images import heatmap_overlay
from vitviz.figures.maps import small_multiples
from vitviz.figures.style import DIVERGING, base_layout
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import attention
from vitviz.stages.faithfulness import RANDOM, Curves, Occlusion

# Okabe-Ito colours, one per method; the random baseline in grey
COLOURS = {"attention": "#E69F00", "rollout": "#56B4E9", "gradient": "#009E73", "occlusion": "#D55E00",
           RANDOM: "#7f7f7f"}


def _group_borders(fig: go.Figure, grid: tuple[int, int], patch: int, group: int) -> None:
    """White lines around each group of g×g patches hidden together (nothing drawn for single patches)."""
    if group == 1:
        return
    rows, cols = grid
    h, w = rows * patch - 0.5, cols * patch - 0.5
    xs, ys = [], []
    for k in range(group, cols, group):
        xs += [k * patch - 0.5, k * patch - 0.5, None]
        ys += [-0.5, h, None]
    for k in range(group, rows, group):
        xs += [-0.5, w, None]
        ys += [k * patch - 0.5, k * patch - 0.5, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="white", width=2), hoverinfo="skip",
                             showlegend=False))


def occlusion_map(_bundle: Bundle, a: Analysis, occ: Occlusion, opacity: float = 0.6,
                  title: str | None = None, limit: float | None = None, height: int = 460) -> go.Figure:
    """The drop of the target score when each patch (group) is hidden; red: hiding it lowers the score.
    ``limit``: the colour scale's ±limit (to put two maps on one scale); by default the map's own largest drop."""
    lim = limit or float(np.abs(occ.drop).max()) or 1e-9
    how = "token removed" if occ.variant == "tokens" else "painted with the mean colour"
    size = "each patch" if occ.group == 1 else f"{occ.group}×{occ.group} patches at a time (white borders)"
    fig = heatmap_overlay(a.image, occ.drop, a.patch_size, opacity, colorscale=DIVERGING, zmin=-lim, zmax=lim,
                          height=height, colorbar_title="drop",
                          title=title or f"Occlusion: drop of the score, {size}, {how}")
    _group_borders(fig, a.grid, a.patch_size, occ.group)
    return fig


DISTRIBUTIONS = ("attention", "rollout")  # the maps whose values are attention weights over the T tokens


def maps(_bundle: Bundle, a: Analysis, c: Curves) -> go.Figure:
    """The maps whose orders the curves test, two a row (each scaled on its own): four in a row are too small to
    read at a phone's width."""
    keys = list(c.maps)
    rows = -(-len(keys) // 2)
    titles = [c.name(k) + _reference(k, c.maps[k], a, c) for k in keys]
    return small_multiples(a.image, [c.maps[k] for k in keys], titles, 0.6, columns=2,
                           title=f"The maps under test (each scaled on its own)<br>attention and rollout: largest "
                                 f"weight × uniform (1/{a.num_tokens} = {1 / a.num_tokens:.2g})",
                           height=70 + 240 * rows)


def _reference(key: str, values: np.ndarray, a: Analysis, c: Curves) -> str:
    """A tile's figure against a reference, since each tile's colours are scaled on their own: attention and
    rollout against uniform 1/T; gradient rollout against a flat map of its total; occlusion, its largest drop
    against the clean score."""
    if key in DISTRIBUTIONS:
        return f" · {attention.spread(values, a.num_tokens).ratio_text} uniform"
    if key == "occlusion":
        return f" · largest drop {float(np.max(values)):.2g} of {c.base:.3g}"
    return f" · {attention.flat_text(attention.flat_ratio(values))}"


CURVE_TITLES = {"deletion": "Deletion: most important removed first<br>(lower area = better)",
                "insertion": "Insertion: most important revealed first<br>(higher area = better)"}


def curves(_bundle: Bundle, a: Analysis, c: Curves, kind: str | None = None) -> go.Figure:
    """Deletion (left) and insertion (right): the score against the fraction of patches removed / revealed.

    ``kind`` ("deletion" or "insertion"): that panel alone, with its own legend; pages draw the two in columns,
    which a phone stacks (two panels in one figure are too narrow to read at 360 px)."""
    kinds = (kind,) if kind else ("deletion", "insertion")
    fig = make_subplots(rows=1, cols=len(kinds), horizontal_spacing=0.08,
                        subplot_titles=None if kind else [CURVE_TITLES[k] for k in kinds])
    areas = c.areas()
    x = c.fractions
    for col, name in enumerate(kinds, 1):
        rand = c.random_deletion if name == "deletion" else c.random_insertion
        lo, hi = rand.min(0), rand.max(0)
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[hi, lo[::-1]], fill="toself", line=dict(width=0),
                                 fillcolor="rgba(127,127,127,0.25)", hoverinfo="skip", showlegend=False,
                                 legendgroup=RANDOM), 1, col)
        mean_area = getattr(areas[RANDOM], name)
        fig.add_trace(go.Scatter(x=x, y=rand.mean(0), mode="lines", line=dict(color=COLOURS[RANDOM], dash="dash"),
                                 name=f"{RANDOM} (mean of {len(rand)}, band: min–max)", legendgroup=RANDOM,
                                 showlegend=col == 1,
                                 hovertemplate=f"{RANDOM}: area {mean_area:.3f}<br>%{{x:.0%}}: %{{y:.3f}}"
                                               "<extra></extra>"), 1, col)
        for m, ys in getattr(c, name).items():
            area = getattr(areas[m], name)
            fig.add_trace(go.Scatter(x=x, y=ys, mode="lines+markers", line=dict(color=COLOURS[m], width=3),
                                     marker=dict(size=6), name=c.name(m), legendgroup=m, showlegend=col == 1,
                                     hovertemplate=f"{c.name(m)}: area {area:.3f}<br>%{{x:.0%}}: %{{y:.3f}}"
                                                   "<extra></extra>"), 1, col)
        fig.update_xaxes(title=f"fraction of patches {'removed' if name == 'deletion' else 'revealed'}",
                         tickformat=".0%", row=1, col=col)
    fig.update_yaxes(title=c.target.score_name if c.target.has_class else "cosine similarity", row=1, col=1)
    fig = base_layout(fig, CURVE_TITLES[kind] if kind else None, 520 if kind else 470)
    return fig.update_layout(legend=dict(orientation="h", y=-0.25), margin=dict(b=10) if kind else dict(t=40, b=10))
