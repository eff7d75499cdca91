"""Figures of the home page's cards on the article's claims."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.prediction import short_label
from vitviz.figures.style import ACCENT, HIGHLIGHT, base_layout, log_y
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import article


def class_probabilities(bundle: Bundle, a: Analysis, k: int = 5) -> go.Figure:
    """Every class's probability, most likely first; the top k in orange (call only for a classifier)."""
    p = article.probabilities(a)
    order = np.argsort(-p)
    k = min(k, p.size)
    names = [short_label(bundle.labels[int(i)]) for i in order]
    fig = go.Figure(go.Bar(x=np.arange(1, p.size + 1), y=100 * p[order], hovertext=names,
                           hoverinfo="text+y", marker_color=[HIGHLIGHT] * k + [ACCENT] * (p.size - k),
                           marker_line_width=0))
    fig.update_xaxes(title=f"the {p.size:,} classes, most likely first")
    log_y(fig.update_yaxes(title="probability (%, log scale)"), 100 * p)
    return base_layout(fig, f"All {p.size:,} answers it can give: top {k} hold {p[order[:k]].sum():.1%}", height=300)
