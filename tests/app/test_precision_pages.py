"""The number-format switch through AppTest: it keeps the image, the page and the selected patch; every page
shows the model in that format with one line against fp32; Bits & memory measures it; int8 says why it has no
gradient map."""

import pytest
from streamlit.testing.v1 import AppTest

from ui import caches
from vitviz.model.loading import load_model
from vitviz.walkthrough import BY_KEY
from tests.app.pages import ok, open_page


@pytest.fixture(scope="module", autouse=True)
def random_vit():
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))


def precision_line(at: AppTest) -> str | None:
    return next((c.value for c in at.caption if c.value.startswith("**Running in")), None)


@pytest.mark.parametrize("model,sample,first,second", [("shapes", "shape_star", "attention", "bits"),
                                                        ("vit_ti16", "cat", "block", "positions")])
def test_switching_keeps_image_page_and_patch(model, sample, first, second):
    at = ok(open_page(model, sample, first))
    at.number_input(key="vitviz_patch").set_value(5).run()
    assert precision_line(ok(at)) is None  # fp32: nothing to compare
    at.selectbox(key="vitviz_precision").select("int8").run()
    line = precision_line(ok(at))
    assert line and "int8" in line and "of fp32's" in line
    assert at.number_input(key="vitviz_patch").value == 5  # the selected patch stays
    assert at.session_state["vitviz_image"].name  # the image stays
    assert at.title[0].value.endswith(BY_KEY[first].headline)  # the page stays
    at.switch_page(f"app_pages/{second}.py").run()
    assert "int8" in precision_line(ok(at))
    at.selectbox(key="vitviz_precision").select("bf16").run()
    assert "bf16" in precision_line(ok(at))
    assert at.number_input(key="vitviz_patch").value == 5
    at.selectbox(key="vitviz_precision").select("fp32").run()
    assert precision_line(ok(at)) is None


def test_int8_has_no_gradient_map_and_says_why():
    at = ok(open_page("shapes", "shape_circle", "attention"))
    at.selectbox(key="vitviz_precision").select("int8").run()
    assert any("no gradient" in i.value for i in ok(at).info)


def test_bits_page_measures_the_format_against_fp32():
    at = ok(open_page("shapes", "shape_square", "bits"))
    section = next(m.value for m in at.markdown if "Pick another **number format**" in m.value)
    assert "int8" in section and "bf16" in section
    calls = caches.MODELS.get("shapes").forward_calls
    at.selectbox(key="vitviz_precision").select("int8").run()
    ok(at)
    labels = {m.label: m for m in at.metric}
    weights = labels["Weights stored, int8"]
    assert "MB" in weights.value and "of fp32's" in weights.proto.delta
    assert "× fp32's" in labels["Time / image, int8"].proto.delta
    # one measurement per model and format, shown in both places: section 6 shows section 2's time, not its own
    assert labels["Measured time / image on the CPU (int8)"].value == labels["Time / image, int8"].value
    fp32_ms = labels["Time / image, int8"].proto.delta.split("fp32's ")[1]
    assert "Section 2's time is this same measurement on the CPU" in "\n".join(m.value for m in at.markdown)
    text = "\n".join(m.value for m in at.markdown)
    assert "code" in text and "scale × (code − zero point)" in text  # one weight as stored
    assert "The most probable class is **the same**" in text  # the bundled model keeps its answer on its own shapes in int8
    assert caches.MODELS.get("shapes").forward_calls == calls  # the fp32 analysis was reused, not recomputed
    at.selectbox(key="vitviz_precision").select("bf16").run()
    ok(at)
    assert any("as the model holds it (bf16)" in str(c.proto.spec) for c in at.get("plotly_chart"))
    at.selectbox(key="vitviz_precision").select("fp32").run()
    ok(at)  # fp32 was timed for section 2: section 6 shows that time at once, without a button
    assert next(m for m in at.metric if m.label == "Measured time / image on the CPU (fp32)").value == fp32_ms
