"""A small thread-safe LRU cache with hit/miss counters.

Example:
    >>> c = LRUCache(2)
    >>> c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)
    1
    >>> c.get("b") is None, c.hits, c.misses
    (True, 1, 1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, Hashable, TypeVar

__all__ = ["LRUCache"]

V = TypeVar("V")


class LRUCache(Generic[V]):
    def __init__(self, maxsize: int):
        self.maxsize = max(0, int(maxsize))
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key: Hashable, value: V) -> None:
        if self.maxsize == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        """Membership without touching recency or the hit/miss counters."""
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, Any]:
        total = self.hits + self.misses
        return {"size": len(self._data), "hits": self.hits, "misses": self.misses, "hit_rate": self.hits / total if total else 0.0}
