"""Shared figure style: colour scales that read on a projector and for colour-blind eyes."""

from __future__ import annotations

import math
import re
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
    fig.update_layout(title=title, font=dict(size=FONT_SIZE), height=height,
                      dragmode=False,  # a finger on a chart scrolls the page (ui/charts.py)
                      margin=_margin(title))
    return fig


def _margin(title: str | None) -> dict:
    lines = title.count("<br>") + 1 if title else 0
    return dict(l=10, r=10, t=50 + TITLE_LINE_PX * (lines - 1) if title else 10, b=10)


def house_layout(title: str | None = None, height: int | None = None) -> dict:
    """``base_layout``'s entries as plain layout JSON in validated form (for ``vitviz.figures.plain``)."""
    title = wrap_title(title) if title else title
    layout = {"font": {"size": FONT_SIZE}, "dragmode": False, "margin": _margin(title),
              "title": {} if title is None else {"text": title}}  # plotly's form of title=None
    if height is not None:
        layout["height"] = height
    return layout


def log_y(fig: go.Figure, values: Iterable[float], **where) -> go.Figure:
    """A log y axis labelled at powers of ten only, with unlabelled minor ticks at 2…9 × each power, when the
    values span a decade or more (plotly's own choice labels every minor tick, 2, 5, 2, 5, …, in small type).
    Under a decade there are too few powers of ten to read it by: plotly's labels stay. ``where``: row/col of a
    subplot."""
    return fig.update_yaxes(**log_axis(values), **where)


def log_axis(values: Iterable[float]) -> dict:
    """``log_y``'s axis entries, as plain layout JSON in validated form."""
    positive = [v for v in values if v is not None and v > 0]
    if positive and math.log10(max(positive) / min(positive)) >= 1:
        return {"type": "log", "dtick": 1, "minor": {"dtick": "D1", "showgrid": False, "ticklen": 3, "ticks": "outside"}}
    return {"type": "log"}


# Presenter mode (a projector): the same figure, larger. Every text of a figure is scaled from the house size to
# PRESENTER_FONT and never drawn below PRESENTER_MIN_PX; nothing is removed.
PRESENTER_FONT = 22  # the house FONT_SIZE on a projector
PRESENTER_SCALE = PRESENTER_FONT / FONT_SIZE  # every explicit font size grows by the same factor
PRESENTER_MIN_PX = 16  # no text of a figure below this on a projector
PRESENTER_MIN_HEIGHT = 700  # a main figure fills a 1280×720 screen (a square map with a three-line title, too)
PLOTLY_HEIGHT = 450  # plotly's height for a figure that sets none
STRIP_PX = 300  # a figure lower than this is a strip (a row of images, a row of bits), not a picture to fill a screen
_AXIS = re.compile(r"[xy]axis\d*")


def _presenter_size(size: object) -> object:
    if isinstance(size, bool):
        return size
    if isinstance(size, (int, float)):
        return max(PRESENTER_MIN_PX, round(size * PRESENTER_SCALE, 1))
    if isinstance(size, list):  # one size per point
        return [_presenter_size(s) for s in size]
    return size


def _presenter_fonts(value: object, in_font: bool = False) -> object:
    """``value`` (plain JSON types) with every font size inside it scaled; new containers only where one changed,
    so a cached figure's shared parts are never written to."""
    if isinstance(value, dict):
        changed = {}
        for k, v in value.items():
            if in_font and k == "size":
                new = _presenter_size(v)
            elif isinstance(v, (dict, list)):
                new = _presenter_fonts(v, k.endswith("font") or (in_font and k == "font"))
            else:
                continue
            if new is not v:
                changed[k] = new
        return {**value, **changed} if changed else value
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [_presenter_fonts(v, in_font) for v in value]
        return items if any(a is not b for a, b in zip(items, value)) else value
    return value


def _presenter_height(height: int, rows: int) -> int:
    """Taller with the larger text. A figure of at least ``STRIP_PX`` fills the screen's height
    (``PRESENTER_MIN_HEIGHT``: a square map then is as large as the screen allows); a lower one is a strip (one row
    of images, one bar) and grows by the font's factor only, so it stays a strip; a figure of three rows of panels or
    more grows by that factor at least (its panels' titles and tick labels would run into each other)."""
    grown = round(height * PRESENTER_SCALE)
    if height < STRIP_PX:
        return grown
    return max(grown if rows >= 3 else height, PRESENTER_MIN_HEIGHT)


def _rows(layout: dict) -> int:
    """How many rows of panels a figure stacks (distinct vertical domains of its y axes)."""
    return len({tuple(axis.get("domain") or (0, 1)) for k, axis in layout.items()
                if _AXIS.fullmatch(k) and k.startswith("y") and isinstance(axis, dict)}) or 1


def presenter(figure: dict) -> dict:
    """``figure`` (a plotly figure as plain JSON types: ``{"data": […], "layout": {…}}``) for a projector.

    One rule for every chart: the base font is ``PRESENTER_FONT``, every explicit size (subplot titles,
    annotations, cell digits, tick labels) grows by ``PRESENTER_SCALE`` and never goes below ``PRESENTER_MIN_PX``,
    text that plotly would shrink to fit a bar is kept at that floor, the title's margin grows with its font and the
    figure grows taller with it (``_presenter_height``). What the figure shows is left as it is."""
    layout = _presenter_fonts(figure.get("layout", {}))
    font = layout.get("font") or {}
    title = layout.get("title") or {}
    if isinstance(title, str):
        title = {"text": title}
    title_font = title.get("font") or {}
    margin = layout.get("margin") or {}
    layout = {**layout,
              "font": {**font, "size": max(PRESENTER_FONT, font.get("size") or 0)},
              "title": {**title, "font": {**title_font, "size": title_font.get("size") or PRESENTER_FONT + 4}},
              "uniformtext": {"minsize": PRESENTER_MIN_PX, "mode": "show"},
              "height": _presenter_height(layout.get("height") or PLOTLY_HEIGHT, _rows(layout))}
    for name in {"xaxis", "yaxis", *(k for k in layout if _AXIS.fullmatch(k))}:  # the host's theme sizes ticks in
        axis = layout.get(name) or {}  # its own units otherwise (Streamlit: 0.75 rem), and log axes' minor labels
        axis_title = axis.get("title") or {}  # at 0.75 of the tick size: 16.5 px at the presenter size
        if isinstance(axis_title, str):
            axis_title = {"text": axis_title}
        layout[name] = {**axis, "tickfont": {"size": PRESENTER_FONT, **(axis.get("tickfont") or {})},
                        "title": {**axis_title, "font": {"size": PRESENTER_FONT, **(axis_title.get("font") or {})}}}
    legend = layout.get("legend") or {}
    layout["legend"] = {**legend, "font": {"size": PRESENTER_FONT, **(legend.get("font") or {})}}
    if isinstance(margin.get("t"), (int, float)) and title.get("text"):
        layout["margin"] = {**margin, "t": round(margin["t"] * PRESENTER_SCALE)}
    return {"data": [_presenter_fonts(t) for t in figure.get("data", [])], "layout": layout}
