"""Small decompositions and products with one BLAS thread.

The pages' numpy linear algebra is small (an SVD of 196 × 384 tokens, 196 × 196 cosines): one thread does it in
milliseconds. OpenBLAS's default is a thread per core, and its extra thread spins while it waits for a core; on a
server whose cores are busy with other pages that thread waits long and burns CPU doing it (blas_threads.py: 5.7x
the CPU of one thread with one other process busy; py-spy on a loaded class put a third of the server's busy
samples in these SVDs). Inside ``one_thread()`` numpy's BLAS uses one thread; the process's default is left as
it is everywhere else (``deploy/serve.sh`` sets one thread per process for the whole process).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # without threadpoolctl numpy keeps its own threads
        return None
    return ThreadpoolController()


def one_thread() -> AbstractContextManager:
    """A context in which numpy's BLAS and LAPACK calls run on one thread (8 µs to enter)."""
    controller = _controller()
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")
