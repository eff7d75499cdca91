"""Figures of the computation inside a block: vectors as stacked bar panels, one value per token, the
T × T attention matrix with the CLS row and column marked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .style import ACCENT, HIGHLIGHT, SEQUENTIAL, base_layout, wrap_title

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

    The panels' axes are laid out here in one layout dict: ``make_subplots`` and one ``add_*`` call per
    line cost several times more, and a step change on the page builds a few of these figures."""
    n, gap = len(panels), 0.4 / len(panels)
    h = (1 - gap * (n - 1)) / n
    data, layout, notes, lines = [], {}, [], []
    for i, p in enumerate(panels):
        sfx = "" if i == 0 else str(i + 1)
        top = 1 - i * (h + gap)
        x = np.arange(p.values.size)
        axes = dict(xaxis=f"x{sfx}", yaxis=f"y{sfx}")
        data.append(go.Bar(x=x, y=p.values, marker=dict(color=p.colour, line=dict(width=0)), name=p.names[0],
                           showlegend=bool(p.names[0]), hovertemplate="%{x}: %{y:.4f}<extra></extra>", **axes))
        if p.overlay is not None:
            data.append(go.Scatter(x=x, y=p.overlay, mode="markers", name=p.names[1], showlegend=bool(p.names[1]),
                                   marker=dict(color=HIGHLIGHT, size=4, symbol="x"),
                                   hovertemplate="%{x}: %{y:.4f}<extra></extra>", **axes))
        shown = p.x_title if i == n - 1 or panels[i + 1].x_title != p.x_title else ""  # shared: once, at the bottom
        layout[f"xaxis{sfx}"] = dict(anchor=f"y{sfx}", domain=[0, 1], title=dict(text=shown, standoff=2))
        layout[f"yaxis{sfx}"] = dict(anchor=f"x{sfx}", domain=[max(0.0, top - h), min(1.0, top)])
        notes.append(dict(text=wrap_title(p.title), x=0.5, y=min(1.0, top), xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False, font=dict(size=14)))
        if p.boundaries:
            lines += [dict(type="line", x0=b - 0.5, x1=b - 0.5, y0=0, y1=1, xref=f"x{sfx}", yref=f"y{sfx} domain",
                           line=dict(color="#999", width=1, dash="dot"))
                      for b in range(p.boundaries, p.values.size, p.boundaries)]
    fig = go.Figure(data=data, layout=dict(layout, annotations=notes, shapes=lines, bargap=0, legend=_LEGEND))
    return base_layout(fig, title, height or 150 + 170 * n)


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
    data = [go.Bar(x=np.arange(t), y=values, marker=dict(color=colours, line=dict(width=0)), customdata=text,
                   name=names[0], showlegend=bool(names[0]),
                   hovertemplate="token %{x} (%{customdata})<br>%{y:.4f}<extra></extra>")]
    if compare is not None:
        data.append(go.Scatter(x=np.arange(t), y=compare, mode="markers", name=names[1], showlegend=bool(names[1]),
                               marker=dict(color="#000000", size=3), hovertemplate="%{y:.4f}<extra></extra>"))
    notes = [dict(x=i, y=float(values[i]), text=label, showarrow=True, arrowhead=0, ay=-18 - 14 * k,  # staggered
                  font=dict(size=11, color=HIGHLIGHT)) for k, (i, label) in enumerate(marked.items())]
    fig = go.Figure(data=data, layout=dict(
        annotations=notes, bargap=0, legend=_LEGEND, yaxis=dict(title=y_title),
        xaxis=dict(title=f"token ({sequence_words(prefix)})")))
    return base_layout(fig, title, height)


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
    fig = go.Figure(go.Heatmap(z=matrix.astype(np.float32), colorscale=SEQUENTIAL, zmin=0, zmax=cap,
                               colorbar=dict(title="attention", thickness=12),
                               hovertemplate="query %{y} → key %{x}<br>%{z:.4f}<extra></extra>"))
    edge = len(prefix) - 0.5
    line = dict(color="white", width=1.5)
    fig.add_shape(type="line", x0=edge, x1=edge, y0=-0.5, y1=t - 0.5, line=line)
    fig.add_shape(type="line", x0=-0.5, x1=t - 0.5, y0=edge, y1=edge, line=line)
    if query is not None:
        fig.add_shape(type="rect", x0=-0.5, x1=t - 0.5, y0=query - 0.5, y1=query + 0.5,
                      line=dict(color=HIGHLIGHT, width=2))
    first = f" (0 = {prefix[0]})" if prefix else " (patches only)"
    fig.update_yaxes(autorange="reversed", title=f"query token{first}", scaleanchor="x", constrain="domain")
    fig.update_xaxes(title=f"key token{first}", constrain="domain")
    return base_layout(fig, title, height)


def depth_lines(values: np.ndarray, names: list[str], title: str | None = None, y_title: str = "",
                x_title: str = "depth", x_labels: list[str] | None = None, height: int = 320,
                y_range: tuple[float, float] | None = None) -> go.Figure:
    """Rows of ``values`` [K, n] as lines over depth, with optional tick labels."""
    fig = go.Figure()
    x = x_labels or list(range(values.shape[-1]))
    for row, name in zip(np.atleast_2d(values), names):
        fig.add_trace(go.Scatter(x=x, y=row, mode="lines+markers", name=name))
    fig.update_xaxes(title=x_title, type="category")
    fig.update_yaxes(title=y_title, range=y_range)
    fig.update_layout(legend=_LEGEND)
    return base_layout(fig, title, height)
