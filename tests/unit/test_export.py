"""NPZ export and the HTML handout."""

import io
import json

import numpy as np

from vitviz.model.analysis import analyze
from vitviz.export import to_npz
from vitviz.stages import faithfulness
from vitviz.handout import figure_count, handout_html


def test_npz_round_trip(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    data = np.load(io.BytesIO(to_npz(a, "ViT-Ti/16")))
    np.testing.assert_array_equal(data["attentions"], a.attentions)
    np.testing.assert_array_equal(data["logits"], a.logits)
    meta = json.loads(bytes(data["summary_json"]).decode())
    assert meta["tokens"] == 197 and meta["grid"] == [14, 14] and len(meta["top5"]) == 5
    assert meta["arrays"]["attentions"]["shape"] == [12, 3, 197, 197]
    assert meta["input_channels"] == ["R", "G", "B"] and "embed_input" not in data  # it would repeat the pixels


def test_npz_keeps_the_offline_models_edge_channel(shapes_bundle):
    from PIL import Image
    from vitviz.offline.shapes import sample_image
    a = analyze(shapes_bundle, Image.fromarray(sample_image("ring").image))
    data = np.load(io.BytesIO(to_npz(a)))
    np.testing.assert_array_equal(data["embed_input"], a.embed_input)
    assert data["embed_input"].shape == (4, 112, 112)
    assert json.loads(bytes(data["summary_json"]).decode())["input_channels"][-1] == "colour edges"


def test_handout_is_self_contained(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    calls = tiny_bundle.forward_calls
    page = handout_html(tiny_bundle, a, "photo.png")
    added = tiny_bundle.forward_calls - calls
    before = tiny_bundle.forward_calls
    faithfulness.evaluate(tiny_bundle, a)  # the one section that runs the model: its masked images, in batches
    assert added == tiny_bundle.forward_calls - before  # every other section is drawn from the analysis
    assert figure_count(page) >= 10
    assert "<script src=" not in page and "plotly.js v" in page  # plotly.js is inline, nothing is fetched
    assert "photo.png" in page
    # the app's colours (vitviz/figures/style.py), not plotly's default theme (its grey-blue plot, its colours)
    assert '"colorway":["#0072B2","#E69F00"' in page
    assert "#E5ECF6" not in page.upper() and "#636EFA" not in page.upper()
    # random weights: the handout says so, and that the prediction is near uniform (measured: entropy ≥ 95 % of log C)
    assert "These weights are random: trained on nothing" in page and "The model is not sure of anything" in page
    assert "uniform would be 1\\u002f197 = 0.0051" in page  # the attention maps' titles (plotly's JSON escapes /)


def test_handout_made_inside_the_app_has_no_placeholder_colours(shapes_bundle):
    """Importing streamlit makes its chart theme plotly's default: a template of placeholder colours (#000001 …)
    that only Streamlit's browser code fills in. A handout downloaded from the app must not carry it."""
    import plotly.graph_objects as go
    import plotly.io as pio
    import streamlit  # noqa: F401  (registers and selects the "streamlit" template)
    from vitviz.handout import _fig

    assert pio.templates.default == "streamlit"
    html = _fig(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))
    assert "#000001" not in html and '"colorway":["#0072B2"' in html


def test_the_app_and_the_handout_share_one_palette():
    import tomllib
    from pathlib import Path

    from vitviz.figures import style

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert tuple(config["theme"]["chartCategoricalColors"]) == style.COLORWAY
    assert list(style.TEMPLATE.layout.colorway) == list(style.COLORWAY)
