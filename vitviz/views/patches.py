"""Figures of the Patches stage."""

from __future__ import annotations

import plotly.graph_objects as go

from vitviz.figures.images import image_figure, patch_grid_figure
from vitviz.figures.tokens import flattened_patch, patch_pixels_figure, token_strip
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import patches


def grid(_bundle: Bundle, a: Analysis, selected: int | None = None, title: str = "The patch grid, raster order",
         height: int = 560) -> go.Figure:
    """The image with its patch grid and indices; clickable, the selected patch outlined."""
    return patch_grid_figure(a.image, a.patch_size, a.grid, selected=selected, height=height, title=title)


def sequence(_bundle: Bundle, a: Analysis) -> go.Figure:
    first = f"{', '.join(a.prefix_names)} first, then " if a.num_prefix else ""
    return token_strip(a.image, a.patch_size, a.grid, prefix=a.prefix_names,
                       title=f"The sequence the transformer reads: {first}the patches row by row (zoom in to see every "
                             "token)")


def one_patch(_bundle: Bundle, a: Analysis, index: int) -> go.Figure:
    return patch_pixels_figure(patches.patch_pixels(a, index), f"Patch {index}: {a.patch_size}×{a.patch_size}×3 pixels")


def flattened(_bundle: Bundle, a: Analysis, index: int) -> go.Figure:
    flat = patches.patch_input_vector(a, index)
    return flattened_patch(flat, a.patch_size, f"Patch {index} flattened: {flat.size} numbers",
                           channels=a.input_channels)


def extra_channel(_bundle: Bundle, a: Analysis, name: str) -> go.Figure:
    """A fixed input channel the model adds to R, G, B (the bundled model's colour edges), as a picture."""
    picture = dict(patches.extra_channel_pictures(a))[name]
    return image_figure(picture, f"The {name} channel of the whole image (white: strong edge)", height=320)
