"""Figures drawn over the image: the patch grid, heatmaps per patch, clickable patch centres.

Images are shown as seen: origin at the top left, rows downwards (plotly's ``imshow`` default).
Every image figure carries an invisible scatter of patch centres (trace named ``patches``) whose
``customdata`` is the patch index, so a click on a patch can be read back by the app.

Pages draw these for every image, so they are written as plotly JSON in validated form (``vitviz.figures.plain``)
rather than built through plotly's validators.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from . import plain
from .style import HIGHLIGHT, SEQUENTIAL, base_layout, house_layout

PATCH_TRACE = "patches"


CLICKABLE = {"clickmode": "event+select", "dragmode": False}  # a click selects a point instead of starting a zoom


def clickable(fig: go.Figure) -> go.Figure:
    """A click selects a point (a patch centre) instead of starting a zoom."""
    return fig.update_layout(**CLICKABLE)


def _patch_centres(grid: tuple[int, int], patch: int) -> dict:
    rows, cols = grid
    r, c = np.mgrid[0:rows, 0:cols]
    return {"customdata": np.arange(rows * cols), "hovertemplate": "patch %{customdata}<extra></extra>",
            "marker": {"opacity": 0.0, "size": max(4, min(28, 520 // max(rows, cols)))}, "mode": "markers",
            "name": PATCH_TRACE, "showlegend": False, "x": (c.ravel() + 0.5) * patch - 0.5,
            "y": (r.ravel() + 0.5) * patch - 0.5, "type": "scatter"}


def _highlight(index: int | None, grid: tuple[int, int], patch: int) -> dict:
    """The selected patch's outline as layout entries (none when nothing is selected)."""
    if index is None:
        return {}
    r, c = divmod(int(index), grid[1])
    return {"shapes": [{"line": {"color": HIGHLIGHT, "width": 3}, "type": "rect", "x0": c * patch - 0.5,
                        "x1": (c + 1) * patch - 0.5, "y0": r * patch - 0.5, "y1": (r + 1) * patch - 0.5}]}


JPEG_MIN_SIDE = 160  # images at least this large on both sides are shown near their own size: JPEG is invisible
JPEG_QUALITY = 90


@lru_cache(maxsize=64)
def _encoded(data: bytes, shape: tuple[int, int, int]) -> tuple[bytes, str]:
    image = Image.fromarray(np.frombuffer(data, np.uint8).reshape(shape))
    buf = io.BytesIO()
    if min(shape[:2]) >= JPEG_MIN_SIDE:
        image.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        return buf.getvalue(), "image/jpeg"
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), "image/png"


def encode_image(image: np.ndarray) -> tuple[bytes, str]:
    """An RGB image [H, W, 3] uint8 as file bytes and their MIME type, encoded once per distinct image: JPEG
    (quality 90, no chroma subsampling: a fifth of the PNG's bytes on a photo) when it is at least
    ``JPEG_MIN_SIDE`` px on both sides, shown near its own size; PNG, exact, for smaller ones, which the pages
    magnify (a patch, tiles of patches)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return _encoded(image.tobytes(), image.shape)


def preview(image: Image.Image, max_side: int = 480) -> bytes:
    """A small copy of an image of any size, as file bytes, for showing it beside the pages."""
    small = image.convert("RGB")
    small.thumbnail((max_side, max_side))
    return encode_image(np.asarray(small))[0]


def _image_uri(image: np.ndarray) -> str:
    data, mime = encode_image(image)
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_figure(image: np.ndarray, title: str | None = None, height: int | None = None,
                 traces: tuple[dict, ...] = (), shapes: tuple[dict, ...] = (),
                 annotations: tuple[dict, ...] = ()) -> go.Figure:
    """An RGB image [H, W, 3] uint8 as a plotly figure, origin top left, no axes; ``traces``, ``shapes`` and
    ``annotations`` drawn over it are given in validated form (``vitviz.figures.plain``).

    The pixels travel as one encoded image (an Image trace with a data-URI source, as ``px.imshow`` makes
    with ``binary_string``), encoded once per distinct image (``encode_image``).
    """
    data, layout = _image_parts(image, title, height)
    layout.update({k: list(v) for k, v in (("shapes", shapes), ("annotations", annotations)) if v})
    return plain.figure(data + list(traces), layout)


def _image_parts(image: np.ndarray, title: str | None, height: int | None) -> tuple[list[dict], dict]:
    """``image_figure``'s traces and layout, in validated form."""
    return ([{"hoverinfo": "skip", "source": _image_uri(image), "type": "image"}],
            {"xaxis": {"range": [-0.5, image.shape[1] - 0.5], "visible": False},
             "yaxis": {"autorange": "reversed", "scaleanchor": "x", "visible": False}, **house_layout(title, height)})


def patch_grid_figure(image: np.ndarray, patch: int, grid: tuple[int, int], selected: int | None = None,
                      show_indices: bool = True, title: str | None = None, height: int | None = None) -> go.Figure:
    """The image with its patch grid drawn, patch indices written in, and the selected patch outlined."""
    data, layout = _image_parts(image, title, height)
    rows, cols = grid
    h, w = rows * patch - 0.5, cols * patch - 0.5
    xs, ys = [], []  # all grid lines as one trace (None breaks the line between segments)
    for k in range(1, cols):
        xs += [k * patch - 0.5, k * patch - 0.5, None]
        ys += [-0.5, h, None]
    for k in range(1, rows):
        xs += [-0.5, w, None]
        ys += [k * patch - 0.5, k * patch - 0.5, None]
    data.append({"hoverinfo": "skip", "line": {"color": "white", "width": 1}, "mode": "lines", "showlegend": False,
                 "x": xs, "y": ys, "type": "scatter"})
    if show_indices and rows * cols <= 400:
        r, c = np.mgrid[0:rows, 0:cols]
        data.append({"hoverinfo": "skip", "mode": "text", "showlegend": False,
                     "text": [str(i) for i in range(rows * cols)],
                     "textfont": {"color": "white", "size": 9 if rows * cols > 100 else 12},
                     "x": (c.ravel() + 0.5) * patch - 0.5, "y": (r.ravel() + 0.5) * patch - 0.5, "type": "scatter"})
    data.append(_patch_centres(grid, patch))
    return plain.figure(data, {**layout, **_highlight(selected, grid, patch), **CLICKABLE})


def heatmap_overlay(image: np.ndarray, values: np.ndarray, patch: int, opacity: float = 0.6,
                    selected: int | None = None, colorscale: str = SEQUENTIAL, title: str | None = None,
                    zmin: float | None = None, zmax: float | None = None, height: int | None = None,
                    colorbar_title: str = "", shapes: tuple[dict, ...] = ()) -> go.Figure:
    """``values`` [rows, cols] drawn over ``image`` [H, W, 3], one cell per patch; ``shapes``: more shapes (in
    validated form) drawn after the selected patch's outline."""
    rows, cols = values.shape
    data, layout = _image_parts(image, title, height)
    heat = {"colorbar": {"exponentformat": "power", "thickness": 12, "title": plain.title(colorbar_title)},
            "colorscale": plain.colorscale(colorscale), "dx": patch, "dy": patch,
            "hovertemplate": "row %{y}<br>value %{z:.4f}<extra></extra>", "opacity": opacity,
            "x0": (patch - 1) / 2, "y0": (patch - 1) / 2, "z": values, "type": "heatmap"}
    heat.update({k: v for k, v in (("zmin", zmin), ("zmax", zmax)) if v is not None})
    data += [heat, _patch_centres((rows, cols), patch)]
    outlines = _highlight(selected, (rows, cols), patch).get("shapes", []) + list(shapes)
    return plain.figure(data, {**layout, **({"shapes": outlines} if outlines else {}), **CLICKABLE})


def grid_heatmap(values: np.ndarray, title: str | None = None, colorscale: str = SEQUENTIAL,
                 zmin: float | None = None, zmax: float | None = None, height: int | None = None,
                 x_title: str = "", y_title: str = "", zmid: float | None = None,
                 colorbar_title: str = "") -> go.Figure:
    """A plain matrix heatmap, row 0 at the top (plain JSON in validated form: drawn for every image)."""
    heat = {"colorbar": {"exponentformat": "power", "thickness": 12, "title": plain.title(colorbar_title)},
            "colorscale": plain.colorscale(colorscale), "z": values, "type": "heatmap"}
    heat.update({k: v for k, v in (("zmin", zmin), ("zmax", zmax), ("zmid", zmid)) if v is not None})
    return plain.figure([heat], {"yaxis": {"autorange": "reversed", "title": plain.title(y_title)},
                                 "xaxis": {"title": plain.title(x_title)}, **house_layout(title, height)})


def tiles_figure(tiles: np.ndarray, columns: int = 7, titles: list[str] | None = None, title: str | None = None,
                 height: int | None = None) -> go.Figure:
    """RGB tiles [K, h, w, 3] in 0..1 (or uint8 0..255) laid out in a grid (one image, thin white gaps)."""
    k, h, w, _ = tiles.shape
    rows = -(-k // columns)
    gap = max(1, h // 8)
    # in uint8 from the start: each tile's × 255 in float64 then truncated, as a float canvas × 255 would be, with
    # no float canvas of gaps (uint8 tiles x are already what int(x / 255 · 255) gives back)
    pixels = tiles if tiles.dtype == np.uint8 else np.multiply(tiles, 255, dtype=np.float64).astype(np.uint8)
    canvas = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), 255, np.uint8)
    for i in range(k):
        r, c = divmod(i, columns)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = pixels[i]
    data, layout = _image_parts(canvas, title, height)
    if titles:
        layout["annotations"] = [
            {"font": {"size": 10}, "showarrow": False, "text": t, "x": (i % columns) * (w + gap) + w / 2,
             "y": (i // columns) * (h + gap) - 0.5, "yshift": 8} for i, t in enumerate(titles)]
    return plain.figure(data, layout)
