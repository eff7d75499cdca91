"""Figures written as plotly JSON in the form plotly's validators would leave them, wrapped without validating.

Building a ``go.Figure`` runs a validator for every property set (a heatmap over an image: about 8 ms of Python,
four times what sending it costs). The figures a page draws for every image (the image itself, the patch grid,
the maps over it) are written here as the plain data those validators produce (titles as ``{"text": …}``, named
colour scales as their colour lists, the default template in the layout) and handed to ``go.Figure`` with
validation off: the result is the same figure, and pages or the handout can still read and change it.
``tests/unit/test_plain_figures.py`` checks that validating each of them changes nothing.
"""

from __future__ import annotations

import json
from functools import lru_cache

import plotly.graph_objects as go


def figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from traces and layout already in validated form (the default template is added as plotly adds it).

    Further changes to it (``update_layout``, ``add_trace``) are not validated either: give them validated forms.
    """
    return go.Figure({"data": data, "layout": layout}, _validate=False)


@lru_cache(maxsize=32)
def _colorscale(name: str) -> str:
    return json.dumps(go.Heatmap(colorscale=name).to_plotly_json()["colorscale"])


def colorscale(name: str) -> list[list]:
    """A named plotly colour scale as the ``[[position, colour], …]`` list its validator makes of the name."""
    return json.loads(_colorscale(name))


def title(text: str | None) -> dict:
    """A title property in validated form (``{"text": …}``), or nothing for no title."""
    return {} if text is None else {"text": text}
