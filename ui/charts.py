"""Interaction glue: clickable patch charts, the shared patch picker, cached experiments."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import plotly.graph_objects as go
import streamlit as st

from vitviz.cache import BoundedCache
from vitviz.figures.images import PATCH_TRACE

from . import session

T = TypeVar("T")
EXPERIMENTS: BoundedCache = BoundedCache(64 * 2**20, lambda _v: 2**20)  # small results; ~64 kept
FIGURES: BoundedCache = BoundedCache(300, lambda _v: 1)  # built figures, ~300 kept (a few hundred kB each)


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
    if session.presenter():  # a copy: figures may be cached and shared with other sessions
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
            index = data[0] if isinstance(data, (list, tuple)) else data
            session.set_selected_patch(int(index))
            return


def clickable_chart(fig: go.Figure, key: str) -> None:
    """Draw ``fig``; a click on a patch (its ``patches`` trace) selects that patch for every page."""
    has_patches = any(getattr(t, "name", None) == PATCH_TRACE for t in fig.data)
    if has_patches:  # the figure builders set clickmode="event+select" on figures with a patches trace
        chart(fig, key, on_select=lambda: _on_click(key), selection_mode="points")
    else:
        chart(fig, key)


def patch_picker(num_patches: int, grid: tuple[int, int], key: str = "patch_picker") -> int:
    """A number input for the selected patch (also set by clicking charts); returns the index."""
    current = session.selected_patch(num_patches)
    st.session_state[key] = current
    st.number_input(f"Selected patch (0 … {num_patches - 1}; or click one)", min_value=0,
                    max_value=num_patches - 1, step=1, key=key,
                    on_change=lambda: session.set_selected_patch(st.session_state[key]))
    r, c = divmod(current, grid[1])
    st.caption(f"Patch {current}: row {r}, column {c} (counting from 0 at the top left)")
    return current


def figure(key: Hashable, build: Callable[[], go.Figure]) -> go.Figure:
    """A figure built once per key (the analysis and every parameter it depends on), shared by sessions.

    A widget change reruns the whole page; figures whose inputs did not change are not rebuilt.
    """
    return FIGURES.get_or_compute(key, build)


def cached_experiment(key: Hashable, run: Callable[[], T], label: str) -> T:
    """Run an on-demand experiment once per key (shared by all sessions), with a spinner."""
    hit = EXPERIMENTS.get(key)
    if hit is not None:
        return hit
    with st.spinner(label):
        return EXPERIMENTS.get_or_compute(key, run)
