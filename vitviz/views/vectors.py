"""Figures of the Vectors stage."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.images import heatmap_overlay, image_figure, patch_grid_figure, tiles_figure
from vitviz.figures.style import DIVERGING
from vitviz.figures.tokens import matrix_figure
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import vectors


def pick(_bundle: Bundle, a: Analysis, selected: int) -> go.Figure:
    return patch_grid_figure(a.image, a.patch_size, a.grid, selected=selected, show_indices=False, height=380,
                             title="Click a patch")


def all_vectors(_bundle: Bundle, a: Analysis, selected: int | None = None) -> go.Figure:
    return matrix_figure(a.patch_embeddings, f"All {a.num_patches} patch vectors (rows) × {a.embed_dim} dimensions",
                         selected_row=selected)


def filters(bundle: Bundle, a: Analysis, count: int = 28) -> go.Figure:
    """Principal components of the projection filters (ViT paper, Figure 7 left)."""
    return tiles_figure(vectors.filter_components(bundle, count), columns=14, height=260,
                        title=f"First {count} principal components of the {a.embed_dim} projection filters of "
                              f"{bundle.spec.title}")


def twins(_bundle: Bundle, a: Analysis) -> go.Figure:
    twin = vectors.twin_patches(a)
    marks = np.zeros(a.grid)
    marks.flat[[twin.first, twin.second]] = 1
    return heatmap_overlay(a.image, marks, a.patch_size, opacity=0.55, height=380,
                           title=f"The two most alike patches: {twin.first} and {twin.second}")


def identical(_bundle: Bundle, a: Analysis, pair: vectors.IdenticalPair) -> go.Figure:
    """The input with one patch copied onto another (and the ring the patch embedding reads, if any)."""
    marks = np.zeros(a.grid)
    marks.flat[[pair.source, pair.target]] = 1
    return heatmap_overlay(vectors.copied_image(a, pair), marks, a.patch_size, opacity=0.55, height=380,
                           title=f"Patch {pair.source} copied onto patch {pair.target}")


def token_pca(_bundle: Bundle, a: Analysis, layer: int) -> go.Figure:
    rgb = vectors.token_pca_rgb(a, layer)  # [rows, cols, 3] in 0..1
    p = a.patch_size
    return image_figure((np.kron(rgb, np.ones((p, p, 1))) * 255).astype(np.uint8),
                        f"Patch tokens at layer {layer}, 3 principal components as RGB", height=420)


def similarity_to_patch(_bundle: Bundle, a: Analysis, layer: int, index: int) -> go.Figure:
    return heatmap_overlay(a.image, vectors.cosine_map(a, layer, index), a.patch_size, opacity=0.75, selected=index,
                           colorscale=DIVERGING, zmin=-1, zmax=1, height=420,
                           title=f"Cosine similarity to patch {index} at layer {layer} (click another)")
