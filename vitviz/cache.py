"""A thread-safe LRU cache bounded by bytes, computing each key once even under concurrency."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Keeps the most recently used values while their total ``size(value)`` stays under ``max_bytes``.

    The newest value is always kept, even when it alone exceeds the bound. A value's size is taken once, when it
    is stored (values are not changed once cached), and the total is kept as entries come and go: storing one
    costs the same with ten entries as with ten thousand (a class's figures).
    """

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}  # key -> size(value) when stored
        self._total = 0  # sum of self._sizes
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._total

    def values(self) -> list[V]:
        """The cached values, least recently used first (does not count as a use)."""
        with self._lock:
            return list(self._items.values())

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value for ``key``, computing it (once, even if asked concurrently) when absent."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            hit = self.get(key)
            if hit is not None:
                return hit
            value = compute()
            self.put(key, value)
        with self._lock:
            self._key_locks.pop(key, None)
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``, evicting the least recently used entries beyond the byte bound."""
        size = self._size(value)  # outside the lock: it may walk a large value
        with self._lock:
            self._total += size - self._sizes.get(key, 0)
            self._items[key] = value
            self._sizes[key] = size
            self._items.move_to_end(key)
            while self._total > self.max_bytes and len(self._items) > 1:
                old, _ = self._items.popitem(last=False)
                self._total -= self._sizes.pop(old)
