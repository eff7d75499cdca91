"""Drawing figures: presenter-mode scaling, a PNG button on every chart, and clickable patch charts."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from vitviz.figures.images import PATCH_TRACE

from . import session

PRESENTER_FONT = 22
PRESENTER_MIN_HEIGHT = 560
PRESENTER_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; line-height: 1.5; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
h1 { font-size: 3rem !important; } h2 { font-size: 2.3rem !important; } h3 { font-size: 1.8rem !important; }
[data-testid="stExpander"], [data-testid="stCaptionContainer"] { display: none; }
</style>
"""


def presenter_css() -> None:
    """Large type and no secondary details when presenter mode is on."""
    if session.presenter():
        st.html(PRESENTER_CSS)


def chart(fig: go.Figure, key: str, **kwargs) -> object:
    """``st.plotly_chart`` with presenter-mode scaling: larger fonts, one main figure per screen."""
    if session.presenter():  # a copy: figures are cached and shared with other sessions
        fig = go.Figure(fig)
        fig.update_layout(font=dict(size=PRESENTER_FONT), title_font=dict(size=PRESENTER_FONT + 4),
                          height=max(fig.layout.height or 0, PRESENTER_MIN_HEIGHT))
    config = {"toImageButtonOptions": {"format": "png", "filename": f"vitviz_{key}", "scale": 2},
              "displaylogo": False}
    return st.plotly_chart(fig, key=key, config=config, **kwargs)


def _on_click(chart_key: str) -> None:
    state = st.session_state.get(chart_key)
    points = getattr(getattr(state, "selection", None), "points", None) or []
    for p in points:
        data = p.get("customdata")
        if data is not None:
            session.select_patch(data[0] if isinstance(data, (list, tuple)) else data)
            return


def clickable_chart(fig: go.Figure, key: str) -> None:
    """Draw ``fig``; a click on a patch (its ``patches`` trace) selects that patch for every page."""
    if any(getattr(t, "name", None) == PATCH_TRACE for t in fig.data):
        chart(fig, key, on_select=lambda: _on_click(key), selection_mode="points")
    else:
        chart(fig, key)
