"""Figures of the Positions stage."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.images import grid_heatmap, image_figure
from vitviz.figures.maps import similarity_grid_figure, waves_figure
from vitviz.figures.style import DIVERGING
from vitviz.figures.tokens import layer_lines
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import positions
from vitviz.wording import patch_place


def learned_similarity(_bundle: Bundle, a: Analysis, height: int | None = None) -> go.Figure:
    """ViT paper, Figure 7 centre: each position's cosine similarity with every other, tile by tile."""
    sim = positions.similarity_grid(positions.patch_positions_embed(a), a.grid)
    return similarity_grid_figure(positions.tile_grid(sim), a.grid, height=height,
                                  title="Tile (row, col): that position's cosine similarity with all (click one)")


def one_position(_bundle: Bundle, a: Analysis, index: int) -> go.Figure:
    sim = positions.similarity_grid(positions.patch_positions_embed(a), a.grid)
    r, c = divmod(index, a.grid[1])
    return grid_heatmap(sim[r, c], f"Position {index} ({patch_place(index, a.grid)}) vs all positions", colorscale=DIVERGING,
                        zmin=-1, zmax=1, height=420, colorbar_title="cosine")


def by_offset(_bundle: Bundle, a: Analysis) -> go.Figure:
    s = positions.structure(positions.patch_positions_embed(a), a.grid)
    return layer_lines(np.stack([s.by_row_offset, s.by_col_offset]), "Cosine similarity by row and column offset",
                       y_title="mean cosine", x_title="offset (patches)", names=["along a column", "along a row"])


def sincos_similarity(_bundle: Bundle, a: Analysis, kind: str) -> go.Figure:
    """The same figure for a sin-cos table of this model's size: ``kind`` "1d" (Vaswani) or "2d" (MAE)."""
    if kind == "1d":
        table, title = positions.sincos_1d(a.num_patches, a.embed_dim), \
            "1D sin-cos (Vaswani et al.): positions counted along the raster"
    else:
        table, title = positions.sincos_2d(a.grid, a.embed_dim), "2D sin-cos (MAE; timm build_sincos2d_pos_embed)"
    return similarity_grid_figure(positions.tile_grid(positions.similarity_grid(table, a.grid)), a.grid, title,
                                  height=420)


def waves(bundle: Bundle, a: Analysis, kind: str, dims: tuple[int, ...]) -> go.Figure:
    """Chosen dimensions along the positions: "sincos" (1D, smooth by construction) or "learned"."""
    if kind == "sincos":
        return waves_figure(positions.sincos_1d(a.num_patches, a.embed_dim), list(dims),
                            "1D sin-cos: smooth waves by construction")
    return waves_figure(positions.patch_positions_embed(a), list(dims), f"{bundle.spec.title}: the same dimensions, learned")


def shuffled(_bundle: Bundle, a: Analysis, picture: np.ndarray) -> go.Figure:
    return image_figure(picture, "The same patches, shuffled", height=320)
