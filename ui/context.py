"""The context a page reads: what is shown (model actually loaded, image, analysis, selected patch)
and the caches keyed by its identity. The frame (``streamlit_app.py``) builds it once per run; pages
read it top to bottom and never build a cache key or run the model themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import plotly.graph_objects as go
import streamlit as st

from vitviz.figures.wire import WireFigure, to_wire
from vitviz.model.analysis import Analysis, model_alone
from vitviz.model.loading import Bundle
from vitviz.model.store import FallbackState

from . import caches, session
from .session import ChosenImage

T = TypeVar("T")
_STATE_KEY = "_vitviz_context"


@dataclass(frozen=True)
class Context:
    requested: str  # the zoo key the visitor picked
    bundle: Bundle  # the model actually loaded (the bundled one after a fallback)
    fallback: FallbackState | None  # why the requested model is not the one shown, and when the hub is tried again
    image: ChosenImage | None
    analysis: Analysis | None  # None until an image is chosen
    fp32: Bundle | None = None  # the same model as loaded, in fp32 (``bundle`` itself when it runs in fp32)

    @property
    def precision(self) -> str:
        return self.bundle.precision

    @property
    def reference(self) -> Analysis | None:
        """The fp32 analysis of the same image by the same model (the analysis itself when running in fp32)."""
        if self.analysis is None or self.fp32 is None or self.fp32 is self.bundle:
            return self.analysis
        return caches.analysis_of(self.fp32, self.image.image, self.image.digest)

    @property
    def patch(self) -> int:
        """The selected patch (0-based, raster order), valid for this model's grid."""
        a = self.analysis
        if a is None:
            return 0
        p = st.session_state.get(session.K_PATCH)
        return p if isinstance(p, int) and 0 <= p < a.num_patches else session.centre_patch(a.num_patches, a.grid)

    @property
    def file_stem(self) -> str:
        """A file name for downloads of what is shown: model actually loaded and image hash."""
        return f"{self.bundle.identity.key}_{self.image.digest if self.image else 'no_image'}"

    def key(self, *parts: Hashable, per_image: bool = True, of: Bundle | None = None) -> tuple:
        """A cache key for something computed from what is shown: the model actually loaded (with its
        device and precision), the image, and the parts (the experiment's name and settings).
        ``per_image=False``: something of the model alone, one key for every image. ``of``: the same model in
        another number format (``fp32``): its key is the one a visitor running it in that format gets."""
        identity = (of or self.bundle).identity
        if not per_image:
            return (identity, *parts)
        return (identity, self.image.digest if self.image else None, *parts)

    def figure(self, view: Callable[..., go.Figure], *settings: Hashable, per_image: bool = True) -> WireFigure:
        """``view(bundle, analysis, *settings)`` (a figure builder from ``vitviz.views``), built once per
        (identity, view, settings) in the form the browser receives, and shared by sessions: a widget change
        reruns the page, but a figure whose inputs did not change is neither rebuilt nor re-encoded.

        ``per_image=False``: a figure of the model alone (its position embeddings, its sizes). The view gets the
        analysis without its image (``model_alone``), so the figure says nothing about the image and is built once
        for every visitor of the model, whatever image they chose."""
        return self.built(f"{view.__module__}.{view.__qualname__}", *settings, per_image=per_image, build=lambda: to_wire(
            view(self.bundle, self.analysis if per_image else model_alone(self.analysis), *settings)))

    def built(self, name: str, *settings: Hashable, build: Callable[[], T], per_image: bool = True) -> T:
        """Something a page derives from what is shown (a figure, a map, a table), built once per (identity,
        ``name``, ``settings``) and shared by sessions. ``settings`` must name everything ``build`` reads
        besides the model and the image (a control's value, an experiment's parameters). A figure is kept
        in wire form (``to_wire``). ``per_image=False``: ``build`` reads the model alone, never the image, and its
        result is shared by every image and kept as long as the model (``caches.of_model``)."""
        def make() -> T:
            value = build()
            return to_wire(value) if isinstance(value, go.Figure) else value
        key = self.key("built", name, *settings, per_image=per_image)
        if per_image:
            return caches.BUILT.get_or_compute(key, make)
        # the model's own work (its filters' PCA, its position figures, its sizes): once per model and process,
        # held as long as the model is (a class's image figures never push it out of the figure cache)
        return caches.of_model(self.bundle.model, "built", lambda: caches.BUILT.get_or_compute(key, make), key)

    def experiment(self, name: str, *params: Hashable, run: Callable[[], T], label: str, per_image: bool = True,
                   long: bool = False, of: Bundle | None = None) -> T:
        """An on-demand experiment (another forward pass) run once per (identity, name, params), with a spinner;
        it waits its turn in the model queue, showing its place, when the model is busy. ``per_image=False``: a
        measurement of the model alone (on a random input), shared by every image and session. ``long``: seconds
        of work (many passes, a backward pass); other pages are drawn meanwhile (``caches.queued``'s ``step_out``).
        ``of``: an experiment of the same model in another number format (``self.fp32``), under that format's key."""
        return _experiment(self.key("experiment", name, *params, per_image=per_image, of=of), run, label, long)

    def has_experiment(self, name: str, *params: Hashable, per_image: bool = True, of: Bundle | None = None) -> bool:
        """Whether ``experiment(name, *params, per_image=…, of=…)`` would answer from the cache (this or another
        session ran it)."""
        return caches.EXPERIMENTS.get(self.key("experiment", name, *params, per_image=per_image, of=of)) is not None

    @staticmethod
    def on_this_computer(name: str, *params: Hashable, run: Callable[[], T], label: str, long: bool = False) -> T:
        """A measurement of this computer alone (architectures of the zoo built here with random weights, timed on a
        random input): it reads neither the model on screen nor the image, so it runs once per process, whatever
        model, number format or image a visitor has, and is shared by every session."""
        return _experiment(_here_key(name, *params), run, label, long)

    @staticmethod
    def has_on_this_computer(name: str, *params: Hashable) -> bool:
        """Whether ``on_this_computer(name, *params, …)`` would answer from the cache."""
        return caches.EXPERIMENTS.get(_here_key(name, *params)) is not None

    def sample_analysis(self, sample_key: str) -> Analysis:
        """The analysis of a gallery sample by the same model (pages compare the visitor's image with it)."""
        image, digest = caches.sample_image(sample_key)
        return caches.analysis_of(self.bundle, image, digest)


def _here_key(name: str, *params: Hashable) -> tuple:
    """The key of a measurement of this computer alone: no model identity, no image."""
    return ("this computer", name, *params)


def _experiment(key: Hashable, run: Callable[[], T], label: str, long: bool) -> T:
    """``run()`` once per ``key`` through the model queue, with a spinner and the place in line while it waits."""
    hit = caches.EXPERIMENTS.get(key)
    if hit is not None:
        return hit
    waiting = st.empty()
    try:
        with st.spinner(label):
            return caches.queued(key, lambda: caches.EXPERIMENTS.get_or_compute(key, run),
                                 on_wait=lambda place: show_place(waiting, place, "request"), step_out=long)
    finally:
        waiting.empty()


def show_place(slot, place: caches.Place, noun: str) -> None:
    """Where a waiting request stands in the model queue, in words, in ``slot`` (an ``st.empty``)."""
    if place.running:
        slot.empty()
    else:
        slot.info(place.sentence(noun), icon="⏳")


def publish(ctx: Context) -> None:
    """The frame hands the context to the page it is about to run."""
    st.session_state[_STATE_KEY] = ctx


def current() -> Context:
    """The context the frame built for this run."""
    ctx = st.session_state.get(_STATE_KEY)
    if ctx is None:
        raise RuntimeError("pages run inside the frame: start the app with `streamlit run streamlit_app.py`")
    return ctx
