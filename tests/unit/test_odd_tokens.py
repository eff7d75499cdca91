"""The Odd tokens stage: norms, the "far above the rest" rule and its verdict, CLS attention shares, linear
read-outs, the blank image's pattern, the twin, and the Attention page's isolated hot patches.

Numbers are checked against independent references (torch.linalg.norm of tokens captured by hooks of our own,
timm's ``forward_intermediates`` on a plain copy of the model) on the bundled model and on random-weight timm ViTs
with and without registers; each rule is checked on constructed inputs whose answer is known by construction.
"""

import copy
import dataclasses
import io

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_model_data_config

from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model import capture, provenance
from vitviz.model.analysis import analyze
from vitviz.model.loading import Bundle
from vitviz.model.zoo import ZOO, ModelSpec
from vitviz.stages import odd_tokens as odd


def _small_dinov2(name: str) -> Bundle:
    """A random-weight timm DINOv2 ViT-S/14 (with or without registers), 56 px and 3 blocks to stay fast."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = timm.create_model(name, pretrained=False, img_size=56, depth=3).eval()
    capture.prepare(model)
    cfg = {**resolve_model_data_config(model), "input_size": (3, 56, 56)}
    spec = ModelSpec(f"test_{name}", name, name, 14, 56, sum(p.numel() for p in model.parameters()), "test",
                     labels="none")
    return Bundle(spec, model, cfg, create_transform(**cfg, is_training=False), (), torch.device("cpu"),
                  provenance.random_init())


@pytest.fixture(scope="module")
def reg4():
    return _small_dinov2("vit_small_patch14_reg4_dinov2")


@pytest.fixture(scope="module")
def plain14():
    return _small_dinov2("vit_small_patch14_dinov2")


@pytest.fixture(scope="module", params=["shapes", "vit_ti16", "reg4", "plain14"])
def case(request, shapes_bundle, tiny_bundle, reg4, plain14):
    bundle = {"shapes": shapes_bundle, "vit_ti16": tiny_bundle, "reg4": reg4, "plain14": plain14}[request.param]
    image = Image.open(io.BytesIO(SAMPLES["shape_star" if request.param == "shapes" else "retina"].data()))
    return bundle, image, analyze(bundle, image)


# ------------------------------------------------------------------------------------------------------ the numbers


def _captured_tokens(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Every block's output, captured by hooks of this test's own on the model (not vitviz's recorder)."""
    out = []
    handles = [blk.register_forward_hook(lambda _m, _i, o: out.append(o[0].detach().clone())) for blk in model.blocks]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return out


def test_norms_equal_torch_norms_of_the_captured_tokens(case):
    bundle, image, a = case
    tokens = _captured_tokens(bundle.model, bundle.transform(image.convert("RGB"))[None])
    expected = torch.stack([torch.linalg.norm(t, dim=-1) for t in tokens]).numpy()  # [L, T]
    norms = odd.token_norms(a)
    assert norms.shape == (a.depth, a.num_tokens)
    np.testing.assert_allclose(norms, expected, rtol=1e-5, atol=1e-5)


def test_the_layout_is_the_models_own(case):
    bundle, _, a = case
    layout = odd.Layout.of(a)
    assert layout.has_cls == (bundle.model.cls_token is not None)
    assert layout.registers == int(getattr(bundle.model, "num_reg_tokens", 0))
    assert layout.prefix == bundle.model.num_prefix_tokens and layout.patches == a.num_patches
    ratios = odd.prefix_ratios(odd.token_norms(a), layout)
    assert list(ratios) == ["CLS"] + [f"register {r + 1}" for r in range(layout.registers)]


def test_the_cls_attention_shares_add_up_and_match_the_recorded_row(case):
    _, _, a = case
    flagged = (0, a.num_patches - 1)
    s = odd.cls_attention_shares(a, flagged)
    total = s.cls_self + s.registers + s.flagged + s.other
    np.testing.assert_allclose(total, 1.0, atol=3e-3)  # float16 probabilities
    row = a.attentions[:, :, 0].astype(np.float32).mean(1)  # [L, T]
    np.testing.assert_allclose(s.flagged, row[:, a.num_prefix] + row[:, -1], atol=1e-5)
    layout = odd.Layout.of(a)
    np.testing.assert_allclose(s.registers, row[:, 1:layout.prefix].sum(1) if layout.registers else 0, atol=1e-5)


@pytest.mark.parametrize("kind", list(odd.BLANKS))
def test_the_blank_pattern_equals_a_plain_forward_of_the_blank_image(case, kind):
    bundle, _, a = case
    before = bundle.forward_calls
    blank = odd.blank_features(bundle, kind)
    assert bundle.forward_calls == before + 1  # one counted pass
    mean = torch.tensor(bundle.data_config["mean"])[:, None, None]
    std = torch.tensor(bundle.data_config["std"])[:, None, None]
    _, h, w = bundle.data_config["input_size"]
    x = ((torch.full((3, h, w), odd.BLANKS[kind][1] / 255.0) - mean) / std)[None]  # the blank input, built by hand
    plain = copy.deepcopy(bundle.model)
    for blk in plain.blocks:
        blk.attn.fused_attn = True  # timm's own fast path: no vitviz change in the way
    with torch.inference_mode():
        steps = plain.forward_intermediates(x, return_prefix_tokens=True, norm=False, output_fmt="NLC",
                                            intermediates_only=True)
    expected = np.stack([torch.cat([prefix, patches], 1)[0].numpy() for patches, prefix in steps])  # [L, T, D]
    assert blank.block_outputs.shape == expected.shape == (a.depth, a.num_tokens, a.embed_dim)
    assert np.abs(blank.block_outputs - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))
    assert odd.identical_patch_inputs(blank, a.patch_size) == 0.0  # every patch of a blank image is the same
    flags = odd.blank_flags(blank, odd.Layout.of(a))
    norms = np.linalg.norm(expected, axis=-1)[:, a.num_prefix:]
    assert [f.median for f in flags] == pytest.approx(list(np.median(norms, axis=1)), rel=1e-4)


def test_the_bundled_models_colour_edges_are_zero_on_a_blank_image(shapes_bundle):
    for kind in odd.BLANKS:
        blank = odd.blank_features(shapes_bundle, kind)
        assert blank.input_channels == ("R", "G", "B", "colour edges")
        assert odd.extra_channel_range(blank) == {"colour edges": (0.0, 0.0)}
        patches = blank.block_outputs[0, 1:]
        assert not np.allclose(patches, patches[0])  # yet the patch tokens differ: by their positions alone


def test_the_blank_image_is_the_models_input_size(reg4, shapes_bundle):
    for bundle in (reg4, shapes_bundle):
        _, h, w = bundle.data_config["input_size"]
        image = odd.blank_image(bundle, "grey")
        assert image.size == (w, h) and set(np.asarray(image).ravel()) == {128}


# ------------------------------------------------------------------------------------------- the rule and its words


def _norms_with(planted: dict[int, float], n: int = 64, seed: int = 0) -> np.ndarray:
    norms = 10 + np.random.default_rng(seed).uniform(-1, 1, n)
    for i, v in planted.items():
        norms[i] = v
    return norms


def test_planted_high_norm_tokens_are_flagged_and_nothing_else():
    f = odd.flag(_norms_with({5: 80.0, 40: 45.0, 63: 120.0}), k=3)
    assert f.flagged == (63, 5, 40)  # largest first
    assert f.ratios[0] == pytest.approx(120 / f.median)
    assert odd.flag(_norms_with({}), k=3).flagged == ()
    # strictly above k × median: a token exactly at the bar is not flagged
    norms = np.array([1.0, 1.0, 1.0, 3.0, 1.0])
    assert odd.flag(norms, k=3).flagged == () and odd.flag(norms, k=2.9).flagged == (3,)


def test_the_verdict_says_none_here_without_flags_and_names_the_blocks_with_them():
    layout = odd.Layout(True, 0, 64)
    quiet = np.stack([np.r_[50.0, _norms_with({}, seed=s)] for s in range(4)])  # [L, 1 + N]: a big CLS, no outlier
    text = odd.norm_verdict(odd.flags_by_block(quiet, layout), (8, 8))
    assert text.startswith("**None here.**") and "any of the 4 blocks" in text
    loud = quiet.copy()
    loud[2, 1 + 17] = 100.0
    loud[3, 1 + 17] = 90.0
    loud[3, 1 + 30] = 95.0
    text = odd.norm_verdict(odd.flags_by_block(loud, layout), (8, 8))
    assert text.startswith("**Tokens far above the rest, here.**")
    assert "after 2 of the 4 blocks (blocks 3, 4)" in text and "the most after block 4: 2 of the 64 patches" in text
    assert "patch 30 (row 3, column 6)" in text
    # the CLS token's large norm is not a patch: it never makes the verdict
    assert odd.flags_by_block(quiet, layout)[0].flagged == ()


def test_block_sentence_follows_the_rule():
    f = odd.flag(_norms_with({9: 60.0}), k=2.5)
    assert "1 patch token is above it (patch 9 (row 1, column 1)" in odd.block_sentence(f, 0, (8, 8))
    assert "no patch token is above it" in odd.block_sentence(odd.flag(_norms_with({})), 0, (8, 8))


def test_attention_sentence_compares_with_an_even_spread():
    s = odd.AttentionShares(np.array([0.1, 0.1]), np.array([0.0, 0.0]), np.array([0.05, 0.45]),
                            np.array([0.85, 0.45]), flagged_count=2, patches=100)
    text = odd.attention_sentence(s, 0)
    assert "45.0% of the CLS token's attention in block 2, the block that reads them" in text
    assert f"{0.45 / (0.9 * 2 / 100):.1f} × what they would get" in text
    assert "no attention share" in odd.attention_sentence(dataclasses.replace(s, flagged_count=0), 0)


def _probe_case(flagged_random: bool) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Tokens that encode their position linearly (plus noise); the flagged ones random vectors, or like the rest."""
    rng = np.random.default_rng(1)
    pos = odd.positions_of((10, 10))
    mix = rng.normal(size=(2, 32))
    tokens = pos @ mix + 0.05 * rng.normal(size=(100, 32))
    flagged = (11, 47, 83)
    if flagged_random:
        tokens[list(flagged)] = rng.normal(scale=10, size=(3, 32))
    return tokens, pos, flagged


def test_a_read_out_finds_position_in_normal_tokens_and_not_in_planted_ones():
    tokens, pos, flagged = _probe_case(flagged_random=True)
    r = odd.read_out(tokens, pos, flagged, "position")
    assert r.normal.size == 97 and r.flagged.size == 3
    assert r.normal_median < 0.2 < r.chance  # a linear code, read back
    assert odd.readout_words(r) == "worse"
    said = odd.readout_sentence(r)
    assert "read **worse** from them" in said
    assert f"fitted on this image's 97 normal tokens in {odd.FOLDS} folds" in said and "patches" in said
    pixels = odd.readout_sentence(odd.ReadOut("pixels", np.array([0.2, 0.4]), np.zeros(0), 0.7))
    assert "median squared error of 0.30 × the patches' variance" in pixels
    assert "(guessing the average patch: a median 0.70, a mean of 1)" in pixels
    alike = odd.read_out(*_probe_case(flagged_random=False), "position")
    assert odd.readout_words(alike) == "about as well"


def test_readout_words_follow_the_band_rule():
    normal = np.arange(1.0, 101.0)  # percentiles 10 and 90: 10.9 and 90.1

    def made(*flagged: float) -> odd.ReadOut:
        return odd.ReadOut("pixels", normal, np.array(flagged), 1.0)
    assert odd.readout_words(made(95.0, 91.0, 20.0)) == "worse"  # median 91 > 90.1
    assert odd.readout_words(made(90.0)) == "about as well"
    assert odd.readout_words(made(10.0, 5.0, 50.0)) == "better"  # median 10 < 10.9
    assert odd.readout_words(odd.ReadOut("pixels", normal, np.zeros(0), 1.0)) == ""


def test_read_outs_run_on_every_model(case):
    _, _, a = case
    position, pixels = odd.read_outs(a, a.depth - 1, (0,))
    assert position.normal.size == a.num_patches - 1 and pixels.flagged.size == 1
    assert np.isfinite(position.normal).all() and np.isfinite(pixels.normal).all()
    assert odd.patch_pixels(a).shape == (a.num_patches, 3 * a.patch_size ** 2)


def _numpy_ridge_weights(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]) -> np.ndarray:
    """The ridge fit written plainly: every penalty's leave-one-out residuals formed target by target."""
    xc = (x - x.mean(0)) / np.where(x.std(0) > 1e-12, x.std(0), 1.0)
    yc = y - y.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc
    scale = float(np.mean(s ** 2))
    errs = []
    for a in alphas:
        shrink = s ** 2 / (s ** 2 + a * scale)
        loo = (yc - u @ (shrink[:, None] * uty)) / (1 - 1 / len(x) - (u ** 2) @ shrink)[:, None]
        errs.append(float(np.mean(loo ** 2)))
    best = alphas[int(np.argmin(errs))]
    return vt.T @ ((s / (s ** 2 + best * scale))[:, None] * uty)


@pytest.mark.parametrize("n, k", [(60, 2), (60, 200), (150, 200)])  # fewer tokens than numbers (k > n: the
def test_ridge_fit_equals_the_plain_fit(n, k):  # quadratic-form residuals), and more (the direct residuals)
    rng = np.random.default_rng(n + k)
    x = rng.normal(size=(n, 100)) * rng.random(100)
    y = x[:, :k % 100 + 1] @ rng.normal(size=(k % 100 + 1, k)) + rng.normal(size=(n, k))
    for alphas in (odd.RIDGE_ALPHAS, (1e-3,), (1e3,)):
        _, _, w, _ = odd._ridge_fit(odd._t(x), odd._t(y), alphas)
        np.testing.assert_allclose(w.numpy(), _numpy_ridge_weights(x, y, alphas), rtol=1e-7, atol=1e-10)


def test_read_outs_of_several_targets_equal_each_read_out_alone():
    tokens, pos, flagged = _probe_case(flagged_random=True)
    pixels = np.random.default_rng(3).normal(size=(100, 48)) + tokens[:, :1]
    both = odd.read_out_all(tokens, {"position": pos, "pixels": pixels}, flagged)
    for name, target in (("position", pos), ("pixels", pixels)):
        alone = odd.read_out(tokens, target, flagged, name)
        assert both[name].target == name
        np.testing.assert_array_equal(both[name].normal, alone.normal)
        np.testing.assert_array_equal(both[name].flagged, alone.flagged)
        assert both[name].chance == alone.chance


def _pattern_case(tied: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    common = rng.normal(size=48) * 2
    pattern = rng.normal(size=(1, 64, 48))  # one vector per position
    blank = common + pattern
    content = rng.normal(size=(1, 64, 48))
    image = common + content + (pattern if tied else 0)
    return image, blank


def test_the_pattern_rule_tells_a_position_tied_pattern_from_a_shared_direction():
    m = odd.pattern_match(*_pattern_case(tied=True))
    assert m.tied[0] >= odd.TIED_MARGIN
    assert "a pattern tied to position" in odd.pattern_verdict(m, 0, "a blank")
    assert "after every one of the 1 blocks" in odd.tied_blocks_sentence(m)
    m = odd.pattern_match(*_pattern_case(tied=False))
    assert m.same_mean[0] > 0.3  # the shared direction makes every cosine high …
    assert abs(m.tied[0]) < odd.TIED_MARGIN  # … but not more so at the same position
    said = odd.pattern_verdict(m, 0, "a blank")
    assert "by this rule no pattern tied to position shows" in said and "a pattern tied to position," not in said
    assert "explains no" not in said  # the rule measures a cosine margin, not the absence of any pattern
    assert "after none of the 1 blocks" in odd.tied_blocks_sentence(m)


def test_pattern_match_equals_a_plain_cosine():
    image, blank = _pattern_case(tied=True)
    m = odd.pattern_match(image, blank)
    u = image[0] / np.linalg.norm(image[0], axis=1, keepdims=True)
    v = blank[0] / np.linalg.norm(blank[0], axis=1, keepdims=True)
    full = u @ v.T
    np.testing.assert_allclose(m.same[0], np.diag(full), atol=1e-12)
    np.testing.assert_allclose(m.other[0], full[~np.eye(64, dtype=bool)].mean(), atol=1e-12)


def test_pca_colours_are_in_range_and_constant_features_read_grey():
    rgb = odd.pca_rgb(np.random.default_rng(0).normal(size=(16, 8)))
    assert rgb.shape == (16, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert np.all(odd.pca_rgb(np.ones((16, 8))) == 0.5)


# --------------------------------------------------------------------------------------- twin and hot patches


def test_twin_spec_pairs_the_register_and_plain_architectures(monkeypatch):
    plain = ModelSpec("dv2", "DINOv2 ViT-S/14", "vit_small_patch14_dinov2.lvd142m", 14, 224, 1, "x", labels="none")
    reg = ModelSpec("dv2r", "DINOv2 ViT-S/14 reg4", "vit_small_patch14_reg4_dinov2.lvd142m", 14, 224, 1, "x",
                    labels="none")
    others = tuple(s for s in ZOO if s.arch not in (plain.arch, reg.arch))  # the zoo's own pair, if any, stands aside
    monkeypatch.setattr(odd, "ZOO", (*others, plain, reg))
    assert odd.twin_spec(plain) is reg and odd.twin_spec(reg) is plain
    assert all(odd.twin_spec(s) is None for s in ZOO if "dinov2" not in s.arch)  # no twin in the classic zoo


def test_isolated_hot_patches_are_single_spikes():
    values = np.full((6, 6), 0.01)
    values[1, 1] = 0.3  # alone
    values[4, 3:5] = 0.2  # two side by side: a region, not a spike
    assert odd.isolated_hot_patches(values) == (7,)
    assert odd.isolated_hot_patches(np.full((6, 6), 1 / 36)) == ()
    assert "1 isolated hot patch (patch 7 (row 1, column 1))" in odd.hot_note((7,), (6, 6))
    assert odd.hot_note((), (6, 6)) == ""


def test_the_handout_carries_the_verdict_and_its_figures(shapes_bundle):
    from vitviz.handout import SECTIONS, figure_count
    a = analyze(shapes_bundle, Image.open(io.BytesIO(SAMPLES["shape_star"].data())))
    before = shapes_bundle.forward_calls
    parts = SECTIONS["odd_tokens"](shapes_bundle, a)
    assert shapes_bundle.forward_calls == before  # read from the analysis: no forward pass
    flags = odd.flags_by_block(odd.token_norms(a), odd.Layout.of(a))
    assert "None here." in parts[0] if not any(f.flagged for f in flags) else "far above the rest" in parts[0]
    assert figure_count("".join(parts)) == 2


def test_a_model_without_a_cls_token():
    """A timm ViT with average pooling and no CLS token: patches only, no CLS attention to share out."""
    from timm.models.vision_transformer import VisionTransformer
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = VisionTransformer(img_size=56, patch_size=14, embed_dim=32, depth=2, num_heads=2, num_classes=0,
                                  class_token=False, global_pool="avg").eval()
    capture.prepare(model)
    cfg = {**resolve_model_data_config(model), "input_size": (3, 56, 56)}
    spec = ModelSpec("test_nocls", "no CLS", "vit_small_patch14_dinov2", 14, 56, 0, "test", labels="none")
    bundle = Bundle(spec, model, cfg, create_transform(**cfg, is_training=False), (), torch.device("cpu"),
                    provenance.random_init())
    a = analyze(bundle, Image.open(io.BytesIO(SAMPLES["retina"].data())).convert("RGB"))
    layout = odd.Layout.of(a)
    assert (layout.has_cls, layout.registers, layout.prefix) == (False, 0, 0)
    assert odd.cls_attention_shares(a, ()) is None and odd.prefix_ratios(odd.token_norms(a), layout) == {}
    assert odd.flags_by_block(odd.token_norms(a), layout)[0].patches == a.num_patches == 16
    blank = odd.blank_features(bundle, "zero")
    assert blank.block_outputs.shape == (2, 16, 32)


def test_the_blank_images_own_norms_follow_the_same_rule():
    layout = odd.Layout(True, 0, 64)
    quiet = np.stack([np.r_[50.0, _norms_with({}, seed=s)] for s in range(3)])
    assert "flags no patch token after any of the 3 blocks" in odd.blank_norm_sentence(
        odd.flags_by_block(quiet, layout), "a blank image")
    loud = quiet.copy()
    loud[1, 1 + 5] = 200.0
    said = odd.blank_norm_sentence(odd.flags_by_block(loud, layout), "a blank image")
    assert "flags patch tokens after 1 of the 3 blocks; the most after block 2: 1 of the 64 patches" in said


def test_token_norms_are_computed_once_per_analysis_and_read_only(case):
    import gc

    _, _, a = case
    norms = odd.token_norms(a)
    assert odd.token_norms(a) is norms and not norms.flags.writeable
    np.testing.assert_array_equal(norms, np.linalg.norm(a.block_outputs.astype(np.float32), axis=-1))
    other = dataclasses.replace(a)  # another analysis (equal arrays): its own entry, dropped with it
    assert odd.token_norms(other) is not norms
    held = len(odd._NORMS)
    del other
    gc.collect()
    assert len(odd._NORMS) == held - 1
