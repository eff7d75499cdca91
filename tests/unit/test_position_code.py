"""The position-code rule on tables whose answer is known by construction, then on the bundled model and a
random-weight ViT."""

import numpy as np
import pytest

from vitviz.stages import position_code as pc
from vitviz.stages import positions

RC = (pc.ROWS, pc.COLUMNS)


def indices(grid):
    rows, cols = grid
    r, c = (m.ravel() for m in np.mgrid[0:rows, 0:cols])
    return r, c, np.minimum.reduce([r, c, rows - 1 - r, cols - 1 - c])


def one_hot(v, dim):
    out = np.zeros((v.size, dim))
    out[np.arange(v.size), v] = 1
    return out


def noisy(table, scale, seed=0):
    return table + scale * np.random.default_rng(seed).standard_normal(table.shape)


GRIDS = [((8, 8), 64), ((14, 14), 192)]


@pytest.mark.parametrize("grid,dim", GRIDS)
def test_2d_sincos_is_rows_and_columns(grid, dim):
    code = pc.position_code(positions.sincos_2d(grid, dim), grid)  # timm's build_sincos2d_pos_embed
    assert code.kinds == RC
    assert code.border < 0.15 and code.left_right > 0.2 and code.top_bottom > 0.2
    assert "**rows and columns**" in pc.verdict(code) and "tells left from right and top from bottom" in pc.verdict(code)


@pytest.mark.parametrize("grid,dim", GRIDS)
def test_one_hot_row_plus_one_hot_column_is_rows_and_columns(grid, dim):
    r, c, _ = indices(grid)
    table = noisy(one_hot(r, dim) + one_hot(grid[0] + c, dim), 0.05)  # row in one half, column in the other
    code = pc.position_code(table, grid)
    assert code.kinds == RC
    # one-hot codes are not smooth: a mirror image is exactly as alike as a neighbour, so the mirror cosine alone
    # could not tell this from a ring; the side share does
    assert code.mirror_left_right == pytest.approx(code.neighbour_cosine, abs=0.05)


@pytest.mark.parametrize("grid,dim", GRIDS)
def test_distance_from_the_border_is_a_ring(grid, dim):
    _, _, b = indices(grid)
    for table, alike in ((noisy(one_hot(b, dim), 0.05), "more alike than"),  # one-hot ring: neighbours differ
                         (positions.sincos_1d(grid[0], dim)[b], "as alike as")):  # smooth ring: all near 1
        code = pc.position_code(table, grid)
        assert code.kinds == (pc.BORDER,)
        assert code.left_right < 0.02 and code.top_bottom < 0.02  # symmetric under both mirrors by construction
        assert code.mirror_left_right >= code.neighbour_cosine - 0.01
        said = pc.verdict(code)
        assert "**mostly distance from the border**" in said and "barely tells left from right" in said
        assert f"{alike} neighbours" in said and "learned something else" in said
    # the old test (4 neighbours against ≥ 3 patches away) calls the smooth ring 2D structure all the same
    s = positions.structure(positions.sincos_1d(grid[0], dim)[b], grid)
    assert s.neighbour_cosine > s.far_cosine


@pytest.mark.parametrize("grid,dim", GRIDS)
def test_rows_only_and_columns_only(grid, dim):
    r, c, _ = indices(grid)
    rows_only = pc.position_code(noisy(one_hot(r, dim), 0.05), grid)
    assert rows_only.kinds == (pc.ROWS,) and rows_only.columns < 0.05 and rows_only.left_right < 0.05
    assert "**rows only**" in pc.verdict(rows_only) and "barely tells left from right" in pc.verdict(rows_only)
    assert "learned only part of that" in pc.verdict(rows_only)
    smooth_columns = pc.position_code(positions.sincos_1d(grid[1], dim)[c], grid)
    assert smooth_columns.kinds == (pc.COLUMNS,)
    assert "barely tells top from bottom" in pc.verdict(smooth_columns)


@pytest.mark.parametrize("grid,dim", GRIDS)
def test_noise_is_nothing(grid, dim):
    code = pc.position_code(np.random.default_rng(1).standard_normal((grid[0] * grid[1], dim)), grid)
    assert code.kinds == ()
    assert abs(code.together) < 0.05 and abs(code.border) < 0.05 and abs(code.left_right) < 0.05
    assert "**nothing beyond noise**" in pc.verdict(code)


def test_a_mix_names_every_code_found():
    grid, dim = (14, 14), 192
    _, _, b = indices(grid)
    table = np.concatenate([positions.sincos_2d(grid, dim), positions.sincos_1d(grid[0], dim)[b]], 1)
    code = pc.position_code(table, grid)
    assert code.kinds == (pc.ROWS, pc.COLUMNS, pc.BORDER)
    assert "**a mix: rows, columns and distance from the border**" in pc.verdict(code)
    assert "learned them too, and distance from the border besides" in pc.verdict(code)


def test_a_constant_table_is_nothing():
    code = pc.position_code(np.ones((64, 8)), (8, 8))
    assert code.kinds == () and "nothing beyond noise" in pc.verdict(code)


def test_a_single_row_has_no_top_bottom_side():
    _, c, _ = indices((1, 12))
    code = pc.position_code(positions.sincos_1d(12, 32)[c], (1, 12))  # a 1 × 12 strip coded by column
    assert code.top_bottom == pytest.approx(0, abs=1e-9) and code.left_right >= pc.SIDE_SHARE
    # one column code per position fits anything: the three codes together cannot be judged, and nothing is claimed
    assert np.isnan(code.together) and code.kinds == ()


def test_shares_ignore_rotation_and_scale_of_the_embedding_space():
    grid = (8, 8)
    table = noisy(positions.sincos_2d(grid, 64), 0.2)
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((64, 64)))
    a, b = pc.position_code(table, grid), pc.position_code(3 * table @ q, grid)
    for field in ("rows", "columns", "border", "together", "left_right", "top_bottom"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-9)


def test_explained_share_by_hand():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert pc.explained_share(x, x) == pytest.approx(1.0)  # a perfect fit
    # y = [0, 2, 1, 3] on x: R² = 0.64; adjusted with N = 4, k = 1: 1 − 0.36 · 3 / 2 = 0.46
    assert pc.explained_share(np.array([[0.0], [2.0], [1.0], [3.0]]), x) == pytest.approx(0.46)
    assert np.isnan(pc.explained_share(np.ones((4, 2)), x))  # nothing varies


def test_side_codes_change_sign_under_the_mirror():
    codes = pc.grid_codes((4, 6))
    lr = codes["left_right"].reshape(4, 6, -1)
    np.testing.assert_array_equal(lr[:, ::-1], -lr)
    tb = codes["top_bottom"].reshape(4, 6, -1)
    np.testing.assert_array_equal(tb[::-1], -tb)
    assert lr.shape[-1] == 3 and tb.shape[-1] == 2
    border = codes["border"].reshape(4, 6, -1)
    np.testing.assert_array_equal(border[::-1, ::-1], border)


def table_of(bundle):
    m = bundle.model
    return m.pos_embed[0, m.num_prefix_tokens:].detach().numpy(), tuple(m.patch_embed.grid_size)


def test_bundled_model_encodes_distance_from_the_border(shapes_bundle):
    pos, grid = table_of(shapes_bundle)
    code = pc.position_code(pos, grid)
    assert code.kinds == (pc.BORDER,)
    assert code.border > 0.8 and code.left_right < 0.05 and code.top_bottom < 0.05
    assert min(code.mirror_left_right, code.mirror_top_bottom) > code.neighbour_cosine + 0.2
    said = pc.verdict(code)
    assert "mostly distance from the border" in said and "barely tells left from right" in said
    note = positions.offset_note(positions.structure(pos, grid), code.kinds)
    assert "climbs back" in note and "distance from the border, not of side" in note


def test_random_vit_encodes_nothing(tiny_bundle):
    pos, grid = table_of(tiny_bundle)
    code = pc.position_code(pos, grid)
    assert code.kinds == () and code.together < 0.05
    assert "nothing beyond noise" in pc.verdict(code)
    assert "climbs back" not in positions.offset_note(positions.structure(pos, grid), code.kinds)


def test_offset_note_follows_the_chart():
    s = positions.structure(positions.sincos_2d((8, 8), 64), (8, 8))
    note = positions.offset_note(s, (pc.ROWS, pc.COLUMNS))
    assert "climbs back" not in note and f"{s.by_col_offset[1]:.2f} at offset 1" in note
