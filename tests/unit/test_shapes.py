"""The shape generator: deterministic, every class, masks that match the drawing."""

import numpy as np

from vitviz.offline.shapes import IMAGE_SIZE, SHAPE_CLASSES, generate_batch, patch_coverage, sample_image


def test_same_seed_same_images():
    a, b = generate_batch(7, 4), generate_batch(7, 4)
    assert all(np.array_equal(x.image, y.image) and x.label == y.label for x, y in zip(a, b))
    assert not np.array_equal(generate_batch(8, 1)[0].image, a[0].image)


def test_every_class_is_drawn_with_a_plausible_mask():
    for name in SHAPE_CLASSES:
        s = sample_image(name)
        assert s.name == name and s.image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and s.image.dtype == np.uint8
        share = s.mask.mean()
        assert 0.01 < share < 0.5, name
        # the shape's colour differs from the background around it
        inside = s.image[s.mask].mean(0)
        outside = s.image[~s.mask].mean(0)
        assert np.linalg.norm(inside - outside) > 30, name


def test_labels_cover_all_classes():
    labels = {s.label for s in generate_batch(0, 300)}
    assert labels == set(range(len(SHAPE_CLASSES)))


def test_patch_coverage():
    mask = np.zeros((16, 16), bool)
    mask[:8, :4] = True
    cov = patch_coverage(mask, 8)
    np.testing.assert_allclose(cov, [[0.5, 0], [0, 0]])
