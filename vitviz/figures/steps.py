"""Figures of the computation inside a block: vectors as stacked bar panels, one value per token, the
T × T attention matrix with the CLS row and column marked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import plain
from .style import ACCENT, HIGHLIGHT, SEQUENTIAL, base_layout, house_layout, wrap_title

PREFIX_COLOUR = "#555555"  # the CLS (prefix) tokens: not patches of the image
_LEGEND = dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, bgcolor="rgba(255,255,255,0.7)")


@dataclass(frozen=True)
class Panel:
    """One bar panel: a vector, and optionally a second one drawn as markers on top."""

    title: str
    values: np.ndarray  # [n]
    overlay: np.ndarray | None = None  # [n], drawn as markers
    names: tuple[str, str] = ("", "")  # legend names of values and overlay (blank: no legend)
    colour: str = ACCENT
    x_title: str = "dimension"
    boundaries: int = 0  # > 0: a thin line every ``boundaries`` entries (e.g. between heads)


def vector_panels(panels: list[Panel], title: str | None = None, height: int | None = None) -> go.Figure:
    """Vectors as bars, one panel each, stacked (a computation read top to bottom).

    The panels' axes are laid out here in one layout dict, traces and all as plain JSON in validated form
    (``vitviz.figures.plain``): ``make_subplots``, one ``add_*`` call per line and plotly's validators cost several
    times more, and a step change on the page builds a few of these figures."""
    n, gap = len(panels), 0.4 / len(panels)
    h = (1 - gap * (n - 1)) / n
    data, layout, notes, lines = [], {}, [], []
    for i, p in enumerate(panels):
        sfx = "" if i == 0 else str(i + 1)
        top = 1 - i * (h + gap)
        x = np.arange(p.values.size)
        axes = dict(xaxis=f"x{sfx}", yaxis=f"y{sfx}")
        data.append({"hovertemplate": "%{x}: %{y:.4f}<extra></extra>",
                     "marker": {"color": p.colour, "line": {"width": 0}}, "name": p.names[0],
                     "showlegend": bool(p.names[0]), "x": x, "y": p.values, **axes, "type": "bar"})
        if p.overlay is not None:
            data.append({"hovertemplate": "%{x}: %{y:.4f}<extra></extra>",
                         "marker": {"color": HIGHLIGHT, "size": 4, "symbol": "x"}, "mode": "markers",
                         "name": p.names[1], "showlegend": bool(p.names[1]), "x": x, "y": p.overlay, **axes,
                         "type": "scatter"})
        shown = p.x_title if i == n - 1 or panels[i + 1].x_title != p.x_title else ""  # shared: once, at the bottom
        layout[f"xaxis{sfx}"] = dict(anchor=f"y{sfx}", domain=[0, 1], title=dict(text=shown, standoff=2))
        layout[f"yaxis{sfx}"] = dict(anchor=f"x{sfx}", domain=[max(0.0, top - h), min(1.0, top)])
        notes.append(dict(text=wrap_title(p.title), x=0.5, y=min(1.0, top), xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False, font=dict(size=14)))
        if p.boundaries:
            lines += [dict(type="line", x0=b - 0.5, x1=b - 0.5, y0=0, y1=1, xref=f"x{sfx}", yref=f"y{sfx} domain",
                           line=dict(color="#999", width=1, dash="dot"))
                      for b in range(p.boundaries, p.values.size, p.boundaries)]
    layout.update({"annotations": notes, "shapes": lines} if lines else {"annotations": notes})  # [] as plotly: none
    return plain.figure(data, {**layout, "bargap": 0, "legend": _LEGEND, **house_layout(title, height or 150 + 170 * n)})


def token_bars(values: np.ndarray, prefix: tuple[str, ...], marked: dict[int, str], title: str | None = None,
               y_title: str = "", height: int = 300, compare: np.ndarray | None = None,
               names: tuple[str, str] = ("", "")) -> go.Figure:
    """One value per token (the prefix tokens named in ``prefix`` first, then patches in raster order); ``marked``
    tokens get a label above."""
    t, num_prefix = values.size, len(prefix)
    colours = [PREFIX_COLOUR if i < num_prefix else ACCENT for i in range(t)]
    for i in marked:
        colours[i] = HIGHLIGHT
    text = [prefix[i] if i < num_prefix else f"patch {i - num_prefix}" for i in range(t)]
    data = [{"customdata": text, "hovertemplate": "token %{x} (%{customdata})<br>%{y:.4f}<extra></extra>",
             "marker": {"color": colours, "line": {"width": 0}}, "name": names[0], "showlegend": bool(names[0]),
             "x": np.arange(t), "y": values, "type": "bar"}]  # plain JSON in validated form: one per step change
    if compare is not None:
        data.append({"hovertemplate": "%{y:.4f}<extra></extra>", "marker": {"color": "#000000", "size": 3},
                     "mode": "markers", "name": names[1], "showlegend": bool(names[1]), "x": np.arange(t),
                     "y": compare, "type": "scatter"})
    notes = [{"arrowhead": 0, "ay": -18 - 14 * k, "font": {"color": HIGHLIGHT, "size": 11}, "showarrow": True,
              "text": label, "x": i, "y": float(values[i])} for k, (i, label) in enumerate(marked.items())]  # staggered
    return plain.figure(data, {**({"annotations": notes} if notes else {}), "bargap": 0, "legend": _LEGEND,
                               "xaxis": {"title": {"text": f"token ({sequence_words(prefix)})"}},
                               "yaxis": {"title": {"text": y_title}}, **house_layout(title, height)})


def sequence_words(prefix: tuple[str, ...]) -> str:
    """How the sequence is ordered, in words: "0 = CLS, then patches in raster order"; "0 = CLS, 1–4 = registers 1–4,
    then …"; "patches in raster order from 0" without prefix tokens."""
    if not prefix:
        return "patches in raster order from 0: this model has no CLS token"
    regs = [i for i, n in enumerate(prefix) if n.startswith("register")]
    named = [f"{i} = {n}" for i, n in enumerate(prefix) if i not in regs]
    if regs:
        named.append(f"{regs[0]}–{regs[-1]} = registers" if len(regs) > 1 else f"{regs[0]} = register")
    return ", ".join(named) + ", then patches in raster order"


def attention_matrix(matrix: np.ndarray, prefix: tuple[str, ...], query: int | None = None, title: str | None = None,
                     height: int = 560) -> go.Figure:
    """A T × T attention matrix (row: query, column: key), CLS row and column marked, ``query``'s row outlined."""
    t = matrix.shape[0]
    cap = float(np.quantile(matrix, 0.995)) or None
    heat = {"colorbar": {"thickness": 12, "title": {"text": "attention"}}, "colorscale": plain.colorscale(SEQUENTIAL),
            "hovertemplate": "query %{y} → key %{x}<br>%{z:.4f}<extra></extra>", "z": matrix.astype(np.float32),
            "zmin": 0, "type": "heatmap"}  # plain JSON in validated form: one per step change
    if cap is not None:
        heat["zmax"] = cap
    edge = len(prefix) - 0.5
    line = {"color": "white", "width": 1.5}
    shapes = [{"line": line, "type": "line", "x0": edge, "x1": edge, "y0": -0.5, "y1": t - 0.5},
              {"line": line, "type": "line", "x0": -0.5, "x1": t - 0.5, "y0": edge, "y1": edge}]
    if query is not None:
        shapes.append({"line": {"color": HIGHLIGHT, "width": 2}, "type": "rect", "x0": -0.5, "x1": t - 0.5,
                       "y0": query - 0.5, "y1": query + 0.5})
    first = f" (0 = {prefix[0]})" if prefix else " (patches only)"
    return plain.figure([heat], {
        "shapes": shapes, "xaxis": {"constrain": "domain", "title": {"text": f"key token{first}"}},
        "yaxis": {"autorange": "reversed", "constrain": "domain", "scaleanchor": "x",
                  "title": {"text": f"query token{first}"}}, **house_layout(title, height)})


def depth_lines(values: np.ndarray, names: list[str], title: str | None = None, y_title: str = "",
                x_title: str = "depth", x_labels: list[str] | None = None, height: int = 320,
                y_range: tuple[float, float] | None = None) -> go.Figure:
    """Rows of ``values`` [K, n] as lines over depth, with optional tick labels (plain JSON in validated form: drawn
    for every image)."""
    x = list(x_labels or range(values.shape[-1]))
    data = [{"mode": "lines+markers", "name": name, "x": x, "y": row, "type": "scatter"}
            for row, name in zip(np.atleast_2d(values), names)]
    yaxis = {"title": {"text": y_title}, **({"range": list(y_range)} if y_range is not None else {})}
    return plain.figure(data, {"xaxis": {"title": {"text": x_title}, "type": "category"}, "yaxis": yaxis,
                               "legend": _LEGEND, **house_layout(title, height)})
