"""The Inside-a-block page through AppTest: every step and control, measured sentences, no model re-runs."""


import pytest
from streamlit.testing.v1 import AppTest

from ui import caches
from vitviz.model.loading import load_model
from vitviz.stages import block
from vitviz.stages.block import STEP_KEYS
from tests.app.pages import ok, open_page
from vitviz.walkthrough import neighbours

RANDOM_MODELS = ["vit_ti16", "dino_s16"]  # a classifier and none; real architectures, random weights


@pytest.fixture(scope="module", autouse=True)
def random_weight_models():
    for key in RANDOM_MODELS:
        if caches.MODELS.peek(key) is None:
            caches.MODELS.put(load_model(key, device="cpu", pretrained=False))


@pytest.fixture
def streams(monkeypatch) -> list[int]:
    """Counts the float32 recomputes of the whole stack of blocks."""
    runs = [0]
    original = block.residual_stream

    def counted(*args, **kwargs):
        runs[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(block, "residual_stream", counted)
    return runs


def open_block(model: str, sample: str) -> AppTest:
    return ok(open_page(model, sample, "block"))


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def titles(at: AppTest) -> str:
    return "\n".join(str(c.proto.spec) for c in at.get("plotly_chart"))


def test_the_page_sits_between_vectors_and_attention():
    before, after = neighbours("block")
    assert (before.key, after.key) == ("vectors", "attention")


def test_every_step_and_control_on_the_bundled_model(streams):
    at = open_block("shapes", "shape_star")
    n = caches.MODELS.peek("shapes").forward_calls
    assert len(at.get("plotly_chart")) >= 8
    text = markdown(at)
    assert "Its output against the model's own block run on the same input: **identical (0)**" in text
    assert "against the row the model produced (kept in float16): max difference **equal up to rounding" in text
    assert "the model's output itself: max difference from its logits **equal up to rounding" in text
    # the lens: cross is top from the input to block 3, so one reading covers every depth before the answer
    assert "“star” is the top class only in the last block (block 4); before it the reading is “cross”;" in text
    assert block.ARTICLE_FEED_FORWARD in text and block.ARTICLE_RELATED in text
    assert at.radio(key="block_step").value == "attn"  # the page opens on attention
    for step in STEP_KEYS:
        at.radio(key="block_step").set_value(step).run()
        ok(at)
        assert any(h.value.startswith(f"2 · {block.BY_STEP[step].title} (step {STEP_KEYS.index(step) + 1} of 6)")
                   for h in at.header)
        if step in ("add1", "add2"):  # what the add writes into the stream, measured (not "small updates")
            [said] = [m.value for m in at.markdown if m.value.startswith("The token is not replaced")]
            assert ("Here attention's result is" if step == "add1" else "Here the MLP's result is") in said
            assert "small updates" not in said
    at.radio(key="block_step").set_value("attn").run()
    at.select_slider(key="block_temperature").set_value(4.0).run()
    ok(at)
    assert "what-if: temperature 4" in titles(at)
    assert any(m.label.startswith("Change of head 0") and m.value.endswith("%") for m in at.metric)
    at.select_slider(key="block_temperature").set_value(1.0).run()
    assert any(m.value == "0 (the model)" for m in at.metric)
    at.slider(key="block_layer").set_value(1).run()
    at.selectbox(key="block_head").select(2).run()
    at.radio(key="block_query").set_value("cls").run()
    ok(at)
    # section 7, by block as measured on the star: block 1 rewrites the CLS token (10.1×), blocks 2–3 do not
    assert ("On this image: Block 1 rewrites the CLS token (its update is 10.1× the token's length); blocks 2–3 "
            "change it by less than its length") in markdown(at)
    assert "Scores of CLS with every token" in titles(at) and "head 2" in titles(at)
    at.radio(key="block_query").set_value("patch").run()
    at.number_input(key="vitviz_patch").set_value(5).run()  # the sidebar (or a click on the image) picks the patch
    ok(at)
    assert "q of patch 5" in titles(at)
    assert caches.MODELS.peek("shapes").forward_calls == n  # no forward pass on any change
    assert streams[0] <= 1  # the blocks were recomputed at most once for this image (cached by identity)


def test_only_attention_mixes_tokens_is_measured():
    at = open_block("shapes", "shape_heart")
    table = at.dataframe[0].value
    row = table.iloc[2]  # its MLP output
    assert row.iloc[1] == "identical (0)" or row.iloc[1].startswith("equal up to rounding")
    assert row.iloc[2].endswith("%") and row.iloc[2] != "0.00%"


def test_a_random_weight_vit_and_a_model_without_classifier():
    vit = open_block("vit_ti16", "cat")
    assert "max difference from its logits" in markdown(vit)
    for step in STEP_KEYS:
        vit.radio(key="block_step").set_value(step).run()
        ok(vit)
    dino = open_block("dino_s16", "cat")
    assert "has no classifier" in markdown(dino)
    assert "No classifier" in titles(dino)


def test_another_model_with_fewer_blocks_and_heads_keeps_the_page_working():
    at = open_block("vit_ti16", "cat")
    at.slider(key="block_layer").set_value(12).run()
    at.selectbox(key="block_head").select(2).run()
    at.selectbox(key="vitviz_model").select("shapes").run()  # 4 blocks of 4 heads
    ok(at)
    assert at.slider(key="block_layer").value == 4
    at.selectbox(key="vitviz_model").select("vit_ti16").run()
    ok(at)


def test_presenter_mode_shows_the_diagram_and_one_step():
    at = open_block("shapes", "shape_ring")
    at.toggle(key="vitviz_presenter").set_value(True).run()
    ok(at)
    specs = [str(c.proto.spec) for c in at.get("plotly_chart")]
    assert "click a step" in specs[0]  # the diagram comes first
