"""Drawing figures: presenter-mode scaling (one rule for every chart), a PNG button on every chart, charts that let
a finger scroll the page, and clickable patch charts."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from vitviz.figures import style
from vitviz.figures.images import PATCH_TRACE
from vitviz.figures.wire import WireFigure, to_wire, trace_names

from . import session


def chart(fig: go.Figure, key: str, **kwargs) -> object:
    """``st.plotly_chart`` with presenter-mode scaling: every text larger, none below 16 px, taller figures.

    No chart pans or zooms on a drag (``dragmode=False``): on a touch screen a finger on a chart scrolls the page,
    as it does everywhere else; hover, clicks and the toolbar's zoom buttons still work. (A chart with
    ``on_select`` gets Streamlit's own drag mode instead: Streamlit sets "pan" whenever the layout's is unset or
    False.)

    Cached figures (``ctx.figure``, ``ctx.built``) arrive in wire form and are sent as they are; any
    other figure is put in that form here."""
    wire = to_wire(fig)  # new top-level layout entries only: a cached figure is shared with other sessions
    if wire.layout_value("dragmode") is not False:  # house-style figures carry it already (base_layout)
        wire = wire.with_layout(dragmode=False)
    if session.presenter():  # one rule for every chart (vitviz.figures.style.presenter); the page CSS: ui/presenter.py
        wire = WireFigure(style.presenter(wire.to_dict()), wire.wire_bytes)
    config = {"toImageButtonOptions": {"format": "png", "filename": f"vitviz_{key}", "scale": 2},
              "displaylogo": False}
    return st.plotly_chart(wire, key=key, config=config, **kwargs)


def chart_row(figs: list[go.Figure], key: str, title: str | None = None) -> None:
    """Figures side by side in columns, under an optional bold ``title``; a phone stacks the columns, each chart
    at the screen's width (panels of one wide figure would each get a third of it)."""
    if title:
        st.markdown(f"**{title}**")
    for i, (column, fig) in enumerate(zip(st.columns(len(figs)), figs)):
        with column:
            chart(fig, f"{key}_{i}")


_CLICKED = "_vitviz_patch_clicked"


def _on_click(chart_key: str) -> None:
    state = st.session_state.get(chart_key)
    points = getattr(getattr(state, "selection", None), "points", None) or []
    for p in points:
        data = p.get("customdata")
        if data is not None:
            session.select_patch(data[0] if isinstance(data, (list, tuple)) else data)
            st.session_state[_CLICKED] = True
            return


def clickable_chart(fig: go.Figure, key: str, in_fragment: bool = False) -> None:
    """Draw ``fig``; a click on a patch (its ``patches`` trace) selects that patch for every page.

    ``in_fragment``: the chart is drawn by an ``st.fragment``, whose widgets rerun only the fragment; a click
    changes the patch the whole page (and the sidebar) shows, so it reruns the page."""
    if PATCH_TRACE not in trace_names(fig):
        chart(fig, key)
        return
    chart(fig, key, on_select=lambda: _on_click(key), selection_mode="points")
    if st.session_state.pop(_CLICKED, False) and in_fragment:
        st.rerun(scope="app")
