"""Rollout, gradient rollout, mean attention distance and DINO masks on hand-computed cases."""

import numpy as np
import pytest

from vitviz.stages import attention as A
from vitviz.model.analysis import analyze


def test_rollout_of_identity_is_identity():
    attn = np.broadcast_to(np.eye(5), (3, 2, 5, 5))
    np.testing.assert_allclose(A.rollout(attn), np.eye(5))


def test_rollout_of_uniform_attention_is_uniform_after_one_layer_mix():
    t = 4
    u = np.full((1, 1, t, t), 1 / t)
    # one layer: 0.5*U + 0.5*I, rows already sum to 1
    np.testing.assert_allclose(A.rollout(u), 0.5 * np.full((t, t), 1 / t) + 0.5 * np.eye(t))


def test_rollout_two_layers_by_hand():
    a1 = np.array([[0.5, 0.5], [0.0, 1.0]])
    a2 = np.array([[1.0, 0.0], [0.25, 0.75]])
    attn = np.stack([a1, a2])[:, None]  # [L=2, H=1, 2, 2]
    h1 = np.array([[0.75, 0.25], [0.0, 1.0]])  # 0.5*a1 + 0.5*I
    h2 = np.array([[1.0, 0.0], [0.125, 0.875]])
    np.testing.assert_allclose(A.rollout(attn), h2 @ h1)
    np.testing.assert_allclose(A.rollout(attn).sum(-1), 1.0)


def test_rollout_rows_are_renormalised_by_their_own_sum():
    # rows that do not sum to 1 (e.g. after max fusion): each row must be divided by its own sum,
    # the bug of a well-known implementation divides columns by row sums
    a = np.array([[[[0.9, 0.9], [0.1, 0.3]]]])
    r = A.rollout(a)
    hat = 0.5 * a[0, 0] + 0.5 * np.eye(2)
    np.testing.assert_allclose(r, hat / hat.sum(1, keepdims=True))


def test_head_fusions():
    a = np.stack([np.eye(3), np.full((3, 3), 1 / 3)])[None]  # [1, 2, 3, 3]
    np.testing.assert_allclose(A.fuse_heads(a, "max")[0], np.maximum(np.eye(3), 1 / 3))
    np.testing.assert_allclose(A.fuse_heads(a, "min")[0], np.minimum(np.eye(3), 1 / 3))
    with pytest.raises(ValueError):
        A.fuse_heads(a, "median")


def test_discard_is_per_row_and_keeps_cls():
    a = np.array([[0.1, 0.5, 0.2, 0.2], [0.0, 0.1, 0.6, 0.3]])
    d = A.discard_weakest(a, 0.34, keep_cols=1)  # 1 of the 3 non-CLS entries per row
    np.testing.assert_allclose(d, [[0.1, 0.5, 0.0, 0.2], [0.0, 0.0, 0.6, 0.3]])


def test_gradient_rollout_by_hand():
    attn = [np.array([[[0.5, 0.5], [0.2, 0.8]]])]  # one layer, one head
    grads = [np.array([[[1.0, -1.0], [2.0, 0.5]]])]
    cam = np.clip(grads[0] * attn[0], 0, None).mean(0)  # [[0.5, 0], [0.4, 0.4]]
    np.testing.assert_allclose(A.gradient_rollout_from(attn, grads), np.eye(2) + cam)


def test_gradient_rollout_pairs_each_layer_with_its_own_gradient():
    a1, a2 = np.array([[[1.0, 0.0], [0.0, 1.0]]]), np.array([[[0.0, 1.0], [1.0, 0.0]]])
    g1, g2 = np.ones((1, 2, 2)), 2 * np.ones((1, 2, 2))
    r = A.gradient_rollout_from([a1, a2], [g1, g2])
    r1 = np.eye(2) + a1[0] @ np.eye(2)
    np.testing.assert_allclose(r, r1 + (2 * a2[0]) @ r1)


def test_gradient_rollout_on_a_model(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    m = A.gradient_rollout(tiny_bundle, a, a.top_indices[0])
    assert m.shape == a.grid and np.isfinite(m).all() and (m >= 0).all()
    assert not any(p.grad is not None for p in tiny_bundle.model.parameters())


def test_uniform_attention_distance_reference():
    assert A.uniform_attention_distance((14, 14), 16) == pytest.approx(116.49, abs=0.01)
    t = 1 + 196
    uniform = np.full((1, 1, t, t), 1 / t)
    assert A.mean_attention_distance(uniform, (14, 14), 16)[0, 0] == pytest.approx(116.49, abs=0.01)


def test_attention_to_self_has_zero_distance():
    eye = np.eye(1 + 16)[None, None]
    assert A.mean_attention_distance(eye, (4, 4), 16)[0, 0] == 0


def test_dino_mask_keeps_fewest_patches_for_the_mass():
    v = np.array([[0.5, 0.1], [0.3, 0.1]])
    np.testing.assert_array_equal(A.dino_mask(v, 0.5), [[True, False], [False, False]])
    np.testing.assert_array_equal(A.dino_mask(v, 0.8), [[True, False], [True, False]])
    assert A.dino_mask(v, 0.95).sum() == 4


def test_cls_and_query_maps_are_rows_of_the_recorded_attention(tiny_bundle, photo):
    a = analyze(tiny_bundle, photo)
    raw = a.attentions.astype(np.float32)
    np.testing.assert_allclose(A.cls_attention(a, 3, 1).ravel(), raw[3, 1, 0, 1:])
    np.testing.assert_allclose(A.query_attention(a, 2, None, 7).ravel(), raw[2].mean(0)[8, 1:], rtol=1e-6)


def test_focus_ratio():
    assert A.focus_ratio(np.array([1.0, 0, 0, 0]), np.array([True, False, False, False])) == pytest.approx(4.0)
    assert A.focus_ratio(np.ones(4), np.array([True, False, True, False])) == pytest.approx(1.0)


def test_spread_of_constructed_attention():
    """Uniform attention is 1× uniform, a one-hot row is T×, and the sentence states 1/T for the model."""
    t = 197
    uniform = np.full((1, t), 1 / t)
    assert A.spread(uniform[:, 1:], t).ratio == pytest.approx(1.0)  # the CLS column left out, as the maps do
    one_hot = np.zeros(t)
    one_hot[5] = 1.0
    assert A.spread(one_hot[1:], t).ratio == pytest.approx(t)
    assert A.spread(uniform, t).uniform == pytest.approx(1 / 197)
    assert A.spread(uniform, t).sentence() == "uniform would be 1/197 = 0.0051; the largest weight here is 1.0× that"
    assert A.spread(one_hot, t).sentence().endswith("is 197× that")
    with pytest.raises(ValueError):
        A.spread(uniform, 0)


def test_every_attention_map_states_uniform_and_its_ratio(tiny_bundle, shapes_bundle, photo):
    """On a random ViT (near-uniform attention) and on the bundled model: 1/T of the model on screen in every
    attention map's title, with the map's own largest weight against it."""
    from vitviz.views import attention as views

    for bundle in (tiny_bundle, shapes_bundle):
        a = analyze(bundle, photo)
        t = a.num_tokens
        cls = A.cls_attention(a, a.depth - 1)
        title = views.cls_map(bundle, a, a.depth - 1, None, 0.6, 0).layout.title.text
        assert f"1/{t} = {1 / t:.2g}" in title.replace("<br>", " ")
        assert f"{A.spread(cls, t).ratio_text} that" in title.replace("<br>", " ")
        for fig in (views.query_map(bundle, a, 0, None, 0.6, 3), views.rollout(bundle, a)):
            assert f"1/{t} =" in fig.layout.title.text
        heads = views.heads(bundle, a, 0)
        assert f"1/{t} =" in heads.layout.title.text
        ratios = [ann.text.rsplit(" · ", 1)[1] for ann in heads.layout.annotations]
        assert ratios == [A.spread(A.cls_attention(a, 0, h), t).ratio_text for h in range(a.heads)]
    random_ratio = A.spread(A.cls_attention(analyze(tiny_bundle, photo), 11), 197).ratio
    assert 1.0 <= random_ratio < 1.5  # random weights: the last block's CLS map is within 50 % of uniform
