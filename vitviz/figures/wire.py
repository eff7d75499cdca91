"""Figures in the form a browser receives them, made once.

Drawing a ``go.Figure`` costs the server on every run: plotly copies it (``to_dict``), walks it to
base64-encode its arrays and serialises it. A :class:`WireFigure` has done that once: it holds the
figure as plain JSON types (arrays already base64, as plotly sends them), so anything that asks it
for ``to_dict()`` (``st.plotly_chart``, ``plotly.io.to_json``) gets that form back without a copy of
the arrays. Floating-point arrays travel as float32: 7 significant digits, more than any hover or
colour shows, at half the bytes of float64.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.utils import convert_to_base64  # plotly's own step (Figure.to_dict calls it)


def _float32(value: object) -> object:
    """``value`` with every float64 numpy array inside it (dicts, lists, tuples) cast to float32, in new containers:
    the arrays and strings are shared, not copied (``convert_to_base64`` replaces arrays in their containers, it
    never writes to an array), so ``value`` itself is left as it was at the cost of its dicts and lists only."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32) if value.dtype == np.float64 else value
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # a list of numbers or strings (colours, texts, coordinates): one copy. The check reads the few distinct
        # types of the items (map and set run in C), not each item in Python: a grid's line coordinates or a
        # strip's labels are hundreds long
        if not any(issubclass(t, _NESTED) for t in set(map(type, value))):
            return type(value)(value)
        return type(value)(_float32(v) for v in value)
    return value


_NESTED = (np.ndarray, dict, list, tuple)


class WireFigure(go.Figure):
    """A figure already in wire form; ``to_dict`` returns that form (fresh top-level dicts, shared contents).

    Build one with :func:`to_wire`. It is read-only: change a copy with :meth:`with_layout`.
    """

    def __init__(self, wire: dict, size: int) -> None:
        # no go.Figure.__init__ (2 ms: an empty figure and its template): nothing reads this one as a go.Figure;
        # st.plotly_chart and plotly.io ask for to_dict() only
        self._wire = wire
        self._size = size  # characters of the JSON sent

    @property
    def wire_bytes(self) -> int:
        """About how many bytes the figure costs on the wire (and held as a string here)."""
        return self._size

    def to_dict(self) -> dict:
        # plotly.io.to_json pops each trace's "uid": hand out top-level copies, never the cached dicts
        return {"data": [dict(t) for t in self._wire.get("data", [])], "layout": dict(self._wire.get("layout", {}))}

    def trace_names(self) -> Iterator[str | None]:
        return (t.get("name") for t in self._wire.get("data", []))

    def layout_value(self, name: str) -> object:
        return self._wire.get("layout", {}).get(name)

    def with_layout(self, **changes: object) -> "WireFigure":
        """A new wire figure with top-level layout entries replaced (the traces are shared, not copied)."""
        return WireFigure({"data": self._wire.get("data", []), "layout": {**self._wire.get("layout", {}), **changes}},
                          self._size)


def to_wire(fig: go.Figure) -> WireFigure:
    """``fig`` as the browser will receive it, floats as float32; ``fig`` itself is left as it was."""
    if isinstance(fig, WireFigure):
        return fig
    # the traces as set (numpy arrays still arrays: Figure.to_dict would already have base64-encoded them), read
    # without to_plotly_json's deep copy of every array (_float32 makes new containers; the arrays are not written)
    plain = {"data": [_float32(t._props) for t in fig.data], "layout": _float32(fig.layout._props)}
    convert_to_base64(plain)  # what Figure.to_dict does before plotly sends a figure: arrays to base64
    text = pio.to_json(plain, validate=False)
    return WireFigure(json.loads(text), len(text))


def trace_names(fig: go.Figure) -> list[str | None]:
    """The names of a figure's traces, wire or not."""
    if isinstance(fig, WireFigure):
        return list(fig.trace_names())
    return [getattr(t, "name", None) for t in fig.data]
