"""Shared figure style: colour scales that read on a projector and for colour-blind eyes."""

from __future__ import annotations

import plotly.graph_objects as go

SEQUENTIAL = "Cividis"  # perceptually uniform, colour-blind safe, survives a washed-out projector
DIVERGING = "RdBu_r"  # for signed values (cosine similarity, weights), centred on zero
ACCENT = "#0072B2"  # Okabe-Ito blue
HIGHLIGHT = "#E69F00"  # Okabe-Ito orange
FONT_SIZE = 14


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(title=title, font=dict(size=FONT_SIZE), margin=dict(l=10, r=10, t=50 if title else 10, b=10),
                      height=height)
    return fig
