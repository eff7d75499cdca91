"""A clickable flow diagram: boxes in a row, arrows between them, skip connections drawn above.

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


@dataclass(frozen=True)
class Box:
    key: str  # customdata of its marker ("" for a box that is not a step: the input and output)
    label: str  # plotly text, <br> for line breaks
    hover: str = ""  # one line shown on hover
    width: float = 0.8  # in units of the spacing between boxes


def flow_diagram(boxes: list[Box], skips: list[tuple[int, int]], selected: str | None = None,
                 title: str | None = None, height: int = 250) -> go.Figure:
    """``boxes`` left to right, an arrow between neighbours, and each skip (from box i's input to box j) as a
    line above the row ending in an arrow into box j. The box whose key is ``selected`` is highlighted.

    Built as one layout dict (one ``add_shape`` per box costs several times more, and the page redraws
    the diagram on every step change)."""
    half_h = 0.42
    arrow = dict(xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True, arrowhead=2, arrowsize=1.2)
    shapes, notes, traces = [], [], []
    for i, box in enumerate(boxes):
        chosen = bool(box.key) and box.key == selected
        shapes.append(dict(type="rect", x0=i - box.width / 2, x1=i + box.width / 2, y0=-half_h, y1=half_h,
                           fillcolor=HIGHLIGHT if chosen else (_BOX_FILL if box.key else "white"), layer="below",
                           line=dict(color=HIGHLIGHT if chosen else _BOX_LINE, width=3 if chosen else 1.5)))
        if i:
            notes.append(dict(arrow, x=i - box.width / 2, y=0, ax=i - 1 + boxes[i - 1].width / 2, ay=0, arrowwidth=1.5,
                              arrowcolor=_BOX_LINE))
    for start, end in skips:  # from the arrow entering box ``start`` up, along, and down into box ``end``
        x0 = start - 0.5
        traces.append(go.Scatter(x=[x0, x0, end], y=[0, 0.85, 0.85], mode="lines", hoverinfo="skip",
                                 line=dict(color=ACCENT, width=2, dash="dot"), showlegend=False))
        notes.append(dict(arrow, x=end, y=half_h, ax=end, ay=0.85, arrowwidth=2, arrowcolor=ACCENT))
        notes.append(dict(x=(x0 + end) / 2, y=0.85, text="residual: the token itself", showarrow=False, yshift=10,
                          font=dict(color=ACCENT, size=12)))
    steps = [(i, b) for i, b in enumerate(boxes) if b.key]
    traces.append(go.Scatter(  # the text of every box; the steps' markers take the clicks
        x=list(range(len(boxes))), y=[0] * len(boxes), mode="text", text=[b.label for b in boxes],
        textfont=dict(size=14, color="#1a1a1a"), hoverinfo="skip", showlegend=False))
    traces.append(go.Scatter(
        x=[i for i, _ in steps], y=[0] * len(steps), mode="markers", name=STEP_TRACE,
        customdata=[b.key for _, b in steps], hovertext=[b.hover for _, b in steps],
        hovertemplate="%{hovertext}<br><i>click to open this step</i><extra></extra>",
        marker=dict(symbol="square", size=70, opacity=0.0), showlegend=False))
    fig = go.Figure(data=traces, layout=dict(
        shapes=shapes, annotations=notes, clickmode="event+select", dragmode=False, hoverlabel=dict(font_size=13),
        plot_bgcolor="white", xaxis=dict(visible=False, range=[-0.55, len(boxes) - 0.45], fixedrange=True),
        yaxis=dict(visible=False, range=[-0.6, 1.2], fixedrange=True)))
    return base_layout(fig, title, height)
