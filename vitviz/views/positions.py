"""Figures of the Positions stage."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.images import grid_heatmap, image_figure
from vitviz.figures.maps import shares_figure, similarity_grid_figure, waves_figure
from vitviz.figures.style import ACCENT, DIVERGING, HIGHLIGHT, base_layout
from vitviz.figures.tokens import layer_lines
from vitviz.model.analysis import Analysis
from vitviz.model import provenance
from vitviz.model.loading import Bundle
from vitviz.stages import position_code, positions
from vitviz.wording import patch_place


def learned_similarity(_bundle: Bundle, a: Analysis, height: int | None = None) -> go.Figure:
    """ViT paper, Figure 7 centre: each position's cosine similarity with every other, tile by tile (−1…1)."""
    sim = positions.similarity_grid(positions.patch_positions_embed(a), a.grid)
    return similarity_grid_figure(positions.tile_grid(sim), a.grid, height=height,
                                  title="Tile (row, col): that position's cosine similarity with all (click one); "
                                        "colours −1…1")


def one_position(_bundle: Bundle, a: Analysis, index: int) -> go.Figure:
    sim = positions.similarity_grid(positions.patch_positions_embed(a), a.grid)
    r, c = divmod(index, a.grid[1])
    return grid_heatmap(sim[r, c], f"Position {index} ({patch_place(index, a.grid)}) vs all positions", colorscale=DIVERGING,
                        zmin=-1, zmax=1, height=420, colorbar_title="cosine")


def code_shares(_bundle: Bundle, a: Analysis) -> go.Figure:
    """The numbers the position-code rule reads, each with its bar (``position_code.rule``)."""
    code = position_code.position_code(positions.patch_positions_embed(a), a.grid)
    rows = [("distance from the border", code.border, position_code.BORDER_SHARE),
            ("which row", code.rows, None), ("which column", code.columns, None),
            ("all three together", code.together, position_code.STRUCTURE_SHARE),
            ("side: left vs right", code.left_right, position_code.SIDE_SHARE),
            ("side: top vs bottom", code.top_bottom, position_code.SIDE_SHARE)]
    return shares_figure([r[0] for r in rows], [max(float(np.nan_to_num(r[1])), 0.0) for r in rows],
                         [r[2] for r in rows], "What explains the table: share of its variance, beyond chance",
                         x_title="share explained (adjusted R²)")


def mirror_cosines(_bundle: Bundle, a: Analysis) -> go.Figure:
    """Mean cosine of a position with its neighbours, its mirror images and far positions: the mirror test."""
    code = position_code.position_code(positions.patch_positions_embed(a), a.grid)
    far = positions.structure(positions.patch_positions_embed(a), a.grid).far_cosine
    names = ["4 neighbours", "mirror left↔right", "mirror top↔bottom", "≥ 3 patches away"]
    values = [code.neighbour_cosine, code.mirror_left_right, code.mirror_top_bottom, far]
    fig = go.Figure(go.Bar(y=names, x=values, orientation="h", marker_color=[ACCENT, HIGHLIGHT, HIGHLIGHT, ACCENT],
                           text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
                           showlegend=False))
    fig.update_xaxes(title="mean cosine", range=[min(-0.1, min(values) - 0.1), 1.2])
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, "Mean cosine: neighbours<br>vs mirror images", height=300)


def by_offset(_bundle: Bundle, a: Analysis) -> go.Figure:
    s = positions.structure(positions.patch_positions_embed(a), a.grid)
    return layer_lines(np.stack([s.by_row_offset, s.by_col_offset]), "Cosine similarity by row and column offset",
                       y_title="mean cosine", x_title="offset (patches)", names=["along a column", "along a row"])


def sincos_range(a: Analysis) -> tuple[float, float]:
    """(lo, 1): the colour range of both sin-cos figures, from the lower of the two tables' lowest cosines
    (rounded down to 0.05) to 1, so that the two are drawn on one scale."""
    lowest = min(float(np.min(positions.similarity_grid(t, a.grid))) for t in (
        positions.sincos_1d(a.num_patches, a.embed_dim), positions.sincos_2d(a.grid, a.embed_dim)))
    return float(np.floor(lowest * 20) / 20), 1.0


def sincos_similarity(_bundle: Bundle, a: Analysis, kind: str) -> go.Figure:
    """The same figure for a sin-cos table of this model's size: ``kind`` "1d" (Vaswani) or "2d" (MAE). Its
    cosines are all positive, so its colours span ``sincos_range`` (stated in the title), not −1…1."""
    if kind == "1d":
        table, title = positions.sincos_1d(a.num_patches, a.embed_dim), \
            "1D sin-cos (Vaswani et al., 2017): positions counted along the raster"
    else:
        table, title = positions.sincos_2d(a.grid, a.embed_dim), "2D sin-cos (MAE; timm build_sincos2d_pos_embed)"
    lo, hi = sincos_range(a)
    return similarity_grid_figure(positions.tile_grid(positions.similarity_grid(table, a.grid)), a.grid,
                                  f"{title}; colours {lo:.2f}…{hi:.0f}", height=420, zrange=(lo, hi))


def waves(bundle: Bundle, a: Analysis, kind: str, dims: tuple[int, ...]) -> go.Figure:
    """Chosen dimensions along the positions: "sincos" (1D, smooth by construction) or "learned"."""
    if kind == "sincos":
        return waves_figure(positions.sincos_1d(a.num_patches, a.embed_dim), list(dims),
                            "1D sin-cos: smooth waves by construction")
    return waves_figure(positions.patch_positions_embed(a), list(dims), f"{bundle.spec.title}: the same dimensions, {provenance.values(bundle.provenance)}")


def shuffled(_bundle: Bundle, a: Analysis, picture: np.ndarray) -> go.Figure:
    return image_figure(picture, "The same patches, shuffled", height=320)
