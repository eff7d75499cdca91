"""The one helper for extra forward passes, and the forward pass that starts from patch tokens."""

import dataclasses
import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from timm.models.vision_transformer import VisionTransformer

from vitviz.inputs.samples import BY_KEY
from vitviz.model import forward
from vitviz.model.analysis import analyze


def _star(bundle):
    return analyze(bundle, Image.open(io.BytesIO(BY_KEY["shape_star"].data())))


def _small_vit(**kw) -> VisionTransformer:
    """A few-block timm ViT with random weights, for prefix-token variants the zoo does not have."""
    torch.manual_seed(0)
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=7, **kw).eval()


def test_run_equals_the_plain_forward_and_counts_once(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    before = tiny_bundle.forward_calls
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read-only analysis arrays go in without torch's non-writable warning
        out = forward.run(tiny_bundle, a.pixels[None], timed=True)
    assert tiny_bundle.forward_calls == before + 1
    assert out.logits.shape == (1, 1000) and out.logits.dtype == np.float32
    assert np.abs(out.logits[0] - a.logits).max() < 1e-5
    np.testing.assert_allclose(out.probs.sum(-1), 1, atol=1e-5)
    assert out.top1() == (a.top_labels[0], pytest.approx(a.top_probs[0], abs=1e-6))
    assert out.seconds > 0 and forward.run(tiny_bundle, a.pixels[None]).seconds is None


def test_run_without_a_classifier_gives_outputs_only(tiny_bundle, photo):
    headless = dataclasses.replace(tiny_bundle, labels=())
    out = forward.run(headless, torch.from_numpy(np.array(analyze(tiny_bundle, photo).pixels))[None])
    assert out.probs is None and out.scores is out.logits
    label, prob = out.top1()
    assert label == forward.NO_CLASSIFIER and np.isnan(prob)


def _models(tiny_bundle, shapes_bundle):
    return {"vit_ti16": tiny_bundle.model, "shapes": shapes_bundle.model,
            "registers, no_embed_class": _small_vit(reg_tokens=2, no_embed_class=True),
            "no CLS, average pooling": _small_vit(class_token=False, global_pool="avg")}


@pytest.mark.parametrize("name", ["vit_ti16", "shapes", "registers, no_embed_class", "no CLS, average pooling"])
def test_forward_from_patch_tokens(name, tiny_bundle, shapes_bundle):
    model = _models(tiny_bundle, shapes_bundle)[name]
    size = model.patch_embed.img_size[0]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        tokens = model.patch_embed(x)  # [2, N, D]
        order = torch.randperm(tokens.shape[1], generator=torch.Generator().manual_seed(2))
        plain = model(x)
        with_pos = forward.forward_from_patch_tokens(model, tokens, with_positions=True)
        with_pos_shuffled = forward.forward_from_patch_tokens(model, tokens[:, order], with_positions=True)
        without = forward.forward_from_patch_tokens(model, tokens, with_positions=False)
        without_shuffled = forward.forward_from_patch_tokens(model, tokens[:, order], with_positions=False)
    assert (with_pos - plain).abs().max() < 1e-5  # the same computation as timm's forward
    assert (without_shuffled - without).abs().max() < 1e-5  # a bag of tokens: the order does not matter
    assert (with_pos_shuffled - with_pos).abs().max() > 20 * max(float((without_shuffled - without).abs().max()), 1e-6)


def test_run_from_patch_tokens_counts_and_matches_the_analysis(shapes_bundle):
    a = _star(shapes_bundle)
    before = shapes_bundle.forward_calls
    out = forward.run_from_patch_tokens(shapes_bundle, a.patch_embeddings[None], with_positions=True)
    assert shapes_bundle.forward_calls == before + 1
    assert np.abs(out.logits[0] - a.logits).max() < 1e-5
    assert out.top1()[0] == a.top_labels[0]
