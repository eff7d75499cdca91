"""The shared cache: bounded in bytes, least recently used out first, one computation per key."""

import threading
import time

from vitviz.cache import BoundedCache


def test_evicts_least_recently_used_beyond_the_bound():
    c = BoundedCache(max_bytes=30, size=len)
    c.put("a", "x" * 10)
    c.put("b", "x" * 10)
    c.get("a")  # a is now more recent than b
    c.put("c", "x" * 15)
    assert c.get("b") is None and c.get("a") is not None and c.get("c") is not None
    assert c.nbytes <= 30


def test_newest_value_kept_even_if_alone_too_big():
    c = BoundedCache(max_bytes=5, size=len)
    c.put("big", "x" * 50)
    assert c.get("big") is not None and len(c) == 1


def test_concurrent_requests_compute_once():
    c = BoundedCache(max_bytes=100, size=lambda v: 1)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(c.get_or_compute("k", compute))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["value"] * 8 and len(calls) == 1


def test_sizes_are_taken_once_per_stored_value_and_the_total_follows_evictions():
    sized = []

    def size(v: str) -> int:
        sized.append(v)
        return len(v)

    c = BoundedCache(max_bytes=25, size=size)
    for i in range(10):
        c.put(i, "x" * 10)
    assert len(sized) == 10  # one size per put, not one per entry held at each put
    assert len(c) == 2 and c.nbytes == 20 and c.get(7) is None and c.get(8) is not None
    c.put(9, "y" * 3)  # the same key again: its old size leaves the total
    assert c.nbytes == 13 and c.get(9) == "yyy"
    c.put("big", "z" * 40)  # alone over the bound: kept, everything older out
    assert len(c) == 1 and c.nbytes == 40
