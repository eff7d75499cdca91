"""Test set-up: never touch the network, one torch thread, shared small models."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("VITVIZ_THREADS", "1")

import io  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_bundle():
    """ViT-Ti/16 with random weights: the real architecture, no download."""
    from vitviz.model.loading import load_model

    torch.manual_seed(0)
    return load_model("vit_ti16", device="cpu", pretrained=False)


@pytest.fixture(scope="session")
def shapes_bundle():
    """The bundled offline model: trained weights shipped in the repo."""
    from vitviz.model.loading import load_model

    return load_model("shapes", device="cpu")


def png_bytes(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def photo() -> Image.Image:
    """A deterministic 'photo': smooth colours plus noise, 320×240."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:240, 0:320]
    base = np.stack([x / 320 * 255, y / 240 * 255, (x + y) / 560 * 255], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))
