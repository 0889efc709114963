"""World verification: a world directory's files checked against its manifest.

Three levels, from cheap to thorough:

- ``"open"`` (what :class:`~lite_world.world.World` runs when it opens): the manifest's fields;
  every index file present with the size the manifest records and a plausible header (FAISS
  dimension and count, ``.npy`` shapes against file sizes, JSON framing); the embedding
  dimension against the index; the LMDB data file against LMDB's own last page; the page
  count. Reads a few bytes per file, never whole files. Pages a running (or interrupted)
  extend has appended beyond the manifest are tolerated: the world serves the manifest's pages.
- ``"quick"`` (``lite-world info --quick``): the same, but pending pages are an error.
- ``"full"`` (``lite-world info``): also the blake2b digest of every file recorded at build time
  (hashed with plain reads *before* LMDB maps the store, so a damaged store cannot crash the
  check) and the store's content digest.

Worlds built before digests were recorded (manifest format 1) pass with ``digests="unavailable"``.

Example:
    >>> check_world("/nonexistent/world")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.WorldNotFoundError: Expects a world directory at /nonexistent/world, ...
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from lite_world.errors import EmbedderMismatchError, WorldCorruptedError, WorldNotFoundError
from lite_world.index.dense import read_header, read_params
from lite_world.layout import DENSE_PARAMS, STORE_FILES, WorldFile, index_files
from lite_world.store.lmdb_store import PageStore
from lite_world.store.manifest import Manifest, read_manifest

__all__ = ["CheckLevel", "WorldCheck", "check_world", "verify_world", "file_digest", "record_files"]

logger = logging.getLogger(__name__)

CheckLevel = Literal["open", "quick", "full"]
_LEVELS = ("open", "quick", "full")
_CHUNK = 1 << 20
_PARSE_JSON_MAX = 64 << 10  # JSON files up to this size are parsed on open; bigger ones (the
# BM25 vocabularies: 0.7 MB each on the demo world, 70 ms to parse) only have their framing checked


@dataclass(frozen=True)
class WorldCheck:
    """What :func:`check_world` checked.

    Attributes:
        manifest: the world's manifest.
        level: ``"open"``, ``"quick"`` or ``"full"``.
        files: world-relative paths whose size and header were checked.
        digests: ``"verified"`` (every recorded digest matched), ``"skipped"`` (not a full
            check) or ``"unavailable"`` (the world was built before digests were recorded).
        pending_pages: pages in the store beyond the manifest (an extend running or interrupted).
    """

    manifest: Manifest
    level: str
    files: tuple[str, ...]
    digests: str
    pending_pages: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Everything but the manifest, as plain JSON values."""
        d = asdict(self)
        del d["manifest"]
        d["files"] = list(self.files)
        return d


def file_digest(path: str | os.PathLike[str]) -> str:
    """The blake2b (32-byte) hex digest of a file, read in 1 MiB chunks.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "x"
        >>> _ = p.write_bytes(b"abc")
        >>> file_digest(p)[:16]
        'bddd813c63423972'
    """
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def record_files(world_dir: str | os.PathLike[str], index_dir: str) -> dict[str, dict[str, Any]]:
    """Size and digest of every digested world file (what the build stores in ``manifest.files``).

    Raises:
        WorldNotFoundError: a file of the table is missing.
    """
    world = Path(world_dir)
    out: dict[str, dict[str, Any]] = {}
    for f in (*STORE_FILES, *index_files(index_dir)):
        if not f.digested:
            continue
        path = world / f.path
        if not path.is_file():
            raise WorldNotFoundError(f"Expects {path} ({f.role}) after the build, actual: missing.")
        out[f.path] = {"bytes": path.stat().st_size, "blake2b": file_digest(path)}
    return out


def _fix(world: Path, f: WorldFile | None = None) -> str:
    if f is not None and f.kind in ("lmdb", "lock"):
        return (
            "Restore the world from a copy, or rebuild it from its inputs into a new directory "
            "(lite-world build INPUT... --out NEW_WORLD)."
        )
    return (
        "Restore the world from a copy, or rebuild its indexes: re-run the lite-world build "
        "command that made "
        f"it (--out {world}); it rebuilds them from the page store."
    )


def _check_npy(path: Path, size: int) -> None:
    import numpy as np
    from numpy.lib import format as npy

    with open(path, "rb") as f:
        try:
            major, _ = npy.read_magic(f)
            read = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
            shape, _, dtype = read(f)
        except (ValueError, SyntaxError, TypeError) as exc:
            raise ValueError(f"not a .npy array ({exc})") from exc
        need = f.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != need:
        raise ValueError(
            f"a {dtype} array of shape {shape} needs {need} bytes, the file has {size}"
        )


def _check_json_framing(path: Path, size: int) -> None:
    if size > _PARSE_JSON_MAX:  # big vocabularies: the first and last bytes only
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
            f.seek(max(0, size - 64))
            tail = f.read().rstrip()
        if head[:1] not in (b"{", b"[") or tail[-1:] not in (b"}", b"]"):
            raise ValueError("not framed as a JSON object or array")
        return
    json.loads(path.read_bytes().decode("utf-8"))


def _check_file(world: Path, f: WorldFile, m: Manifest) -> None:
    path = world / f.path
    if not path.is_file():
        raise WorldNotFoundError(f"Expects {f.role} at {path}, actual: missing. " + _fix(world, f))
    size = path.stat().st_size
    recorded = m.files.get(f.path)
    if recorded is not None and size != recorded.get("bytes"):
        raise WorldCorruptedError(
            f"Expects {f.role} at {f.path} to be {recorded.get('bytes')} bytes (manifest), "
            f"actual: {size}. " + _fix(world, f)
        )
    try:
        if f.kind == "faiss":
            _, dim, ntotal = read_header(path)
            if (dim, ntotal) != (m.embedding_dim, m.page_count):
                raise ValueError(
                    f"{ntotal} vectors of dim {dim}, the manifest says {m.page_count} of dim "
                    f"{m.embedding_dim}"
                )
        elif f.kind == "json" and f.path.endswith(DENSE_PARAMS):
            meta = read_params(path)
            if (meta["dim"], meta["ntotal"]) != (m.embedding_dim, m.page_count):
                raise ValueError(
                    f"{meta['ntotal']} vectors of dim {meta['dim']}, the manifest says "
                    f"{m.page_count} of dim "
                    f"{m.embedding_dim}"
                )
        elif f.kind == "json":
            _check_json_framing(path, size)
        elif f.kind == "npy":
            _check_npy(path, size)
    except (WorldCorruptedError, WorldNotFoundError):
        raise
    except (ValueError, OSError, RecursionError) as exc:
        raise WorldCorruptedError(
            f"Expects {f.role} at {path} to be valid, actual: {exc}. " + _fix(world, f)
        ) from exc


def _check_digests(world: Path, m: Manifest, files: list[WorldFile]) -> list[str]:
    """Digests of the recorded index files; returns the store files whose digest differs."""
    store_changed = []
    for f in files:
        recorded = m.files.get(f.path)
        if recorded is None:
            continue
        path = world / f.path
        if not path.is_file():
            raise WorldNotFoundError(
                f"Expects {f.role} at {path}, actual: missing. " + _fix(world, f)
            )
        if file_digest(path) != recorded.get("blake2b"):
            if f.kind == "lmdb" and path.stat().st_size > int(recorded.get("bytes", 0)):
                store_changed.append(
                    f.path
                )  # grown: maybe pages appended by an extend; counted below
                continue
            raise WorldCorruptedError(
                f"Expects {f.role} at {f.path} to have the blake2b digest recorded at build time, "
                "actual: a "
                "different digest (the file changed after the build). " + _fix(world, f)
            )
    return store_changed


def check_world(
    world_dir: str | os.PathLike[str], *, level: CheckLevel = "full", embedder: str | None = None
) -> WorldCheck:
    """Check a world directory against its manifest (see the module docstring for the levels).

    Args:
        world_dir: the world directory.
        level: ``"open"``, ``"quick"`` or ``"full"``.
        embedder: if given, the embedder the caller wants to query with; must be the index's.

    Raises:
        WorldNotFoundError: the world, its manifest, store or an index file is missing.
        WorldCorruptedError: a file disagrees with the manifest or cannot be read.
        EmbedderMismatchError: ``embedder`` is not the one the index was built with.
    """
    if level not in _LEVELS:
        raise ValueError(f"Expects level in {_LEVELS}, actual: {level!r}")
    world = Path(world_dir)
    m = read_manifest(world)
    if embedder is not None and embedder != m.embedder:
        raise EmbedderMismatchError(
            f"Expects queries embedded with the index's embedder {m.embedder!r} (dim "
            f"{m.embedding_dim}), "
            f"actual: {embedder!r}. Pass --embedder {m.embedder} (or embedder={m.embedder!r}), "
            "or rebuild the world with the embedder you want."
        )
    files = index_files(m.index_dir)
    for f in files:
        _check_file(world, f, m)
    store_changed: list[str] = []
    if level == "full":
        store_changed = _check_digests(world, m, [*files, *STORE_FILES])
    with PageStore(world) as store:  # checks data.mdb against LMDB's last page before reading
        n = len(store)
        if n < m.page_count:
            raise WorldCorruptedError(
                f"Expects {m.page_count} pages (manifest), actual: {n} in the store. Pages were "
                "lost after the "
                "build. " + _fix(world, STORE_FILES[0])
            )
        pending = n - m.page_count
        if pending and level != "open":
            raise WorldCorruptedError(
                f"Expects {m.page_count} pages (manifest), actual: {n} in the store: a lite-world "
                "build is "
                "extending this world, or one was interrupted. Re-run the same build command "
                f"(--out {world}) to "
                "finish it; it resumes where it stopped. Until then the world serves its "
                f"{m.page_count} pages."
            )
        if store_changed:
            raise WorldCorruptedError(
                f"Expects the page store at {store_changed[0]} to have the blake2b digest "
                "recorded at build time, "
                "actual: a different digest (the file changed after the build). "
                + _fix(world, STORE_FILES[0])
            )
        if level == "full" and store.content_digest() != m.store_digest:
            raise WorldCorruptedError(
                "Expects the store digest recorded in the manifest, actual: a different digest. "
                "The pages changed "
                "after the index was built. " + _fix(world, STORE_FILES[0])
            )
    if pending:
        logger.warning(
            "%s: %d pages beyond the manifest's %d (a build is extending the world, or was "
            "interrupted); "
            "serving the manifest's pages until it finishes",
            world,
            pending,
            m.page_count,
        )
    if level != "full":
        digests = "skipped"
    else:
        digests = "verified" if m.files else "unavailable"
    return WorldCheck(m, level, tuple(f.path for f in files), digests, pending)


def verify_world(
    world_dir: str | os.PathLike[str], *, embedder: str | None = None, deep: bool = True
) -> Manifest:
    """The manifest of a world passing :func:`check_world` (``deep``: full, else quick)."""
    return check_world(world_dir, level="full" if deep else "quick", embedder=embedder).manifest
