"""BM25 over page title + text, with bm25s.

Saved as a directory of named arrays plus JSON (no pickle), memory-mapped on load. The
backend is numpy for small worlds and numba from 20k pages (numba's JIT costs ~6-20 s once per
process, paid when the index is loaded, but makes a query ~20-40× faster).

Example:
    >>> idx = BM25Index.build(["Paris is the capital of France", "Berlin is in Germany", "Cats"])
    >>> ids, scores = idx.search(["capital of France", "zzz"], k=2)
    >>> ids.tolist()
    [[0, -1], [-1, -1]]
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lite_world.errors import WorldNotFoundError

__all__ = ["BM25Index", "NUMBA_MIN_PAGES"]

_DIRNAME = "bm25"
NUMBA_MIN_PAGES = 20_000  # numpy: 3.2 ms/query at 20k pages, 15 ms at 100k; numba: 0.09 / 0.37 ms


_JSON_LOCK = threading.Lock()


@contextlib.contextmanager
def _builtin_json() -> Iterator[None]:
    """Make bm25s write JSON with the stdlib while saving.

    bm25s uses orjson when it is importable (verl installs it), and orjson rejects the int keys
    of a vocabulary built from token ids ("Dict key must be str").
    """
    from bm25s.utils import json_functions

    with _JSON_LOCK:
        original = json_functions.dumps
        json_functions.dumps = json_functions.dumps_with_builtin
        try:
            yield
        finally:
            json_functions.dumps = original


def _backend(n: int, backend: str) -> str:
    if backend == "auto":
        return "numba" if n >= NUMBA_MIN_PAGES else "numpy"
    return backend


class BM25Index:
    """A bm25s retriever plus the tokenizer whose vocabulary it was built with."""

    def __init__(self, retriever, tokenizer, n_docs: int):  # type: ignore[no-untyped-def]
        self.retriever = retriever
        self.tokenizer = tokenizer
        self.n_docs = n_docs

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        backend: str = "auto",
        show_progress: bool = False,
        n_docs: int | None = None,
    ) -> "BM25Index":
        """Index ``texts`` (doc i = page row i)."""
        import bm25s
        from bm25s.tokenization import Tokenizer

        tok = Tokenizer(stopwords="en")
        ids = tok.tokenize(texts, update_vocab=True, return_as="ids", show_progress=show_progress, length=n_docs)
        n = len(ids)
        retriever = bm25s.BM25(k1=k1, b=b, backend=_backend(n, backend))
        retriever.index(ids, show_progress=show_progress)
        return cls(retriever, tok, n)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(nq, k)`` row ids (``-1`` where fewer docs match) and BM25 scores."""
        nq = len(queries)
        ids = np.full((nq, k), -1, dtype=np.int64)
        scores = np.zeros((nq, k), dtype=np.float32)
        if nq == 0 or self.n_docs == 0:
            return ids, scores
        q = self.tokenizer.tokenize(list(queries), update_vocab=False, return_as="ids", show_progress=False)
        kk = min(k, self.n_docs)
        docs, sc = self.retriever.retrieve(q, k=kk, show_progress=False, n_threads=1)
        docs = np.asarray(docs, dtype=np.int64)
        sc = np.asarray(sc, dtype=np.float32)
        hit = sc > 0
        ids[:, :kk] = np.where(hit, docs, -1)
        scores[:, :kk] = np.where(hit, sc, 0.0)
        return ids, scores

    def save(self, world_dir: str | os.PathLike[str]) -> None:
        d = Path(world_dir) / "index" / _DIRNAME
        d.mkdir(parents=True, exist_ok=True)
        with _builtin_json():
            self.retriever.save(str(d))
        self.tokenizer.save_vocab(str(d))
        self.tokenizer.save_stopwords(str(d))
        (d / "lite_world.json").write_text(json.dumps({"n_docs": self.n_docs}))

    @classmethod
    def load(cls, world_dir: str | os.PathLike[str], *, backend: str = "auto", mmap: bool = True) -> "BM25Index":
        import bm25s
        from bm25s.tokenization import Tokenizer

        d = Path(world_dir) / "index" / _DIRNAME
        if not (d / "lite_world.json").is_file():
            raise WorldNotFoundError(f"Expects a BM25 index at {d}, actual: missing. Re-run lite-world build with --out {world_dir}.")
        n = int(json.loads((d / "lite_world.json").read_text())["n_docs"])
        retriever = bm25s.BM25.load(str(d), mmap=mmap, show_progress=False, verbosity=0)
        be = _backend(n, backend)
        if be != getattr(retriever, "backend", "numpy"):
            retriever.backend = be
        tok = Tokenizer(stopwords="en")
        tok.load_vocab(str(d))
        tok.load_stopwords(str(d))
        index = cls(retriever, tok, n)
        if be == "numba":
            index.search(["warm up the numba kernels"], 1)  # pay the JIT when the world opens, not mid-rollout
        return index
