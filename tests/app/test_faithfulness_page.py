"""The Faithfulness page through AppTest: measured sentences, every control, no model re-runs for a pair seen."""

import pytest

from tests.app.pages import ok, open_page
from ui import caches
from vitviz.model.loading import load_model
from vitviz.walkthrough import neighbours

RANDOM_MODELS = ["vit_ti16", "dino_s16"]  # a classifier and none; real architectures, random weights


@pytest.fixture(scope="module", autouse=True)
def random_weight_models():
    for key in RANDOM_MODELS:
        if caches.MODELS.peek(key) is None:
            caches.MODELS.put(load_model(key, device="cpu", pretrained=False))


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def calls(model: str) -> int:
    return caches.MODELS.peek(model).forward_calls


def opened(model: str, sample: str):
    """The page with the masked runs asked for (they run on request, unless another test ran them already)."""
    at = open_page(model, sample, "faithfulness")
    return at.button(key="faith_run").click().run() if "faith_run" in [b.key for b in at.get("button")] else at


def test_the_masked_runs_wait_for_a_request_unless_someone_ran_them():
    at = ok(open_page("shapes", "shape_triangle", "faithfulness"))
    n = calls("shapes")
    assert not at.get("plotly_chart") and "64 masked images" in markdown(at)
    assert at.button(key="faith_run").label.startswith("Run the occlusion map")
    at.button(key="faith_run").click().run()
    ok(at)
    assert calls("shapes") > n and len(at.get("plotly_chart")) >= 3
    n = calls("shapes")
    other = ok(open_page("shapes", "shape_triangle", "faithfulness"))  # another visitor: the results are there
    assert len(other.get("plotly_chart")) >= 3
    assert "faith_run" not in [b.key for b in other.get("button")]
    assert calls("shapes") == n


def test_the_page_comes_right_after_attention():
    """It judges the attention maps the page before drew; Into a language model, whose attention figure carries its
    caveat, follows it."""
    before, after = neighbours("faithfulness")
    assert (before.key, after.key) == ("attention", "vlm")


def test_bundled_model_every_control_and_the_cache():
    at = ok(opened("shapes", "shape_star"))
    text = markdown(at)
    assert "With nothing hidden the probability of “star” is **0.897**" in text
    assert "**On this image, for the probability of “star” (0.897 with every patch; the rule's margin, 1% of it, is " \
           "0.00897): " in text
    assert "here 1% of 0.897 = 0.00897" in text  # the rule, with the margin it makes on this score
    assert "| occlusion |" in text and "| gradient rollout |" in text and "| random order: mean of 4 (range) |" in text
    # insertion below random order's mean yet inside its range: the range, the rule and the reason are on the page
    assert "are no better than random" in text and "within random's range" in text and "areas span" in text
    assert "The rule: on each curve" in text and "still score below random order's mean on insertion" in text
    assert "unlike anything seen in training" in text and "never saw in training" in text  # trained wording
    assert "random function" not in text and "1% of its clean score (0.00897)" in text
    assert "starts from a blank input" in text
    assert "(row 3, column 4)" in text  # patch 28 of the 8×8 grid, counted from 0 as the sidebar counts
    assert any(c.value.startswith("Patch 36: row 4, column 4 (counting from 0") for c in at.sidebar.caption)
    assert len(at.get("plotly_chart")) >= 3
    assert at.selectbox(key="faith_group").value == 1  # 8×8 grid: every patch by default
    assert any("This map hides one patch at a time: 64 masked images" in c.value for c in at.caption)
    n = calls("shapes")
    at.selectbox(key="faith_class").select(1).run()  # another class: its own map and curves
    ok(at)
    assert calls("shapes") > n
    second = caches.analysis_of(caches.MODELS.peek("shapes"), *caches.sample_image("shape_star")).top_labels[1]
    assert f"With nothing hidden the probability of “{second}”" in markdown(at)
    n = calls("shapes")
    at.selectbox(key="faith_class").select(0).run()  # back to a pair already computed: no model run
    ok(at)
    assert calls("shapes") == n
    at.radio(key="faith_variant").set_value("pixels").run()
    ok(at)
    assert "rank correlation" in markdown(at) and "neighbours" in markdown(at)  # the edge channel reads across borders
    n = calls("shapes")
    at.radio(key="faith_variant").set_value("tokens").run()
    at.selectbox(key="faith_group").select(2).run()
    ok(at)
    assert any("2×2 patches at a time: 16 masked images" in c.value for c in at.caption)
    at.selectbox(key="faith_group").select(1).run()
    assert calls("shapes") > n  # the 2×2 grouping was new; going back to 1 patch is not
    m = calls("shapes")
    at.radio(key="faith_variant").set_value("pixels").run()
    assert calls("shapes") == m


def test_a_second_session_reads_the_first_ones_results():
    ok(opened("shapes", "shape_cross"))
    n = calls("shapes")
    ok(open_page("shapes", "shape_cross", "faithfulness"))  # no request needed: the results are there
    assert calls("shapes") == n


def test_random_weights_with_a_classifier():
    at = ok(opened("vit_ti16", "cat"))
    assert at.selectbox(key="faith_group").value == 2  # 14×14 grid: 49 masked images
    text = markdown(at)
    assert "are no better than random" in text
    # random weights saw no training: the page says so instead of "inputs it never saw in training"
    assert "never saw in training" not in text and "unlike anything seen in training" not in text
    assert "the curves' differences come from a random function and say nothing about learned evidence" in text
    said = [m.value for m in at.markdown]
    verdict = next(i for i, v in enumerate(said) if v.startswith("**") and "random" in v and "|" not in v)
    assert "come from a random function" in " ".join(said[verdict + 1:verdict + 3])  # right under the verdict
    assert "1% of its clean score (" in text and "by more than 0.01 " not in text  # occlusion on the curves' margin


def test_without_a_classifier_the_page_says_what_it_measures():
    at = ok(opened("dino_s16", "cat"))
    assert any("no classifier" in i.value and "cosine similarity" in i.value for i in at.info)
    text = markdown(at)
    assert "On this image, for the cosine similarity" in text and "| gradient rollout |" not in text
