"""Streamlit glue for the "Into a language model" page: whether SmolVLM's weights are here, loading them once per
process, whether this server's memory allows an answer, and its results cached per (image, question, model).

The results live in a bounded cache of their own (an encoder view holds its attention, 12 × 1024 × 1024 numbers)
and go through the model queue (``ui.caches.QUEUE``) like every experiment; an answer takes seconds, so the page
run that asks for it steps out of its page slot meanwhile (``step_out``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

import streamlit as st
import torch

from vitviz.cache import BoundedCache
from vitviz.model import smolvlm
from vitviz.stages import vlm

from . import caches
from .context import Context, show_place

T = TypeVar("T")

RESULTS: BoundedCache = BoundedCache(int(os.environ.get("VITVIZ_VLM_CACHE_MB", "128")) * 2**20,
                                     lambda v: max(caches.nbytes(v), 2**10))
_FILES_TTL_S = 30.0
_files: list = [0.0, None]  # (checked at, path): a look at the cache costs file system calls on every run


def files() -> Path | None:
    """The fetched model's folder, or None (looked up at most every 30 s)."""
    if time.monotonic() - _files[0] > _FILES_TTL_S:
        _files[:] = [time.monotonic(), smolvlm.local_files()]
    return _files[1]


def keep_in_range(widget: str, n: int) -> None:
    """A chosen index past the end of a shorter list (a view of a finer cut than the one shown now) goes back to 0
    before its widget is drawn."""
    value = st.session_state.get(widget, 0)
    if not isinstance(value, int) or value >= n:
        st.session_state[widget] = 0


def where(path: Path) -> str:
    """Where the model's files are, in words."""
    if os.environ.get(smolvlm.FOLDER_ENV):
        return f"the folder in {smolvlm.FOLDER_ENV}, {path}; vitviz does not know where these weights came from"
    return "fetched from the model hub"


def with_long_side(s: smolvlm.Settings, edge: int) -> smolvlm.Settings:
    """The settings with the processor's long side set to ``edge`` px."""
    from dataclasses import replace

    return replace(s, longest_edge=edge)


def dtype_for(views: int, prompt_tokens: int) -> tuple[torch.dtype | None, smolvlm.MemoryVerdict]:
    """The number format an answer runs in here: float32 when it fits in this server's memory, else bfloat16 when
    that fits, else none (with the verdict that says why). A model loaded already costs no new weights."""
    limit, in_use = smolvlm.memory_limit_bytes(), smolvlm.memory_in_use_bytes()
    params = caches.of_model(smolvlm, "smolvlm_params", smolvlm.parameter_count)
    held = {m.dtype for m in smolvlm.loaded_now()}
    verdict = None
    for dtype in (torch.float32, torch.bfloat16):
        need = smolvlm.answer_bytes(smolvlm.PUBLISHED, views, prompt_tokens, vlm.MAX_NEW_TOKENS, dtype, params,
                                    weights_loaded=dtype in held)
        verdict = smolvlm.memory_verdict(need, in_use, limit)
        if verdict.fits:
            return dtype, verdict
    return None, verdict


def model_for(path: Path | None, width: int, height: int) -> tuple[smolvlm.Loaded | None, smolvlm.MemoryVerdict | None]:
    """The model to run for an image of this size, loaded (once), or None: no weights here (verdict None), or not
    enough memory (the verdict says why). The memory rule counts the views and tokens at the long side the learner
    chose (the page's control, ``vlm_edge``; the model's default before that)."""
    if path is None:
        return None, None
    s = smolvlm.PUBLISHED
    edge = st.session_state.get("vlm_edge", s.longest_edge)
    cost = next((c for c in vlm.costs(width, height, s) if c.longest_edge == edge), vlm.costs(width, height, s)[-1])
    dtype, verdict = dtype_for(cost.rows * cost.cols + 1, cost.image_tokens + 64)
    return (loaded(path, dtype) if dtype is not None else None), verdict


def loaded(path: Path, dtype: torch.dtype) -> smolvlm.Loaded:
    """The model, loaded once per process and number format, through the model queue."""
    key = ("vlm load", str(path), str(dtype))
    with st.spinner(f"Loading {smolvlm.TITLE} ({str(dtype).removeprefix('torch.')})…"):
        return caches.queued(key, lambda: smolvlm.load(path, dtype), step_out=True)


def key(ctx: Context, model: smolvlm.Loaded, name: str, *params: Hashable) -> tuple:
    """A result's identity: the VLM actually loaded (weights and number format), the image, the settings."""
    return ("vlm", model.identity, ctx.image.digest, name, *params)


def has(k: tuple) -> bool:
    return RESULTS.get(k) is not None


def result(k: tuple, run: Callable[[], T], label: str) -> T:
    """``run()`` once per key, through the model queue, with a spinner and the place in line."""
    hit = RESULTS.get(k)
    if hit is not None:
        return hit
    waiting = st.empty()
    try:
        with st.spinner(label):
            return caches.queued(k, lambda: RESULTS.get_or_compute(k, run),
                                 on_wait=lambda place: show_place(waiting, place, "request"), step_out=True)
    finally:
        waiting.empty()


def prompt_strip(question: str, cuts: vlm.Cuts, s: smolvlm.Settings,
                 tokenize: Callable[[str], list[str]] | None) -> tuple[list[vlm.Piece], str]:
    """The prompt the processor writes for ``question`` and these cuts, as pieces and as the strip's markdown."""
    pieces = vlm.strip(vlm.expanded_prompt(question, cuts.rows, cuts.cols, s.image_seq_len), tokenize)
    return pieces, strip_markdown(pieces, cuts)


def strip_markdown(pieces: list[vlm.Piece], cuts: vlm.Cuts) -> str:
    """The prompt strip as one paragraph of markdown: special tokens as code (named on hover in the legend below),
    runs of image tokens counted with their view, text in quotes (with its word tokens when the tokenizer is here),
    line breaks as ↵."""
    def text(p: vlm.Piece) -> str:
        shown = p.text.replace("\n", "↵")
        if p.tokens:
            return " ".join(f"`{t.replace('Ġ', '␣').replace('Ċ', '↵')}`" for t in p.tokens)
        return f"“{shown}”"

    out = []
    for p in pieces:
        if p.kind == "image":
            out.append(f"**🖼️ {p.count} × `<image>`** ({cuts.name(p.view)})")
        elif p.kind == "special":
            out.append(f"`{p.text}`")
        else:
            out.append(text(p))
    legend = "; ".join(f"`{t}`: {what}" for t, what in smolvlm.SPECIAL_TOKENS.items()) + \
        "; `<row_r_col_c>`: the crop in row r, column c follows"
    return " · ".join(out) + f"\n\n<small>{legend}.</small>"
