"""Process-wide caches shared by every session: loaded models and analyses, both bounded in memory.

Not ``st.cache_resource``: the model download reports progress to a bar on the page, and a
cached function that draws would be replayed on every hit. These caches are plain module state,
which Streamlit keeps for the life of the server process like ``cache_resource`` does.
"""

from __future__ import annotations

import os
from functools import lru_cache

from PIL import Image

from vitviz.model.analysis import Analysis, analyze, image_hash
from vitviz.cache import BoundedCache
from vitviz.model.hub import Progress
from vitviz.inputs.decode import load_image
from vitviz.model.loading import Bundle, load_model
from vitviz.inputs.samples import BY_KEY as SAMPLES

MODEL_CACHE_MB = int(os.environ.get("VITVIZ_MODEL_CACHE_MB", "1200"))
ANALYSIS_CACHE_MB = int(os.environ.get("VITVIZ_ANALYSIS_CACHE_MB", "400"))


def _model_bytes(bundle: Bundle) -> int:
    return sum(p.numel() * p.element_size() for p in bundle.model.parameters())


BUNDLES: BoundedCache[Bundle] = BoundedCache(MODEL_CACHE_MB * 2**20, _model_bytes)
ANALYSES: BoundedCache[Analysis] = BoundedCache(ANALYSIS_CACHE_MB * 2**20, lambda a: a.nbytes)


def get_bundle(model_key: str, progress: Progress | None = None) -> Bundle:
    """The loaded model for ``model_key`` (the offline model stands in when its weights are unreachable)."""
    return BUNDLES.get_or_compute(model_key, lambda: load_model(model_key, progress=progress))


def cached_bundle(model_key: str) -> Bundle | None:
    return BUNDLES.get(model_key)


@lru_cache(maxsize=16)
def sample_image(key: str) -> tuple[Image.Image, str]:
    """A gallery sample decoded once per process, with its hash (pages compare against them)."""
    image = load_image(SAMPLES[key].data())
    return image, image_hash(image)


def get_analysis(bundle: Bundle, image: Image.Image, digest: str | None = None) -> Analysis:
    """The cached analysis of ``image`` by ``bundle``: the model runs once per (model, image)."""
    digest = digest or image_hash(image)
    return ANALYSES.get_or_compute((bundle.spec.key, digest), lambda: analyze(bundle, image, digest))
