"""The prediction as a chart: top-k classes with their probabilities."""

from __future__ import annotations

import plotly.graph_objects as go

from .style import ACCENT, base_layout


def short_label(label: str) -> str:
    """ImageNet descriptions list synonyms ("tabby, tabby cat"): keep the first."""
    return label.split(",")[0].strip()


def top_k_bar(labels: tuple[str, ...], probs: tuple[float, ...], title: str | None = None) -> go.Figure:
    """Horizontal bars, best class on top, probabilities in percent."""
    names = [short_label(label) for label in labels][::-1]
    values = [100 * p for p in probs][::-1]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=ACCENT,
                           text=[f"{v:.1f}%" for v in values], textposition="auto",
                           hovertext=list(labels[::-1]), hoverinfo="text+x"))
    fig.update_xaxes(title="probability (%)", range=[0, 100])
    return base_layout(fig, title, height=60 + 45 * len(names))
