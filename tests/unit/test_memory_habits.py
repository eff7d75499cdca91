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
