"""The process's memory habits: Python's garbage collector kept off the objects every run shares.

Streamlit's full collection after each run is turned off in ``.streamlit/config.toml`` (``postScriptGC``): with
torch, timm and plotly loaded it cost about 0.3 CPU-s per rerun. Python's own collector still runs by its
thresholds; freezing what the start-up imports made (modules, classes, functions: they live as long as the
process) keeps those objects out of every later full collection, so a collection costs what the sessions
themselves hold. What an expired session held in reference cycles is released by ``collect_now_and_then``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time

COLLECT_EVERY_S = 60.0
MALLOC_ARENAS = 2  # glibc's default is 8 per core: every Streamlit script thread grows an arena of its own
_M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit (glibc's malloc.h)

_lock = threading.Lock()
_settled = False
_last_collect = time.monotonic()


def settle_startup_objects() -> None:
    """Once per process, after the imports: limit glibc's malloc arenas (``limit_malloc_arenas``), collect,
    then move every surviving object to the permanent generation (``gc.freeze``) that collections skip."""
    global _settled
    with _lock:
        if _settled:
            return
        limit_malloc_arenas()
        gc.collect()
        gc.freeze()
        _settled = True


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas from now on (what ``MALLOC_ARENA_MAX`` sets at start-up): each
    session's script runs in a thread of its own, and with an arena per thread the freed memory of 30 learners'
    forward passes stays scattered over 16 arenas instead of being reused. False where the C library is not
    glibc (nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return bool(libc is not None and hasattr(libc, "mallopt") and libc.mallopt(_M_ARENA_MAX, arenas) == 1)
    except OSError:
        return False


def collect_now_and_then(every_s: float = COLLECT_EVERY_S) -> bool:
    """A full collection at most once per ``every_s`` seconds, at the start of some run: what an expired session
    held in reference cycles (a page's functions and its module's globals refer to each other) is released
    within a minute, at a fraction of one collection per run. True when it collected."""
    global _last_collect
    with _lock:
        if time.monotonic() - _last_collect < every_s:
            return False
        _last_collect = time.monotonic()
    gc.collect()
    return True
