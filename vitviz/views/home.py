"""Figures of the home page: the image as the model sees it, and the prediction."""

from __future__ import annotations

import plotly.graph_objects as go

from vitviz.figures.images import image_figure
from vitviz.figures.prediction import top_k_bar
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle


def seen_image(_bundle: Bundle, a: Analysis, height: int | None = None) -> go.Figure:
    return image_figure(a.image, f"{a.image.shape[1]}×{a.image.shape[0]} px after the model's resize and crop",
                        height=height)


def prediction(_bundle: Bundle, a: Analysis) -> go.Figure:
    """The top-k bar chart (call only when the model has a classifier: ``a.top_labels``)."""
    return top_k_bar(a.top_labels, a.top_probs, f"Top {len(a.top_labels)} of {a.logits.shape[0]} classes")
