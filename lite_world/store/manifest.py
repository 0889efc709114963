"""``manifest.json``: what a world contains and how its index was built.

:func:`verify_world` checks the manifest against the store and index and raises a typed error
that says what is wrong and how to fix it.

Example:
    >>> m = Manifest(page_count=2, store_digest="ab", embedder="e", embedding_dim=8,
    ...              index_factory="Flat", index_params={}, sources=["x.jsonl"])
    >>> Manifest.from_dict(m.to_dict()) == m
    True
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lite_world.errors import EmbedderMismatchError, WorldCorruptedError, WorldNotFoundError
from lite_world.version import __version__

__all__ = ["Manifest", "MANIFEST_NAME", "read_manifest", "write_manifest", "verify_world"]

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The identity card of a world directory."""

    page_count: int
    store_digest: str
    embedder: str
    embedding_dim: int
    index_factory: str
    index_params: dict[str, Any]
    sources: list[str]
    bm25: dict[str, Any] = field(default_factory=dict)
    build_config: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0
    built_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    lite_world_version: str = __version__
    format_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def write_manifest(world_dir: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write atomically (temp file + rename), so a crash never leaves half a manifest."""
    path = Path(world_dir) / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def read_manifest(world_dir: str | os.PathLike[str]) -> Manifest:
    """Read ``WORLD/manifest.json`` or raise a typed error saying how to fix it."""
    world = Path(world_dir)
    path = world / MANIFEST_NAME
    if not world.is_dir():
        raise WorldNotFoundError(
            f"Expects a world directory at {world}, actual: it does not exist. "
            f"Build one with: lite-world build INPUT... --out {world}"
        )
    if not path.is_file():
        raise WorldNotFoundError(
            f"Expects {path}, actual: missing — the build did not finish. "
            f"Re-run the same lite-world build command with --out {world}; it resumes where it stopped."
        )
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise WorldCorruptedError(f"Expects valid JSON in {path}, actual: {exc}. Rebuild the world.") from exc


def verify_world(world_dir: str | os.PathLike[str], *, embedder: str | None = None, deep: bool = True) -> Manifest:
    """Check a world: manifest readable, store and index present and consistent.

    Args:
        world_dir: the world directory.
        embedder: if given, the embedder the caller wants to query with; must match the index.
        deep: also recompute the store's content digest (reads every key; seconds per million pages).

    Raises:
        WorldNotFoundError, WorldCorruptedError, EmbedderMismatchError.
    """
    from lite_world.index.dense import DenseIndex
    from lite_world.store.lmdb_store import PageStore

    m = read_manifest(world_dir)
    with PageStore(world_dir) as store:
        n = len(store)
        if n != m.page_count:
            raise WorldCorruptedError(
                f"Expects {m.page_count} pages (manifest), actual: {n} in the store. "
                "The store was changed after the build: rebuild the world."
            )
        if deep and store.content_digest() != m.store_digest:
            raise WorldCorruptedError(
                "Expects the store digest recorded in the manifest, actual: a different digest. "
                "The pages changed after the index was built: rebuild the world."
            )
    ntotal = DenseIndex.peek_count(world_dir)
    for rel in ("index/dense.faiss", "index/bm25/lite_world.json"):
        if not (Path(world_dir) / rel).is_file():
            raise WorldNotFoundError(
                f"Expects {Path(world_dir) / rel}, actual: missing. Rebuild the index: "
                f"re-run lite-world build with --out {world_dir}."
            )
    if ntotal != m.page_count:
        raise WorldCorruptedError(
            f"Expects a dense index with {m.page_count} vectors, actual: {ntotal}. Rebuild the index: "
            f"re-run lite-world build with --out {world_dir}."
        )
    if embedder is not None and embedder != m.embedder:
        raise EmbedderMismatchError(
            f"Expects queries embedded with the index's embedder {m.embedder!r} (dim {m.embedding_dim}), "
            f"actual: {embedder!r}. Pass --embedder {m.embedder} (or embedder={m.embedder!r}), "
            "or rebuild the world with the embedder you want."
        )
    return m
