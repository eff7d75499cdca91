"""The process's memory habits: Python's garbage collector kept off the objects every run shares, and freed
memory given back to the system.

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
MMAP_FROM_BYTES = 1 << 20  # blocks this large are mapped on their own and unmapped when freed
_M_ARENA_MAX = -8  # mallopt's parameter numbers (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3

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
        map_large_blocks()
        gc.collect()
        gc.freeze()
        _settled = True


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas from now on (what ``MALLOC_ARENA_MAX`` sets at start-up): each
    session's script runs in a thread of its own, and with an arena per thread the freed memory of 30 learners'
    forward passes stays scattered over 16 arenas instead of being reused. False where the C library is not
    glibc (nothing changes)."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) == 1)


def map_large_blocks(from_bytes: int = MMAP_FROM_BYTES) -> bool:
    """Large blocks (analyses' arrays, figures' JSON, a forward pass's activations) each mapped on their own, so
    that freeing one gives its memory back to the system. glibc's default threshold rises to the largest block
    freed so far (up to 32 MB), after which such blocks come from the heap and leave holes it keeps. False where
    the C library is not glibc."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, from_bytes) == 1)


def give_back_free_memory() -> bool:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``). True when some were returned."""
    libc = _glibc()
    return bool(libc is not None and hasattr(libc, "malloc_trim") and libc.malloc_trim(0) == 1)


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


def collect_now_and_then(every_s: float = COLLECT_EVERY_S) -> bool:
    """A full collection at most once per ``every_s`` seconds, at the start of some run: what an expired session
    held in reference cycles (a page's functions and its module's globals refer to each other) is released
    within a minute, at a fraction of one collection per run; then the heap's free pages go back to the system.
    True when it collected."""
    global _last_collect
    with _lock:
        if time.monotonic() - _last_collect < every_s:
            return False
        _last_collect = time.monotonic()
    gc.collect()
    give_back_free_memory()
    return True
