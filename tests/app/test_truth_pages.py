"""What the pages say about the model on screen, through AppTest: measured verdicts, caveats that stay visible."""

import json

import pytest
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

from ui import caches
from vitviz.model.loading import load_model
from vitviz.offline.vit import ATTENTION_NOTE
from tests.app.pages import ROOT, open_page as open_pages



@pytest.fixture(scope="module", autouse=True)
def random_vit():
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))


def open_page(model: str, sample: str, stage: str) -> AppTest:
    at = open_pages(model, sample, stage)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_bundled_models_taught_attention_is_said_in_an_info_box():
    shapes = open_page("shapes", "shape_star", "attention")
    assert any(i.value == ATTENTION_NOTE for i in shapes.info)  # info boxes stay visible in presenter mode
    vit = open_page("vit_ti16", "cat", "attention")
    assert not any(i.value == ATTENTION_NOTE for i in vit.info)
    assert any("That is not the pattern the ViT paper found" in m.value for m in vit.markdown)  # random weights


def shuffled(at):
    """The Positions page with the shuffle asked for (it runs on request, unless another test ran it already)."""
    return at.button(key="shuffle_run").click().run() if "shuffle_run" in [b.key for b in at.get("button")] else at


def test_positions_say_what_this_model_shows():
    vit = open_page("vit_ti16", "cat", "positions")
    assert any("encode **nothing beyond noise**" in m.value for m in vit.markdown)
    vit = shuffled(vit)
    assert any(m.value.startswith("equal up to rounding") or m.value == "identical (0)" for m in vit.metric)
    shapes = shuffled(open_page("shapes", "shape_star", "positions"))
    assert any("encode **mostly distance from the border**" in m.value and "barely tells left from right" in m.value
               for m in shapes.markdown)
    assert any("climbs back" in m.value and "distance from the border, not of side" in m.value
               for m in shapes.markdown)  # the offset chart's note agrees with the verdict
    assert any("The rule:" in m.value for m in shapes.markdown)
    titles = " ".join(str(c.proto.spec) for c in shapes.get("plotly_chart"))
    assert "What explains the table" in titles and "mirror images" in titles
    assert any("treats the tokens as a **set**" in m.value for m in shapes.markdown)


def test_trained_pairs_show_published_accuracy_with_sources_and_are_timed_once_for_every_model_and_image(monkeypatch):
    from vitviz.stages import trained_patch_sizes

    runs = []
    real = trained_patch_sizes.pair_costs
    monkeypatch.setattr(trained_patch_sizes, "pair_costs", lambda: runs.append(1) or real())
    at = open_page("shapes", "shape_heart", "patches")
    if "run_trained_pairs" in [b.key for b in at.button]:  # not run yet in this process (on request)
        at.button(key="run_trained_pairs").click().run()
        assert not at.exception and len(runs) == 1
    assert "run_trained_pairs" not in [b.key for b in at.button]
    # another model, another image: the same measurement of this computer, shown at once, not run again
    other = open_page("vit_ti16", "cat", "patches")
    assert "run_trained_pairs" not in [b.key for b in other.button] and len(runs) <= 1
    assert other.dataframe[0].value.equals(at.dataframe[0].value)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["ViT-B/16", "ViT-B/32", "DINO ViT-S/8", "DINO ViT-S/16"]
    assert all(table["source"].str.len() > 0)
    assert any("the tokens" in m.value and "published top-1" in m.value for m in at.markdown)


def test_sidebar_names_the_model_actually_running_after_a_fallback():
    at = open_page("vit_b16", "shape_star", "vectors")
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any("Running instead: **Offline shapes ViT (bundled)**" in v for v in sidebar)
    assert any("equal up to rounding" in m.value or "identical" in m.value for m in at.metric)


def test_relatedness_is_graded_by_what_the_pages_measure():
    """The Attention page prints the closeness measured block by block; the home table's verdict follows it."""
    from vitviz import claims
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import BY_KEY as SAMPLES
    from vitviz.model.analysis import analyze
    from vitviz.stages import closeness

    bundle = caches.MODELS.peek("shapes") or load_model("shapes", device="cpu")
    c = closeness.closeness_by_block(analyze(bundle, load_image(SAMPLES["shape_star"].data())))
    said = closeness.closeness_sentence(c)
    at = open_page("shapes", "shape_star", "attention")
    assert any(said in m.value for m in at.markdown)
    assert any("r = **" in m.value and "closeness explains **" in m.value and "× uniform (1/" in m.value
               for m in at.markdown)
    at.switch_page("home.py").run()
    verdict = {closeness.FOLLOWS: claims.RIGHT, closeness.PARTLY: claims.HALF}.get(c.grade, claims.WRONG)
    rows = [m.value for m in at.markdown if "less difference of vector number" in m.value and "·" in m.value]
    assert rows and rows[0].startswith(claims.VERDICTS[verdict])
    assert any(said in m.value for m in at.markdown)  # the measured r beside the verdict
def _said(at: AppTest) -> str:
    """Everything a learner reads on the page: text, boxes, captions and the figures' titles."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning") for e in getattr(at, kind)]
    figures = [json.dumps(json.loads(c.proto.spec), ensure_ascii=False).replace("<br>", " ")
               for c in at.get("plotly_chart")]
    return "\n".join(parts + figures)  # a title's line breaks read as spaces


def home_page(model: str, sample: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = model
    at.run()
    at = at.selectbox(key="vitviz_sample").select(sample).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_training_is_said_from_where_the_weights_came_from(tmp_path, monkeypatch):
    """Bundled: its card; random: trained on nothing, the prediction not sure of anything, the filters noise;
    a user's file: its training unknown. Never the published checkpoint's recipe as if it were these weights'."""
    shapes = _said(home_page("shapes", "shape_star"))
    assert "MODEL_CARD.md" in shapes and "real pretrained Vision Transformer" in shapes
    assert "not sure of anything" not in shapes

    home = _said(home_page("vit_ti16", "cat"))
    assert "These weights are random: trained on nothing" in home and "real pretrained" not in home
    assert "The model is not sure of anything" in home
    patches = _said(open_page("vit_ti16", "cat", "patches"))
    assert "Its training recipe added" not in patches and "the published checkpoint of this architecture" in patches
    assert "The model was trained at 16 px" not in patches
    assert "a whole square **patch** of pixels (16×16 px for the model on screen)" in patches  # its own size
    vectors = _said(open_page("vit_ti16", "cat", "vectors"))
    assert "these filters are noise, because nothing was learned" in vectors
    attention = _said(open_page("vit_ti16", "cat", "attention"))
    assert "uniform would be 1/197 = 0.0051" in attention

    # a learner's own file, written as benchmarks/classroom_load.py writes one: a random state_dict in
    # $VITVIZ_WEIGHTS_DIR; here the random model's own, so the analyses cached under its identity are this file's
    untrained = caches.MODELS.peek("vit_ti16")
    save_file(untrained.model.state_dict(), str(tmp_path / "vit_ti16.safetensors"))
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(tmp_path))
    mine = load_model("vit_ti16", device="cpu")
    assert mine.provenance.unknown
    caches.MODELS.put(mine)
    try:
        home = _said(home_page("vit_ti16", "cat"))
        assert "its training is unknown to vitviz" in home and "real pretrained" not in home
        assert "The model is not sure of anything" in home  # measured: these weights are random too
        vectors = _said(open_page("vit_ti16", "cat", "vectors"))
        assert "cannot say whether these filters were learned" in vectors and "noise" not in vectors
    finally:
        caches.MODELS.put(untrained)


def test_a_model_without_a_classifier_is_not_said_to_predict():
    if caches.MODELS.peek("dino_s16") is None:
        caches.MODELS.put(load_model("dino_s16", device="cpu", pretrained=False))
    home = _said(home_page("dino_s16", "cat"))
    assert "→ CLS token → features (DINO ViT-S/16 has no classifier: no prediction)" in home
    assert "→ prediction" not in home and "the CLS token becomes the model's output" in home
    assert "the architecture has no head; its published checkpoint was trained without labels" in home
    shapes = _said(open_page("shapes", "shape_star", "patches"))
    assert "(14×14 px for the model on screen)" in shapes
    assert "**One trained model run at other patch sizes**" in shapes  # trained wording for the bundled model
    assert "A model is built, and trained, at one patch size" in shapes


def test_learned_is_said_only_of_trained_weights():
    """Random weights: parameters are not called learned, a patch size not trained at, the published checkpoint
    named as such; the bundled model keeps the trained wording."""
    home = _said(home_page("vit_ti16", "cat"))
    assert "(`vit_tiny_patch16_224` (published checkpoint: `vit_tiny_patch16_224.augreg_in21k_ft_in1k`))" in home
    for trained_only in ("It is a learned vector", "a summary learned in training", "a learned query",
                         "was trained at it too", "learned query is compared", "position embeddings are learned",
                         "a learned position vector"):
        assert trained_only not in home, trained_only
    assert "learned in a trained model; here random initialisation, seed 0" in home
    assert "random query/key projections (random initialisation, seed 0)" in home
    assert "a position vector (learned in a trained model; here random initialisation, seed 0) is added" in home
    assert "r² is the share of the scores' variation that closeness explains" in home  # r and r² explained
    vectors = _said(open_page("vit_ti16", "cat", "vectors"))
    assert ("**parameter vector of 192 numbers** (learned in a trained model; here random initialisation, seed 0)"
            in vectors and "learned vector" not in vectors and "learned matrix" not in vectors)
    assert "timm draws the CLS token with a tiny spread" in vectors
    assert "in effect that position vector" in vectors and "starts as almost nothing" not in vectors
    assert "the ViT paper (Dosovitskiy et al., 2021, Figure 7 left)" in vectors
    patches_page = open_page("vit_ti16", "cat", "patches")
    patches = _said(patches_page)
    assert "trained at no patch size" in patches and "never saw in training" not in patches
    assert "One model at other patch sizes" in [s.value for s in patches_page.subheader]
    assert "**One model run at other patch sizes** is another experiment" in patches
    assert "A model is built at one patch size (a trained one is trained at it)" in patches
    assert "One trained model run" not in patches and "built, and trained," not in patches
    assert "until `MaybeToTensor`, the step before `Normalize`," in patches
    block_page = open_page("vit_ti16", "cat", "block")
    assert "4 · Relatedness is computed" in [h.value for h in block_page.header]
    block = _said(block_page)
    assert "Close vectors or computed relation?" in block and "learned query" not in block
    assert "never trained to be read that way" not in block  # the logit lens: no trained readout to call rough
    assert "so no reading, early or late, is something the model learned" in block
    assert "the same random vector for every image" in block
    attention = _said(open_page("vit_ti16", "cat", "attention"))
    assert "computed (query·key) by the block's random projections" in attention and "learned query" not in attention
    positions = _said(shuffled(open_page("vit_ti16", "cat", "positions")))
    assert "the same dimensions, random (random initialisation, seed 0)" in positions
    assert "these vectors are learned parameters" not in positions and "the model you picked learned" not in positions
    assert "what the position table on screen encodes (rows, columns" in positions
    assert "these vectors are parameters (learned in a trained model; here random initialisation, seed 0)" in positions
    assert "barely change the output" in positions and "without them: equal up to rounding" in positions

    shapes = open_page("shapes", "shape_star", "block")
    assert "4 · Relatedness is learned" in [h.value for h in shapes.header]
    assert "never trained to be read that way, so early readings are a rough guide" in _said(shapes)
    positions = _said(open_page("shapes", "shape_star", "positions"))
    assert "these vectors are learned parameters" in positions and "the model you picked learned (rows" in positions
    assert "Close vectors or learned relation?" in _said(shapes)
    said = _said(open_page("shapes", "shape_star", "vectors"))
    assert "**learned vector of" in said and "timm draws the CLS token" not in said
