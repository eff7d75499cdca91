"""Process-wide caches shared by every session of a server, all bounded, all keyed by identity.

The identity of what is shown is the model actually loaded (``Bundle.identity``: zoo key, device,
precision) plus the image's content hash. Models, analyses, experiments and figures use it, so a
fallback to the bundled model reuses the one bundled model and its analyses.

Plain module state rather than ``st.cache_resource``: a model download reports progress to a bar on
the page, and a cached function that draws would be replayed on every cache hit.
"""

from __future__ import annotations

import os
import threading
import weakref
from contextlib import nullcontext
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import TypeVar

from PIL import Image

from vitviz.cache import BoundedCache
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import Analysis, analyze, image_hash
from vitviz.model.loading import Bundle, cpu_threads
from vitviz.model.queue import ModelQueue, Place
from vitviz.model.store import ModelStore

T = TypeVar("T")

MODEL_CACHE_MB = int(os.environ.get("VITVIZ_MODEL_CACHE_MB", "1200"))
# 30 learners' analyses by ViT-S/16 take 310 MB: below a class's need, every page of every learner misses
ANALYSIS_CACHE_MB = int(os.environ.get("VITVIZ_ANALYSIS_CACHE_MB", "400"))

MODEL_SLOTS = int(os.environ.get("VITVIZ_MODEL_SLOTS", "0")) or max(1, (os.cpu_count() or 1) // cpu_threads())

MODELS = ModelStore(MODEL_CACHE_MB * 2**20)
QUEUE = ModelQueue(slots=MODEL_SLOTS)  # analyses and experiments: at most MODEL_SLOTS at once, in arrival order
# Page runs take turns too: every session's script runs in a thread of its own, and thirty threads building
# pages at once share one interpreter lock, so each is thirty times slower and all of them finish late. A run
# waits (blocked, not competing) until one of PAGE_SLOTS is free, in arrival order, and shows its place. One slot
# measured best on 2 cores (benchmarks/README.md): building a page is Python work, which holds that lock anyway.
PAGE_SLOTS = int(os.environ.get("VITVIZ_PAGE_SLOTS", "1"))
PAGES = ModelQueue(slots=max(1, PAGE_SLOTS), default_s=0.3)
_in_job = threading.local()
ANALYSES: BoundedCache[Analysis] = BoundedCache(ANALYSIS_CACHE_MB * 2**20, lambda a: a.nbytes)
EXPERIMENTS: BoundedCache = BoundedCache(64 * 2**20, lambda v: max(nbytes(v), 2**10))  # bounded by the arrays held
FIGURE_CACHE_MB = int(os.environ.get("VITVIZ_FIGURE_CACHE_MB", "120"))
# Figures (in wire form: what the browser receives) and other things pages derive from what is shown.
BUILT: BoundedCache = BoundedCache(FIGURE_CACHE_MB * 2**20, lambda v: built_bytes(v))


def built_bytes(value: object) -> int:
    """What a built value holds: a wire figure's JSON, or the arrays of anything else (1 kB at least)."""
    wire = getattr(value, "wire_bytes", None)
    return wire if isinstance(wire, int) else max(nbytes(value), 2**10)


def nbytes(value: object, depth: int = 4) -> int:
    """The bytes of the numpy arrays (and torch tensors) an experiment's result holds, looked for a few levels
    deep in dataclasses, lists, tuples and dicts (what the experiments return)."""
    if hasattr(value, "nbytes") and isinstance(getattr(value, "nbytes"), int):
        return int(value.nbytes)
    if hasattr(value, "element_size") and hasattr(value, "numel"):
        return int(value.element_size() * value.numel())
    if depth == 0:
        return 0
    if isinstance(value, dict):
        return sum(nbytes(v, depth - 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v, depth - 1) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(nbytes(getattr(value, f), depth - 1) for f in value.__dataclass_fields__)
    return 0


def queued(key: Hashable, compute: Callable[[], T], on_wait: Callable[[Place], None] | None = None,
           step_out: bool = False) -> T:
    """``compute()`` through the model queue: at most ``QUEUE.slots`` at once per process, in arrival order,
    identical keys joined. Work started inside a queued job (an experiment that needs an analysis) runs at
    once in the job's own slot: waiting for a second slot could wait for itself.

    ``step_out``: work of seconds (an occlusion map, a timing). The page run that asks for it gives its page slot
    to the next page meanwhile (``PAGES.stepped_out``), so it does not hold up everyone else's pages. Short work
    keeps the slot: handing it over for tens of milliseconds only puts two pages' Python side by side (measured:
    the first visible change of a step got slower)."""
    if getattr(_in_job, "active", False):
        return compute()

    def job() -> T:
        _in_job.active = True
        try:
            return compute()
        finally:
            _in_job.active = False
    with PAGES.stepped_out() if step_out else nullcontext():
        return QUEUE.run(key, job, on_wait)


def analysis_of(bundle: Bundle, image: Image.Image, digest: str | None = None,
                on_wait: Callable[[Place], None] | None = None) -> Analysis:
    """The analysis of ``image`` by ``bundle``: the model runs once per (model actually loaded, image), through
    the queue; ``on_wait`` hears the place in line while it waits (a cached analysis never waits)."""
    digest = digest or image_hash(image)
    key = (bundle.identity, digest)
    hit = ANALYSES.get(key)
    if hit is not None:
        return hit
    return queued(("analysis", key),
                  lambda: ANALYSES.get_or_compute(key, lambda: analyze(bundle, image, digest)), on_wait)


_MODEL_FACTS: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()
_facts_lock = threading.Lock()


def of_model(model: object, name: str, compute: Callable[[], T], *settings: Hashable) -> T:
    """``compute()`` once per (model object, ``name``, ``settings``): facts about a model's weights (sizes, counts,
    the largest batch that fits) that pages show on every run. ``settings`` must name everything ``compute``
    reads besides the model. Held as long as the model itself (a weak key): a model the store lets go takes its
    facts with it."""
    key = (name, settings)
    with _facts_lock:
        facts = _MODEL_FACTS.setdefault(model, {})
        if key in facts:
            return facts[key]
    value = compute()
    with _facts_lock:
        facts[key] = value
    return value


@lru_cache(maxsize=16)
def sample_image(key: str) -> tuple[Image.Image, str]:
    """A gallery sample decoded once per process, with its hash (pages compare against them)."""
    image = load_image(SAMPLES[key].data())
    return image, image_hash(image)
