"""A progress bar for experiments that report ``progress(done, total)`` (e.g. masked images run in batches)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a bar under ``label``; the bar goes away afterwards
    (and is never drawn when the experiment comes from the cache)."""
    slot = st.empty()

    def report(done: int, total: int) -> None:
        slot.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done} of {total}")

    try:
        yield report
    finally:
        slot.empty()
