"""Deterministic generator of one-shape images: the offline model's data and sample images.

Each image holds one filled shape from :data:`SHAPE_CLASSES` in a random colour, size, position
and rotation over a varied background (gradient, noise, stripes or soft blobs). The generator
returns the class and the object's pixel mask so that attention focus can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "cross",
    "ring", "heart", "arrow", "hexagon", "crescent",
)
IMAGE_SIZE = 112


@dataclass(frozen=True)
class ShapeSample:
    """One generated image with its ground truth."""

    image: np.ndarray  # [H, W, 3] uint8
    label: int  # index into SHAPE_CLASSES
    mask: np.ndarray  # [H, W] bool, True where the shape is

    @property
    def name(self) -> str:
        return SHAPE_CLASSES[self.label]


def _regular_polygon(n: int, start: float = -np.pi / 2) -> np.ndarray:
    t = start + np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)  # [n, 2]


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    t = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y + 2.5], axis=1) / 16.5
    return pts


_W = 0.34  # half-width of a cross arm
_OUTLINES: dict[str, np.ndarray] = {
    "square": _regular_polygon(4, np.pi / 4) * 0.95,
    "triangle": _regular_polygon(3) * 1.1 + np.array([0.0, 0.15]),
    "star": _star(),
    "cross": np.array([
        (-_W, -1), (_W, -1), (_W, -_W), (1, -_W), (1, _W), (_W, _W),
        (_W, 1), (-_W, 1), (-_W, _W), (-1, _W), (-1, -_W), (-_W, -_W),
    ]),
    "heart": _heart(),
    "arrow": np.array([(-1, -0.3), (0.15, -0.3), (0.15, -0.75), (1, 0), (0.15, 0.75),
                       (0.15, 0.3), (-1, 0.3)]),
    "hexagon": _regular_polygon(6),
}


def _draw_mask(name: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Return the [size, size] bool mask of one shape (drawn at 2x, then downsampled)."""
    s = 2  # supersampling for smooth edges
    canvas = Image.new("L", (size * s, size * s), 0)
    draw = ImageDraw.Draw(canvas)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def poly(points: np.ndarray, fill: int) -> None:
        xy = (points @ rot.T) * r + np.array([cx, cy])
        draw.polygon([tuple(p) for p in (xy * s).tolist()], fill=fill)

    def disc(x: float, y: float, radius: float, fill: int) -> None:
        draw.ellipse([(x - radius) * s, (y - radius) * s, (x + radius) * s, (y + radius) * s], fill=fill)

    if name == "circle":
        disc(cx, cy, r, 255)
    elif name == "ring":
        disc(cx, cy, r, 255)
        disc(cx, cy, r * 0.55, 0)
    elif name == "crescent":
        disc(cx, cy, r, 255)
        off = rot @ np.array([0.5 * r, 0.0])
        disc(cx + off[0], cy + off[1], r * 0.85, 0)
    else:
        poly(_OUTLINES[name], 255)
    small = canvas.resize((size, size), Image.BILINEAR)
    return np.asarray(small) >= 128


@lru_cache(maxsize=4)
def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx) [size, size] float32 in 0..1 (read-only, shared)."""
    yy, xx = (np.mgrid[0:size, 0:size] / (size - 1)).astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def _background(rng: np.random.Generator, size: int, noise: np.ndarray) -> np.ndarray:
    """A varied float background [size, size, 3] in 0..255; ``noise``: unit Gaussian [size, size, 3]."""
    kind = rng.integers(4)
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    yy, xx = _unit_grid(size)
    if kind == 0:  # linear gradient in a random direction
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5)) + 0.5
        t = np.clip(t, 0, 1)[..., None]
        bg = c0 * (1 - t) + c1 * t
    elif kind == 1:  # soft blobs: low-resolution noise around one colour, upsampled
        low = np.clip(c0 + rng.uniform(-60, 60, (4, 4, 3)), 0, 255).astype(np.uint8)
        bg = np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), dtype=np.float32)
    elif kind == 2:  # gentle stripes
        a, period = rng.uniform(0, np.pi), rng.uniform(10, 40)
        t = 0.5 + 0.5 * np.sin((np.cos(a) * xx + np.sin(a) * yy) * size * 2 * np.pi / period)
        c1 = c0 + rng.uniform(-35, 35, 3).astype(np.float32)
        bg = c0 * (1 - t[..., None]) + c1 * t[..., None]
    else:  # flat colour
        bg = np.broadcast_to(c0, (size, size, 3))
    bg = bg + noise * np.float32(rng.uniform(0, 12))
    return np.clip(bg, 0, 255)


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A random colour that stands out from the background under the shape."""
    under = background[mask].mean(axis=0) if mask.any() else background.mean(axis=(0, 1))
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - under) > 110:
            return colour
    return np.where(under > 127, 0.0, 255.0)


def generate_shape(rng: np.random.Generator, label: int | None = None, size: int = IMAGE_SIZE) -> ShapeSample:
    """Draw one image from ``rng`` (deterministic for a seeded generator)."""
    if label is None:
        label = int(rng.integers(len(SHAPE_CLASSES)))
    r = rng.uniform(0.14, 0.32) * size
    margin = r * 1.05 + 1
    cx, cy = rng.uniform(margin, size - margin, 2)
    angle = rng.uniform(-np.pi, np.pi)
    mask = _draw_mask(SHAPE_CLASSES[label], size, cx, cy, r, angle)
    # One noise field serves both regions: the shape and the background never share a pixel.
    noise = rng.standard_normal((size, size, 3), dtype=np.float32)  # float32 draws: half the cost
    background = _background(rng, size, noise)
    colour = _contrasting_colour(rng, background, mask)
    shade = colour.astype(np.float32) + noise * np.float32(6)
    image = np.where(mask[..., None], shade, background)
    return ShapeSample(np.clip(image, 0, 255).astype(np.uint8), label, mask)


def generate_batch(seed: int, count: int, size: int = IMAGE_SIZE) -> list[ShapeSample]:
    """``count`` samples from one seed; the same seed gives the same images."""
    rng = np.random.default_rng(seed)
    return [generate_shape(rng, size=size) for _ in range(count)]


def sample_image(name: str, seed: int = 0, size: int = IMAGE_SIZE) -> ShapeSample:
    """One deterministic example of the class ``name`` (for the app's sample gallery)."""
    rng = np.random.default_rng([seed, SHAPE_CLASSES.index(name)])
    return generate_shape(rng, label=SHAPE_CLASSES.index(name), size=size)


def patch_coverage(mask: np.ndarray, patch: int) -> np.ndarray:
    """Fraction of each patch covered by the mask: [H/P, W/P] in 0..1."""
    h, w = mask.shape
    return mask.reshape(h // patch, patch, w // patch, patch).mean(axis=(1, 3))
