"""The LMDB page snapshot: normalised URL → compressed page record.

Layout of ``WORLD/pages.lmdb`` (one LMDB environment, four named databases):

- ``pages``:  normalised URL → encoded :class:`~lite_world.store.page.Page` dict (+ row ``id``)
- ``ids``:    row id (8-byte big-endian) → URL; row ``i`` is vector ``i`` of the dense index
- ``hashes``: content hash → URL (content deduplication)
- ``meta``:   small metadata (codec settings, zstd dictionary, next row id)

Readers open read-only with ``lock=False`` so any number of rollout processes share one
snapshot through the OS page cache; this is safe because a finished world is never written
again. Writers append in batched transactions: a killed build leaves every committed batch
intact and the next run resumes after it.

Example:
    >>> import tempfile
    >>> from lite_world.store.page import Page
    >>> d = tempfile.mkdtemp()
    >>> with PageStore(d, readonly=False) as w:
    ...     w.put_many([Page.create("https://a.org/x/", "X", "Text of x.")])
    1
    >>> with PageStore(d) as r:
    ...     (r.get("https://A.org/x").title, len(r), r.url_of(0))
    ('X', 1, 'https://a.org/x')
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import lmdb

from lite_world.errors import WorldCorruptedError, WorldError, WorldNotFoundError
from lite_world.layout import STORE_DATA, STORE_DIRNAME
from lite_world.store.codec import PageCodec, train_dictionary
from lite_world.store.page import Page
from lite_world.store.urls import normalize_url

__all__ = ["PageStore", "STORE_DIRNAME", "check_data_file"]

_MAP_SIZE = 1 << 40  # 1 TiB of address space; the file only grows as needed.
_ID = struct.Struct(">Q")
_TEXT_FIELDS = ("url", "title", "markdown", "summary")


class _SharedEnv:
    """One LMDB environment of this process, shared by every PageStore on the same files.

    LMDB (and py-lmdb, which enforces it) forbids opening one environment twice in a
    process, so several readers of a world in one process (two Worlds, a World and
    ``verify_world``) share one handle, reference-counted.
    """

    def __init__(self, key: tuple[int, int], env: Any, dbs: tuple[Any, ...], readonly: bool):
        self.key, self.env, self.dbs, self.readonly = key, env, dbs, readonly
        self.pid = os.getpid()
        self.refs = 1


_ENVS: dict[tuple[int, int], _SharedEnv] = {}
_ENVS_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = (path / STORE_DATA).stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _acquire_env(path: Path, readonly: bool) -> _SharedEnv:
    with _ENVS_LOCK:
        key = _file_key(path)
        shared = _ENVS.get(key) if key is not None else None
        if (
            shared is not None and shared.pid != os.getpid()
        ):  # inherited through fork(): unusable here
            try:
                shared.env.close()
            except lmdb.Error:
                pass
            del _ENVS[key]  # type: ignore[arg-type]
            shared = None
        if shared is not None:
            if not readonly:
                raise WorldError(
                    f"Expects no other open handle on {path} in this process when writing to it, "
                    "actual: "
                    f"{shared.refs} open (a World or PageStore). Close them before building or "
                    "writing."
                )
            shared.refs += 1
            return shared
        try:
            env = lmdb.open(
                str(path),
                map_size=_MAP_SIZE,
                max_dbs=4,
                readonly=readonly,
                lock=not readonly,
                readahead=False,
                max_readers=2048,
                subdir=True,
            )
        except lmdb.Error as exc:
            raise _corrupted(path, str(exc)) from exc
        try:
            check_data_file(env, path)  # before the first read through the memory map
            dbs = tuple(
                env.open_db(name, create=not readonly)
                for name in (b"pages", b"ids", b"hashes", b"meta")
            )
        except (lmdb.Error, WorldCorruptedError) as exc:
            env.close()
            if isinstance(exc, WorldCorruptedError):
                raise
            raise _corrupted(path, str(exc)) from exc
        key = _file_key(path) or (-1, id(env))
        shared = _SharedEnv(key, env, dbs, readonly)
        _ENVS[key] = shared
        return shared


def _corrupted(path: Path, what: str) -> WorldCorruptedError:
    return WorldCorruptedError(
        f"Expects a readable LMDB page store at {path}, actual: {what}. The store is damaged: "
        "restore the "
        "world from a copy, or rebuild it with lite-world build (to a new --out)."
    )


def check_data_file(env: Any, path: Path) -> None:
    """Raise :class:`WorldCorruptedError` if ``data.mdb`` is shorter than LMDB's own last page.

    LMDB reads pages through a memory map, so a truncated data file kills the process with
    SIGBUS at the first read past its end; this compares the file size with the size the
    environment's meta page records (``(last_pgno + 1) * psize``), which LMDB reads with plain
    ``pread`` when it opens the environment.
    """
    need = (int(env.info()["last_pgno"]) + 1) * int(env.stat()["psize"])
    have = (path / STORE_DATA).stat().st_size
    if have < need:
        raise _corrupted(
            path,
            f"{STORE_DATA} holds {have} bytes but its last page ends at byte {need} (truncated)",
        )


def _release_env(shared: _SharedEnv) -> None:
    with _ENVS_LOCK:
        shared.refs -= 1
        if shared.refs > 0:
            return
        if _ENVS.get(shared.key) is shared:
            del _ENVS[shared.key]
        if shared.pid == os.getpid():
            shared.env.close()


class PageStore:
    """A page snapshot in LMDB.

    Args:
        world_dir: the world directory (the store lives in ``world_dir/pages.lmdb``).
        readonly: open for reading only (default), lock-free.
        compression: ``"zstd"`` or ``"none"`` (writers only; readers follow the stored setting).
        dictionary_samples: number of first pages used to train a zstd dictionary.
    """

    def __init__(
        self,
        world_dir: str | os.PathLike[str],
        *,
        readonly: bool = True,
        compression: str = "zstd",
        dictionary_samples: int = 2000,
    ):
        self.path = Path(world_dir) / STORE_DIRNAME
        self.readonly = readonly
        if readonly and not (self.path / STORE_DATA).exists():
            raise WorldNotFoundError(
                f"Expects an LMDB page store at {self.path}, actual: not found. "
                f"Build the world first: lite-world build INPUT... --out {Path(world_dir)}"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self._shared = _acquire_env(self.path, readonly)
        self._env = self._shared.env
        self._pages, self._ids, self._hashes, self._meta = self._shared.dbs
        self._closed = False
        meta = self._read_meta()
        self._dictionary_samples = dictionary_samples
        self.codec = PageCodec(
            compression=meta.get("compression", compression),
            dictionary=self._get_raw(self._meta, b"zstd_dict"),
        )
        self._next_id = int(meta.get("next_id", 0))
        self._pending_samples: list[bytes] = []

    # -- context management -------------------------------------------------
    def __enter__(self) -> PageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release_env(self._shared)

    # -- internals ----------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """LMDB and decoding failures while reading ``what`` become ``WorldCorruptedError``."""
        try:
            yield
        except WorldError:
            raise
        except (
            Exception
        ) as exc:  # lmdb.CorruptedError, zstd, JSON, a record of the wrong shape: damaged
            raise _corrupted(
                self.path, f"{what} cannot be read ({type(exc).__name__}: {exc})"
            ) from exc

    def _get_raw(self, db: Any, key: bytes) -> bytes | None:
        with self._reading(f"key {key[:80]!r}"), self._env.begin(db=db, buffers=False) as txn:
            return txn.get(key)

    def _decode(self, raw: bytes, what: str) -> dict[str, Any]:
        with self._reading(what):
            rec = self.codec.decode(raw)
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), int):
                raise ValueError(
                    f"a {type(rec).__name__} without an int id instead of a page record"
                )
            bad = [k for k in _TEXT_FIELDS if not isinstance(rec.get(k), str)]
            if bad:
                raise ValueError(f"a page record whose {bad} are not strings")
            return rec

    def _read_meta(self) -> dict[str, Any]:
        raw = self._get_raw(self._meta, b"meta")
        with self._reading("the store's metadata"):
            meta = json.loads(raw) if raw else {}
            if not isinstance(meta, dict):
                raise ValueError(f"metadata is a {type(meta).__name__}")
            return meta

    # -- reads --------------------------------------------------------------
    def __len__(self) -> int:
        return self._db_entries(self._pages)

    def _db_entries(self, db: Any) -> int:
        with self._reading("the entry count"), self._env.begin(db=db) as txn:
            return txn.stat(db)["entries"]

    def __contains__(self, url: object) -> bool:
        return (
            isinstance(url, str)
            and self._get_raw(self._pages, normalize_url(url).encode()) is not None
        )

    def get_dict(self, url: str) -> dict[str, Any] | None:
        """The stored record (page fields plus ``id``) of ``url``, or ``None``."""
        key = normalize_url(url).encode("utf-8", "surrogatepass")
        if not key or len(key) > self._env.max_key_size():
            return None
        raw = self._get_raw(self._pages, key)
        if raw is None:
            return None
        return self._decode(raw, f"page {url!r}")

    def get(self, url: str) -> Page | None:
        """The :class:`Page` stored for ``url`` (normalised first), or ``None``."""
        d = self.get_dict(url)
        if d is None:
            return None
        with self._reading(f"page {url!r}"):
            return Page.from_dict(d)

    def url_of(self, row_id: int) -> str | None:
        """URL of index row ``row_id``."""
        if row_id < 0:
            return None
        raw = self._get_raw(self._ids, _ID.pack(int(row_id)))
        return raw.decode("utf-8", "surrogatepass") if raw is not None else None

    def urls_of(self, row_ids: Iterable[int]) -> list[str | None]:
        """URLs of many rows in one read transaction."""
        out: list[str | None] = []
        with self._reading("row URLs"), self._env.begin(db=self._ids) as txn:
            for i in row_ids:
                raw = txn.get(_ID.pack(int(i))) if i >= 0 else None
                out.append(raw.decode("utf-8", "surrogatepass") if raw is not None else None)
        return out

    def get_many_by_id(self, row_ids: Iterable[int]) -> list[dict[str, Any] | None]:
        """Records of many rows in one read transaction (``None`` for -1 / missing)."""
        out: list[dict[str, Any] | None] = []
        with self._reading("search result rows"), self._env.begin() as txn:
            for i in row_ids:
                url = txn.get(_ID.pack(int(i)), db=self._ids) if i >= 0 else None
                raw = txn.get(url, db=self._pages) if url is not None else None
                out.append(self._decode(raw, f"row {i}") if raw is not None else None)
        return out

    def has_hash(self, h: str) -> bool:
        return self._get_raw(self._hashes, h.encode()) is not None

    def iter_records(
        self, start_id: int = 0, end_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records in row-id order (the dense index order)."""
        end = self._next_id if end_id is None else end_id
        with self._reading("rows in id order"), self._env.begin() as txn:
            cur = txn.cursor(db=self._ids)
            if not cur.set_range(_ID.pack(start_id)):
                return
            for key, url in cur:
                rid = _ID.unpack(key)[0]
                if rid >= end:
                    break
                raw = txn.get(url, db=self._pages)
                if raw is not None:
                    yield self._decode(raw, f"row {rid}")

    @property
    def next_id(self) -> int:
        """Number of rows assigned so far (row ids are ``0 .. next_id - 1``)."""
        return self._next_id

    def content_digest(self) -> str:
        """SHA-1 over every (content hash, URL) pair: identifies the store's contents."""
        import hashlib

        h = hashlib.sha1()
        with self._reading("the content hashes"), self._env.begin(db=self._hashes) as txn:
            for key, url in txn.cursor():
                h.update(key)
                h.update(b"\x00")
                h.update(url)
                h.update(b"\n")
        return h.hexdigest()

    def stats(self) -> dict[str, Any]:
        """Entry counts and on-disk size."""
        return {
            "pages": len(self),
            "rows": self._next_id,
            "hashes": self._db_entries(self._hashes),
            "bytes_on_disk": (self.path / STORE_DATA).stat().st_size,
            "compression": self.codec.compression,
            "zstd_dictionary": self.codec.has_dictionary,
        }

    # -- writes -------------------------------------------------------------
    def put_many(self, pages: Iterable[Page], *, dedup_content: bool = True) -> int:
        """Insert pages in ONE transaction; returns how many were new.

        Pages whose URL is already stored, or (with ``dedup_content``) whose content hash is,
        are skipped. The first call on an empty zstd store trains the compression dictionary
        from this batch when it is large enough.
        """
        if self.readonly:
            raise PermissionError(f"PageStore at {self.path} is open read-only")
        pages = list(pages)
        if (
            self.codec.compression == "zstd"
            and not self.codec.has_dictionary
            and self._next_id == 0
            and len(pages) >= 64
        ):
            samples = [
                json.dumps(p.to_dict(), ensure_ascii=False, separators=(",", ":")).encode(
                    "utf-8", "surrogatepass"
                )
                for p in pages[: self._dictionary_samples]
            ]
            d = train_dictionary(samples)
            if d is not None:
                with self._env.begin(write=True) as txn:
                    txn.put(b"zstd_dict", d, db=self._meta)
                self.codec = PageCodec("zstd", dictionary=d)
        added = 0
        with self._env.begin(write=True) as txn:
            for p in pages:
                key = p.url.encode("utf-8", "surrogatepass")
                if not key or len(key) > self._env.max_key_size():
                    continue
                if txn.get(key, db=self._pages) is not None:
                    continue
                if dedup_content and txn.get(p.hash.encode(), db=self._hashes) is not None:
                    continue
                rec = p.to_dict()
                rec["id"] = self._next_id
                txn.put(key, self.codec.encode(rec), db=self._pages)
                txn.put(_ID.pack(self._next_id), key, db=self._ids)
                txn.put(p.hash.encode(), key, db=self._hashes, overwrite=False)
                self._next_id += 1
                added += 1
            meta = {"compression": self.codec.compression, "next_id": self._next_id}
            txn.put(b"meta", json.dumps(meta).encode(), db=self._meta)
        return added

    def sync(self) -> None:
        self._env.sync(True)
