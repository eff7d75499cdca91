"""The figures written as plotly JSON (vitviz.figures.plain) are the figures plotly's validators would build: the
same data and layout, as the browser receives them, for each builder and for the views that draw over the image."""

import copy

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit  # noqa: F401  (the app's template, Streamlit's, is plotly's default from here on)

from vitviz.figures import images, maps, plain, tokens
from vitviz.figures.style import HIGHLIGHT, SEQUENTIAL, base_layout
from vitviz.figures.wire import to_wire
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.stages.faithfulness import Occlusion
from vitviz.views import attention as attention_views, faithfulness as faithfulness_views, home as home_views
from vitviz.views import patches as patches_views, vectors as vector_views

RNG = np.random.default_rng(0)
IMG = (RNG.random((64, 48, 3)) * 255).astype(np.uint8)
VALUES = RNG.random((4, 3)).astype(np.float32)


# --- the validated builders these replace, written with graph_objects as they were ---------------------------

def _ref_centres(grid, patch):
    rows, cols = grid
    r, c = np.mgrid[0:rows, 0:cols]
    return go.Scatter(
        x=(c.ravel() + 0.5) * patch - 0.5, y=(r.ravel() + 0.5) * patch - 0.5, mode="markers", name=images.PATCH_TRACE,
        customdata=np.arange(rows * cols), marker=dict(size=max(4, min(28, 520 // max(rows, cols))), opacity=0.0),
        hovertemplate="patch %{customdata}<extra></extra>", showlegend=False)


def _ref_highlight(fig, index, grid, patch):
    if index is not None:
        r, c = divmod(int(index), grid[1])
        fig.add_shape(type="rect", x0=c * patch - 0.5, x1=(c + 1) * patch - 0.5, y0=r * patch - 0.5,
                      y1=(r + 1) * patch - 0.5, line=dict(color=HIGHLIGHT, width=3))


def _ref_image(image, title=None, height=None):
    fig = go.Figure(go.Image(source=images._image_uri(image), hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[-0.5, image.shape[1] - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return base_layout(fig, title, height)


def _ref_grid(image, patch, grid, selected=None, show_indices=True, title=None, height=None):
    fig = _ref_image(image, title, height)
    rows, cols = grid
    h, w = rows * patch - 0.5, cols * patch - 0.5
    xs, ys = [], []
    for k in range(1, cols):
        xs += [k * patch - 0.5, k * patch - 0.5, None]
        ys += [-0.5, h, None]
    for k in range(1, rows):
        xs += [-0.5, w, None]
        ys += [k * patch - 0.5, k * patch - 0.5, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="white", width=1), hoverinfo="skip",
                             showlegend=False))
    if show_indices and rows * cols <= 400:
        r, c = np.mgrid[0:rows, 0:cols]
        fig.add_trace(go.Scatter(x=(c.ravel() + 0.5) * patch - 0.5, y=(r.ravel() + 0.5) * patch - 0.5, mode="text",
                                 text=[str(i) for i in range(rows * cols)], hoverinfo="skip", showlegend=False,
                                 textfont=dict(color="white", size=9 if rows * cols > 100 else 12)))
    fig.add_trace(_ref_centres(grid, patch))
    _ref_highlight(fig, selected, grid, patch)
    return fig.update_layout(clickmode="event+select", dragmode=False)


def _ref_overlay(image, values, patch, opacity=0.6, selected=None, colorscale=SEQUENTIAL, title=None, zmin=None,
                 zmax=None, height=None, colorbar_title=""):
    fig = _ref_image(image, title, height)
    fig.add_trace(go.Heatmap(z=values, x0=(patch - 1) / 2, dx=patch, y0=(patch - 1) / 2, dy=patch,
                             colorscale=colorscale, opacity=opacity, zmin=zmin, zmax=zmax,
                             colorbar=dict(title=colorbar_title, thickness=12, exponentformat="power"),
                             hovertemplate="row %{y}<br>value %{z:.4f}<extra></extra>"))
    fig.add_trace(_ref_centres(values.shape, patch))
    _ref_highlight(fig, selected, values.shape, patch)
    return fig.update_layout(clickmode="event+select", dragmode=False)


def _ref_tiles(tiles, columns=7, titles=None, title=None, height=None):
    k, h, w, _ = tiles.shape
    rows = -(-k // columns)
    gap = max(1, h // 8)
    canvas = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, 3))
    for i in range(k):
        r, c = divmod(i, columns)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    fig = _ref_image((canvas * 255).astype(np.uint8), title, height)
    if titles:
        fig.update_layout(annotations=[
            dict(x=(i % columns) * (w + gap) + w / 2, y=(i // columns) * (h + gap) - 0.5, text=t, showarrow=False,
                 yshift=8, font=dict(size=10)) for i, t in enumerate(titles)])
    return fig


def _sent(fig: go.Figure) -> dict:
    return to_wire(fig).to_dict()


def _validated(fig: go.Figure) -> go.Figure:
    """``fig`` rebuilt through plotly's validators (an empty title, what ``update_layout(title=None)`` leaves, is
    dropped by validating a dict: set as the builders set it)."""
    layout = copy.deepcopy(fig.layout._props)
    untitled = layout.get("title") == {}
    out = go.Figure({"data": [copy.deepcopy(t._props) for t in fig.data], "layout": layout})
    return out.update_layout(title=None) if untitled else out


TILES = RNG.random((5, 4, 4, 3))
CASES = {
    "image": (lambda: images.image_figure(IMG), lambda: _ref_image(IMG)),
    "image, long title": (lambda: images.image_figure(IMG, "A title long enough to be wrapped at a phone's width, "
                                                           "twice over at least", 300),
                          lambda: _ref_image(IMG, "A title long enough to be wrapped at a phone's width, twice over "
                                                  "at least", 300)),
    "image, empty title": (lambda: images.image_figure(IMG, ""), lambda: _ref_image(IMG, "")),
    "grid": (lambda: images.patch_grid_figure(IMG, 16, (4, 3), selected=5, title="g", height=300),
             lambda: _ref_grid(IMG, 16, (4, 3), selected=5, title="g", height=300)),
    "grid, no indices": (lambda: images.patch_grid_figure(IMG, 16, (4, 3), show_indices=False),
                         lambda: _ref_grid(IMG, 16, (4, 3), show_indices=False)),
    "overlay": (lambda: images.heatmap_overlay(IMG, VALUES, 16, 0.6, selected=2, title="t", height=400,
                                               colorbar_title="attention"),
                lambda: _ref_overlay(IMG, VALUES, 16, 0.6, selected=2, title="t", height=400,
                                     colorbar_title="attention")),
    "overlay, diverging": (lambda: images.heatmap_overlay(IMG, VALUES.astype(np.float64), 16, 0.3,
                                                          colorscale="RdBu_r", zmin=-1, zmax=1),
                           lambda: _ref_overlay(IMG, VALUES.astype(np.float64), 16, 0.3, colorscale="RdBu_r",
                                                zmin=-1, zmax=1)),
    "tiles": (lambda: images.tiles_figure(TILES, columns=3, titles=list("abcde"), title="tt", height=200),
              lambda: _ref_tiles(TILES, columns=3, titles=list("abcde"), title="tt", height=200)),
    "tiles, no titles": (lambda: images.tiles_figure(TILES, columns=3), lambda: _ref_tiles(TILES, columns=3)),
    "tiles, float32": (lambda: images.tiles_figure(TILES.astype(np.float32), columns=2),
                       lambda: _ref_tiles(TILES.astype(np.float32), columns=2)),
    "tiles, uint8": (lambda: images.tiles_figure((TILES * 255).astype(np.uint8), columns=3),  # as x / 255 drew them
                     lambda: _ref_tiles((TILES * 255).astype(np.uint8) / 255.0, columns=3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_plain_builder_sends_what_the_validated_one_sends(name):
    new, ref = CASES[name]
    fig = new()
    assert _sent(fig) == _sent(ref())
    assert _sent(fig) == _sent(_validated(fig))  # validating it changes nothing


def test_a_plain_figure_can_be_read_and_changed_like_any_other():
    fig = images.heatmap_overlay(IMG, VALUES, 16, selected=1)
    assert fig.data[0].source.startswith("data:image/") and fig.layout.yaxis.autorange == "reversed"
    assert [t.name for t in fig.data][-1] == images.PATCH_TRACE and fig.layout.shapes[0].line.color == HIGHLIGHT
    strip = tokens.token_strip(IMG, 16, (4, 3), title="strip")  # annotations added to a plain figure
    assert _sent(strip) == _sent(_validated(strip))
    assert plain.colorscale("Cividis") == [list(s) for s in go.Heatmap(colorscale="Cividis").colorscale]


@pytest.fixture(scope="module", params=["shapes", "tiny"])
def drawn(request, shapes_bundle, tiny_bundle):
    bundle = shapes_bundle if request.param == "shapes" else tiny_bundle
    return bundle, analyze(bundle, load_image(SAMPLES["shape_star" if request.param == "shapes" else "cat"].data()))


def test_the_views_over_the_image_send_what_validated_figures_send(drawn):
    bundle, a = drawn
    last, mid = a.depth - 1, a.num_patches // 2
    occ = Occlusion(drop=RNG.standard_normal(a.grid), groups=np.zeros(a.grid, int), group=2, variant="tokens",
                    base=1.0, target=None, passes=1)
    figs = [home_views.seen_image(bundle, a), patches_views.grid(bundle, a, mid), patches_views.sequence(bundle, a),
            vector_views.pick(bundle, a, mid), vector_views.twins(bundle, a), vector_views.token_pca(bundle, a, last),
            vector_views.similarity_to_patch(bundle, a, last, mid), vector_views.filters(bundle, a),
            attention_views.cls_map(bundle, a, last, None, 0.6, mid), attention_views.query_map(bundle, a, 0, 1, 0.5, mid),
            attention_views.heads(bundle, a, last), attention_views.layers(bundle, a),
            attention_views.rollout(bundle, a), attention_views.dino_masks(bundle, a, 0.6),
            faithfulness_views.occlusion_map(bundle, a, occ), maps.small_multiples(a.image, [VALUES], ["x"]),
            attention_views.relatedness(bundle, a, 0, None, mid), attention_views.relatedness(bundle, a, last, 0, 0),
            attention_views.distances(bundle, a)]
    for fig in figs:
        assert _sent(fig) == _sent(_validated(fig))


def test_the_plain_charts_send_what_validated_figures_send():
    from vitviz.figures import steps

    vec = RNG.standard_normal(24).astype(np.float32)
    figs = [tokens.matrix_figure(RNG.standard_normal((6, 8)).astype(np.float32), "m", selected_row=2),
            tokens.matrix_figure(np.zeros((3, 4), np.float32)),
            steps.vector_panels([steps.Panel("a", vec, overlay=vec, names=("g", "b")),
                                 steps.Panel("b", vec, boundaries=8, x_title="unit")], "t"),
            steps.vector_panels([steps.Panel("only", vec)]),
            steps.token_bars(vec, ("CLS",), {3: "top 1", 5: "top 2"}, "t", y_title="s", compare=vec, names=("x", "y")),
            steps.token_bars(vec, (), {}),
            steps.token_bars(vec, ("CLS", "register 1", "register 2"), {4: "top 1"}),
            steps.attention_matrix(RNG.random((5, 5)).astype(np.float32), ("CLS",), 2, "t"),
            steps.attention_matrix(RNG.random((6, 6)).astype(np.float32), ("CLS", "distillation"), None, "t"),
            steps.attention_matrix(np.zeros((4, 4), np.float32), ()),
            maps.distance_figure(RNG.random((3, 2)) * 50, 20.0, "d")]
    for fig in figs:
        assert _sent(fig) == _sent(_validated(fig))


def test_the_class_chart_sends_what_a_validated_figure_sends(drawn):
    from vitviz.views import article as article_views

    bundle, a = drawn
    fig = article_views.class_probabilities(bundle, a)
    assert len(fig.data[0].x) == len(bundle.labels)
    assert _sent(fig) == _sent(_validated(fig))
