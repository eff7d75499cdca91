"""The process's memory habits: Python's garbage collector kept off the objects every run shares.

Streamlit's full collection after each run is turned off in ``.streamlit/config.toml`` (``postScriptGC``): with
torch, timm and plotly loaded it cost about 0.3 CPU-s per rerun. Python's own collector still runs by its
thresholds; freezing what the start-up imports made (modules, classes, functions: they live as long as the
process) keeps those objects out of every later full collection, so a collection costs what the sessions
themselves hold.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_settled = False


def settle_startup_objects() -> None:
    """Once per process, after the imports: collect, then move every surviving object to the permanent
    generation (``gc.freeze``) that collections skip."""
    global _settled
    with _lock:
        if _settled:
            return
        gc.collect()
        gc.freeze()
        _settled = True
