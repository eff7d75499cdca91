"""The sidebar's "Your own model" through AppTest: a timm name and a file in $VITVIZ_WEIGHTS_DIR are each sized before
anything loads, picked with one click, and every page then runs on them; what cannot be shown gets its sentence."""

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

from tests.app.pages import ok
from ui import caches
from vitviz.model import own
from vitviz.model.loading import load_model
from vitviz.walkthrough import STAGES

ROOT = Path(__file__).resolve().parents[2]
NAME = "deit_tiny_distilled_patch16_224.fb_in1k"  # two prefix tokens: CLS and the distillation token
ASKED_FOR = ["grad_run", "faith_run", "shuffle_run"]


def start() -> AppTest:
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300).run()


def own_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "M parameters" in c.value]


def every_page(at: AppTest) -> None:
    for stage in STAGES:
        at.switch_page(stage.page).run()
        ok(at)
        for run in ASKED_FOR:
            if run in [b.key for b in at.get("button")]:
                at.button(key=run).click().run()
                ok(at)
        assert len(at.get("plotly_chart")) >= 2, stage.key


def test_a_model_by_its_timm_name():
    """Random weights stand in for the download (the store holds them under the name's key, as it would hold the
    downloaded ones): the name is sized first, then picked, and every page runs on two prefix tokens."""
    spec = own.spec_for_name(NAME)
    if caches.MODELS.peek(spec.key) is None:
        caches.MODELS.put(load_model(spec, device="cpu", pretrained=False))
    at = start()
    at.text_input(key="vitviz_own_name").input(NAME).run()
    ok(at)
    said = own_captions(at)
    assert said and f"{spec.params / 1e6:.1f} M parameters: {spec.params * 4 / 1e6:,.0f} MB downloaded" in said[0]
    at.button(key=f"vitviz_own_use_{spec.key}").click().run()
    ok(at)
    assert at.session_state["vitviz_model"] == spec.key
    assert spec.key in at.selectbox(key="vitviz_model").options or any(
        spec.title in o for o in at.selectbox(key="vitviz_model").options)
    at.selectbox(key="vitviz_sample").select("cat").run()
    ok(at)
    assert at.session_state["_vitviz_context"].analysis.prefix_names == ("CLS", "distillation")
    every_page(at)


def test_a_name_the_pages_cannot_show_gets_its_sentence():
    at = start()
    at.text_input(key="vitviz_own_name").input("convnext_atto.d2_in1k").run()
    assert not at.exception
    assert any("has no attention at all" in e.value for e in at.error)
    assert not any(b.key and b.key.startswith("vitviz_own_use_") for b in at.get("button"))  # nothing to pick
    at.text_input(key="vitviz_own_name").input("vit_smal_patch16_224").run()
    assert any("timm has no model called" in e.value for e in at.error)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    torch.manual_seed(6)
    model = timm.create_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=2, embed_dim=96,
                              num_heads=2, img_size=70)
    save_file(model.state_dict(), str(tmp_path / "my_dinov2.safetensors"))
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(tmp_path))
    return tmp_path / "my_dinov2.safetensors"


def test_a_model_from_a_file_in_the_weights_dir(weights_dir):
    at = start()
    at.radio(key="vitviz_own_how").set_value("file").run()
    at.selectbox(key="vitviz_own_dir_file").select(str(weights_dir)).run()
    at.text_input(key="vitviz_own_arch").input("vit_small_patch14_reg4_dinov2").run()
    ok(at)
    said = own_captions(at)
    assert said and "MB read from your file; 70×70 px in 14-px patches, 30 tokens" in said[0]
    key = next(b.key for b in at.get("button") if b.key and b.key.startswith("vitviz_own_use_"))
    at.button(key=key).click().run()
    at.selectbox(key="vitviz_sample").select("cat").run()
    ok(at)
    ctx = at.session_state["_vitviz_context"]
    assert ctx.bundle.weights_path == weights_dir and ctx.bundle.provenance.unknown
    assert ctx.analysis.prefix_names == ("CLS", "register 1", "register 2", "register 3", "register 4")
    assert any("weights: your file my_dinov2.safetensors" in c.value for c in at.caption)
    every_page(at)


def test_the_patch_size_experiment_on_a_model_trained_for_many_sizes():
    """FlexiViT's published weights were trained at many patch sizes: the Patches page says so instead of "a size it
    was not trained for", and its table marks each size. (Random weights stand in for the checkpoint here, labelled
    as the published one would be: the page's words follow the provenance.)"""
    import dataclasses

    from vitviz.model import provenance

    if caches.MODELS.peek("flexivit_s") is None:
        random = load_model("flexivit_s", device="cpu", pretrained=False)
        caches.MODELS.put(dataclasses.replace(random, provenance=provenance.published("local Hugging Face cache")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = "flexivit_s"
    at.run()
    at.selectbox(key="vitviz_sample").select("cat").run()
    at.switch_page("app_pages/patches.py").run()
    ok(at)
    text = " ".join(m.value for m in at.markdown)
    assert "was trained for many patch sizes" in text and "a patch size it was trained for" in text
    at.multiselect(key="patch_sizes").set_value([15, 16]).run()
    at.button(key="run_patch_sizes").click().run()
    ok(at)
    table = at.dataframe[-1].value
    assert list(table["trained at this size"]) == ["yes", "yes"] and list(table["patch (px)"]) == [15, 16]


def test_inside_a_block_follows_a_register_then_a_model_without_one(weights_dir):
    """Register tokens are tokens of their own: the block page can follow one; a model without it falls back to the
    patch instead of a token it does not have."""
    spec = own.spec_for_file(weights_dir, "vit_small_patch14_reg4_dinov2")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = spec.key
    at.run()
    at.selectbox(key="vitviz_sample").select("cat").run()
    at.switch_page("app_pages/block.py").run()
    ok(at)
    radio = at.radio(key="block_query")
    assert list(radio.options) == ["patch 12", "the CLS token", "register 1", "register 2", "register 3", "register 4"]
    radio.set_value("prefix 3").run()
    ok(at)
    assert any("register 3" in m.value for m in at.markdown)
    at.selectbox(key="vitviz_model").select("shapes").run()
    ok(at)
    assert at.radio(key="block_query").value == "patch"


def test_a_zoo_model_named_by_its_timm_name_is_the_zoo_model():
    at = start()
    at.text_input(key="vitviz_own_name").input("deit3_small_patch16_224.fb_in22k_ft_in1k").run()
    at.button(key="vitviz_own_use_deit3_s16").click().run()
    assert not at.exception
    options = at.selectbox(key="vitviz_model").options
    assert at.session_state["vitviz_model"] == "deit3_s16" and len(options) == len(set(options))
    assert any("runs instead of DeiT-III S/16" in w.value for w in at.warning)  # offline: the zoo's own fallback
