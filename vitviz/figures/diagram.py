"""A clickable flow diagram: boxes stacked top to bottom, arrows between them, skip connections drawn beside.

Stacked, not in a row: a row of eight boxes leaves a phone (about 360 px) 45 px a box, too little for a word; a
stack reads at any width, as the transformer figures of the papers draw a block. A page can set it beside its
controls on a wide screen.

Every clickable box carries an invisible square marker (trace named ``steps``) whose ``customdata`` is
the box's key, so a click on a box can be read back by the app (as the patch maps do with ``patches``).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from .style import ACCENT, HIGHLIGHT, base_layout

STEP_TRACE = "steps"
_BOX_FILL = "#EEF3F8"
_BOX_LINE = "#8A9BB0"
HALF_WIDTH = 1.0  # boxes span x in [-HALF_WIDTH, HALF_WIDTH] times their width; skips run at x = SKIP_X
SKIP_X = 1.3
X_RANGE = (-1.1, 1.75)
ROW_PX = 46  # height of one box and its gap


@dataclass(frozen=True)
class Box:
    key: str  # customdata of its marker ("" for a box that is not a step: the input and output)
    label: str  # plotly text, one line (a box is one row of the stack)
    hover: str = ""  # one line shown on hover
    width: float = 1.0  # a fraction of the full box width


def y_range(count: int) -> tuple[float, float]:
    """The y axis (reversed: box 0 at the top, at y = 0; box i at y = i)."""
    return count - 0.45, -0.55


def flow_diagram(boxes: list[Box], skips: list[tuple[int, int]], selected: str | None = None,
                 title: str | None = None, title_px: int = 70) -> go.Figure:
    """``boxes`` top to bottom, an arrow between neighbours, and each skip (from box i's input to box j) as a
    line beside the stack ending in an arrow into box j. The box whose key is ``selected`` is highlighted.

    Built as one layout dict (one ``add_shape`` per box costs several times more, and the page redraws
    the diagram on every step change)."""
    half_h = 0.34
    arrow = dict(xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True, arrowhead=2, arrowsize=1.2)
    shapes, notes, traces = [], [], []
    for i, box in enumerate(boxes):
        chosen = bool(box.key) and box.key == selected
        half_w = HALF_WIDTH * box.width
        shapes.append(dict(type="rect", x0=-half_w, x1=half_w, y0=i - half_h, y1=i + half_h,
                           fillcolor=HIGHLIGHT if chosen else (_BOX_FILL if box.key else "white"), layer="below",
                           line=dict(color=HIGHLIGHT if chosen else _BOX_LINE, width=3 if chosen else 1.5)))
        if i:
            notes.append(dict(arrow, x=0, y=i - half_h, ax=0, ay=i - 1 + half_h, arrowwidth=1.5, arrowcolor=_BOX_LINE))
    for start, end in skips:  # from the arrow entering box ``start``, out to the side, down, and into box ``end``
        y0 = start - 0.5
        right = HALF_WIDTH * boxes[end].width
        traces.append(go.Scatter(x=[0, SKIP_X, SKIP_X], y=[y0, y0, end], mode="lines", hoverinfo="skip",
                                 line=dict(color=ACCENT, width=2, dash="dot"), showlegend=False))
        notes.append(dict(arrow, x=right, y=end, ax=SKIP_X, ay=end, arrowwidth=2, arrowcolor=ACCENT))
        notes.append(dict(x=SKIP_X, y=(y0 + end) / 2, text="residual", showarrow=False, xshift=12, textangle=90,
                          font=dict(color=ACCENT, size=12)))
    steps = [(i, b) for i, b in enumerate(boxes) if b.key]
    traces.append(go.Scatter(  # the text of every box; the steps' markers take the clicks
        x=[0] * len(boxes), y=list(range(len(boxes))), mode="text", text=[b.label for b in boxes],
        textfont=dict(size=14, color="#1a1a1a"), hoverinfo="skip", showlegend=False))
    traces.append(go.Scatter(
        x=[0] * len(steps), y=[i for i, _ in steps], mode="markers", name=STEP_TRACE,
        customdata=[b.key for _, b in steps], hovertext=[b.hover for _, b in steps],
        hovertemplate="%{hovertext}<br><i>click to open this step</i><extra></extra>",
        marker=dict(symbol="square", size=30, opacity=0.0), showlegend=False))
    fig = go.Figure(data=traces, layout=dict(
        shapes=shapes, annotations=notes, clickmode="event+select", dragmode=False, hoverlabel=dict(font_size=13),
        hoverdistance=-1,  # a click anywhere on a wide box reaches its marker, the nearest one
        plot_bgcolor="white", xaxis=dict(visible=False, range=list(X_RANGE), fixedrange=True),
        yaxis=dict(visible=False, range=list(y_range(len(boxes))), fixedrange=True)))
    fig = base_layout(fig, title, title_px + 20 + ROW_PX * len(boxes))
    return fig.update_layout(margin=dict(t=title_px if title else 10))
