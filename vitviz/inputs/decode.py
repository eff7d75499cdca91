"""Bytes -> RGB image, with limits and a sentence a person understands when it fails.

Pillow's decompression-bomb protection stays on (it raises at twice ``MAX_PIXELS``; we refuse
anything over ``MAX_PIXELS`` ourselves before decoding a single pixel).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 25 * 1024 * 1024  # what the upload widget also allows (see .streamlit/config.toml)
MAX_PIXELS = 40_000_000  # 40 megapixels: larger photos exist, but nothing here needs them
MAX_SIDE = 20_000  # a 10000x10 strip is fine; a 100000-pixel side is not
WORKING_SIDE = 1024  # decoded images are shrunk to at most this side: models see 224 px anyway
# the file endings an upload widget offers: the formats named in the messages below, as Pillow reads them. A phone
# offers its photo library and camera for these (an iPhone hands over its HEIC photos as JPEG).
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")

Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS  # keep Pillow's bomb check on, just above our own limit


class ImageError(ValueError):
    """An image we cannot use, with a message meant for the person who chose it."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = np.nanmin(a), np.nanmax(a)
        a = np.zeros_like(a) if hi <= lo or not np.isfinite(hi - lo) else (a - lo) / (hi - lo) * 255.0
        img = Image.fromarray(np.nan_to_num(a).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img.convert("RGBA")).convert("RGB")
    return img.convert("RGB")


def load_image(data: bytes) -> Image.Image:
    """Decode ``data`` into an RGB image (EXIF-rotated, first frame, at most WORKING_SIDE a side).

    Raises ImageError with one sentence for empty, non-image, truncated, too large or
    unsupported input.
    """
    if not data:
        raise ImageError("The file is empty: please choose a photo.")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is {len(data) / 2**20:.0f} MB; files up to {MAX_BYTES // 2**20} MB are accepted.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w < 1 or h < 1:
                raise ImageError("The image has no pixels.")
            if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
                raise ImageError(
                    f"The image is {w}×{h} pixels, too large to open safely (limit {MAX_PIXELS // 10**6} megapixels).")
            img.seek(0)  # animated GIF/WebP/PNG: the first frame
            img.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at reduced size when possible
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("The image is too large to open safely (it looks like a decompression bomb).") from None
    except UnidentifiedImageError:
        raise ImageError("This file is not an image format we can read (try JPEG, PNG, WebP, GIF, BMP or TIFF).") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        if "truncated" in str(exc).lower() or isinstance(exc, (EOFError, SyntaxError)):
            raise ImageError("The image file is incomplete or damaged (it may have been cut off).") from None
        raise ImageError("This image could not be decoded; it may be damaged or in an unsupported variant.") from None
    if max(img.size) > WORKING_SIDE:
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.LANCZOS)
    return img
