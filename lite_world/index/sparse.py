"""BM25 over page title + text, with bm25s.

Saved as a directory of named arrays plus JSON (no pickle), memory-mapped on load. The
backend is numpy up to :data:`NUMBA_MIN_PAGES` and numba above. The numpy path scores with bm25s
and selects the top k among the positive scores only (:func:`top_positive`): bm25s partitioned
every page's score, mostly zeros, which made numpy 20-40x slower than numba. Now, at 100k pages on
one core, numpy takes 0.48 ms a query (p50; p99 1.3) against numba's 0.24 (0.51), and numba's JIT
costs 5.5 s and 126 MB when the index is loaded, so numba is kept for larger worlds only.

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

from lite_world.errors import WorldCorruptedError, WorldError, WorldNotFoundError
from lite_world.layout import BM25_DIRNAME, BM25_PARAMS, INDEX_DIRNAME

__all__ = ["BM25Index", "NUMBA_MIN_PAGES", "top_positive"]

_FIX = "Restore the world from a copy or rebuild it."
# numpy (positive top-k): 0.48 ms a query at 100k pages, so about 1.5 ms at this size; numba
# 0.24 ms at 100k but 5.5 s and 126 MB to load (it was 20k when numpy took 15 ms at 100k)
NUMBA_MIN_PAGES = 300_000


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

    def __init__(self, retriever, tokenizer, n_docs: int):
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
    ) -> BM25Index:
        """Index ``texts`` (doc i = page row i)."""
        import bm25s
        from bm25s.tokenization import Tokenizer

        tok = Tokenizer(stopwords="en")
        ids = tok.tokenize(
            texts, update_vocab=True, return_as="ids", show_progress=show_progress, length=n_docs
        )
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
        q = self.tokenizer.tokenize(
            list(queries), update_vocab=False, return_as="ids", show_progress=False
        )
        kk = min(k, self.n_docs)
        try:
            if getattr(self.retriever, "backend", "numpy") == "numba":
                docs, sc = self.retriever.retrieve(q, k=kk, show_progress=False, n_threads=1)
            else:
                docs, sc = self._top_k(q, kk)
        except (
            IndexError,
            ValueError,
        ) as exc:  # damaged arrays: an index out of range, a bad shape
            raise WorldCorruptedError(
                f"Expects consistent BM25 arrays, actual: {exc!r} while searching. {_FIX}"
            ) from exc
        docs = np.asarray(docs, dtype=np.int64)
        sc = np.asarray(sc, dtype=np.float32)
        if docs.shape != (nq, kk) or (docs.size and (docs.min() < 0 or docs.max() >= self.n_docs)):
            raise WorldCorruptedError(
                f"Expects BM25 results of shape {(nq, kk)} with ids in [0, {self.n_docs}), "
                "actual: shape "
                f"{docs.shape}, ids in [{docs.min(initial=0)}, {docs.max(initial=0)}]. {_FIX}"
            )
        hit = sc > 0
        ids[:, :kk] = np.where(hit, docs, -1)
        scores[:, :kk] = np.where(hit, sc, 0.0)
        return ids, scores

    def _top_k(self, query_ids: list[list[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """bm25s's scores with a selection among the positive ones only (numpy backend).

        ``bm25s.BM25.retrieve`` partitions every document's score, mostly zeros, per query:
        0.6-0.9 ms a query at 7.8k pages, 15 ms at 100k. Ties are broken by page row.
        """
        docs = np.zeros((len(query_ids), k), dtype=np.int64)
        out = np.zeros((len(query_ids), k), dtype=np.float32)
        for i, ids in enumerate(query_ids):
            if not len(ids):
                continue
            rows, vals = top_positive(self.retriever.get_scores_from_ids(ids), k)
            docs[i, : len(rows)], out[i, : len(rows)] = rows, vals
        return docs, out

    def save(self, world_dir: str | os.PathLike[str], *, index_dir: str = INDEX_DIRNAME) -> None:
        """Write ``WORLD/<index_dir>/bm25/``: bm25s arrays and JSON, tokenizer, doc count."""
        d = Path(world_dir) / index_dir / BM25_DIRNAME
        d.mkdir(parents=True, exist_ok=True)
        with _builtin_json():
            self.retriever.save(str(d))
        self.tokenizer.save_vocab(str(d))
        self.tokenizer.save_stopwords(str(d))
        (d / BM25_PARAMS).write_text(json.dumps({"n_docs": self.n_docs}))

    @classmethod
    def load(
        cls,
        world_dir: str | os.PathLike[str],
        *,
        backend: str = "auto",
        mmap: bool = True,
        index_dir: str = INDEX_DIRNAME,
    ) -> BM25Index:
        """Load ``WORLD/<index_dir>/bm25/``; damaged files raise :class:`WorldCorruptedError`."""
        import bm25s
        from bm25s.tokenization import Tokenizer

        d = Path(world_dir) / index_dir / BM25_DIRNAME
        if not (d / BM25_PARAMS).is_file():
            raise WorldNotFoundError(
                f"Expects a BM25 index at {d}, actual: missing. Re-run lite-world build with "
                f"--out {world_dir}."
            )
        try:
            n = json.loads((d / BM25_PARAMS).read_bytes().decode("utf-8"))["n_docs"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"n_docs is {n!r}")
            retriever = bm25s.BM25.load(str(d), mmap=mmap, show_progress=False, verbosity=0)
            be = _backend(n, backend)
            if be != getattr(retriever, "backend", "numpy"):
                retriever.backend = be
            tok = Tokenizer(stopwords="en")
            tok.load_vocab(str(d))
            tok.load_stopwords(str(d))
            _check_arrays(retriever, n)
        except WorldError:
            raise
        except FileNotFoundError as exc:
            raise WorldNotFoundError(
                f"Expects the BM25 index files in {d}, actual: {exc}. Re-run lite-world build "
                f"with --out {world_dir}."
            ) from exc
        except Exception as exc:  # bm25s raises whatever numpy/json raise on damaged files
            raise WorldCorruptedError(
                f"Expects a readable BM25 index at {d}, actual: {type(exc).__name__}: {exc}. {_FIX}"
            ) from exc
        index = cls(retriever, tok, n)
        if be == "numba":
            index.search(
                ["warm up the numba kernels"], 1
            )  # pay the JIT when the world opens, not mid-rollout
        return index


def top_positive(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the ``k`` best positive ``scores`` and their scores, best first; ties go to
    the lower row.

    Example:
        >>> rows, vals = top_positive(np.array([0.0, 2.0, 1.0, 2.0, 0.0, 1.0], np.float32), 3)
        >>> rows.tolist(), vals.tolist()
        ([1, 3, 2], [2.0, 2.0, 1.0])
    """
    rows = np.flatnonzero(scores > 0)
    vals = scores[rows]
    if rows.size > k:
        kth = np.partition(vals, rows.size - k)[rows.size - k]  # the k-th largest
        above = np.flatnonzero(vals > kth)
        keep = np.concatenate([above, np.flatnonzero(vals == kth)[: k - above.size]])
        rows, vals = rows[keep], vals[keep]
    order = np.lexsort((rows, -vals))
    return rows[order], vals[order]


def _check_arrays(retriever, n_docs: int) -> None:
    """Cheap consistency checks of the loaded CSC score matrix (shapes, not contents)."""
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    n_vocab = len(retriever.vocab_dict)
    if (
        len(indptr) != n_vocab + 1
        or len(data) != len(indices)
        or (len(indptr) and int(indptr[-1]) != len(data))
    ):
        raise ValueError(
            f"score matrix of {len(data)} values, {len(indices)} indices and {len(indptr)} "
            "pointers for a "
            f"vocabulary of {n_vocab} tokens"
        )
    if int(scores.get("num_docs", n_docs)) != n_docs:
        raise ValueError(
            f"the arrays index {scores.get('num_docs')} documents, {BM25_PARAMS} says {n_docs}"
        )
