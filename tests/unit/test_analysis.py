"""analyze(): one forward pass, equal to plain timm, complete, and safe across threads."""

import threading

import numpy as np
import timm
import torch
from PIL import Image

from vitviz.model.analysis import analyze


def _plain_logits(bundle, image):
    """The reference: a fresh timm model with the same weights, fused attention on, no hooks."""
    ref = timm.create_model(bundle.spec.arch, pretrained=False, num_classes=bundle.model.num_classes)
    ref.load_state_dict(bundle.model.state_dict())
    ref.eval()
    with torch.inference_mode():
        return ref(bundle.transform(image).unsqueeze(0))[0].numpy()


def test_logits_equal_plain_timm_forward(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    assert np.abs(a.logits - _plain_logits(tiny_bundle, photo)).max() < 1e-5


def test_shapes_and_contents(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    L, H, D, T = 12, 3, 192, 197
    assert a.attentions.shape == (L, H, T, T)
    assert a.block_outputs.shape == (L, T, D)
    assert a.patch_embeddings.shape == (196, D)
    assert a.pos_embed.shape == (T, D)
    assert a.tokens_in.shape == (T, D)
    assert a.image.shape == (224, 224, 3) and a.image.dtype == np.uint8
    assert a.pixels.shape == (3, 224, 224)
    assert a.grid == (14, 14) and a.patch_size == 16 and a.num_tokens == T
    np.testing.assert_allclose(a.attentions.astype(np.float32).sum(-1), 1.0, atol=2e-3)
    # the CLS entering block 1 is the learned token plus its position embedding
    np.testing.assert_allclose(a.tokens_in[0], a.cls_token + a.pos_embed[0], atol=1e-6)
    # patch tokens entering block 1 are patch vectors plus positions
    np.testing.assert_allclose(a.tokens_in[1:], a.patch_embeddings + a.pos_embed[1:], atol=1e-5)
    assert len(a.top_labels) == 5 and a.top_probs == tuple(sorted(a.top_probs, reverse=True))
    assert not a.attentions.flags.writeable


def test_seen_image_is_the_transformed_input(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    back = (a.image.transpose(2, 0, 1) / 255.0 - np.array(a.mean)[:, None, None]) / np.array(a.std)[:, None, None]
    assert np.abs(back - a.pixels).max() < 0.02  # only 8-bit rounding


def test_one_forward_pass_per_analysis(tiny_bundle, photo):
    before = tiny_bundle.forward_calls
    analyze(tiny_bundle, photo)
    assert tiny_bundle.forward_calls == before + 1


def test_concurrent_analyses_match_single(tiny_bundle):
    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 255, (200 + 10 * i, 240, 3), dtype=np.uint8)) for i in range(8)]
    single = [analyze(tiny_bundle, im) for im in images]
    results = [None] * len(images)

    def work(i):
        results[i] = analyze(tiny_bundle, images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for one, many in zip(single, results):
        assert np.array_equal(one.logits, many.logits)
        assert np.array_equal(one.attentions, many.attentions)
        assert np.array_equal(one.block_outputs, many.block_outputs)


def _reference_tokens_in(model, pixels):
    """What block 1 receives, computed with timm's own steps (its private ``_pos_embed`` as the reference)."""
    with torch.inference_mode():
        return model.norm_pre(model._pos_embed(model.patch_embed(torch.from_numpy(np.array(pixels))[None])))[0]


def test_tokens_in_is_what_block_one_receives(tiny_bundle, shapes_bundle, photo):
    from vitviz.offline.shapes import sample_image
    for bundle, image in ((tiny_bundle, photo), (shapes_bundle, Image.fromarray(sample_image("star").image))):
        a = analyze(bundle, image)
        assert a.tokens_in.dtype == np.float32 and a.tokens_in.shape == (a.num_tokens, a.embed_dim)
        assert np.abs(a.tokens_in - _reference_tokens_in(bundle.model, a.pixels).numpy()).max() < 1e-6


def test_block_input_is_recorded_for_prefix_variants():
    from timm.models.vision_transformer import VisionTransformer
    from vitviz.model.capture import recording
    torch.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5,
                              reg_tokens=2, no_embed_class=True).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode(), recording(model, compact=True) as rec:
        model(x)
    assert rec.block_input.shape == (1, 1 + 2 + 16, 32)
    assert (rec.block_input[0] - _reference_tokens_in(model, x[0].numpy())).abs().max() < 1e-6


def test_the_model_alone_keeps_the_model_and_drops_the_image(tiny_bundle, photo):
    """A figure built from ``model_alone`` is shared by every image: nothing of the image may be in it."""
    from vitviz.model.analysis import model_alone

    a = analyze(tiny_bundle, photo)
    m = model_alone(a)
    np.testing.assert_array_equal(m.pos_embed, a.pos_embed)
    np.testing.assert_array_equal(m.cls_token, a.cls_token)
    assert (m.grid, m.patch_size, m.num_prefix, m.embed_dim, m.depth, m.heads) == \
        (a.grid, a.patch_size, a.num_prefix, a.embed_dim, a.depth, a.heads)
    image_arrays = ["image", "pixels", "embed_input", "patch_embeddings", "tokens_in", "attentions", "block_outputs",
                    "logits"]
    assert all(getattr(m, name).size == 0 for name in image_arrays)
    assert m.image_hash == "" and m.top_labels == m.top_probs == m.top_indices == ()
    other = analyze(tiny_bundle, photo.transpose(0))  # another image, the same model: the same model-alone view
    for name in ("pos_embed", "cls_token"):
        np.testing.assert_array_equal(getattr(model_alone(other), name), getattr(m, name))
