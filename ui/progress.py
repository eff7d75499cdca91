"""A progress bar for experiments that report ``progress(done, total)`` (e.g. masked images run in batches)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a bar under ``label``; the bar goes away afterwards
    (and is never drawn when the experiment comes from the cache).

    The callback never interrupts the computation it reports on: a shared experiment may be joined by other
    sessions, so when this script is asked to stop or rerun (Streamlit raises that from the next element
    call) or the job runs on another session's thread, the bar simply stops drawing and the work finishes.
    """
    slot = st.empty()
    owner = threading.get_ident()
    live = [True]

    def report(done: int, total: int) -> None:
        if not live[0] or threading.get_ident() != owner:
            return
        try:
            slot.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done} of {total}")
        except ScriptControlException:
            live[0] = False  # the script stops or reruns at its next element call, after the work is done

    try:
        yield report
    finally:
        slot.empty()
