"""Figures for number formats and memory: coloured bit fields, memory bars, scaling charts."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vitviz.stages.numbers import Encoded
from .style import ACCENT, HIGHLIGHT, base_layout, log_y as log_y_axis

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


LABEL_TEXT, LABEL_BACKGROUND = "#000000", "#FFFFFF"  # a label drawn over bars of any colour: 21:1 contrast
STACK_COLOURS = ("#0072B2", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#D55E00")  # Okabe-Ito


def stacked_bars(categories: list[str], stacks: dict[str, list[float]], markers: dict[str, list[float]] | None = None,
                 title: str | None = None, unit: str = "MB") -> go.Figure:
    """One stacked bar per category (the parts in ``stacks``, bottom to top) with its sum written on top;
    ``markers``: other figures for the same categories, drawn as labelled black diamonds on the bars."""
    fig = go.Figure()
    for (name, values), colour in zip(stacks.items(), STACK_COLOURS * 2):
        fig.add_trace(go.Bar(x=categories, y=values, name=name, marker_color=colour,
                             hovertemplate=f"{name}: %{{y:,.2f}} {unit}<extra></extra>"))
    sums = [sum(parts) for parts in zip(*stacks.values())]
    fig.add_trace(go.Scatter(x=categories, y=sums, mode="text", text=[f"sum {v:,.1f} {unit}" for v in sums],
                             textposition="top center", showlegend=False, hoverinfo="skip"))
    for name, values in (markers or {}).items():
        fig.add_trace(go.Scatter(x=categories, y=values, mode="markers", name=name,
                                 marker=dict(symbol="diamond", size=14, color="black"),
                                 hovertemplate=f"{name}: %{{y:,.2f}} {unit}<extra></extra>"))
        # the diamond's figure sits on a coloured bar: black on a white label, not plotly's grey on the bar
        for category, v in zip(categories, values):
            fig.add_annotation(x=category, y=v, text=f"{v:,.1f} {unit}", showarrow=False, xanchor="left", xshift=12,
                               font=dict(color=LABEL_TEXT), bgcolor=LABEL_BACKGROUND, bordercolor=LABEL_TEXT,
                               borderwidth=1, borderpad=2)
    fig.update_layout(barmode="stack", legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    fig.update_yaxes(title=unit, range=[0, 1.15 * max(sums + [v for vs in (markers or {}).values() for v in vs])])
    return base_layout(fig, title, height=460)


def scaling_figure(x: list[int], series: dict[str, list[float]], x_title: str, title: str | None = None,
                   log_y: bool = True, panel: int | None = None) -> go.Figure:
    """Several quantities against one axis, one panel each. ``panel``: that quantity alone, titled with its name
    (pages draw the panels in columns, which a phone stacks; three panels in one figure do not read at 360 px)."""
    if panel is not None:
        name, ys = list(series.items())[panel]
        fig = go.Figure(go.Scatter(x=x, y=ys, mode="lines+markers", marker_color=ACCENT if panel % 2 else HIGHLIGHT,
                                   showlegend=False, name=name))
        fig.update_xaxes(title=x_title)
        if log_y:
            log_y_axis(fig, ys)
        return base_layout(fig, name, height=340)
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series))
    for i, (name, ys) in enumerate(series.items(), start=1):
        fig.add_trace(go.Scatter(x=x, y=ys, mode="lines+markers", marker_color=HIGHLIGHT if i % 2 else ACCENT,
                                 showlegend=False, name=name), 1, i)
        fig.update_xaxes(title=x_title, row=1, col=i)
        if log_y:
            log_y_axis(fig, ys, row=1, col=i)
    return base_layout(fig, title, height=340)
