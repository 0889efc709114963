"""A small thread-safe LRU cache bounded in bytes (and optionally in entries), with counters.

Sizes are approximate (:func:`approx_size`: array buffers, string lengths, container
overheads), which is what a memory budget needs: a search world's caches hold query vectors,
candidate pools, snippets and URL masks whose sizes differ by orders of magnitude, so an entry
count says little about memory.

Example:
    >>> c = LRUCache(2)
    >>> c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)
    1
    >>> c.get("b") is None, c.hits, c.misses
    (True, 1, 1)
    >>> small = LRUCache(max_bytes=1000)
    >>> for i in range(100):
    ...     small.put(i, "x" * 100)
    >>> len(small), small.bytes <= 1000
    (3, True)
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["LRUCache", "approx_size", "ENTRY_OVERHEAD"]

V = TypeVar("V")

ENTRY_OVERHEAD = 100  # bytes per entry for the ordered dict's node and hash slot (CPython, 64-bit)


def approx_size(obj: Any) -> int:
    """Approximate bytes held by ``obj``: arrays by their buffer, containers with their items.

    Example:
        >>> import numpy as np
        >>> approx_size(np.zeros(384, dtype=np.float32)) >= 1536
        True
        >>> approx_size(("abc", 1)) > approx_size("abc")
        True
    """
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):  # numpy arrays (views count their own buffer only: an upper bound)
        return nbytes + 112
    if isinstance(obj, (tuple, list, set, frozenset)):
        return sys.getsizeof(obj) + sum(approx_size(x) for x in obj)
    if isinstance(obj, dict):
        return sys.getsizeof(obj) + sum(approx_size(k) + approx_size(v) for k, v in obj.items())
    return sys.getsizeof(obj)


class LRUCache(Generic[V]):
    """Least-recently-used cache bounded by entries and/or approximate bytes.

    Args:
        maxsize: most entries kept (``None``: no entry bound; ``0``: cache nothing).
        max_bytes: most approximate bytes kept, keys and values together (``None``: no byte
            bound; ``0``: cache nothing). An item larger than the bound is not cached.
        sizeof: how to size a key or value (default :func:`approx_size`).
    """

    def __init__(
        self,
        maxsize: int | None = None,
        *,
        max_bytes: int | None = None,
        sizeof: Callable[[Any], int] = approx_size,
    ):
        self.maxsize = None if maxsize is None else max(0, int(maxsize))
        self.max_bytes = None if max_bytes is None else max(0, int(max_bytes))
        self._sizeof = sizeof
        self._data: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether anything can be cached at all."""
        return self.maxsize != 0 and self.max_bytes != 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._data.get(key)
            if item is not None:
                self._data.move_to_end(key)
                self.hits += 1
                return item[0]
            self.misses += 1
            return None

    def put(self, key: Hashable, value: V) -> None:
        if not self.enabled:
            return
        size = self._sizeof(key) + self._sizeof(value) + ENTRY_OVERHEAD
        if self.max_bytes is not None and size > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._data[key] = (value, size)
            self.bytes += size
            while (self.maxsize is not None and len(self._data) > self.maxsize) or (
                self.max_bytes is not None and self.bytes > self.max_bytes
            ):
                _, (_, dropped) = self._data.popitem(last=False)
                self.bytes -= dropped

    def clear(self) -> None:
        """Drop every entry (the hit/miss counters stay)."""
        with self._lock:
            self._data.clear()
            self.bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        """Membership without touching recency or the hit/miss counters."""
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def info(self) -> dict[str, Any]:
        """Bytes, entries, their bounds, hits, misses and hit rate."""
        total = self.hits + self.misses
        return {
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "entries": len(self._data),
            "max_entries": self.maxsize,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / total if total else 0.0,
        }

    def stats(self) -> dict[str, Any]:
        """``size`` (entries), ``hits``, ``misses``, ``hit_rate``, ``bytes``, ``max_bytes``."""
        total = self.hits + self.misses
        return {
            "size": len(self._data),
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / total if total else 0.0,
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
        }
