"""vitviz.inputs.decode: every Pillow mode decodes to RGB; broken and hostile input gives a readable ImageError."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.conftest import png_bytes
from vitviz.inputs.decode import MAX_BYTES, WORKING_SIDE, ImageError, load_image


def _rgb(w=64, h=48):
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def _png_with_size(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w×h pixels (data for 1×1 only)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _exif_rotated() -> bytes:
    img = Image.new("RGB", (60, 20), (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, 10, 20))  # blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    return png_bytes(img, "JPEG", exif=exif.tobytes(), quality=95)


GOOD = {
    "rgb png": lambda: png_bytes(_rgb()),
    "rgb jpeg": lambda: png_bytes(_rgb(), "JPEG"),
    "greyscale L": lambda: png_bytes(_rgb().convert("L")),
    "LA": lambda: png_bytes(_rgb().convert("LA")),
    "palette": lambda: png_bytes(_rgb().convert("P")),
    "palette with transparency": lambda: png_bytes(_rgb().convert("P"), transparency=0),
    "RGBA": lambda: png_bytes(_rgb().convert("RGBA")),
    "CMYK jpeg": lambda: png_bytes(_rgb().convert("CMYK"), "JPEG"),
    "16-bit greyscale": lambda: png_bytes(Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))),
    "32-bit int I": lambda: png_bytes(_rgb().convert("I"), "TIFF"),
    "float F": lambda: png_bytes(Image.fromarray(np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(48, 64)), "TIFF"),
    "1-bit": lambda: png_bytes(_rgb().convert("1")),
    "bmp": lambda: png_bytes(_rgb(), "BMP"),
    "webp": lambda: png_bytes(_rgb(), "WEBP"),
    "tiff": lambda: png_bytes(_rgb(), "TIFF"),
    "animated gif": lambda: _animated("GIF"),
    "animated webp": lambda: _animated("WEBP"),
    "1x1": lambda: png_bytes(Image.new("RGB", (1, 1), (9, 9, 9))),
    "10000x10": lambda: png_bytes(Image.new("RGB", (10000, 10), (9, 9, 9))),
}


@pytest.mark.parametrize("kind", list(GOOD))
def test_every_mode_decodes_to_rgb(kind):
    img = load_image(GOOD[kind]())
    assert img.mode == "RGB"
    assert max(img.size) <= WORKING_SIDE
    assert min(img.size) >= 1


def test_transparency_is_composited_on_white():
    img = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert load_image(png_bytes(img)).getpixel((5, 5)) == (255, 255, 255)


def test_animated_gives_first_frame():
    assert load_image(_animated("GIF")).getpixel((5, 5))[0] > 200  # red, the first frame


def test_exif_orientation_applied():
    img = load_image(_exif_rotated())
    assert img.size == (20, 60)  # rotated to portrait
    r, g, b = img.getpixel((10, 5))  # the blue strip is now at the top
    assert b > r


def test_16_bit_keeps_its_contrast():
    arr = (np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)
    img = np.asarray(load_image(png_bytes(Image.fromarray(arr))))
    assert img.min() == 0 and img.max() == 255


def _truncated(fmt):
    data = png_bytes(_rgb(200, 150), fmt)
    return data[: len(data) // 2]


BAD = {
    "empty": (lambda: b"", "empty"),
    "random bytes": (lambda: np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes(), "not an image"),
    "text named png": (lambda: b"hello, I am not a picture\n" * 20, "not an image"),
    "svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
            "not an image"),
    "html": (lambda: b"<!doctype html><html><body>hi</body></html>", "not an image"),
    "pdf": (lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not an image"),
    "truncated jpeg": (lambda: _truncated("JPEG"), "incomplete"),
    "truncated png": (lambda: _truncated("PNG"), "incomplete"),
    "png header only": (lambda: b"\x89PNG\r\n\x1a\n", "not an image"),
    "huge claimed png": (lambda: _png_with_size(100_000, 100_000), "too large"),
    "decompression bomb": (lambda: _png_with_size(30_000, 30_000), "too large"),
    "too many bytes": (lambda: b"\0" * (MAX_BYTES + 1), "MB"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_raises_a_sentence(kind):
    make, words = BAD[kind]
    with pytest.raises(ImageError) as info:
        load_image(make())
    msg = str(info.value)
    assert words in msg
    assert msg.endswith((".", ")")) and "Traceback" not in msg and len(msg) < 200


def test_bomb_protection_stays_on():
    assert Image.MAX_IMAGE_PIXELS is not None
