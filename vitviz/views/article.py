"""Figures of the home page's cards on the article's claims."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.prediction import short_label
from vitviz.figures import plain
from vitviz.figures.style import ACCENT, HIGHLIGHT, house_layout, log_axis
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import article


def class_probabilities(bundle: Bundle, a: Analysis, k: int = 5) -> go.Figure:
    """Every class's probability, most likely first; the top k in orange (call only for a classifier)."""
    p = article.probabilities(a)
    order = np.argsort(-p)
    k = min(k, p.size)
    names = [short_label(bundle.labels[int(i)]) for i in order]
    bars = {"hoverinfo": "text+y", "hovertext": names,
            "marker": {"color": [HIGHLIGHT] * k + [ACCENT] * (p.size - k), "line": {"width": 0}},
            "x": np.arange(1, p.size + 1), "y": 100 * p[order], "type": "bar"}  # a thousand bars: no validators
    return plain.figure([bars], {
        "xaxis": {"title": {"text": f"the {p.size:,} classes, most likely first"}},
        "yaxis": {"title": {"text": "probability (%, log scale)"}, **log_axis(100 * p)},
        **house_layout(f"All {p.size:,} answers it can give: top {k} hold {p[order[:k]].sum():.1%}", height=300)})
