"""A request cache on disk: one SQLite file, keyed by (model, messages, params).

Re-running a synthesis step with the same model, prompts and sampling settings costs nothing:
every reply is looked up before a request is sent. Safe for threads (one lock) and for
processes (SQLite locking).

Example:
    >>> import tempfile, pathlib
    >>> cache = RequestCache(pathlib.Path(tempfile.mkdtemp()) / "llm.sqlite")
    >>> key = request_key("smollm2", [{"role": "user", "content": "hi"}], {"max_tokens": 8})
    >>> cache.get(key) is None
    True
    >>> cache.put(key, {"text": "hello", "prompt_tokens": 3, "completion_tokens": 1})
    >>> cache.get(key)["text"], len(cache)
    ('hello', 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RequestCache", "request_key"]


def request_key(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> str:
    """SHA-256 of the canonical JSON of ``(model, messages, params)``.

    Example:
        >>> a = request_key("m", [{"role": "user", "content": "x"}], {"t": 0, "n": 1})
        >>> a == request_key("m", [{"content": "x", "role": "user"}], {"n": 1, "t": 0})
        True
    """
    blob = json.dumps([model, list(messages), dict(params)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RequestCache:
    """``key -> reply dict`` in a SQLite file (created on first use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, value TEXT)"
            )
            self._db.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        blob = json.dumps(dict(value), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO replies (key, value) VALUES (?, ?)", (key, blob)
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
