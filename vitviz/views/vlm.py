"""Figures of the "Into a language model" page: the crops on the image, the views the encoder reads, one image
token's patches, its vectors before and after the projection, and attention drawn back onto the image."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vitviz.figures.images import heatmap_overlay, image_figure, tiles_figure
from vitviz.figures.style import ACCENT, DIVERGING, HIGHLIGHT, SEQUENTIAL, base_layout
from vitviz.model.smolvlm import Settings
from vitviz.stages.vlm import Cuts


def _rect(x0: float, x1: float, y0: float, y1: float, width: int) -> dict:
    """An outline in the highlight colour, as ``add_shape(type="rect", …)`` writes it."""
    return {"line": {"color": HIGHLIGHT, "width": width}, "type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1}


def _label(x: float, y: float, text: str, size: int) -> dict:
    """White text on a dark box, as ``add_annotation(…, showarrow=False)`` writes it."""
    return {"bgcolor": "rgba(0,0,0,0.55)", "font": {"color": "white", "size": size}, "showarrow": False, "text": text,
            "x": x, "y": y}


def _lines(xs: list, ys: list, colour: str, width: int) -> dict:
    return {"hoverinfo": "skip", "line": {"color": colour, "width": width}, "mode": "lines", "showlegend": False,
            "x": xs, "y": ys, "type": "scatter"}


# The image figures below are drawn for every image and every token: written as plotly JSON in validated form
# (vitviz.figures.plain; tests/unit/test_plain_charts.py compares each with the graph_objects figure it replaces).

def crops_on_image(image: np.ndarray, cuts: Cuts, height: int | None = None) -> go.Figure:
    """The image with the processor's crops outlined and named (row, column); the global view is all of it."""
    shapes, labels = [], []
    for i in range(cuts.n_crops):
        x0, y0, x1, y1 = cuts.box(i)
        shapes.append(_rect(x0 - 0.5, x1 - 0.5, y0 - 0.5, y1 - 0.5, 3))
        r, c = divmod(i, cuts.cols)
        labels.append(_label((x0 + x1) / 2, (y0 + y1) / 2, f"row {r + 1}, col {c + 1}", 14))
    return image_figure(image, f"{cuts.rows} × {cuts.cols} crops of {cuts.crop} px, plus the whole image as the global "
                        "view" if cuts.n_crops else f"One view of {cuts.crop} px (the image was not split)", height,
                        shapes=tuple(shapes), annotations=tuple(labels))


def views(cuts: Cuts, height: int | None = None) -> go.Figure:
    """Every view the encoder reads, as it reads it (the processor's own pixels): the crops, then the global view."""
    names = [cuts.name(i).replace("crop row ", "r").replace(", column ", " c") for i in range(cuts.n_views)]
    columns = min(cuts.cols + 1 if cuts.n_crops else 1, 6)
    return tiles_figure(cuts.crops, columns=columns, titles=names,
                        title=f"What the encoder reads: {cuts.n_views} images of {cuts.crop} × {cuts.crop} px",
                        height=height)


def token_patches(crop: np.ndarray, s: Settings, token: int, title: str) -> go.Figure:
    """A crop [h, w, 3] with its token grid (thick) and patch grid (thin), the patches of ``token`` outlined."""
    h = crop.shape[0]
    px = h / s.patches_side  # drawn pixels per patch
    xs, ys = [], []
    for k in range(1, s.patches_side):
        xs += [k * px - 0.5, k * px - 0.5, None, -0.5, h - 0.5, None]
        ys += [-0.5, h - 0.5, None, k * px - 0.5, k * px - 0.5, None]
    tx, ty = [], []
    step = px * s.scale_factor
    for k in range(1, s.tokens_side):
        tx += [k * step - 0.5, k * step - 0.5, None, -0.5, h - 0.5, None]
        ty += [-0.5, h - 0.5, None, k * step - 0.5, k * step - 0.5, None]
    tr, tc = divmod(token, s.tokens_side)
    return image_figure(crop, title, traces=(_lines(xs, ys, "rgba(255,255,255,0.35)", 1), _lines(tx, ty, "white", 2)),
                        shapes=(_rect(tc * step - 0.5, (tc + 1) * step - 0.5, tr * step - 0.5, (tr + 1) * step - 0.5,
                                      4),))


def token_zoom(crop: np.ndarray, s: Settings, token: int, title: str) -> go.Figure:
    """The s×s patches of ``token``, magnified, each numbered in the order pixel shuffle concatenates them."""
    h = crop.shape[0]
    px = h // s.patches_side
    tr, tc = divmod(token, s.tokens_side)
    f = s.scale_factor
    block = crop[tr * f * px:(tr + 1) * f * px, tc * f * px:(tc + 1) * f * px]
    zoom = max(1, 320 // block.shape[0])
    big = np.kron(block, np.ones((zoom, zoom, 1), dtype=np.uint8))
    cell = px * zoom
    cells = [(i, j) for i in range(f) for j in range(f)]
    return image_figure(big, title, shapes=tuple(_rect(j * cell - 0.5, (j + 1) * cell - 0.5, i * cell - 0.5,
                                                       (i + 1) * cell - 0.5, 2) for i, j in cells),
                        annotations=tuple(_label((j + 0.5) * cell, (i + 0.5) * cell, str(i * f + j + 1), 16)
                                          for i, j in cells))


def token_vectors(patch_vectors: np.ndarray, projected: np.ndarray, title: str) -> go.Figure:
    """The s² patch vectors (one row each, concatenated by pixel shuffle) and the projected vector."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.8, 0.2], vertical_spacing=0.12,
                        subplot_titles=(f"before: {patch_vectors.shape[0]} patch vectors × {patch_vectors.shape[1]} "
                                        f"numbers = {patch_vectors.size:,} numbers, one after another",
                                        f"after the projection: {projected.size} numbers"))
    lim = float(np.abs(patch_vectors).max()) or 1.0
    fig.add_trace(go.Heatmap(z=patch_vectors, colorscale=DIVERGING, zmid=0, zmin=-lim, zmax=lim, showscale=False,
                             hovertemplate="patch %{y}<br>number %{x}<br>%{z:.3f}<extra></extra>",
                             y=list(range(1, patch_vectors.shape[0] + 1))), 1, 1)
    lim2 = float(np.abs(projected).max()) or 1.0
    fig.add_trace(go.Heatmap(z=projected[None], colorscale=DIVERGING, zmid=0, zmin=-lim2, zmax=lim2,
                             colorbar=dict(thickness=12, title="value"),
                             hovertemplate="number %{x}<br>%{z:.3f}<extra></extra>"), 2, 1)
    fig.update_yaxes(autorange="reversed", title="patch", row=1, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    return base_layout(fig, title, 420)


def encoder_attention(crop: np.ndarray, values: np.ndarray, patch: int, title: str) -> go.Figure:
    """One patch's attention over the crop's patches [side, side], drawn over the crop."""
    step = crop.shape[0] // values.shape[0]
    return heatmap_overlay(crop, values, step, selected=patch, title=title, colorbar_title="attention")


def answer_map(image: np.ndarray, values: np.ndarray, title: str, height: int | None = None) -> go.Figure:
    """Attention on the image tokens [rows, cols] stretched over the image they come from."""
    h, w = image.shape[:2]
    rows, cols = values.shape
    fig = image_figure(image, title, height)
    fig.add_trace(go.Heatmap(z=values, x0=w / cols / 2 - 0.5, dx=w / cols, y0=h / rows / 2 - 0.5, dy=h / rows,
                             colorscale=SEQUENTIAL, opacity=0.6,
                             colorbar=dict(title="attention", thickness=12, exponentformat="power"),
                             hovertemplate="%{z:.4f}<extra></extra>"))
    return fig


def candidates(steps: list, title: str) -> go.Figure:
    """Each answer step's top-5 candidates as bars (the chosen one first, in the house accent colour)."""
    n = len(steps)
    fig = go.Figure()
    for k in range(5):
        fig.add_trace(go.Bar(
            y=[f"{i + 1}. {s.text!r}" for i, s in enumerate(steps)], x=[s.top_probs[k] for s in steps],
            orientation="h", name="chosen" if k == 0 else f"candidate {k + 1}",
            marker=dict(color=ACCENT if k == 0 else f"rgba(120,120,130,{0.7 - 0.12 * k})"),
            text=[repr(s.top_texts[k]) for s in steps], textposition="inside", insidetextanchor="start",
            hovertemplate="%{text}: %{x:.1%}<extra></extra>"))
    fig.update_layout(barmode="stack", xaxis=dict(title="probability (top 5 stacked)", range=[0, 1]),
                      yaxis=dict(autorange="reversed"), legend=dict(orientation="h", y=-0.15))
    return base_layout(fig, title, max(260, 60 + 28 * n))
