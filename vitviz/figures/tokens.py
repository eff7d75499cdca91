"""Figures of tokens and vectors: the token strip, a patch's numbers, vectors as bars and heatmaps."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import plain
from .images import image_figure
from .style import ACCENT, DIVERGING, HIGHLIGHT, base_layout, house_layout, log_y

CHANNEL_COLOURS = ("#D55E00", "#009E73", "#0072B2")  # R, G, B channels (Okabe-Ito)
EXTRA_CHANNEL_COLOUR = "#555555"  # a fixed extra input channel (the offline model's colour edges)
INSIDE_LEGEND = dict(orientation="h", yanchor="top", y=0.99, xanchor="right", x=0.99, bgcolor="rgba(255,255,255,0.7)")


PREFIX_TILE = (90, 90, 90)  # a prefix token (CLS, distillation, register): not a patch of the image
SHORT = {"CLS": "CLS", "distillation": "dist"}  # tile labels; registers are "R1", "R2", …


def token_strip(image: np.ndarray, patch: int, grid: tuple[int, int], count: int | None = None,
                title: str | None = None, prefix: tuple[str, ...] = ("CLS",)) -> go.Figure:
    """The sequence the transformer reads: a grey tile per prefix token (``prefix``: CLS, distillation token,
    registers; none for a model without them), then patches in raster order (left to right, top to bottom)."""
    rows, cols = grid
    n = rows * cols if count is None else min(count, rows * cols)
    k0 = len(prefix)
    gap = max(1, patch // 4)
    strip = np.full((patch, (n + k0) * (patch + gap) - gap, 3), 255, np.uint8)
    for k in range(k0):
        strip[:, k * (patch + gap):k * (patch + gap) + patch] = PREFIX_TILE
    for i in range(n):
        r, c = divmod(i, cols)
        x0 = (i + k0) * (patch + gap)
        strip[:, x0:x0 + patch] = image[r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
    fig = image_figure(strip, title, height=140)
    labels = [SHORT.get(p, "R" + p.split()[-1] if p.startswith("register") else p) for p in prefix] + [
        str(i) for i in range(n)]
    step = max(1, (n + k0) // 24)
    shown = list(range(k0)) + list(range(k0, n + k0, step))  # every prefix token is labelled, then every step-th
    fig.update_layout(annotations=[dict(x=k * (patch + gap) + patch / 2, y=patch, text=labels[k], showarrow=False,
                                        yshift=-12, font=dict(size=11)) for k in shown])
    return fig


def patch_pixels_figure(pixels: np.ndarray, title: str | None = None) -> go.Figure:
    """One patch [P, P, 3] enlarged, every pixel visible, with its RGB values on hover."""
    fig = go.Figure(go.Image(z=pixels, hovertemplate="x %{x}, y %{y}<br>RGB %{z}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return base_layout(fig, title, height=300)


def flattened_patch(values: np.ndarray, patch: int, title: str | None = None,
                    channels: tuple[str, ...] = ("R", "G", "B")) -> go.Figure:
    """The C·P·P numbers that enter the projection, coloured by channel (R block, G block, B block, …)."""
    per = patch * patch
    colours = (*CHANNEL_COLOURS, EXTRA_CHANNEL_COLOUR)
    data = []
    for ch, name in enumerate(channels):
        idx = np.arange(ch * per, (ch + 1) * per)
        data.append({"marker": {"color": colours[min(ch, len(colours) - 1)], "line": {"width": 0}},
                     "name": f"{name} channel" if len(name) == 1 else name, "x": idx, "y": values[idx], "type": "bar"})
    return plain.figure(data, {  # plain JSON in validated form: drawn for every image and patch
        "legend": INSIDE_LEGEND, "bargap": 0,
        "xaxis": {"title": {"text": f"position in the flattened patch (0 … {len(channels) * per - 1})"}},
        "yaxis": {"title": {"text": "normalised value"}}, **house_layout(title, height=260)})


def vector_bars(vector: np.ndarray, title: str | None = None, compare: np.ndarray | None = None,
                names: tuple[str, str] = ("vector", "compare")) -> go.Figure:
    """A D-dimensional vector as bars (optionally a second one as a line on top); plain JSON in validated form."""
    data = [{"marker": {"color": ACCENT, "line": {"width": 0}}, "name": names[0], "x": np.arange(vector.size),
             "y": vector, "type": "bar"}]
    if compare is not None:
        data.append({"marker": {"color": HIGHLIGHT, "size": 4, "symbol": "x"}, "mode": "markers", "name": names[1],
                     "x": np.arange(compare.size), "y": compare, "type": "scatter"})
    return plain.figure(data, {"legend": INSIDE_LEGEND, "bargap": 0, "xaxis": {"title": {"text": "dimension"}},
                               **house_layout(title, height=260)})


def matrix_figure(matrix: np.ndarray, title: str | None = None, x_title: str = "dimension",
                  y_title: str = "patch", height: int = 420, selected_row: int | None = None) -> go.Figure:
    """An N×D matrix as a diverging heatmap centred on zero, row 0 on top."""
    lim = float(np.percentile(np.abs(matrix), 99)) or 1.0
    heat = {"colorbar": {"thickness": 12}, "colorscale": plain.colorscale(DIVERGING),
            "hovertemplate": f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>%{{z:.3f}}<extra></extra>", "z": matrix,
            "zmax": lim, "zmid": 0, "zmin": -lim, "type": "heatmap"}  # plain JSON: drawn for every image
    layout = {"xaxis": {"title": {"text": x_title}}, "yaxis": {"autorange": "reversed", "title": {"text": y_title}},
              **house_layout(title, height)}
    if selected_row is not None:  # what add_hline writes
        layout["shapes"] = [{"line": {"color": HIGHLIGHT, "width": 2}, "type": "line", "x0": 0, "x1": 1,
                             "xref": "x domain", "y0": selected_row, "y1": selected_row, "yref": "y"}]
    return plain.figure([heat], layout)


def layer_lines(values: np.ndarray, title: str | None = None, y_title: str = "", x_title: str = "layer",
                names: list[str] | None = None) -> go.Figure:
    """Per-layer summaries: rows of ``values`` [K, L] as lines over the layer axis (plain JSON in validated form)."""
    data = [{"mode": "lines+markers", "name": names[i] if names else str(i), "x": np.arange(row.size), "y": row,
             "type": "scatter"} for i, row in enumerate(np.atleast_2d(values))]
    return plain.figure(data, {"xaxis": {"title": {"text": x_title}, "dtick": 1}, "yaxis": {"title": {"text": y_title}},
                               **house_layout(title, height=320)})


def patch_size_figures(patches: list[int], tokens: list[int], scores: list[int], seconds: list[float],
                       probs: list[float], labels: list[str], native: int) -> list[go.Figure]:
    """The patch-size experiment, one bar chart each: tokens, attention scores, time and top-1 per patch size.
    Separate figures, for a page to draw in columns (a phone stacks them; four panels in one figure do not read
    at 360 px)."""
    x = [f"{p} px{' (trained)' if p == native else ''}" for p in patches]

    def bars(title: str, ys: list[float], colour: str = ACCENT, log: bool = False, **kw) -> go.Figure:
        fig = go.Figure(go.Bar(x=x, y=ys, marker_color=colour, showlegend=False, **kw))
        if log:
            log_y(fig, ys)
        return base_layout(fig, title, height=300)

    return [bars("tokens", tokens), bars("attention scores<br>(all layers, heads)", scores, log=True),
            bars("time per image (ms)", [1000 * s for s in seconds]),
            bars("top-1 probability (%)", [100 * p for p in probs], HIGHLIGHT, text=labels, textposition="auto")]
