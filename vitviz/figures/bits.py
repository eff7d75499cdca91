"""Figures for number formats and memory: coloured bit fields, memory bars, scaling charts."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vitviz.stages.numbers import Encoded
from .style import ACCENT, HIGHLIGHT, base_layout

FIELD_COLOURS = {"sign": "#D55E00", "exponent": "#0072B2", "mantissa": "#009E73"}  # Okabe-Ito


def bit_fields(rows: list[Encoded], title: str | None = None) -> go.Figure:
    """One row of coloured cells per format: sign | exponent | mantissa, with the bit in each cell."""
    fig = go.Figure()
    widest = max(len(r.sign + r.exponent + r.mantissa) for r in rows)
    cells, texts = [], []  # built as plain dicts and set at once: plotly's add_* validates one by one
    for y, r in enumerate(rows):
        x = 0
        for field in ("sign", "exponent", "mantissa"):
            for bit in getattr(r, field):
                cells.append(dict(type="rect", x0=x, x1=x + 0.92, y0=-y - 0.42, y1=-y + 0.42, line_width=0,
                                  fillcolor=FIELD_COLOURS[field], opacity=0.9 if bit == "1" else 0.35))
                texts.append(dict(x=x + 0.46, y=-y, text=bit, showarrow=False, font=dict(color="white", size=13)))
                x += 1
    fig.update_layout(shapes=cells, annotations=texts)
    for field, colour in FIELD_COLOURS.items():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=field,
                                 marker=dict(size=12, color=colour, symbol="square")))
    fig.update_xaxes(visible=False, range=[-0.5, widest + 0.5])
    fig.update_yaxes(tickvals=[-i for i in range(len(rows))], ticktext=[r.format for r in rows],
                     range=[-len(rows) + 0.4, 0.6], showgrid=False, zeroline=False)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.02, xanchor="left", x=0))
    return base_layout(fig, title, height=90 + 48 * len(rows))


def memory_bars(names: list[str], values_gb: list[float], title: str | None = None, unit: str = "MB") -> go.Figure:
    fig = go.Figure(go.Bar(x=names, y=values_gb, marker_color=ACCENT, text=[f"{v:,.1f} {unit}" for v in values_gb],
                           textposition="auto"))
    fig.update_yaxes(title=unit)
    return base_layout(fig, title, height=340)


def scaling_figure(x: list[int], series: dict[str, list[float]], x_title: str, title: str | None = None,
                   log_y: bool = True) -> go.Figure:
    """Several quantities against one axis, one panel each."""
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series))
    for i, (name, ys) in enumerate(series.items(), start=1):
        fig.add_trace(go.Scatter(x=x, y=ys, mode="lines+markers", marker_color=HIGHLIGHT if i % 2 else ACCENT,
                                 showlegend=False, name=name), 1, i)
        fig.update_xaxes(title=x_title, row=1, col=i)
        if log_y:
            fig.update_yaxes(type="log", row=1, col=i)
    return base_layout(fig, title, height=340)
