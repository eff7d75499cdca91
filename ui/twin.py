"""The Odd tokens page's twin: the same architecture with (or without) registers, run on the same image.

Loaded only from what this computer already holds (the model store, or weights on disk: the bundled file,
``$VITVIZ_WEIGHTS_DIR``, the Hugging Face cache), so the page never starts a download of its own; picking the twin in
the sidebar fetches it the usual way. Its analysis of the image is the one any visitor of the twin gets
(``caches.analysis_of``: under the twin's identity, through the model queue).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle, local_weights
from vitviz.model.zoo import ModelSpec
from vitviz.stages.odd_tokens import twin_spec

from . import caches
from .context import Context, show_place


@dataclass(frozen=True)
class Twin:
    spec: ModelSpec | None  # the zoo's twin of the model on screen; None when it has none
    bundle: Bundle | None  # loaded, when its weights are on this computer
    analysis: Analysis | None  # the twin's analysis of the same image
    why_not: str  # one sentence when the twin cannot be shown ('' when it can, or when there is none)


def twin(ctx: Context) -> Twin:
    """The twin of the model on screen and its analysis of the image, or why it cannot be shown here."""
    spec = twin_spec(ctx.bundle.spec)
    if spec is None:
        return Twin(None, None, None, "")
    held = caches.MODELS.peek(spec.key)
    if held is None and local_weights(spec) is None:
        return Twin(spec, None, None, f"The twin, {spec.title} (`{spec.timm_name}`), is not on this computer, so "
                                      "only the model on screen is shown; picking the twin in the sidebar downloads "
                                      f"it ({spec.download_mb:.0f} MB) when the model hub can be reached, and then "
                                      "both show here side by side.")
    if held is None:
        with st.spinner(f"Loading {spec.title} from this computer…"):
            held = caches.MODELS.get(spec.key)
    if held.fell_back:
        return Twin(spec, None, None, f"The twin, {spec.title}, could not be loaded here: {held.fallback_reason}.")
    waiting = st.empty()
    try:
        with st.spinner(f"{spec.title} reads the same image…"):
            analysis = caches.analysis_of(held, ctx.image.image, ctx.image.digest,
                                          on_wait=lambda place: show_place(waiting, place, "image"))
    finally:
        waiting.empty()
    return Twin(spec, held, analysis, "")
