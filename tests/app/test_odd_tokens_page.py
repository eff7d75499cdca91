"""The Odd tokens page through Streamlit's AppTest: the bundled model and a random-weight ViT, every control, the
blank image run once per model (not per image, not per rerun), and the verdict's words on screen."""

import pytest

from tests.app.pages import ok, open_page
from ui import caches
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import image_hash
from vitviz.model.loading import load_model
from vitviz.model.zoo import BY_KEY as SPECS, get_spec
from vitviz.stages import odd_tokens as odd
from vitviz.walkthrough import BY_KEY, neighbours


@pytest.fixture(scope="module", autouse=True)
def random_weight_model():
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " " + " ".join(c.value for c in at.caption)


def test_the_stage_sits_after_positions():
    before, _ = neighbours("odd_tokens")
    assert before is not None and before.key == "positions"
    assert BY_KEY["odd_tokens"].page == "app_pages/odd_tokens.py"


@pytest.mark.parametrize("model, sample", [("shapes", "shape_star"), ("vit_ti16", "retina")])
def test_the_page_shows_norms_verdict_readouts_and_the_blank_image(model, sample):
    at = ok(open_page(model, sample, "odd_tokens"))
    assert at.title[0].value.endswith(BY_KEY["odd_tokens"].headline)
    text = _text(at)
    assert "None here" in text or "far above the rest, here" in text  # the verdict, one of its two forms
    assert "k × the median" in text
    assert "linear read-out" in text
    assert "blank input is the same" in text  # every patch of a blank image is identical (measured)
    assert "itself, the same rule" in text  # the norm rule on the blank image's own tokens
    assert "no registers" in text
    assert "The CLS token is not a patch: the rule flags patches only, and its line shows" in text
    assert len(at.get("plotly_chart")) >= 8
    if model == "shapes":  # the bundled model's fourth input channel is measured on the blank image
        assert "colour edges, is 0 everywhere on it" in text and "0…0" not in text
    # the blank image ran once for this model: a second visit and a rerun add no forward pass
    calls = caches.MODELS.peek(model).forward_calls
    at.run()
    other = "shape_square" if model == "shapes" else "shape_star"
    seen = caches.ANALYSES.get((caches.MODELS.peek(model).identity,
                                image_hash(load_image(SAMPLES[other].data())))) is not None  # by an earlier test
    again = ok(open_page(model, other, "odd_tokens"))
    assert caches.MODELS.peek(model).forward_calls == calls + (0 if seen else 1)  # only the other image's analysis
    assert "None here" in _text(again) or "far above the rest, here" in _text(again)


def test_every_control_reruns_without_error():
    at = ok(open_page("shapes", "shape_star", "odd_tokens"))
    at.slider(key="odd_block").set_value(1).run()
    ok(at)
    assert any("After block 1 the median patch norm" in m.value for m in at.markdown)
    at.select_slider(key="odd_k").set_value(2.0).run()
    ok(at)
    assert any("2 × the median" in m.value or "above 2 ×" in m.value for m in at.markdown)
    at.radio(key="odd_blank").set_value("grey").run()
    ok(at)
    assert any("uniform grey image" in m.value for m in at.markdown)
    at.slider(key="odd_blank_block").set_value(2).run()
    ok(at)
    assert any("After block 2, each patch's feature" in m.value for m in at.markdown)


def test_the_verdict_on_screen_follows_the_rule():
    """What the page says equals the rule applied to the analysis the page shows."""
    at = ok(open_page("shapes", "shape_star", "odd_tokens"))
    a = caches.analysis_of(caches.MODELS.peek("shapes"), at.session_state["vitviz_image"].image)
    expected = odd.norm_verdict(odd.flags_by_block(odd.token_norms(a), odd.Layout.of(a)), a.grid)
    assert any(m.value == expected for m in at.markdown)


def test_a_register_model_and_its_twin():
    """Random-weight DINOv2 ViT-S/14 with and without registers in the store: the registers' table and the twin's
    maps side by side."""
    for key in ("dinov2_s14_reg4", "dinov2_s14"):
        if caches.MODELS.peek(key) is None:
            caches.MODELS.put(load_model(key, device="cpu", pretrained=False))
    at = ok(open_page("dinov2_s14_reg4", "retina", "odd_tokens"))
    text = _text(at)
    assert "This model has 4 registers" in text
    assert "The same image through the twin" in " ".join(h.value for h in at.subheader)
    assert any(m.value.startswith(f"**{get_spec('dinov2_s14').title}** (the twin, fp32): ") for m in at.markdown)


def _hot_info(at) -> list[str]:
    return [i.value for i in at.info if "isolated hot patch" in i.value]


def test_the_attention_page_points_here_where_its_map_has_isolated_hot_patches():
    """The rule decides: the bundled model's last-block map of the rocket has two single-patch spikes, a random
    ViT's near-uniform map none; moving the block follows the rule on that block's map."""
    at = ok(open_page("shapes", "rocket", "attention"))
    a = caches.analysis_of(caches.MODELS.peek("shapes"), at.session_state["vitviz_image"].image)
    from vitviz.stages import attention
    hot = odd.isolated_hot_patches(attention.cls_attention(a, a.depth - 1))
    assert hot  # by construction of this case (measured: patches 60 and 62)
    assert _hot_info(at) == [odd.hot_note(hot, a.grid)]
    for block in range(1, a.depth + 1):
        at.slider(key="attn_layer").set_value(block).run()
        expected = odd.isolated_hot_patches(attention.cls_attention(a, block - 1))
        assert _hot_info(ok(at)) == ([odd.hot_note(expected, a.grid)] if expected else [])
    quiet = ok(open_page("vit_ti16", "retina", "attention"))
    assert _hot_info(quiet) == []


# A register model and its twin on this branch: two tiny timm ViTs registered here, the shape of DINOv2 ViT-S/14 with
# and without 4 registers (patch 14 at 224 px, CLS + registers, no classifier), random weights, put in the store.
from timm.models import register_model  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

from vitviz.model.zoo import ModelSpec  # noqa: E402

_TINY = dict(img_size=224, patch_size=14, embed_dim=48, depth=2, num_heads=2, num_classes=0, init_values=1e-5)


@register_model
def vitviz_test_s14_reg4_dinov2(pretrained: bool = False, **kwargs) -> VisionTransformer:
    return VisionTransformer(**_TINY, reg_tokens=4, no_embed_class=True)


@register_model
def vitviz_test_s14_dinov2(pretrained: bool = False, **kwargs) -> VisionTransformer:
    return VisionTransformer(**_TINY)


TEST_SPECS = (ModelSpec("test_reg4", "Test ViT-S/14 + 4 registers", "vitviz_test_s14_reg4_dinov2", 14, 224, 0,
                        "A test model.", labels="none"),
              ModelSpec("test_plain14", "Test ViT-S/14", "vitviz_test_s14_dinov2", 14, 224, 0, "A test model.",
                        labels="none"))


@pytest.fixture
def twin_pair(monkeypatch):
    """The two test models in the zoo (the sidebar's picker, get_spec, the twin rule) and in the store."""
    from ui import frame
    from vitviz.model import zoo
    monkeypatch.setattr(zoo, "ZOO", (*zoo.ZOO, *TEST_SPECS))
    monkeypatch.setattr(frame, "ZOO", zoo.ZOO)
    monkeypatch.setattr(odd, "ZOO", zoo.ZOO)
    for spec in TEST_SPECS:
        monkeypatch.setitem(zoo.BY_KEY, spec.key, spec)
        if caches.MODELS.peek(spec.key) is None:
            caches.MODELS.put(load_model(spec, device="cpu", pretrained=False))
    return TEST_SPECS


def test_registers_and_the_twin_side_by_side(twin_pair):
    reg, plain = twin_pair
    at = ok(open_page(reg.key, "retina", "odd_tokens"))
    text = _text(at)
    assert "a CLS token and 4 registers" in text and "This model has 4 registers" in text
    assert "extra tokens with random values, after the CLS token" in text and "extra learned tokens" not in text
    assert "The CLS token and the registers are not patches" in text
    table = at.dataframe[0].value
    assert list(table["token"]) == ["CLS", "register 1", "register 2", "register 3", "register 4",
                                    "a typical patch (median)"]
    assert [s.value for s in at.subheader if "twin" in s.value] == [f"The same image through the twin: {plain.title}"]
    twin_analysis = caches.analysis_of(caches.MODELS.peek(plain.key), at.session_state["vitviz_image"].image)
    expected = odd.norm_verdict(odd.flags_by_block(odd.token_norms(twin_analysis), odd.Layout.of(twin_analysis)),
                                twin_analysis.grid)
    assert any(m.value == f"**{plain.title}** (the twin, fp32): {expected}" for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 10  # both CLS maps, side by side
    # and the other way round: the plain model finds its twin with registers
    back = ok(open_page(plain.key, "retina", "odd_tokens"))
    assert "no registers" in _text(back)
    assert [s.value for s in back.subheader if "twin" in s.value] == [f"The same image through the twin: {reg.title}"]


def test_a_twin_not_on_this_computer_is_said_in_one_sentence(twin_pair, monkeypatch):
    reg, plain = twin_pair
    at = ok(open_page(reg.key, "retina", "odd_tokens"))
    real_peek = caches.MODELS.peek
    monkeypatch.setattr(caches.MODELS, "peek", lambda key, precision="fp32": None if key == plain.key
                        else real_peek(key, precision))
    at.run()
    ok(at)
    assert any(i.value.startswith(f"The twin, {plain.title}") and "is not on this computer" in i.value
               for i in at.info)
