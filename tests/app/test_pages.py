"""Every page through Streamlit's AppTest: samples, uploads, bad input, every control, no model re-runs."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import png_bytes
from ui import caches, presenter
from vitviz.model.loading import load_model

ROOT = Path(__file__).resolve().parents[2]
from vitviz.walkthrough import BY_KEY, STAGES

PAGES = [s.page for s in STAGES]
RANDOM_MODELS = ["vit_ti16", "dino_s16", "vit_b32"]  # real architectures, random weights (no download in tests)
ASKED_FOR = ["grad_run", "faith_run", "shuffle_run"]  # the buttons of experiments that start on request


@pytest.fixture(scope="module", autouse=True)
def random_weight_models():
    for key in RANDOM_MODELS:
        if caches.MODELS.peek(key) is None:
            caches.MODELS.put(load_model(key, device="cpu", pretrained=False))


def start(model: str = "shapes") -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = model
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def choose_sample(at: AppTest, key: str) -> AppTest:
    return at.selectbox(key="vitviz_sample").select(key).run()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return at.file_uploader(key="vitviz_upload").set_value((name, data, "image/png")).run()


def plotly_count(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def calls(model: str) -> int:
    return caches.MODELS.peek(model).forward_calls


def test_home_with_a_sample():
    at = ok(choose_sample(start(), "shape_star"))
    assert at.session_state["vitviz_image"].name == "A star"
    assert plotly_count(at) >= 1  # the top-5 chart
    assert any("weights:" in c.value for c in at.caption)
    assert any("Source:" in c.value for c in at.caption)  # the sample's credit and licence


def test_home_with_an_upload_then_a_bad_file_keeps_the_image():
    rng = np.random.default_rng(0)
    good = png_bytes(Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)))
    at = ok(upload(start(), "mine.png", good))
    first = at.session_state["vitviz_image"]
    assert first.name == "mine.png"
    at = upload(at, "broken.png", b"this is not a picture")
    assert not at.exception
    assert any("broken.png" in e.value and "not an image" in e.value for e in at.error)
    assert at.session_state["vitviz_image"].digest == first.digest  # nothing the user had is lost
    assert plotly_count(at) >= 1  # the previous prediction is still shown


def test_stage_page_before_any_image_offers_samples():
    at = start()
    at.switch_page(BY_KEY["attention"].page).run()
    assert not at.exception
    assert any("No image chosen yet" in i.value for i in at.info)
    choose_sample(at, "shape_heart")
    ok(at)
    assert plotly_count(at) > 3


def test_hub_model_without_network_falls_back_with_a_notice():
    at = ok(choose_sample(start("vit_s16"), "cat"))
    assert any("runs instead of ViT-S/16" in w.value for w in at.warning)  # one line: what runs, instead of what
    assert caches.MODELS.peek("vit_s16").spec.key == "shapes"
    assert any("offline mode is on" in w.value for w in at.warning)  # HF_HUB_OFFLINE: the hub is not asked


def test_fallback_and_the_bundled_model_share_one_model():
    """Asking for a hub model offline, then for the bundled one, loads one model and one analysis."""
    at = ok(choose_sample(start("vit_b16"), "shape_star"))
    fallback = caches.MODELS.peek("vit_b16")
    assert fallback.fell_back and fallback.spec.key == "shapes"
    n_models, n_analyses = len(caches.MODELS), len(caches.ANALYSES)
    at.selectbox(key="vitviz_model").select("shapes").run()
    ok(at)
    assert caches.MODELS.peek("shapes").model is fallback.model
    assert (len(caches.MODELS), len(caches.ANALYSES)) == (n_models, n_analyses)
    assert not any("runs instead of" in w.value for w in at.warning)


@pytest.mark.parametrize("model", ["shapes"] + RANDOM_MODELS)
def test_every_page_works_for_the_model(model):
    at = ok(choose_sample(start(model), "shape_ring" if model == "shapes" else "cat"))
    for page in PAGES:
        at.switch_page(page).run()
        ok(at)
        for run in ASKED_FOR:  # experiments beyond the analysis start on request (unless run before)
            if run in [b.key for b in at.get("button")]:
                at.button(key=run).click().run()
                ok(at)
        assert plotly_count(at) >= 2, page
        assert any(link.label.endswith("→") for link in at.get("page_link")), page  # the tour goes on


def test_controls_redraw_without_running_the_model_again():
    at = ok(choose_sample(start(), "shape_cross"))
    n = calls("shapes")
    at.switch_page(BY_KEY["attention"].page).run()
    at.slider(key="attn_layer").set_value(2).run()
    at.selectbox(key="attn_head").select("head 1").run()
    at.slider(key="attn_opacity").set_value(0.3).run()
    at.radio(key="rollout_fusion").set_value("max").run()
    at.slider(key="rollout_discard").set_value(0.5).run()
    at.slider(key="dino_fraction").set_value(0.8).run()
    at.number_input(key="vitviz_patch").set_value(40).run()
    ok(at)
    assert at.session_state["vitviz_patch"] == 40
    assert any("Where patch 40 looks" in str(c.proto.spec) for c in at.get("plotly_chart"))
    at.switch_page(BY_KEY["vectors"].page).run()
    assert at.number_input(key="vitviz_patch").value == 40  # the selected patch travels between pages
    assert any("Patch 40 as a" in str(c.proto.spec) for c in at.get("plotly_chart"))
    at.slider(key="vectors_layer").set_value(1).run()
    at.switch_page(BY_KEY["patches"].page).run()
    at.switch_page(BY_KEY["positions"].page).run()
    at.multiselect(key="pos_dims").set_value([0, 5]).run()
    at.switch_page(BY_KEY["bits"].page).run()
    at.selectbox(key="bits_source").select("Type your own").run()
    at.number_input(key="bits_custom").set_value(1000.0).run()
    at.select_slider(key="act_batch").set_value(32).run()
    at.selectbox(key="fit_gpu").select("Laptop GPU, 8 GB").run()
    at.selectbox(key="fit_dtype").select("bf16").run()
    at.text_input(key="bits_text").input("héllo").run()
    ok(at)
    # the other pages' on-demand experiments ran once each when first drawn; nothing re-ran the analysis
    n_after = calls("shapes")
    at.switch_page(BY_KEY["attention"].page).run()
    at.slider(key="attn_layer").set_value(3).run()
    at.switch_page(BY_KEY["positions"].page).run()
    ok(at)
    assert calls("shapes") == n_after
    assert n_after - n <= 8  # 1 grad-rollout + 1 resolution + 1 shuffle + CLS reference ... (timing: on request)


def test_experiment_controls():
    at = ok(choose_sample(start(), "shape_arrow"))
    at.switch_page(BY_KEY["patches"].page).run()
    at.multiselect(key="patch_sizes").set_value([7, 14, 28]).run()
    at.button(key="run_patch_sizes").click().run()
    ok(at)
    table = at.dataframe[-1].value
    assert list(table["patch (px)"]) == [7, 14, 28] and list(table["tokens"]) == [257, 65, 17]
    at.switch_page(BY_KEY["positions"].page).run()
    at.select_slider(key="pos_resolution").set_value(168).run()
    at.number_input(key="shuffle_seed").set_value(3).run()
    ok(at)
    assert any(m.label == "Tokens" and m.value == "145" for m in at.metric)
    at.button(key="shuffle_run").click().run()
    assert any(m.label.startswith("Without position embeddings") for m in ok(at).metric)
    at.number_input(key="shuffle_seed").set_value(4).run()  # asked once: another seed runs at once
    assert "shuffle_run" not in [b.key for b in ok(at).get("button")]
    at.switch_page(BY_KEY["attention"].page).run()
    charts = len(at.get("plotly_chart"))
    at.button(key="grad_run").click().run()
    assert len(ok(at).get("plotly_chart")) == charts + 1  # the class map
    at.selectbox(key="grad_class").select(1).run()
    ok(at)
    assert "grad_run" not in [b.key for b in at.get("button")] and len(at.get("plotly_chart")) == charts + 1
    at.switch_page(BY_KEY["bits"].page).run()
    at.button(key="act_measure").click().run()
    ok(at)
    assert any("measured" in m.value for m in at.markdown)


def test_passes_beyond_the_analysis_wait_for_a_request_unless_someone_ran_them():
    """The class map (a backward pass) and the shuffle (four more passes) run when asked, or show at once when
    another visitor already ran them for the same image; the page's own figures never wait."""
    at = ok(choose_sample(start(), "shape_hexagon"))
    at.switch_page(BY_KEY["attention"].page).run()
    n = calls("shapes")
    assert "grad_run" in [b.key for b in ok(at).get("button")] and calls("shapes") == n
    at.switch_page(BY_KEY["positions"].page).run()
    assert "shuffle_run" in [b.key for b in ok(at).get("button")] and calls("shapes") == n
    assert any(m.label == "Tokens" for m in at.metric)  # the model's own size: read from the analysis
    at.button(key="shuffle_run").click().run()
    at.switch_page(BY_KEY["attention"].page).run()
    at.button(key="grad_run").click().run()
    assert calls("shapes") > n
    n = calls("shapes")
    other = ok(choose_sample(start(), "shape_hexagon"))  # another visitor with the same image: the results are there
    for page, run in (("attention", "grad_run"), ("positions", "shuffle_run")):
        other.switch_page(BY_KEY[page].page).run()
        assert run not in [b.key for b in ok(other).get("button")], page
    assert calls("shapes") == n


def test_claims_link_to_their_demonstrations():
    """Every claim shows its demonstration: a "See it" link to the page that shows it, or its card on home."""
    from vitviz.claims import CLAIMS

    at = ok(choose_sample(start(), "shape_star"))
    links = [(link.proto.label, link.proto.page) for link in at.get("page_link") if link.proto.label.startswith("See it")]
    on_pages = [c for c in CLAIMS if not c.on_home]
    assert len(links) == len(on_pages) >= 8
    for claim, (label, page) in zip(on_pages, links):
        assert claim.where in label
        assert page == claim.stage  # the page's URL path is its stage key
        assert claim.stage in BY_KEY
    cards = {e.label: e for e in at.expander}
    for claim in (c for c in CLAIMS if c.on_home):
        card = next(e for label, e in cards.items() if claim.where in label)
        assert [m for m in card.markdown if m.value.strip()], claim.where  # the card shows something measured
    quotes = [m.value for m in at.markdown if "“" in m.value and "·" in m.value]
    for claim in CLAIMS:
        assert any(claim.quote in q for q in quotes)  # the table's quote, as written, is what the page shows


def test_downloads_offered_after_an_analysis():
    at = ok(choose_sample(start(), "shape_square"))
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("NPZ" in label for label in labels) and any("handout" in label for label in labels)


def test_presenter_mode_carries_across_pages():
    at = ok(choose_sample(start("vit_s16"), "shape_star"))  # not on this computer (tests run offline): a fallback
    at.toggle(key="vitviz_presenter").set_value(True).run()
    ok(at)
    assert at.session_state["vitviz_presenter"] is True
    at.switch_page(BY_KEY["attention"].page).run()
    ok(at)
    assert at.toggle(key="vitviz_presenter").value is True
    styles = [h.proto.body for h in at.get("html")]
    assert any(f"font-size: {presenter.ROOT_PX}px" in body for body in styles)
    assert not any("display: none" in body for body in styles)  # presenter mode enlarges, it hides nothing
    # the sidebar is folded on a projector: which model and weights run is said above the page
    shown = caches.MODELS.peek("shapes")
    assert any("weights:" in c.value and shown.source in c.value and shown.spec.title in c.value for c in at.main.caption)
    assert any("runs instead of" in w.value for w in at.main.warning)  # the fallback notice stays too


def test_dead_hub_in_the_app_falls_back_within_10_s(monkeypatch):
    import time as _time

    from huggingface_hub import constants

    from tests.fakehub import count_probes, free_port
    from vitviz.model import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_failure", None)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    caches.MODELS.retry_now()
    started = _time.monotonic()
    at = choose_sample(start("deit_s16"), "cat")
    assert _time.monotonic() - started <= 10
    ok(at)
    assert any("could not be reached" in w.value and "asked again" in w.value for w in at.warning)
    probes = count_probes(monkeypatch)
    at.switch_page(BY_KEY["patches"].page).run()  # within the window: the failure is remembered, no new probe
    ok(at)
    assert probes == []
    at.button(key="vitviz_retry_hub").click().run()  # "try again": the hub is asked at once
    ok(at)
    assert len(probes) == 1
    assert any("could not be reached" in w.value for w in at.warning)  # still dead: still the bundled model
    caches.MODELS.retry_now()


@pytest.mark.parametrize("model", ["shapes", "vit_ti16", "dino_s16"])
def test_home_cards_show_what_is_measured_on_the_model_on_screen(model):
    """The claims' cards on home print the core's measurement on this model and image, numbers and all."""
    from vitviz.claims import CARD_CLASSES, CARD_CONV, CARD_VLM
    from vitviz.stages import article

    at = ok(choose_sample(start(model), "shape_star" if model == "shapes" else "retina"))
    chosen = at.session_state["vitviz_image"]
    bundle = caches.MODELS.peek(model)
    a = caches.analysis_of(bundle, chosen.image, chosen.digest)
    cards = {e.label: [m.value for m in e.markdown] for e in at.expander}
    text = {title: "\n".join(next(v for label, v in cards.items() if title in label))
            for title in (CARD_VLM, CARD_CONV, CARD_CLASSES)}

    t = article.token_arithmetic(bundle, a)
    assert f"**{a.num_patches} patch tokens** of **{a.embed_dim} numbers**" in text[CARD_VLM]
    assert "576 image tokens" in text[CARD_VLM] and "Improved Baselines with Visual Instruction Tuning" in text[CARD_VLM]
    assert article.vlm_sentence(t) in text[CARD_VLM]

    check = article.conv_check(bundle, a)
    assert check.max_abs_diff <= 1e-4 and check.windows == a.num_patches
    for sentence in article.conv_sentences(check):
        assert sentence in text[CARD_CONV]
    assert "equal up to rounding" in text[CARD_CONV] or "identical (0)" in text[CARD_CONV]

    closed = article.closed_set(bundle, a)
    if bundle.labels:
        assert f"**{len(bundle.labels):,} classes**" in text[CARD_CLASSES]
        assert f"{closed.entropy_bits:.2f} bits" in text[CARD_CLASSES]
        assert any("All" in str(c.proto.spec) and "answers it can give" in str(c.proto.spec)
                   for c in at.get("plotly_chart"))
    else:
        assert closed is None and "has no classifier" in text[CARD_CLASSES]


def test_home_says_where_its_numbers_come_from_and_explains_its_words():
    at = ok(choose_sample(start("vit_s16"), "cat"))  # offline: the bundled model is shown instead
    intro = " ".join(m.value for m in at.markdown)
    assert "model actually shown" in intro and "bundled offline shapes model" in intro
    assert "random input of the model's size" in intro  # the timing and activation measurements
    assert any("runs instead of ViT-S/16" in w.value for w in at.warning)
    for term in ("Vision Transformer** (ViT:", "**patches** (", "**vector** (", "**CLS token** (",
                 "**position embeddings** (", "**self-attention** (", "**block** after block (a block:"):
        assert term in intro, term
    assert "CLS for *classification*" in intro  # what the three letters stand for
    helps = [c.proto.help for c in at.caption if c.proto.help]
    assert any("Head:" in h for h in helps) and any("fp32:" in h for h in helps) and any("Device:" in h for h in helps)
