"""AppTest: the "Into a language model" page offline (no SmolVLM weights: the cut, the counts, the prompt's
structure, and one sentence on how to fetch them), and with a tiny random-weight model of the same architecture
standing in for fetched files (the page's machinery end to end; its words are not shown as an answer of SmolVLM's)."""

import pytest

from tests import vlm_tiny
from tests.app.pages import ok, open_page
from ui import vlm as glue
from vitviz.model import smolvlm


def text_of(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                     + [w.value for w in at.warning] + [s.value for s in at.success])


@pytest.fixture
def no_weights(monkeypatch):
    monkeypatch.setattr(glue, "files", lambda: None)


def test_offline_page_shows_what_needs_no_weights(no_weights):
    at = ok(open_page("shapes", "A circle", "vlm"))
    text = text_of(at)
    assert smolvlm.FETCH_COMMAND in text and "needs the model's weights" in text
    assert "crops" in text and "global view" in text and "1,024 patches of 16 px" in text
    assert "64 tokens per view" in text and "12,288 numbers" in text and "576 numbers" in text
    assert "`<fake_token_around_image>`" in text and "`<global-img>`" in text and "“What is in this image?" in text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Image tokens"] == f"{17 * 64:,}"  # a square image scaled to 2048 px: 4 × 4 crops + global view
    assert "Question (characters)" in metrics
    assert "Write the answer" not in [b.label for b in at.button]  # no answer offered without the weights


def test_question_changes_the_prompt(no_weights):
    at = ok(open_page("shapes", "A circle", "vlm"))
    at.text_input(key="vlm_question").input("How many <image> corners?").run()
    text = text_of(ok(at))
    assert "“How many corners?" in text
    assert {m.label: m.value for m in at.metric}["Question (characters)"] == str(len("How many corners?"))


def test_with_fetched_files_the_page_runs_the_model(monkeypatch, tmp_path):
    folder = vlm_tiny.save(tmp_path / "tiny")
    monkeypatch.setattr(glue, "files", lambda: folder)
    at = ok(open_page("shapes", "A circle", "vlm"))
    assert "Write the answer" in [b.label for b in at.button]
    at.button(key="vlm_view_run").click().run()
    text = text_of(ok(at))
    assert "connector" in text and ("equal up to rounding" in text or "identical" in text)
    assert {m.label for m in at.metric} >= {"Image tokens", "Text tokens"}
    at.button(key="vlm_run").click().run()
    ok(at)
    text = text_of(at)
    assert "tokens in" in text and "s per token" in text and "not proof of why" in text


def test_a_smaller_long_side_costs_fewer_tokens(no_weights):
    at = ok(open_page("shapes", "A circle", "vlm"))
    at.selectbox(key="vlm_view").select(16).run()  # the global view of 17
    at.selectbox(key="vlm_edge").select(512).run()
    ok(at)
    assert {m.label: m.value for m in at.metric}["Image tokens"] == "64"  # one 512-px view, no crops
    assert "nothing: the image fits one 512-px view" in text_of(at)


def test_home_links_the_vlm_claims_and_card_to_the_page(no_weights):
    from tests.app.pages import ROOT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = "shapes"
    at.run()
    at.selectbox(key="vitviz_sample").select("A star").run()
    ok(at)
    live = [link.proto.page for link in at.get("page_link") if link.proto.label.startswith("Live: Into a language model")]
    assert live == ["vlm", "vlm"]  # the VLM naming claim and the closed-set claim
    card = [link for link in at.get("page_link") if "the same steps live on a real small VLM" in link.proto.label]
    assert card and card[0].proto.page == "vlm"


def test_no_answer_offered_when_the_memory_does_not_allow_it(monkeypatch, tmp_path):
    folder = vlm_tiny.save(tmp_path / "tiny")
    monkeypatch.setattr(glue, "files", lambda: folder)
    monkeypatch.setenv("VITVIZ_MEMORY_LIMIT_MB", "100")  # less than this process holds already
    at = ok(open_page("shapes", "A circle", "vlm"))
    assert "Write the answer" not in [b.label for b in at.button]
    assert "Not offered on this server" in text_of(at)


def test_section_6_calls_a_random_head_noise_and_a_headless_model_no_classifier(no_weights, monkeypatch):
    """The ViT column of section 6 follows the model on screen: a random-weight classifier's ranking is called
    noise, and a model without a class head is not headed "a classifier"."""
    from tests.app.test_odd_tokens_page import TEST_SPECS
    from ui import caches, frame
    from vitviz.model import zoo
    from vitviz.model.loading import load_model

    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))
    at = ok(open_page("vit_ti16", "A circle", "vlm"))
    text = text_of(at)
    assert ", a classifier**" in text and "It must pick one of its 1,000 classes" in text
    assert "trained on nothing, so this ranking is noise" in text

    plain = TEST_SPECS[1]  # a random-weight DINOv2-shaped ViT without a class head
    monkeypatch.setattr(zoo, "ZOO", (*zoo.ZOO, plain))
    monkeypatch.setattr(frame, "ZOO", zoo.ZOO)
    monkeypatch.setitem(zoo.BY_KEY, plain.key, plain)
    if caches.MODELS.peek(plain.key) is None:
        caches.MODELS.put(load_model(plain, device="cpu", pretrained=False))
    at = ok(open_page(plain.key, "A circle", "vlm"))
    text = text_of(at)
    assert f"**{plain.title}, an image encoder without a classifier**" in text
    assert f"{plain.title}, a classifier" not in text and "This model has no classifier" in text
