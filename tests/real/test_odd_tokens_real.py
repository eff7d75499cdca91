"""The Odd tokens stage on the real trained DINOv2 ViT-S/14 at 224 px (fixture ``real_bundle``, tests/real/conftest.py).

What must hold on any model (norms equal torch's, the blank pattern equals a plain forward, the verdict follows its
rule), and what is measured on this one: the position read-out beats guessing after block 1, and the blank image's
features are closer to the image's at the same position than elsewhere after block 1 (Yang et al., ECCV 2024, saw a
position pattern in DINOv2's features). Whether DINOv2 ViT-S/14 has high-norm tokens on a photo is reported, not
assumed: Darcet et al. (ICLR 2024) saw them in large models; the verdict's words are checked against the rule only.
"""

import copy
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.stages import odd_tokens as odd

PHOTOS = ["cat", "astronaut", "coffee"]


@pytest.fixture(scope="module")
def analyses(real_bundle):
    return {k: analyze(real_bundle, Image.open(io.BytesIO(SAMPLES[k].data())).convert("RGB")) for k in PHOTOS}


def test_the_layout_is_dinov2s(real_bundle, analyses):
    layout = odd.Layout.of(analyses["cat"])
    assert layout.has_cls and layout.registers == int(getattr(real_bundle.model, "num_reg_tokens", 0))
    assert layout.patches == 16 * 16 and analyses["cat"].patch_size == 14


def test_norms_equal_torch_norms_of_the_captured_tokens(real_bundle, analyses):
    out = []
    handles = [b.register_forward_hook(lambda _m, _i, o: out.append(o[0].detach().clone()))
               for b in real_bundle.model.blocks]
    image = Image.open(io.BytesIO(SAMPLES["cat"].data())).convert("RGB")
    try:
        with torch.inference_mode():
            real_bundle.model(real_bundle.transform(image)[None].to(real_bundle.device))
    finally:
        for h in handles:
            h.remove()
    expected = torch.stack([torch.linalg.norm(t.float(), dim=-1) for t in out]).cpu().numpy()
    np.testing.assert_allclose(odd.token_norms(analyses["cat"]), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", list(odd.BLANKS))
def test_the_blank_pattern_equals_a_plain_forward(real_bundle, kind):
    blank = odd.blank_features(real_bundle, kind)
    cfg = real_bundle.data_config
    mean, std = torch.tensor(cfg["mean"])[:, None, None], torch.tensor(cfg["std"])[:, None, None]
    _, h, w = cfg["input_size"]
    x = ((torch.full((3, h, w), odd.BLANKS[kind][1] / 255.0) - mean) / std)[None].to(real_bundle.device)
    plain = copy.deepcopy(real_bundle.model)
    for b in plain.blocks:
        b.attn.fused_attn = True
    with torch.inference_mode():
        steps = plain.forward_intermediates(x, return_prefix_tokens=True, norm=False, output_fmt="NLC",
                                            intermediates_only=True)
    expected = np.stack([torch.cat([p, s], 1)[0].float().cpu().numpy() for s, p in steps])
    assert np.abs(blank.block_outputs - expected).max() <= 1e-3 * max(1.0, float(np.abs(expected).max()))
    assert odd.identical_patch_inputs(blank, 14) == 0.0


def test_the_verdict_follows_its_rule_on_real_photos(analyses):
    for key, a in analyses.items():
        flags = odd.flags_by_block(odd.token_norms(a), odd.Layout.of(a))
        text = odd.norm_verdict(flags, a.grid)
        flagged = sum(len(f.flagged) for f in flags)
        assert text.startswith("**None here.**") == (flagged == 0), (key, text)
        for block, f in enumerate(flags):  # every flagged token is above the bar, every other one at or below it
            patches = np.sort(odd.token_norms(a)[block, a.num_prefix:])[::-1]
            assert all(patches[:len(f.flagged)] > f.threshold) and all(patches[len(f.flagged):] <= f.threshold)
        print(key, text)  # what the page says on DINOv2 ViT-S/14 (for the lead's note)


def test_position_is_read_from_early_tokens_better_than_guessing(analyses):
    for key, a in analyses.items():
        position, pixels = odd.read_outs(a, 0, ())
        assert position.normal_median < position.chance, (key, position.normal_median, position.chance)
        assert pixels.normal_median < pixels.chance, key


def test_the_blank_image_pattern_is_tied_to_position_after_block_one(real_bundle, analyses):
    blank = odd.blank_features(real_bundle, "zero")
    for key, a in analyses.items():
        match = odd.pattern_match(a.block_outputs[:, a.num_prefix:], blank.block_outputs[:, a.num_prefix:])
        assert match.tied[0] > 0, (key, match.same_mean[0], match.other[0])  # closer at the same position
        print(key, odd.pattern_verdict(match, 0, "the black image"), odd.tied_blocks_sentence(match))
    print(odd.blank_norm_sentence(odd.blank_flags(blank, odd.Layout.of(analyses["cat"])), "the black image"))
