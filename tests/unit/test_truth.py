"""Every sentence a page prints about the model on screen is measured on it: run each one on every zoo
architecture the tests can build (random weights) and on the bundled model, and check that the words
agree with the numbers."""

import numpy as np
import pytest
import torch

from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.model.loading import load_model
from vitviz.model.zoo import ZOO
from vitviz.stages import attention, attention_distance, closeness, position_code, positions, vectors
from vitviz.wording import difference

RANDOM = [s.key for s in ZOO if not s.bundled]


@pytest.fixture(scope="module", params=["shapes", *RANDOM])
def shown(request):
    """(bundle, analysis) as a page sees them: the bundled model on a shape, random-weight ViTs on a photo."""
    key = request.param
    torch.manual_seed(0)
    bundle = load_model(key, device="cpu", pretrained=key == "shapes")
    image = load_image(SAMPLES["shape_star" if key == "shapes" else "cat"].data())
    return bundle, analyze(bundle, image)


def test_shuffle_sentence_holds(shown):
    bundle, a = shown
    result = positions.shuffle_experiment(bundle, a, seed=3)
    assert result.without_pos_diff <= 1e-4  # the page says: equal up to rounding
    assert "equal up to rounding" in positions.shuffle_verdict(result)
    if bundle.spec.bundled:  # a trained model does notice the order when positions are there
        assert result.with_pos_diff > 0.01


def test_position_code_sentence_matches_the_numbers(shown):
    bundle, a = shown
    code = position_code.position_code(positions.patch_positions_embed(a), a.grid)
    said = position_code.verdict(code)
    assert f"**{position_code.what_it_encodes(code.kinds)}**" in said and position_code.numbers(code) in said
    assert (f"{code.mirror_left_right:.2f}" in said) == bool(code.kinds)
    assert ("barely tells left from right" in said) == (bool(code.kinds) and position_code.COLUMNS not in code.kinds)
    assert ("this model learned them too" in said) == (
        position_code.ROWS in code.kinds and position_code.COLUMNS in code.kinds)
    if bundle.spec.bundled:
        assert code.kinds == (position_code.BORDER,)  # measured: mirror images more alike than neighbours
    else:
        assert code.kinds == ()  # random initialisation encodes nothing: the page must not claim a structure
        assert "nothing beyond noise" in said


def test_attention_distance_sentence_matches_the_numbers(shown):
    _, a = shown
    dist = attention.mean_attention_distance(a.attentions, a.grid, a.patch_size, a.num_prefix)
    uniform = attention.uniform_attention_distance(a.grid, a.patch_size)
    said = attention_distance.distance_verdict(dist, uniform)
    trend = attention_distance.distance_trend(dist, uniform)
    assert f"{np.median(dist[0]):.0f} px far in block 1" in said and f"{uniform:.0f} px" in said
    assert ("does not grow with depth" in said) == (not trend.grows)
    assert ("That is the pattern" in said) == attention_distance.distance_pattern_shown(dist, uniform)


def test_relatedness_correlation_is_measured(shown):
    _, a = shown
    index = a.num_patches // 2
    rel = closeness.relatedness(a, a.depth - 1, None, index)
    others = np.arange(a.num_patches) != index
    log_attention = np.log(np.maximum(rel.attention.ravel()[others].astype(np.float64), closeness.LOG_FLOOR))
    expected = np.corrcoef(rel.cosine.ravel()[others], log_attention)[0, 1]
    assert rel.correlation == pytest.approx(expected, abs=1e-6)
    block_in = closeness.block_input(a, a.depth - 1)[a.num_prefix:]  # the tokens the last block reads
    np.testing.assert_allclose(rel.cosine.ravel(), vectors.cosine_rows(block_in[index:index + 1], block_in)[0],
                               atol=1e-6)
    n0 = a.num_prefix
    np.testing.assert_allclose(rel.attention.sum() + a.attentions[-1].astype(np.float32).mean(0)[n0 + index, :n0].sum(),
                               1.0, atol=5e-3)  # the attention row over patches plus the prefix tokens sums to 1
    c = closeness.closeness_by_block(a)
    said = closeness.closeness_sentence(c)
    for kind in set(c.kinds):  # every block is named under the words its r earns
        assert f"{closeness.CLOSENESS_SHORT[kind]} in {closeness.block_list(c.blocks(kind))}" in said


def test_projection_and_cls_sentences(shown):
    bundle, a = shown
    check = vectors.show_the_math(bundle, a, a.num_patches // 3)
    assert difference(check.max_abs_diff).startswith(("identical", "equal up to rounding"))
    other = analyze(bundle, load_image(SAMPLES["coffee"].data()))
    assert difference(vectors.cls_input_difference(a, other)) == "identical (0)"  # CLS ignores the image


def test_difference_wording():
    assert difference(0.0) == "identical (0)"
    assert difference(3.81e-6) == "equal up to rounding (3.8e-06)"
    assert difference(0.5) == "0.500"
