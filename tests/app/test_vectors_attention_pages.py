"""The Vectors and Attention pages through AppTest: the identical pair made and measured, what each figure shows,
the mean-distance verdict, and the opacity slider beside the maps it controls."""

import pytest
from streamlit.testing.v1 import AppTest

from ui import caches
from vitviz.model.loading import load_model
from tests.app.pages import ok, open_page


@pytest.fixture(scope="module", autouse=True)
def random_vit():
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def keys(node) -> list[str]:
    """The widget and chart keys under an AppTest node, in page order."""
    found = [node.key] if getattr(node, "key", None) else []
    kids = getattr(node, "children", None) or {}
    for child in (kids.values() if isinstance(kids, dict) else kids):
        found += keys(child)
    return found


def rows(node) -> list:
    """Every block of the page whose direct children are columns (a row of columns), in page order."""
    kids = list((getattr(node, "children", None) or {}).values())
    here = [node] if kids and all(getattr(k, "type", "") == "column" for k in kids) else []
    return here + [r for k in kids for r in rows(k)]


def test_the_vectors_page_makes_an_identical_pair_on_the_bundled_model():
    at = ok(open_page("shapes", "shape_star", "vectors"))
    [metric] = [m for m in at.metric if m.label.startswith("Max |difference| between patch")]
    assert metric.value == "identical (0)"
    text = markdown(at)
    assert "the edge channel differs by up to" in text  # copying the pixels alone is not enough on this model
    assert "identical pixels and an identical 1-pixel ring: those give identical vectors" in text
    assert any("copied onto patch" in str(c.proto.spec) for c in at.get("plotly_chart"))  # the made pair, drawn
    # sections 4–5 say what to look at, with this image's numbers
    assert "Before block 1 (row 0) the cosines run from" in text and "the mean moves most across block" in text
    assert "of their variance here" in text and "of the other 63 patches have cosine above 0.5" in text
    at.slider(key="vectors_layer").set_value(0).run()
    ok(at)
    assert "similar tokens at layer 0" in markdown(at)


def test_the_vectors_page_on_a_random_vit():
    at = ok(open_page("vit_ti16", "cat", "vectors"))
    [metric] = [m for m in at.metric if m.label.startswith("Max |difference| between patch")]
    assert metric.value == "identical (0)"
    [said] = [m.value for m in at.markdown if m.value.startswith("Copy patch")]
    assert "identical patches give identical vectors" in said and "colour-edge" not in said


def test_the_opacity_slider_sits_with_the_maps_it_controls():
    at = ok(open_page("shapes", "shape_star", "attention"))
    [controls] = [r for r in rows(at.main) if "attn_opacity" in keys(r)]
    assert keys(controls) == ["attn_layer", "attn_head", "attn_opacity"]  # beside the block and head controls
    section = [r for r in rows(at.main) if keys(r) == ["attn_cls", "attn_query"]]
    assert section, "the two maps sit side by side"
    order = keys(at.main)
    assert order.index("attn_opacity") == order.index("attn_query") + 3  # right under the maps
    at.slider(key="attn_opacity").set_value(0.3).run()
    ok(at)
    assert at.slider(key="attn_opacity").value == 0.3


def test_the_distance_verdict_judges_the_trend():
    for model, sample in (("shapes", "shape_star"), ("vit_ti16", "cat")):
        text = markdown(ok(open_page(model, sample, "attention")))
        assert "Along the trend line over all" in text and "the median head looks" in text
        assert "That is not the pattern the ViT paper found" in text  # measured: no growth, no early mix on either
