"""Adopt an existing FAISS index over a Search-R1 / FlashRAG corpus, without re-embedding.

Search-R1's ``index_builder.py`` writes ``{method}_{faiss_type}.index`` (``e5_Flat.index``,
``e5_HNSW64.index``) whose row ``i`` is line ``i`` of the corpus JSONL. Adopting it reads the
vectors back from the index (``reconstruct_n``: exact for Flat and HNSW, which store the raw
vectors), maps each corpus position to the world's page row through the page store (the
*position map*), and writes them as the world's page vectors; the build then indexes them with
the same index type unless told otherwise. Nothing is encoded, so the world's query encoder must
be the one that built the index: pass its configuration (model, ``query: `` / ``passage: ``
prefixes, pooling, normalisation) to the build, which records it in the manifest.

- ``group="passage"``: page row = corpus row (unless the store dropped a duplicate passage,
  then its position maps to ``-1``).
- ``group="title"``: a page's vector is the normalised mean of its passages' vectors; the
  passage vectors themselves are kept beside it (``index/passages.f32``, with the position map
  saying which page each belongs to).

Example:
    >>> import faiss, numpy as np
    >>> adopted_factory(faiss.IndexFlatIP(8)), adopted_factory(faiss.IndexHNSWFlat(8, 64))
    ('Flat', 'HNSW64')
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lite_world._lazy import require
from lite_world.errors import ConfigError, EmbedderMismatchError, IngestError
from lite_world.layout import EMBEDDINGS, EMBEDDINGS_STATE, INDEX_DIRNAME
from lite_world.store.ingest.searchr1 import iter_corpus_rows, passage_url
from lite_world.store.urls import wikipedia_url

__all__ = ["POSITIONS", "PASSAGES", "read_adopted", "adopted_factory", "adopt_vectors"]

logger = logging.getLogger(__name__)

POSITIONS = "adopted_positions.npy"  # corpus position -> page row (-1: not a page)
PASSAGES = "passages.f32"  # title grouping: the adopted passage vectors, row = corpus position
_CHUNK = 65_536


def read_adopted(path: str | os.PathLike[str]) -> Any:
    """The FAISS index at ``path`` (memory-mapped when the format allows).

    Raises:
        IngestError: the file is missing or not a FAISS index.
    """
    faiss = require("faiss", extra="cpu")
    if not os.path.isfile(path):
        raise IngestError(f"Expects a FAISS index to adopt at {path}, actual: no such file")
    with open(path, "rb") as f:
        flat = f.read(4) in (b"IxFI", b"IxF2", b"IxFl")  # mmap is sound for Flat indexes only
    for flags in ((faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY) if flat else 0, 0):
        try:
            return faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            error = exc
    raise IngestError(f"Expects a readable FAISS index at {path}, actual: {error}")


def adopted_factory(index: Any) -> str:
    """The factory string of the same index type (what the world rebuilds it as)."""
    faiss = require("faiss", extra="cpu")
    typed = faiss.downcast_index(index)  # a view: ``index`` must stay referenced meanwhile
    if isinstance(typed, faiss.IndexHNSW):
        return f"HNSW{typed.hnsw.nb_neighbors(1)}"
    if isinstance(typed, faiss.IndexFlat):
        return "Flat"
    raise ConfigError(
        f"Expects a Flat or HNSW index to adopt (they keep the raw vectors), actual: "
        f"{type(typed).__name__}. Adopt the Flat index and pass --index to pick another type."
    )


def _page_row(store: Any, title: str, row_id: str, group: str) -> int:
    if group == "passage":
        url = passage_url(title, row_id)
    else:
        url = wikipedia_url(title) if title else "https://corpus.lite-world/untitled"
    rec = store.get_dict(url)
    return -1 if rec is None else int(rec["id"])


def adopt_vectors(
    index_path: str | os.PathLike[str],
    corpus_path: str | os.PathLike[str],
    store: Any,
    world: str | os.PathLike[str],
    dim: int,
    *,
    embedder: str = "adopted",
    group: str = "passage",
    show_progress: bool = True,
) -> np.ndarray:
    """Write the adopted vectors as the world's page vectors; returns them (page-row order).

    Args:
        index_path: the FAISS index (row ``i`` = line ``i`` of the corpus).
        corpus_path: the ``{"id", "contents"}`` JSONL it was built from (gz or plain).
        store: the world's page store, already holding the corpus's pages.
        world: the world directory (``index/`` receives the vectors and the position map).
        dim: the query encoder's dimension (must be the index's).
        embedder: its name, recorded with the vectors (an extend embeds new pages with it).
        group: how the corpus became pages (``"passage"`` or ``"title"``).
        show_progress: a tqdm bar over the vectors.

    Raises:
        EmbedderMismatchError: the index's dimension is not ``dim``.
        IngestError: the index does not hold one vector per corpus row, or a page has none.
    """
    index = read_adopted(index_path)
    if int(index.d) != dim:
        raise EmbedderMismatchError(
            f"Expects the adopted index {index_path} to hold {dim}-dim vectors (the query "
            f"encoder's), actual: {index.d}. Pass the encoder that built it (--embedder, and its "
            "prefixes and pooling)."
        )
    rows = [(r.title, r.id) for r in iter_corpus_rows(corpus_path)]
    if int(index.ntotal) != len(rows):
        raise IngestError(
            f"Expects one vector per corpus row (row i = line i of {Path(corpus_path).name}), "
            f"actual: {index.ntotal} vectors for {len(rows)} rows. Adopt the index together with "
            "the corpus file it was built from."
        )
    positions = np.fromiter(
        (_page_row(store, t, i, group) for t, i in rows), dtype=np.int64, count=len(rows)
    )
    n_pages = int(store.next_id)
    d = Path(world) / INDEX_DIRNAME
    d.mkdir(parents=True, exist_ok=True)
    sums = np.zeros((n_pages, dim), dtype=np.float32)
    seen = np.zeros(n_pages, dtype=bool)
    keep = open(d / PASSAGES, "wb") if group == "title" else None  # noqa: SIM115
    bar = tqdm(total=len(rows), desc="adopt", unit="vec", disable=not show_progress)
    try:
        for start in range(0, len(rows), _CHUNK):
            count = min(_CHUNK, len(rows) - start)
            vecs = np.ascontiguousarray(index.reconstruct_n(start, count), dtype=np.float32)
            if keep is not None:
                keep.write(vecs.tobytes())
            pos = positions[start : start + count]
            ok = pos >= 0
            np.add.at(sums, pos[ok], vecs[ok])
            seen[pos[ok]] = True
            bar.update(count)
    finally:
        bar.close()
        if keep is not None:
            keep.close()
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0])
        raise IngestError(
            f"Expects a vector for every page, actual: page row {missing} has none (the store "
            "holds pages from another input). Build the adopted world from its corpus alone."
        )
    if group == "title":  # a page's vector: the normalised mean of its passages'
        sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    np.save(d / POSITIONS, positions)
    with open(d / EMBEDDINGS, "wb") as f:
        f.write(sums.tobytes())
        f.flush()
        os.fsync(f.fileno())
    state = {"embedder": embedder, "dim": dim, "rows": n_pages, "adopted": str(index_path)}
    (d / EMBEDDINGS_STATE).write_text(json.dumps(state))
    logger.info("adopted %d vectors from %s for %d pages", len(rows), index_path, n_pages)
    return sums
