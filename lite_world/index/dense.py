"""Page-level dense index over FAISS.

One vector per page (title + summary). The index type comes from a FAISS factory string;
by default it is chosen by page count: ``Flat`` (exact) below 50k pages, ``HNSW32`` up to
2M, ``IVF{n},PQ{m}x4fs,Refine(SQ8)``-style compressed IVF beyond. Indexes are saved in the world
directory and memory-mapped on load where the index type allows. When faiss sees a GPU,
Flat and IVF indexes are moved to it automatically.

Example:
    >>> import numpy as np
    >>> x = np.eye(4, dtype=np.float32)
    >>> idx = DenseIndex.build(x, factory="Flat")
    >>> ids, scores = idx.search(x[:2], k=2)
    >>> ids[:, 0].tolist()
    [0, 1]
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.errors import ConfigError, WorldCorruptedError, WorldNotFoundError
from lite_world.layout import DENSE_INDEX, DENSE_PARAMS, INDEX_DIRNAME

__all__ = ["DenseIndex", "auto_factory", "INDEX_DIRNAME", "read_params", "read_header"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<4siq")  # fourcc, d, ntotal: how every FAISS index file begins
_PARAM_TYPES = {"factory": str, "params": dict, "dim": int, "ntotal": int}


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``dense.json`` (factory, params, dim, ntotal).

    Raises:
        WorldNotFoundError: the file is missing.
        WorldCorruptedError: it is not a JSON object with those fields and types.
    """
    path = Path(path)
    if not path.is_file():
        raise WorldNotFoundError(
            f"Expects a dense index at {path.parent}, actual: missing {path.name}. "
            "Re-run lite-world build with --out WORLD."
        )
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise WorldCorruptedError(
            f"Expects valid JSON in {path}, actual: {exc}. Restore the world from a copy or "
            "rebuild it."
        ) from exc
    bad = [
        k
        for k, t in _PARAM_TYPES.items()
        if not isinstance(meta, dict)
        or not isinstance(meta.get(k), t)
        or isinstance(meta.get(k), bool)
    ]
    if bad:
        raise WorldCorruptedError(
            f"Expects {path} to hold {sorted(_PARAM_TYPES)} with types "
            f"{ {k: t.__name__ for k, t in _PARAM_TYPES.items()} }, actual: {bad} missing or of "
            "another type. "
            "Restore the world from a copy or rebuild it."
        )
    return meta


def read_header(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """``(fourcc, dim, ntotal)`` from the first 16 bytes of a FAISS index file (no loading).

    Raises:
        WorldCorruptedError: the file is shorter than a header or the header is not plausible.
    """
    with open(path, "rb") as f:
        head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise WorldCorruptedError(
            f"Expects a FAISS index header ({_HEADER.size} bytes) in {path}, actual: {len(head)} "
            "bytes. "
            "Restore the world from a copy or rebuild it."
        )
    fourcc, d, ntotal = _HEADER.unpack(head)
    if not fourcc.isalnum() or d < 1 or ntotal < 0:
        raise WorldCorruptedError(
            f"Expects a FAISS index header in {path}, actual: fourcc {fourcc!r}, d={d}, "
            f"ntotal={ntotal}. "
            "Restore the world from a copy or rebuild it."
        )
    return fourcc.decode("ascii"), d, ntotal


def auto_factory(n: int, dim: int) -> str:
    """The default FAISS factory string for ``n`` pages of dimension ``dim``.

    Example:
        >>> auto_factory(1_000, 384), auto_factory(100_000, 384), auto_factory(10_000_000, 384)
        ('Flat', 'HNSW32', 'IVF12649,PQ48,Refine(SQ8)')
    """
    if n < 50_000:
        return "Flat"
    if n < 2_000_000:
        return "HNSW32"
    nlist = int(4 * math.sqrt(n))
    m = max(8, dim // 8)
    return f"IVF{nlist},PQ{m},Refine(SQ8)"


def _faiss() -> Any:
    return require("faiss", extra="cpu")


class DenseIndex:
    """A FAISS inner-product index with its search parameters.

    Args:
        index: a ``faiss.Index``.
        factory: the factory string it was built from.
        params: search-time parameters (``efSearch``, ``nprobe``, ``k_factor_rf``).
        use_gpu: move to GPU when faiss has one (Flat/IVF only).
    """

    def __init__(
        self,
        index: Any,
        factory: str,
        params: dict[str, Any] | None = None,
        *,
        use_gpu: bool | None = None,
    ):
        faiss = _faiss()
        self.factory = factory
        self.params = dict(params or {})
        self.dim = int(index.d)
        self.on_gpu = False
        self._apply_params(index)
        ngpu = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
        if (use_gpu is None or use_gpu) and ngpu > 0 and "HNSW" not in factory:
            try:
                index = faiss.index_cpu_to_all_gpus(index)
                self.on_gpu = True
            except Exception as exc:  # pragma: no cover - GPU only
                logger.warning("could not move the index to GPU (%s); searching on CPU", exc)
        self.index = index

    def _apply_params(self, index: Any) -> None:
        faiss = _faiss()
        ps = faiss.ParameterSpace()
        for key in ("efSearch", "nprobe", "k_factor_rf"):
            if key in self.params:
                try:
                    ps.set_index_parameter(index, key, self.params[key])
                except RuntimeError as exc:
                    logger.warning(
                        "index %s ignores search parameter %s=%s (%s)",
                        self.factory,
                        key,
                        self.params[key],
                        exc,
                    )

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        factory: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        train_size: int = 200_000,
        seed: int = 0,
    ) -> DenseIndex:
        """Build (and train, if needed) an index over ``vectors`` (row i = page id i)."""
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        factory = factory or auto_factory(n, dim)
        try:
            index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ConfigError(
                "Expects a valid FAISS factory string (e.g. 'Flat', 'HNSW32', 'IVF1024,PQ48'), "
                f"actual: {factory!r} ({exc})"
            ) from exc
        defaults: dict[str, Any] = {}
        if "HNSW" in factory:
            defaults["efSearch"] = 128
            hnsw = faiss.downcast_index(index)
            if hasattr(hnsw, "hnsw"):
                hnsw.hnsw.efConstruction = 80
        if "IVF" in factory:
            defaults["nprobe"] = 32
        if "Refine" in factory:
            defaults["k_factor_rf"] = (
                8  # re-rank 8k PQ candidates: recall@10 0.40 -> 0.72 at 1M (bench_scale_1m)
            )
        defaults.update(params or {})
        if not index.is_trained:
            rng = np.random.default_rng(seed)
            sample = (
                vectors
                if n <= train_size
                else vectors[np.sort(rng.choice(n, train_size, replace=False))]
            )
            index.train(sample)
        for start in range(0, n, 100_000):
            index.add(vectors[start : start + 100_000])
        return cls(index, factory, defaults, use_gpu=False)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(nq, k)`` row ids (``-1`` padded) and inner-product scores."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ConfigError(f"Expects queries of shape (nq, {self.dim}), actual: {queries.shape}")
        k = max(1, min(int(k), 2048 if self.on_gpu else 1 << 20))
        scores, ids = self.index.search(queries, k)
        return ids.astype(np.int64, copy=False), scores

    # -- persistence --------------------------------------------------------
    def save(self, world_dir: str | os.PathLike[str], *, index_dir: str = INDEX_DIRNAME) -> None:
        """Write ``WORLD/<index_dir>/dense.faiss`` and ``dense.json`` (each through a temp file)."""
        faiss = _faiss()
        d = Path(world_dir) / index_dir
        d.mkdir(parents=True, exist_ok=True)
        index = faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index
        tmp = d / (DENSE_INDEX + ".tmp")
        faiss.write_index(index, str(tmp))
        os.replace(tmp, d / DENSE_INDEX)
        meta = {
            "factory": self.factory,
            "params": self.params,
            "dim": self.dim,
            "ntotal": self.ntotal,
        }
        tmp = d / (DENSE_PARAMS + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, d / DENSE_PARAMS)

    @classmethod
    def load(
        cls,
        world_dir: str | os.PathLike[str],
        *,
        mmap: bool = True,
        use_gpu: bool | None = None,
        index_dir: str = INDEX_DIRNAME,
    ) -> DenseIndex:
        """Load the index of ``WORLD/<index_dir>``; damage raises :class:`WorldCorruptedError`."""
        faiss = _faiss()
        d = Path(world_dir) / index_dir
        path, meta_path = d / DENSE_INDEX, d / DENSE_PARAMS
        if not path.is_file() or not meta_path.is_file():
            raise WorldNotFoundError(
                f"Expects a dense index at {path}, actual: missing. Re-run lite-world build with "
                f"--out {world_dir}."
            )
        meta = read_params(meta_path)
        _, dim, ntotal = read_header(path)
        if (dim, ntotal) != (meta["dim"], meta["ntotal"]):
            raise WorldCorruptedError(
                f"Expects the FAISS index {path} to hold {meta['ntotal']} vectors of dim "
                f"{meta['dim']} "
                f"({DENSE_PARAMS}), actual: {ntotal} of dim {dim}. Restore the world from a copy "
                "or rebuild it."
            )
        index = None
        if mmap:
            for flag in ("IO_FLAG_MMAP_IFC", "IO_FLAG_MMAP"):
                if hasattr(faiss, flag):
                    try:
                        index = faiss.read_index(
                            str(path), getattr(faiss, flag) | faiss.IO_FLAG_READ_ONLY
                        )
                        break
                    except RuntimeError:
                        index = None
        if index is None:
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:
                raise WorldCorruptedError(
                    f"Expects a readable FAISS index at {path}, actual: {exc}. Restore the world "
                    "from a copy "
                    "or rebuild it."
                ) from exc
        if (int(index.d), int(index.ntotal)) != (dim, ntotal):
            raise WorldCorruptedError(
                f"Expects the FAISS index {path} to hold {ntotal} vectors of dim {dim}, actual: "
                f"{index.ntotal} of dim {index.d}. Restore the world from a copy or rebuild it."
            )
        return cls(index, meta["factory"], meta["params"], use_gpu=use_gpu)

    @staticmethod
    def peek_count(world_dir: str | os.PathLike[str], *, index_dir: str = INDEX_DIRNAME) -> int:
        """Vector count recorded next to the index (without loading it)."""
        return int(read_params(Path(world_dir) / index_dir / DENSE_PARAMS)["ntotal"])
