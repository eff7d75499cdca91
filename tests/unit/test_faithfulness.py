"""Occlusion and deletion/insertion curves: on the bundled model and on random-weight zoo architectures."""

import numpy as np
import pytest
import torch

from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES, SHAPES
from vitviz.model.analysis import analyze
from vitviz.model.forward import forward_kept_tokens, run_kept_tokens
from vitviz.model.loading import load_model
from vitviz.offline.shapes import patch_coverage, sample_image
from vitviz.stages import faithfulness as faith


def analysis_of(bundle, sample: str):
    return analyze(bundle, load_image(SAMPLES[sample].data()))


@pytest.fixture(scope="module")
def dino_bundle():
    """DINO ViT-S/16 with random weights: no classifier."""
    torch.manual_seed(0)
    return load_model("dino_s16", device="cpu", pretrained=False)


@pytest.fixture(scope="module")
def star(shapes_bundle):
    return analysis_of(shapes_bundle, "shape_star")


@pytest.fixture(scope="module")
def tiny_cat(tiny_bundle):
    return analysis_of(tiny_bundle, "cat")


@pytest.mark.parametrize("which", ["shapes", "tiny"])
def test_removing_no_patch_gives_the_models_own_probability_exactly(which, shapes_bundle, tiny_bundle, star,
                                                                    tiny_cat):
    bundle, a = (shapes_bundle, star) if which == "shapes" else (tiny_bundle, tiny_cat)
    for rank in range(len(a.top_indices)):
        target = faith.target_for(a, rank)
        occ = faith.occlusion(bundle, a, target)
        assert occ.base == a.top_probs[rank]
    c = faith.curves(bundle, a, faith.target_for(a), {"rollout": faith.attention.rollout_map(a)}, steps=4,
                     random_orders=2)
    assert c.deletion["rollout"][0] == c.insertion["rollout"][-1] == a.top_probs[0]


def test_positions_travel_with_their_tokens(tiny_bundle, tiny_cat):
    """Keeping every patch in any order is the model's own forward pass: each token keeps its own position."""
    a = tiny_cat
    tokens = torch.from_numpy(a.patch_embeddings.copy())[None]
    keep = torch.from_numpy(np.random.default_rng(1).permutation(a.num_patches))[None]
    with torch.inference_mode():
        logits = forward_kept_tokens(tiny_bundle.model, tokens, keep)[0].numpy()
    np.testing.assert_allclose(logits, a.logits, atol=1e-5)


@pytest.mark.parametrize("which", ["shapes", "tiny"])
def test_removing_all_but_one_patch_and_all_patches_are_valid_forward_passes(which, shapes_bundle, tiny_bundle,
                                                                             star, tiny_cat):
    bundle, a = (shapes_bundle, star) if which == "shapes" else (tiny_bundle, tiny_cat)
    keep = np.arange(a.num_patches)[:, None]  # [N, 1]: one input per patch, each keeping that patch alone
    out = run_kept_tokens(bundle, a.patch_embeddings, keep)
    assert out.probs.shape == (a.num_patches, len(bundle.labels))
    assert np.isfinite(out.probs).all() and np.allclose(out.probs.sum(1), 1, atol=1e-5)
    assert len(np.unique(out.probs[:, 0])) > 1  # which patch is kept matters
    alone = run_kept_tokens(bundle, a.patch_embeddings, np.zeros((1, 0), np.int64))  # the CLS token alone
    assert np.isfinite(alone.probs).all()


def test_default_grouping_keeps_maps_small_and_shows_its_groups():
    assert faith.default_group((14, 14)) == 2 and faith.group_count((14, 14), 2) == 49  # ViT-S/16: <= 50 passes
    assert faith.default_group((8, 8)) == 1  # the bundled model: every patch
    assert faith.default_group((28, 28)) == 4 and faith.group_count((28, 28), 4) == 49  # DINO ViT-S/8
    assert faith.default_group((7, 7)) == 1  # ViT-B/32
    ids = faith.group_ids((5, 5), 2)  # partial groups at the edges
    assert ids.max() == 8 and (ids == 0).sum() == 4 and (ids == 8).sum() == 1
    assert ids[0, 0] == ids[1, 1] != ids[0, 2]


def test_big_grids_are_grouped_and_batched():
    torch.manual_seed(0)
    bundle = load_model("dino_s8", device="cpu", pretrained=False)
    a = analysis_of(bundle, "coffee")
    assert a.num_patches == 784
    seen: list[tuple[int, int]] = []
    before = bundle.forward_calls
    occ = faith.occlusion(bundle, a, faith.target_for(a), progress=lambda d, t: seen.append((d, t)))
    assert occ.group == 4 and occ.passes == 49
    assert bundle.forward_calls - before < 49 // 3  # batches (of 4 inputs at 769 tokens), not a pass per group
    assert seen[-1] == (49, 49) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    for g in range(49):  # one value per group, shown on each of its patches
        assert len(np.unique(occ.drop[occ.groups == g])) == 1


def test_occlusion_runs_in_batches_and_reports_progress(shapes_bundle, star):
    seen: list[tuple[int, int]] = []
    before = shapes_bundle.forward_calls
    occ = faith.occlusion(shapes_bundle, star, faith.target_for(star), progress=lambda d, t: seen.append((d, t)))
    assert occ.passes == 64 and seen[-1] == (64, 64)
    assert shapes_bundle.forward_calls - before <= 3  # the reference and at most two batches


def test_painting_hides_exactly_the_group_the_token_variant_removes(tiny_bundle, tiny_cat, shapes_bundle, star):
    """Which is which: group g covers the same patches in both variants."""
    a = tiny_cat
    groups = faith.group_ids(a.grid, 2)
    for g in (0, 10, 48):
        x = faith.painted(a, groups, np.array([g]))[0]
        moved = np.any(x != a.pixels, axis=0)  # [H, W]
        cells = moved.reshape(a.grid[0], a.patch_size, a.grid[1], a.patch_size).any(axis=(1, 3))
        assert np.array_equal(cells, groups == g)
        # a plain ViT's patch embedding reads one patch: painting changes exactly the group's patch vectors
        assert np.array_equal(faith.changed_patches(tiny_bundle, a, groups, g), groups == g)
    # the bundled model's colour-edge channel reads across borders: the painted patch and neighbours change
    sgroups = faith.group_ids(star.grid, 1)
    changed = faith.changed_patches(shapes_bundle, star, sgroups, 27)
    assert changed[sgroups == 27].all() and changed.sum() > 1


def test_both_ways_of_hiding_find_a_patch_on_the_shape(shapes_bundle):
    """On the bundled model the most important patch of either variant lies on the shape (for most samples:
    painting a ring's hole fills it, which is itself evidence, so not for every one)."""
    on_shape = {"tokens": 0, "pixels": 0}
    for s in SHAPES:
        a = analysis_of(shapes_bundle, s.key)
        coverage = patch_coverage(sample_image(s.key.removeprefix("shape_")).mask, a.patch_size).ravel()
        for variant in on_shape:
            occ = faith.occlusion(shapes_bundle, a, faith.target_for(a), variant=variant)
            on_shape[variant] += coverage[occ.drop.argmax()] > 0
    assert on_shape["tokens"] == len(SHAPES) and on_shape["pixels"] >= len(SHAPES) - 1


def test_curves_start_and_end_where_they_must(shapes_bundle, star):
    target = faith.target_for(star)
    occ = faith.occlusion(shapes_bundle, star, target)
    maps = faith.method_maps(shapes_bundle, star, occ.drop, faith.attention.gradient_rollout(
        shapes_bundle, star, target.class_index))
    c = faith.curves(shapes_bundle, star, target, maps)
    assert set(c.deletion) == {"attention", "rollout", "gradient", "occlusion"}
    assert c.fractions[0] == 0 and c.fractions[-1] == 1 and len(c.fractions) == faith.STEPS + 1
    alone = run_kept_tokens(shapes_bundle, star.patch_embeddings, np.zeros((1, 0), np.int64)).probs[0, target.class_index]
    for d, i in [*zip(c.deletion.values(), c.insertion.values()), *zip(c.random_deletion, c.random_insertion)]:
        assert d[0] == i[-1] == star.top_probs[0]  # nothing removed / everything revealed: the model's own
        assert d[-1] == i[0] == pytest.approx(float(alone), abs=1e-6)  # everything removed: the CLS token alone
    # the first step of the occlusion order removes the patches whose removal hurts most
    k = int(round(star.num_patches / faith.STEPS))
    assert c.deletion["occlusion"][1] < c.random_deletion[:, 1].min()
    assert k > 1


def test_occlusion_beats_random_on_deletion_for_every_shape_sample(shapes_bundle):
    """The causal reference: on the bundled model, deleting by occlusion falls faster than random order."""
    for s in SHAPES:
        a = analysis_of(shapes_bundle, s.key)
        report = faith.evaluate(shapes_bundle, a)
        assert report.areas["occlusion"].deletion < report.areas[faith.RANDOM].deletion, s.key


def test_random_weights_score_like_random_order(tiny_bundle):
    for sample in ("cat", "coffee"):
        a = analysis_of(tiny_bundle, sample)
        report = faith.evaluate(tiny_bundle, a)
        r = report.areas[faith.RANDOM]
        for m, area in report.areas.items():
            assert abs(area.deletion - r.deletion) < faith.TIE_FLOOR and abs(area.insertion - r.insertion) < faith.TIE_FLOOR
        assert "are no better than random" in faith.verdict(report.curves)


def test_another_class_has_its_own_map(shapes_bundle, star):
    first = faith.occlusion(shapes_bundle, star, faith.target_for(star, 0))
    second = faith.occlusion(shapes_bundle, star, faith.target_for(star, 1))
    assert second.target.label == star.top_labels[1] and second.base == star.top_probs[1]
    assert not np.allclose(first.drop, second.drop)
    with pytest.raises(ValueError, match="rank"):
        faith.target_for(star, 5)


def test_without_a_classifier_the_score_is_cosine_to_the_whole_image(dino_bundle):
    a = analysis_of(dino_bundle, "cat")
    target = faith.target_for(a)
    assert not target.has_class and "cosine" in target.score_name
    occ = faith.occlusion(dino_bundle, a, target)
    assert occ.base == pytest.approx(1.0, abs=1e-6)
    maps = faith.method_maps(dino_bundle, a, occ.drop, None)
    assert "gradient" not in maps
    c = faith.curves(dino_bundle, a, target, maps, steps=4, random_orders=2)
    assert "cosine similarity" in faith.verdict(c) and "gradient" not in faith.areas_table(c)


def synthetic(deletion: dict[str, float], insertion: dict[str, float], rand: tuple[float, float]) -> faith.Curves:
    """Curves whose areas are known: flat lines at the given heights (area = height over [0, 1])."""
    x = np.linspace(0, 1, 3)
    flat = lambda v: np.full(3, v)  # noqa: E731
    return faith.Curves(x, {m: flat(v) for m, v in deletion.items()}, {m: flat(v) for m, v in insertion.items()},
                        np.stack([flat(rand[0]), flat(rand[0] + 0.004)]), np.stack([flat(rand[1]), flat(rand[1] - 0.004)]),
                        faith.Target(3, "cat"), 0, maps={})


def test_the_verdict_is_built_from_the_areas():
    c = synthetic({"rollout": 0.5, "occlusion": 0.2, "attention": 0.7}, {"rollout": 0.5, "occlusion": 0.8,
                  "attention": 0.2}, (0.5, 0.5))
    said = faith.verdict(c)
    assert said.startswith("On this image, for the probability of “cat”: ")
    assert "occlusion beats random order on both curves" in said
    assert "attention rollout is no better than random" in said
    assert "CLS attention (last block) does worse than random on both curves" in said
    table = faith.areas_table(c)
    assert "| occlusion | 0.200 | 0.800 | deletion better, insertion better |" in table
