"""Shared figure style: colour scales that read on a projector and for colour-blind eyes."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable

import plotly.graph_objects as go

SEQUENTIAL = "Cividis"  # perceptually uniform, colour-blind safe, survives a washed-out projector
DIVERGING = "RdBu_r"  # for signed values (cosine similarity, weights), centred on zero
ACCENT = "#0072B2"  # Okabe-Ito blue
HIGHLIGHT = "#E69F00"  # Okabe-Ito orange
FONT_SIZE = 14
# Okabe-Ito: the order traces without a colour of their own take. .streamlit/config.toml gives the app the same
# list (theme.chartCategoricalColors), so a figure reads the same in the app and in the handout.
COLORWAY = (ACCENT, HIGHLIGHT, "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
TEXT = "#31333F"  # Streamlit's light theme's text colour
GRID = "#E6E6EA"
TITLE_CHARS = 50  # a title line's characters: what a phone's width (about 360 px) shows of a bold chart title
TITLE_LINE_PX = 22


TEMPLATE = go.layout.Template(layout=go.Layout(
    colorway=list(COLORWAY), font=dict(family="sans-serif", color=TEXT), paper_bgcolor="white",
    plot_bgcolor="white", colorscale=dict(sequential=SEQUENTIAL, diverging=DIVERGING),
    xaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID),
    yaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID)))
"""The app's look as a plotly template, for figures drawn outside the app (the handout): in the app Streamlit's
own chart theme draws them, on a white page, in the colours above. Setting it explicitly also keeps a handout
made inside the app free of the placeholder colours Streamlit's template (the default once streamlit is
imported) leaves for its browser code to fill in."""


def wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """``title`` broken into lines of at most ``width`` characters at spaces (plotly never wraps a title: a long
    one is cut at a phone's width). Lines with markup (``<sup>`` …) and lines already short are left as they are."""
    return "<br>".join(
        line if len(line) <= width or "<" in line
        else "<br>".join(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False))
        for line in title.split("<br>"))


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """The house style: font, tight margins, no drag, and ``title`` wrapped to lines a phone shows whole."""
    title = wrap_title(title) if title else title
    lines = title.count("<br>") + 1 if title else 0
    fig.update_layout(title=title, font=dict(size=FONT_SIZE), height=height,
                      dragmode=False,  # a finger on a chart scrolls the page (ui/charts.py)
                      margin=dict(l=10, r=10, t=50 + TITLE_LINE_PX * (lines - 1) if title else 10, b=10))
    return fig


def log_y(fig: go.Figure, values: Iterable[float], **where) -> go.Figure:
    """A log y axis labelled at powers of ten only, with unlabelled minor ticks at 2…9 × each power, when the
    values span a decade or more (plotly's own choice labels every minor tick, 2, 5, 2, 5, …, in small type).
    Under a decade there are too few powers of ten to read it by: plotly's labels stay. ``where``: row/col of a
    subplot."""
    positive = [v for v in values if v is not None and v > 0]
    fig.update_yaxes(type="log", **where)
    if positive and math.log10(max(positive) / min(positive)) >= 1:
        fig.update_yaxes(dtick=1, minor=dict(dtick="D1", ticks="outside", ticklen=3, showgrid=False), **where)
    return fig
