"""Figure builders on small arrays: shapes, orientation (origin top left), value ranges, clickable patches."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from vitviz.figures import bits, images, maps, prediction, tokens
from vitviz.stages.numbers import FLOAT_FORMATS, encode_float

IMG = np.zeros((32, 48, 3), np.uint8)
IMG[:8, :8] = 255  # a white patch at the top left


def _y_reversed(fig: go.Figure) -> bool:
    return fig.layout.yaxis.autorange == "reversed"


def _pixels(fig: go.Figure) -> np.ndarray:
    """The RGB array an image figure shows (decoded from its PNG source)."""
    src = fig.data[0].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_image_origin_top_left():
    fig = images.image_figure(IMG)
    assert _y_reversed(fig)
    assert _pixels(fig)[0, 0].tolist() == [255, 255, 255]  # row 0 is the top row
    assert _pixels(fig)[-1, -1].tolist() == [0, 0, 0]


def test_patch_grid_has_clickable_centres_in_raster_order():
    fig = images.patch_grid_figure(IMG, 8, (4, 6), selected=7)
    centres = next(t for t in fig.data if t.name == images.PATCH_TRACE)
    assert list(centres.customdata) == list(range(24))
    # patch 7 = row 1, col 1 -> centre (11.5, 11.5) in pixel coordinates
    assert (centres.x[7], centres.y[7]) == (11.5, 11.5)
    rect = [s for s in fig.layout.shapes if s.type == "rect"][0]
    assert (rect.x0, rect.y0) == (7.5, 7.5)


def test_heatmap_overlay_cells_align_with_patches():
    values = np.arange(24, dtype=float).reshape(4, 6)
    fig = images.heatmap_overlay(IMG, values, 8, opacity=0.5)
    heat = next(t for t in fig.data if isinstance(t, go.Heatmap))
    assert np.asarray(heat.z).shape == (4, 6) and heat.z[0][0] == 0  # first row of values on top
    assert (heat.x0, heat.dx, heat.y0, heat.dy) == (3.5, 8, 3.5, 8)
    assert _y_reversed(fig)


def test_grid_heatmap_row_zero_on_top():
    assert _y_reversed(images.grid_heatmap(np.eye(3)))
    assert _y_reversed(tokens.matrix_figure(np.random.default_rng(0).normal(size=(5, 7))))


def test_tiles_layout():
    tiles = np.random.default_rng(0).random((5, 4, 4, 3))
    fig = images.tiles_figure(tiles, columns=3)
    z = _pixels(fig)
    assert z.shape == (2 * 4 + 1, 3 * 4 + 2, 3)
    assert z.max() <= 255 and z.min() >= 0


def test_colorize_and_blend_ranges():
    c = maps.colorize(np.array([[0.0, 1.0]]))
    assert c.shape == (1, 2, 3) and 0 <= c.min() and c.max() <= 1
    assert not np.allclose(c[0, 0], c[0, 1])
    b = maps.blend(IMG, np.ones((4, 6)), 0.5)
    assert b.shape == (32, 48, 3) and 0 <= b.min() and b.max() <= 1


def test_small_multiples_one_tile_per_map():
    fig = maps.small_multiples(IMG, [np.random.default_rng(i).random((4, 6)) for i in range(4)],
                               [f"h{i}" for i in range(4)], columns=2)
    z = _pixels(fig)
    assert z.shape[:2] == (2 * 32 + 4, 2 * 48 + 4)
    assert len(fig.layout.annotations) == 4


def test_token_strip_starts_with_cls():
    fig = tokens.token_strip(IMG, 8, (4, 6))
    z = _pixels(fig)
    gap = 2
    assert z.shape == (8, 25 * (8 + gap) - gap, 3)
    assert z[0, 0].tolist() == [90, 90, 90]  # the CLS tile
    assert z[0, 10].tolist() == [255, 255, 255]  # then patch 0, the white one
    assert fig.layout.annotations[0].text == "CLS"


def test_top_k_bar_best_on_top():
    fig = prediction.top_k_bar(("tabby, tabby cat", "tiger cat"), (0.7, 0.2))
    assert list(fig.data[0].y) == ["tiger cat", "tabby"]
    assert fig.data[0].x[-1] == 70.0


def test_bit_fields_one_row_per_format():
    rows = [encode_float(0.1, f) for f in FLOAT_FORMATS]
    fig = bits.bit_fields(rows)
    assert len(fig.layout.shapes) == sum(f.bits for f in FLOAT_FORMATS)
    assert list(fig.layout.yaxis.ticktext) == [f.name for f in FLOAT_FORMATS]


def test_distance_figure_has_reference_line():
    fig = maps.distance_figure(np.array([[1.0, 3.0], [2.0, 6.0], [5.0, 5.0]]), 116.49)
    assert len(fig.data) == 3 and fig.layout.shapes[0].y0 == 116.49  # two heads, their median, uniform
    assert fig.data[2].name == "median of heads" and list(fig.data[2].y) == [2.0, 4.0, 5.0]


def test_small_images_travel_exact_and_photo_sized_ones_as_jpeg_close_to_the_pixels():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data, mime = images.encode_image(small)
    assert mime == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), small)  # magnified: exact
    # a smooth photo-like image at a model's input size: JPEG, a fraction of the PNG's bytes, a level or so off
    y, x = np.mgrid[0:224, 0:224]
    photo = np.stack([(x + y) % 256, (2 * x) % 256, (128 + y // 2) % 256], -1).astype(np.uint8)
    data, mime = images.encode_image(photo)
    assert mime == "image/jpeg"
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert np.abs(shown - photo).mean() < 2
    assert images.image_figure(photo).data[0].source.startswith("data:image/jpeg;base64,")


def test_a_wire_figure_sends_what_the_figure_would_with_floats_as_float32():
    import json

    import plotly.io as pio

    from vitviz.figures.wire import WireFigure, to_wire, trace_names

    values = np.linspace(-1, 1, 12).reshape(3, 4) / 3  # float64 with more digits than float32 holds
    fig = images.heatmap_overlay(IMG, values, 8, selected=2, title="a map")
    wire = to_wire(fig)
    assert isinstance(wire, WireFigure) and to_wire(wire) is wire
    assert trace_names(wire) == trace_names(fig) and images.PATCH_TRACE in trace_names(wire)
    sent, original = json.loads(pio.to_json(wire, validate=False)), json.loads(fig.to_json())
    assert sent["layout"] == original["layout"]
    z = sent["data"][1]["z"]
    assert z["dtype"] == "f4"
    decoded = np.frombuffer(base64.b64decode(z["bdata"]), np.float32).reshape(values.shape)
    assert np.array_equal(decoded, values.astype(np.float32))
    assert original["data"][1]["z"]["dtype"] == "f8"  # the figure itself is left as it was
    # what st.plotly_chart receives cannot change the cached form (plotly.io pops each trace's uid)
    given = wire.to_dict()
    given["data"][0]["uid"] = "x"
    given["layout"]["height"] = 1
    assert "uid" not in wire.to_dict()["data"][0] and wire.layout_value("height") != 1
    bigger = wire.with_layout(height=900)
    assert bigger.layout_value("height") == 900 and wire.layout_value("height") != 900
    assert bigger.to_dict()["data"] == wire.to_dict()["data"]


def test_wire_floats_reach_arrays_inside_lists_and_copy_flat_lists():
    from vitviz.figures.wire import _float32

    arr = np.linspace(0, 1, 5)
    flat = [0.1, None, "a", np.float32(2), 3]
    out = _float32({"x": flat, "mixed": [1.0, arr, {"z": arr}], "pair": (arr, "t")})
    assert out["x"] == flat and out["x"] is not flat  # a copy, items as they were
    assert out["mixed"][1].dtype == np.float32 and out["mixed"][2]["z"].dtype == np.float32 and out["mixed"][0] == 1.0
    assert isinstance(out["pair"], tuple) and out["pair"][0].dtype == np.float32 and arr.dtype == np.float64


def test_long_titles_wrap_to_lines_a_phone_shows_whole():
    from vitviz.figures.style import TITLE_CHARS, base_layout, wrap_title

    title = "Mean over heads, every block: how CLS attention changes with depth, on this image"
    lines = wrap_title(title).split("<br>")
    assert len(lines) > 1 and all(len(line) <= TITLE_CHARS for line in lines) and " ".join(lines) == title
    assert wrap_title("short") == "short"
    marked = "One block of X<br><sup>" + "a " * 40 + "</sup>"
    assert wrap_title(marked) == marked  # markup is left alone
    fig = base_layout(go.Figure(), title)
    assert fig.layout.margin.t > base_layout(go.Figure(), "short").layout.margin.t  # room for the second line


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a #RRGGBB colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_marker_labels_on_stacked_bars_read_whatever_the_bar_colour():
    """accelerate's diamonds sit on coloured bars: each figure beside one is a label with its own background,
    its text at WCAG AAA contrast (7:1) against it, not plotly's grey text over the bar."""
    fig = bits.stacked_bars(["fp32", "mixed"], {"weights": [4.0, 2.0], "Adam": [8.0, 8.0]},
                            {"accelerate": [16.0, 8.0]}, "t")
    labels = [a for a in fig.layout.annotations if a.text.endswith(" MB")]
    assert [a.text for a in labels] == ["16.0 MB", "8.0 MB"]
    for a in labels:
        assert a.bgcolor and _contrast(a.font.color, a.bgcolor) >= 7
    diamonds = next(t for t in fig.data if t.name == "accelerate")
    assert diamonds.mode == "markers" and not diamonds.text  # no second, unreadable copy of the figures


def test_log_axes_label_powers_of_ten_only():
    """Over a decade or more: labels at 1, 10, 100 … only, minor ticks unlabelled (plotly labels 2 and 5 of every
    decade by itself); under a decade plotly's own labels stay, since no power of ten may fall inside."""
    from vitviz.figures.style import log_y

    wide = log_y(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 400, 90_000])), [3, 400, 90_000])
    assert wide.layout.yaxis.type == "log" and wide.layout.yaxis.dtick == 1
    assert wide.layout.yaxis.minor.dtick == "D1" and wide.layout.yaxis.minor.ticks == "outside"
    narrow = log_y(go.Figure(go.Scatter(x=[1, 2], y=[2, 7])), [2, 7])
    assert narrow.layout.yaxis.type == "log" and narrow.layout.yaxis.dtick is None
    panels = bits.scaling_figure([8, 16, 32], {"tokens": [785, 197, 50], "GMACs": [18.0, 4.6, 1.1]}, "patch")
    assert panels.layout.yaxis.dtick == 1 and panels.layout.yaxis2.dtick == 1  # each panel, its own span
    bars = tokens.patch_size_figures([8, 16, 32], [785, 197, 50], [10 ** 7, 10 ** 6, 10 ** 5], [0.1, 0.05, 0.02],
                                     [0.5, 0.6, 0.4], ["a", "b", "c"], 16)[1]
    assert bars.layout.yaxis.type == "log" and bars.layout.yaxis.dtick == 1
def _font_sizes(value, in_font=False):
    """Every font size in a plain-JSON figure (constructed test input: sizes are numbers)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if in_font and k == "size":
                yield v
            elif isinstance(v, (dict, list)):
                yield from _font_sizes(v, k.endswith("font"))
    elif isinstance(value, list):
        for v in value:
            yield from _font_sizes(v, in_font)


def test_presenter_style_enlarges_every_text_and_takes_nothing_away():
    import copy

    from vitviz.figures.style import (FONT_SIZE, PRESENTER_FONT, PRESENTER_MIN_HEIGHT, PRESENTER_MIN_PX,
                                      PRESENTER_SCALE, base_layout, presenter)
    from vitviz.figures.wire import to_wire

    fig = base_layout(go.Figure(go.Heatmap(z=np.eye(3), text=[["0", "1", "0"]] * 3, texttemplate="%{text}",
                                           textfont=dict(size=9, color="white"))), "A title", height=300)
    fig.add_annotation(text="head 0", x=0, y=0, font=dict(size=10))
    fig.add_annotation(text="a big note", x=1, y=1, font=dict(size=20))
    fig.update_xaxes(tickfont=dict(size=11), title=dict(text="column", font=dict(size=12)))
    wire = to_wire(fig).to_dict()
    before = copy.deepcopy(wire)
    shown = presenter(wire)
    assert wire == before  # the cached figure (shared with other sessions) is not written to
    sizes = list(_font_sizes(shown))
    assert len(sizes) > len(list(_font_sizes(before)))  # every size kept, plus those the host would choose
    assert min(sizes) >= PRESENTER_MIN_PX
    layout = shown["layout"]
    assert layout["font"]["size"] == PRESENTER_FONT and layout["title"]["font"]["size"] > PRESENTER_FONT
    assert [a["font"]["size"] for a in layout["annotations"]] == [PRESENTER_MIN_PX, round(20 * PRESENTER_SCALE, 1)]
    assert layout["xaxis"]["tickfont"]["size"] == round(11 * PRESENTER_SCALE, 1) > 11
    # sizes left to the host (Streamlit's theme draws ticks at 0.75 rem, log axes' minor labels at 0.75 of that)
    assert layout["yaxis"]["tickfont"]["size"] == layout["legend"]["font"]["size"] == PRESENTER_FONT
    assert layout["xaxis"]["title"]["text"] == "column" and 0.75 * PRESENTER_FONT >= PRESENTER_MIN_PX
    assert shown["data"][0]["textfont"] == {"size": PRESENTER_MIN_PX, "color": "white"}  # 9 px would be 14: floor
    assert layout["uniformtext"] == {"minsize": PRESENTER_MIN_PX, "mode": "show"}  # bar labels are not shrunk
    assert layout["height"] == PRESENTER_MIN_HEIGHT and layout["margin"]["t"] > before["layout"]["margin"]["t"]
    # what the figure shows is the same: data, text and titles
    assert shown["data"][0]["z"] == before["data"][0]["z"] and shown["data"][0]["text"] == before["data"][0]["text"]
    assert layout["title"]["text"] == before["layout"]["title"]["text"]
    assert [a["text"] for a in layout["annotations"]] == ["head 0", "a big note"]
    assert presenter(shown)["layout"]["font"]["size"] >= PRESENTER_FONT > FONT_SIZE
    tall = presenter(to_wire(base_layout(go.Figure(), "t", height=900)).to_dict())
    assert tall["layout"]["height"] == 900  # a figure taller than the screen keeps its height
    strip = presenter(to_wire(base_layout(go.Figure(), "t", height=140)).to_dict())
    assert strip["layout"]["height"] == round(140 * PRESENTER_SCALE)  # a strip grows with its text, stays a strip
    from plotly.subplots import make_subplots
    stacked = make_subplots(rows=4, cols=1, subplot_titles=["a", "b", "c", "d"])
    stacked = presenter(to_wire(base_layout(stacked, "four rows", height=720)).to_dict())
    assert stacked["layout"]["height"] == round(720 * PRESENTER_SCALE)  # room for the larger panel titles
