"""Patches, vectors and positions: the math the pages show, checked against the model and by hand."""

import dataclasses

import numpy as np
import pytest
import torch

from vitviz.stages import patches, positions, vectors
from vitviz.model.analysis import analyze


@pytest.fixture(scope="module")
def analysed(request):
    bundle = request.getfixturevalue("tiny_bundle")
    rng = np.random.default_rng(5)
    from PIL import Image
    img = Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    return bundle, img, analyze(bundle, img)


def test_preprocessing_steps_follow_the_data_config(analysed):
    bundle, img, a = analysed
    steps = patches.preprocessing_steps(bundle, img)
    assert [s.name for s in steps] == ["Your image", "Resize", "CenterCrop", "Normalize"]
    assert steps[2].image.shape == (224, 224, 3)
    np.testing.assert_array_equal(steps[2].image, a.image)  # what the model saw, before normalising
    mean = ", ".join(f"{m:g}" for m in a.mean)
    assert f"mean ({mean})" in steps[3].detail and "tensor" not in steps[3].detail  # numbers a person reads


def test_patch_pixels_and_flattening_order(analysed):
    _, _, a = analysed
    i = 17  # row 1, col 3
    assert patches.patch_rc(i, a.grid) == (1, 3)
    np.testing.assert_array_equal(patches.patch_pixels(a, i), a.image[16:32, 48:64])
    flat = patches.patch_input_vector(a, i)
    assert a.input_channels == ("R", "G", "B") and a.embed_input is a.pixels  # a stock ViT reads the colours only
    assert patches.extra_channel_pictures(a) == []
    assert flat.shape == (3 * 16 * 16,)
    np.testing.assert_array_equal(flat[:256], a.pixels[0, 16:32, 48:64].ravel())  # R first, then G, then B
    np.testing.assert_array_equal(patches.all_patch_inputs(a)[i], flat)


def test_token_counts():
    c = patches.token_counts(224, 224, 16)
    assert (c.patches, c.tokens, c.scores_per_head) == (196, 197, 197 ** 2)


def test_patch_size_options_tile_exactly():
    assert patches.patch_size_options(16, 224) == [8, 14, 16, 28, 32, 56]
    assert all(224 % p == 0 for p in patches.patch_size_options(16, 224))


def test_show_the_math_equals_the_model(analysed):
    bundle, _, a = analysed
    for i in (0, 100, 195):
        check = vectors.show_the_math(bundle, a, i)
        assert check.max_abs_diff < 1e-4


def test_show_the_math_includes_the_offline_models_edge_channel(shapes_bundle):
    from vitviz.offline.shapes import sample_image
    from PIL import Image
    a = analyze(shapes_bundle, Image.fromarray(sample_image("star").image))
    p = a.patch_size
    assert a.input_channels == ("R", "G", "B", "colour edges") and a.embed_input.shape == (4, 112, 112)
    np.testing.assert_array_equal(a.embed_input[:3], a.pixels)  # the colours are the pixels themselves
    flat = patches.patch_input_vector(a, 9)
    assert flat.shape == (4 * p * p,)
    for i in (0, 9, a.num_patches - 1):
        assert vectors.show_the_math(shapes_bundle, a, i).max_abs_diff < 1e-4
    assert vectors.filter_components(shapes_bundle, 5).shape == (5, p, p, 3)  # colour part only
    [(name, picture)] = patches.extra_channel_pictures(a)
    assert name == "colour edges" and picture.shape == (112, 112, 3)
    outline = sample_image("star").mask ^ np.roll(sample_image("star").mask, 1, axis=0)
    assert picture[outline, 0].mean() > 3 * picture[~outline, 0].mean()  # bright on the star's outline


def test_native_patch_size_gives_the_original_logits(analysed):
    bundle, _, a = analysed
    same = patches.resized_copy(bundle.model, patch=16)
    with torch.inference_mode():
        out = same(torch.from_numpy(np.array(a.pixels))[None])[0].numpy()
    assert np.abs(out - a.logits).max() < 1e-5


def test_patch_size_experiment_counts_and_leaves_the_model_alone(analysed):
    bundle, _, a = analysed
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    res = patches.patch_size_experiment(bundle, a, [8, 16, 32])
    assert [r.tokens for r in res] == [785, 197, 50]
    assert res[1].attention_scores == 12 * 3 * 197 ** 2
    assert all(r.seconds > 0 for r in res)
    assert res[1].top_label == a.top_labels[0]
    assert all(torch.equal(before[k], v) for k, v in bundle.model.state_dict().items())
    assert bundle.model.patch_embed.patch_size == (16, 16)


def test_identical_patches_get_identical_vectors(analysed):
    bundle, _, a = analysed
    pixels = np.array(a.pixels)
    pixels[:, 0:16, 16:32] = pixels[:, 0:16, 0:16]  # patch 1 := patch 0
    x = torch.from_numpy(pixels)[None]
    with torch.inference_mode():
        emb = bundle.model.patch_embed(x)[0].numpy()
    from dataclasses import replace
    b = replace(a, pixels=pixels, embed_input=pixels, patch_embeddings=emb)
    twin = vectors.twin_patches(b)
    assert (twin.first, twin.second) == (0, 1)
    assert twin.pixel_distance == 0 and twin.before_distance == pytest.approx(0, abs=1e-5)
    assert twin.after_distance > 0.01  # the positions make them different


def test_a_made_identical_pair_on_a_stock_vit(analysed):
    bundle, _, a = analysed
    pair = vectors.identical_pair(bundle, a)
    twin = vectors.twin_patches(a)
    assert pair.reach == 0 and (pair.source, pair.target) == (twin.first, twin.second)  # the twins, made identical
    assert pair.input_difference == 0 and pair.vector_difference <= 1e-6 and pair.vector_size > 0.01
    assert pair.after_distance > 0.01  # the positions tell them apart
    said = vectors.identical_verdict(pair, a.patch_size)
    assert "identical patches give identical vectors" in said and "colour-edge" not in said
    with torch.inference_mode():  # independently: the model's patch embedding on the copied image
        x = torch.from_numpy(np.array(a.pixels))[None].clone()
        (sr, sc), (tr, tc) = (patches.patch_rc(i, a.grid) for i in (pair.source, pair.target))
        x[..., tr * 16:(tr + 1) * 16, tc * 16:(tc + 1) * 16] = x[..., sr * 16:(sr + 1) * 16, sc * 16:(sc + 1) * 16]
        emb = bundle.model.patch_embed(x)[0]
    assert float((emb[pair.target] - emb[pair.source]).abs().max()) == pytest.approx(pair.vector_difference, abs=1e-7)


def test_the_edge_channel_reads_one_pixel_across_the_border(shapes_bundle):
    assert vectors.border_reach(shapes_bundle.model) == 1
    embed = shapes_bundle.model.patch_embed
    x = torch.zeros(1, 3, 112, 112)
    p = 14  # patch (row 3, column 3) spans pixels 42..55
    with torch.inference_mode():
        base = embed.projection_input(x)[0, 3, 42:56, 42:56]
        for offset, moves in ((1, True), (2, False)):  # a pixel `offset` px left of the patch's left border
            y = x.clone()
            y[0, :, 48, 3 * p - offset] = 1.0
            changed = not torch.equal(embed.projection_input(y)[0, 3, 42:56, 42:56], base)
            assert changed == moves


def test_a_made_identical_pair_on_the_bundled_model(shapes_bundle):
    from PIL import Image
    from vitviz.offline.shapes import sample_image
    a = analyze(shapes_bundle, Image.fromarray(sample_image("star").image))
    pair = vectors.identical_pair(shapes_bundle, a)
    (sr, sc), (tr, tc) = (patches.patch_rc(i, a.grid) for i in (pair.source, pair.target))
    assert all(1 <= v <= 6 for v in (sr, sc, tr, tc)) and max(abs(sr - tr), abs(sc - tc)) >= 2  # rings inside, apart
    assert pair.reach == 1
    assert pair.pixels_only_input > 0.01 and pair.pixels_only_vector > 0.01  # the pixels alone are not enough here
    assert pair.input_difference == 0 and pair.vector_difference <= 1e-6  # with the 1-pixel ring: identical
    assert pair.after_distance > 0.01
    said = vectors.identical_verdict(pair, a.patch_size)
    assert f"the edge channel differs by up to {pair.pixels_only_input:.3f}" in said
    assert "identical pixels and an identical 1-pixel ring: those give identical vectors" in said
    picture = vectors.copied_image(a, pair)
    np.testing.assert_array_equal(picture[tr * 14 - 1:(tr + 1) * 14 + 1, tc * 14 - 1:(tc + 1) * 14 + 1],
                                  a.image[sr * 14 - 1:(sr + 1) * 14 + 1, sc * 14 - 1:(sc + 1) * 14 + 1])


def test_pairs_that_can_be_made_identical_by_hand():
    assert vectors.pair_choices((3, 3), 0).all()
    assert not vectors.pair_choices((4, 4), 1).any()  # the 4 inner patches all touch
    allowed = vectors.pair_choices((5, 5), 1)
    assert allowed[6, 8] and allowed[6, 18] and not allowed[6, 7] and not allowed[6, 12] and not allowed[0, 12]
    with pytest.raises(ValueError, match="no two patches"):
        vectors._most_alike(np.ones((16, 3), np.float32), vectors.pair_choices((4, 4), 1))


def test_cls_is_the_same_for_every_image(tiny_bundle, analysed, photo):
    _, _, a = analysed
    b = analyze(tiny_bundle, photo)
    assert vectors.cls_input_difference(a, b) == 0
    sims = vectors.cls_similarity_by_layer(a)
    assert sims.shape == (13, 196) and np.all(np.abs(sims) <= 1 + 1e-5)


def test_filter_components_and_token_maps(analysed):
    bundle, _, a = analysed
    comps = vectors.filter_components(bundle, 28)
    assert comps.shape == (28, 16, 16, 3) and comps.min() >= 0 and comps.max() <= 1
    rgb = vectors.token_pca_rgb(a)
    assert rgb.shape == (14, 14, 3) and rgb.min() >= 0 and rgb.max() <= 1
    cmap = vectors.cosine_map(a, 5, 30)
    assert cmap.shape == (14, 14) and cmap.flat[30] == pytest.approx(1, abs=1e-5)


def test_cls_sentences_read_the_numbers():
    sims = np.array([[-0.2, 0.0, 0.1], [0.1, 0.3, 0.5], [0.6, 0.7, 0.8]])  # [L+1 = 3, N = 3]
    assert "from -0.20 to 0.10" in vectors.cls_spread_sentence(sims) and "(row 2) from 0.60 to 0.80" in \
        vectors.cls_spread_sentence(sims)
    said = vectors.cls_trend_sentence(sims)
    assert "the mean goes from -0.03 before block 1 to 0.70" in said and "the max from 0.10 to 0.80" in said
    assert "moves most across block 2 (0.30 → 0.70)" in said


def test_token_summaries_on_constructed_tokens(analysed):
    from dataclasses import replace
    _, _, a = analysed
    rng = np.random.default_rng(0)
    n, d = a.num_patches, a.embed_dim
    flat = np.zeros((n, d), np.float32)
    flat[:, :3] = rng.standard_normal((n, 3))  # the patch tokens vary in 3 directions only
    tokens = np.concatenate([np.zeros((1, d), np.float32), flat])
    b = replace(a, tokens_in=tokens)
    assert vectors.pca_share(b, 0) == pytest.approx(1.0)
    same = np.concatenate([np.zeros((1, d), np.float32), np.tile(rng.standard_normal(d), (n, 1)).astype(np.float32)])
    c = replace(a, tokens_in=same)
    assert vectors.alike_patches(c, 0, 5) == (n - 1, pytest.approx(1.0, abs=1e-5))  # every token points alike
    half = same.copy()
    half[1 + n // 2:] *= -1  # the second half points the opposite way
    count, mean = vectors.alike_patches(replace(a, tokens_in=half), 0, 0)
    assert count == n // 2 - 1 and mean == pytest.approx(((n // 2 - 1) - (n - n // 2)) / (n - 1), abs=1e-5)


def test_cosine_rows_by_hand():
    np.testing.assert_allclose(vectors.cosine_rows(np.array([[1.0, 0]]), np.array([[0, 2.0], [3.0, 0], [-1, 0]])),
                               [[0, 1, -1]])


# ---- positions ----

def test_similarity_grid_and_tiles():
    pos = np.eye(4)  # 2x2 grid, orthogonal embeddings
    sim = positions.similarity_grid(pos, (2, 2))
    assert sim.shape == (2, 2, 2, 2) and sim[0, 1, 0, 1] == 1 and sim[0, 1, 1, 0] == 0
    canvas = positions.tile_grid(sim)
    assert canvas.shape == (5, 5) and np.isnan(canvas[2]).all()
    np.testing.assert_array_equal(canvas[0:2, 3:5], sim[0, 1])  # tile (0, 1) is position (0, 1)'s map


def test_sincos_1d_formula():
    pe = positions.sincos_1d(10, 8)
    assert pe[3, 0] == pytest.approx(np.sin(3)) and pe[3, 1] == pytest.approx(np.cos(3))
    assert pe[5, 2] == pytest.approx(np.sin(5 / 10000 ** (2 / 8)))


def test_sincos_2d_offsets_fall_with_distance():
    s = positions.structure(positions.sincos_2d((14, 14), 384), (14, 14))
    assert s.neighbour_cosine > s.far_cosine
    assert np.all(np.diff(s.by_row_offset[:4]) < 0) and np.all(np.diff(s.by_col_offset[:4]) < 0)


def test_sincos_figures_share_a_stated_range_that_shows_their_structure(analysed):
    from vitviz.model.analysis import model_alone
    from vitviz.views import positions as views

    bundle, _, a = analysed
    a = model_alone(a)
    lo, hi = views.sincos_range(a)
    lowest = min(positions.similarity_grid(t, a.grid).min() for t in (
        positions.sincos_1d(a.num_patches, a.embed_dim), positions.sincos_2d(a.grid, a.embed_dim)))
    assert hi == 1 and lowest - 0.05 < lo <= lowest and lo > 0  # all positive: −1…1 would show one colour
    for kind in ("1d", "2d"):
        fig = views.sincos_similarity(bundle, a, kind)
        heat = fig.data[0]
        assert (heat.zmin, heat.zmax) == (lo, hi) and f"colours {lo:.2f}…1" in fig.layout.title.text.replace("<br>", " ")
    learned = views.learned_similarity(bundle, a).data[0]
    assert (learned.zmin, learned.zmax) == (-1, 1)  # the learned table keeps cosine's whole scale


def test_shuffle_without_positions_changes_nothing(analysed):
    bundle, _, a = analysed
    res = positions.shuffle_experiment(bundle, a, seed=1)
    assert res.without_pos_diff < 1e-5
    assert res.with_pos_diff > 10 * res.without_pos_diff
    assert sorted(res.order.tolist()) == list(range(196))
    # the shuffled picture is made of the same patches
    assert sorted(map(bytes, res.shuffled_image.reshape(14, 16, 14, 16, 3).transpose(0, 2, 1, 3, 4)
                      .reshape(196, -1))) == sorted(map(bytes, a.image.reshape(14, 16, 14, 16, 3)
                                                         .transpose(0, 2, 1, 3, 4).reshape(196, -1)))


def test_resolution_change(analysed):
    bundle, img, a = analysed
    same = positions.run_at_resolution(bundle, img, 224)
    assert same.tokens == 197 and same.label == a.top_labels[0]
    assert same.prob == pytest.approx(a.top_probs[0], abs=1e-5)
    bigger = positions.run_at_resolution(bundle, img, 320)
    assert bigger.tokens == 401 and bigger.image.shape == (320, 320, 3)
    assert bundle.model.patch_embed.img_size == (224, 224)


@pytest.mark.parametrize("model", ["tiny_bundle", "shapes_bundle"])
def test_the_native_size_is_read_from_the_analysis(model, request, photo):
    """The Positions page shows the model's own size without a forward pass: what running it would give."""
    bundle = request.getfixturevalue(model)
    a = analyze(bundle, photo)
    native, ran = positions.native_prediction(a), positions.run_at_resolution(bundle, photo, a.image.shape[0])
    assert (native.label, native.tokens) == (ran.label, ran.tokens)
    assert native.prob == pytest.approx(ran.prob, abs=1e-5)
    np.testing.assert_array_equal(native.image, ran.image)


def test_the_native_size_without_a_classifier(photo):
    from vitviz.model.loading import load_model
    bundle = load_model("dino_s16", device="cpu", pretrained=False)
    a = analyze(bundle, photo)
    native, ran = positions.native_prediction(a), positions.run_at_resolution(bundle, photo, a.image.shape[0])
    assert native.label == ran.label and np.isnan(native.prob) and np.isnan(ran.prob)


def test_shuffle_on_the_offline_model_shuffles_tokens_not_pixels(shapes_bundle):
    # its patch embedding reads colour edges computed across patch borders: shuffled pixels would make new
    # edges (top-1 changed without positions); shuffled tokens leave every patch vector as it was
    import io
    from PIL import Image
    from vitviz.inputs.samples import BY_KEY
    a = analyze(shapes_bundle, Image.open(io.BytesIO(BY_KEY["shape_star"].data())))
    res = positions.shuffle_experiment(shapes_bundle, a, seed=1)
    assert res.without_pos_diff < 1e-5
    assert res.with_pos_diff > 0.1  # positions matter to this trained model
    assert int(np.argmax(res.without_pos[0])) == int(np.argmax(res.without_pos[1]))
    np.testing.assert_allclose(res.with_pos[0], np.exp(a.logits) / np.exp(a.logits).sum(), atol=1e-6)
    p, cols = a.patch_size, a.grid[1]
    for k in (0, 5, a.num_patches - 1):  # shuffled picture tile k is the image's patch order[k]
        (r, c), (r0, c0) = divmod(k, cols), divmod(int(res.order[k]), cols)
        np.testing.assert_array_equal(res.shuffled_image[r * p:(r + 1) * p, c * p:(c + 1) * p],
                                      a.image[r0 * p:(r0 + 1) * p, c0 * p:(c0 + 1) * p])


def test_near_uniform_prediction_rule_on_constructed_logits():
    """Uniform logits: not sure of anything; one class far ahead, or two classes sharing the mass: sure enough."""
    from vitviz.stages import confidence

    flat = confidence.confidence(np.zeros(1000))
    assert flat.near_uniform and flat.entropy_share == pytest.approx(1.0) and flat.ratio == pytest.approx(1.0)
    assert "not sure of anything" in flat.sentence() and "0.10% of a blind guess among 1,000 classes" in flat.sentence()
    peaked = np.zeros(1000)
    peaked[3] = 12.0
    assert confidence.confidence(peaked).top > 0.9 and not confidence.confidence(peaked).near_uniform
    assert confidence.not_sure_line(peaked) is None
    # one rounding of one number: 9.8649 of 9.9658 bits is said 9.86 of 9.97, 98.9 % (not 99.0 % from the raw share)
    from vitviz.wording import entropy_share
    assert entropy_share(9.8649, 9.9658) == ("9.86", "9.97", "98.9%")
    assert "entropy is 9.97 of at most 9.97 bits, 100.0% of the most possible" in flat.sentence()
    pair = np.full(1000, -30.0)
    pair[[1, 2]] = 0.0  # two classes share it all: log 2 / log 1000 = 10 % of the largest entropy
    two = confidence.confidence(pair)
    assert two.entropy_share == pytest.approx(np.log(2) / np.log(1000), abs=1e-3) and not two.near_uniform
    # the rule's edge: a top class at 2× a blind guess among 10, the rest flat, is near uniform; at 4× it is not
    def top_at(ratio: float, c: int = 10) -> np.ndarray:
        p = np.full(c, (1 - ratio / c) / (c - 1))
        p[0] = ratio / c
        return np.log(p)
    assert confidence.confidence(top_at(2.0)).near_uniform
    assert not confidence.confidence(top_at(4.0)).near_uniform
    assert confidence.confidence(np.zeros(0)) is None  # no classifier: no prediction to judge


def test_a_random_vit_is_not_sure_and_the_bundled_model_is(analysed, shapes_bundle):
    from vitviz.inputs.samples import BY_KEY as SAMPLES
    from vitviz.inputs.decode import load_image
    from vitviz.stages import confidence

    _, _, a = analysed  # random weights
    c = confidence.confidence(a.logits)
    assert c.near_uniform and c.ratio < 5 and confidence.not_sure_line(a.logits)
    star = analyze(shapes_bundle, load_image(SAMPLES["shape_star"].data()))
    assert star.top_labels[0] == "star" and confidence.not_sure_line(star.logits) is None


def test_training_words_on_the_stage_texts_follow_the_weights(tiny_bundle, shapes_bundle):
    """Vectors' opening: "learned" for trained weights only; the CLS length is measured (timm draws it tiny)."""
    from PIL import Image

    from vitviz.stages import vectors as vec
    from vitviz.walkthrough import STAGES

    stage = next(s for s in STAGES if s.key == "vectors")
    trained = stage.answer_for(16, shapes_bundle.provenance) + stage.depth_for(shapes_bundle.provenance)
    random = stage.answer_for(16, tiny_bundle.provenance) + stage.depth_for(tiny_bundle.provenance)
    assert "one learned matrix" in trained and "a learned vector" in trained and "{" not in trained
    assert "learned matrix" not in random and "a learned vector" not in random and "{" not in random
    assert "the model's weight matrix (here random initialisation, seed 0)" in random
    a = analyze(tiny_bundle, Image.new("RGB", (224, 224), (120, 80, 40)))
    cls, patch = vec.cls_lengths(a)
    assert cls == pytest.approx(float(np.linalg.norm(a.cls_token)), rel=1e-6) and cls < 1e-3 < patch  # timm: std 1e-6
    said = vec.cls_length_sentence(a)
    pos = vec.cls_position_length(a)
    assert pos == pytest.approx(float(np.linalg.norm(a.pos_embed[0])), rel=1e-6) and cls < vec.DWARFED * pos
    assert f"{cls:.1e}" in said and f"position vector (length **{pos:.2g}**)" in said
    assert "in effect that position vector" in said and "almost nothing" not in said
    # constructed: a CLS parameter as long as its position vector is not "in effect the position vector"; none at all
    same = dataclasses.replace(a, cls_token=a.pos_embed[0].copy())
    assert "in effect" not in vec.cls_length_sentence(same) and f"**{pos:.2g}**" in vec.cls_length_sentence(same)
    none = dataclasses.replace(a, pos_embed=np.zeros_like(a.pos_embed))
    assert vec.cls_position_length(none) == 0.0 and "no position vector" in vec.cls_length_sentence(none)
    assert vec.alike_sentence(3, True) and vec.alike_sentence(3, False) == "" and vec.alike_sentence(0, True) == ""



def test_position_lens_and_faithfulness_texts_follow_the_weights(tiny_bundle, shapes_bundle):
    """Positions' answer, the block page's logit lens and Faithfulness' In depth: trained wording for the bundled
    model, the provenance's words for random weights and a user's file."""
    from vitviz.model import provenance
    from vitviz.walkthrough import BY_KEY

    def text(key, origin):
        return BY_KEY[key].answer_for(16, origin) + BY_KEY[key].depth_for(origin)

    trained, random = shapes_bundle.provenance, tiny_bundle.provenance
    file = provenance.local_file("your file", "w.pt")
    assert "learned parameters" in text("positions", trained) and "the model you picked learned" in text(
        "positions", trained)
    assert "rough guide" in text("block", trained) and "never saw in training" in text("faithfulness", trained)
    for origin in (random, file):
        assert "{" not in text("positions", origin) + text("block", origin) + text("faithfulness", origin)
        assert "learned parameters" not in text("positions", origin) and "on screen encodes" in text("positions", origin)
        assert "rough guide" not in text("block", origin) and "never saw in training" not in text("faithfulness", origin)
    assert "random function" in text("faithfulness", random) and "random function" not in text("faithfulness", file)
    assert "unknown too" in text("block", file) and "something the model learned" in text("block", random)


def test_shuffle_sentence_compares_the_two_changes():
    """Both changes in wording.difference's words and their ratio; the random-weights caveat only when asked."""
    from vitviz.stages.positions import ShuffleResult, shuffle_verdict

    zero = np.zeros(3)
    result = ShuffleResult(order=np.arange(4), shuffled_image=np.zeros((2, 2, 3), np.uint8),
                           with_pos=(zero, np.array([0.0, 1.38e-5, 0.0])), without_pos=(zero, np.array([1.2e-9, 0, 0])))
    said = shuffle_verdict(result, random=True)
    assert "by at most 1.38e-05; without them: equal up to rounding (1.2e-09)" in said
    assert "as much" not in said and "ratio" not in said  # no ratio over rounding noise
    assert "barely change the output" in said and "**set**" in said
    assert "barely change" not in shuffle_verdict(result)
    measured = ShuffleResult(order=np.arange(4), shuffled_image=np.zeros((2, 2, 3), np.uint8),
                             with_pos=(zero, np.array([0.0, 0.01, 0.0])), without_pos=(zero, np.array([1e-4, 0, 0])))
    assert "so 100× as much with them" in shuffle_verdict(measured)  # both beyond rounding: their ratio means something
