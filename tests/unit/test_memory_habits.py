"""The process's garbage-collection habits (ui/memory.py): freed cycles within the interval, not on every run."""

import gc
import time
import weakref

from ui import memory


class _Held:
    """Something a session held, caught in a reference cycle (as a page's functions and globals are)."""

    def __init__(self) -> None:
        self.me = self


def test_a_cycle_left_by_a_session_is_released_at_the_next_collection_and_not_more_often(monkeypatch):
    monkeypatch.setattr(memory, "_last_collect", time.monotonic() - 7200)  # the last collection, two hours ago
    gc.disable()  # only the habit under test collects here
    try:
        held = _Held()
        gone = weakref.ref(held)
        del held
        assert gone() is not None  # a cycle: reference counting alone does not free it
        assert memory.collect_now_and_then(every_s=3600) is True
        assert gone() is None
        again = _Held()
        still = weakref.ref(again)
        del again
        assert memory.collect_now_and_then(every_s=3600) is False  # within the interval: no collection
        assert still() is not None
    finally:
        gc.enable()
        gc.collect()


def _rss_bytes() -> int:
    import os
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_large_block_freed_goes_back_to_the_system():
    """After ``map_large_blocks`` a freed 64 MB array leaves the process's resident memory (glibc's own
    threshold would have kept the next ones on the heap once a block that large had been freed)."""
    import numpy as np
    import pytest

    if not memory.map_large_blocks():
        pytest.skip("not glibc")
    for _ in range(3):
        before = _rss_bytes()
        block = np.ones(64 * 2**20, np.uint8)  # touched: resident
        assert _rss_bytes() - before > 48 * 2**20
        del block
        assert _rss_bytes() - before < 16 * 2**20
    memory.give_back_free_memory()  # callable on glibc, whatever it finds to return
