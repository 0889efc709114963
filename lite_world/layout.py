"""The files of a world directory, named once.

Every module that reads or writes a world (the page store, the dense and BM25 indexes, the
builder, the verifier) takes its file names from here, so a name cannot drift between the
writer and the checker. :func:`index_files` is the table the manifest's digests and the open
checks walk.

A world's indexes live in one *generation* directory named by the manifest's ``index_dir``
(``index`` or ``index.next``): extending a world writes the new indexes into the other one and
switches by replacing ``manifest.json`` atomically, so readers never see half an index.

Example:
    >>> [f.path for f in index_files("index")][:2]
    ['index/dense.faiss', 'index/dense.json']
    >>> other_index_dir("index"), other_index_dir("index.next")
    ('index.next', 'index')
    >>> STORE_FILES[0].path, STORE_FILES[0].kind
    ('pages.lmdb/data.mdb', 'lmdb')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MANIFEST_NAME",
    "STORE_DIRNAME",
    "STORE_DATA",
    "STORE_LOCK",
    "INDEX_DIRNAME",
    "INDEX_DIRNAMES",
    "DENSE_INDEX",
    "DENSE_PARAMS",
    "BM25_DIRNAME",
    "BM25_PARAMS",
    "BM25_ARRAYS",
    "BM25_JSON",
    "EMBEDDINGS",
    "EMBEDDINGS_STATE",
    "FileKind",
    "WorldFile",
    "STORE_FILES",
    "index_files",
    "world_files",
    "other_index_dir",
]

MANIFEST_NAME = "manifest.json"

STORE_DIRNAME = "pages.lmdb"
STORE_DATA = "data.mdb"
STORE_LOCK = "lock.mdb"

INDEX_DIRNAME = "index"
INDEX_DIRNAMES = ("index", "index.next")  # the two generations an extend alternates between

DENSE_INDEX = "dense.faiss"
DENSE_PARAMS = "dense.json"

BM25_DIRNAME = "bm25"
BM25_PARAMS = "lite_world.json"  # ours: n_docs
BM25_ARRAYS = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
)  # bm25s's names
BM25_JSON = (
    "params.index.json",
    "vocab.index.json",
    "vocab.tokenizer.json",
    "stopwords.tokenizer.json",
)

# build state, kept in ``index/`` across generations (never read by a World)
EMBEDDINGS = "embeddings.f32"
EMBEDDINGS_STATE = "embeddings.json"

FileKind = Literal["lmdb", "lock", "faiss", "json", "npy"]


@dataclass(frozen=True)
class WorldFile:
    """One file of a world: where it is, what format its header has, what it is for.

    Attributes:
        path: path relative to the world directory (``/``-separated).
        kind: ``lmdb`` (page store data), ``lock`` (LMDB lock file, read by writers only),
            ``faiss``, ``json`` or ``npy``; decides the header check.
        role: what the file holds, for messages.
        digested: whether the build records its digest and size in the manifest.
    """

    path: str
    kind: FileKind
    role: str
    digested: bool = True


STORE_FILES = (
    WorldFile(f"{STORE_DIRNAME}/{STORE_DATA}", "lmdb", "the page store (LMDB data)"),
    WorldFile(
        f"{STORE_DIRNAME}/{STORE_LOCK}",
        "lock",
        "the page store lock (writers only)",
        digested=False,
    ),
)


def index_files(index_dir: str = INDEX_DIRNAME) -> list[WorldFile]:
    """The index files of one generation (dense index, its params, BM25 arrays and vocabulary).

    Example:
        >>> [f.kind for f in index_files()][:4]
        ['faiss', 'json', 'json', 'npy']
    """
    bm25 = f"{index_dir}/{BM25_DIRNAME}"
    return [
        WorldFile(f"{index_dir}/{DENSE_INDEX}", "faiss", "the dense index (FAISS)"),
        WorldFile(f"{index_dir}/{DENSE_PARAMS}", "json", "the dense index parameters"),
        WorldFile(f"{bm25}/{BM25_PARAMS}", "json", "the BM25 document count"),
        *(WorldFile(f"{bm25}/{name}", "npy", "a BM25 score array") for name in BM25_ARRAYS),
        *(
            WorldFile(f"{bm25}/{name}", "json", "the BM25 parameters or vocabulary")
            for name in BM25_JSON
        ),
    ]


def world_files(index_dir: str = INDEX_DIRNAME) -> list[WorldFile]:
    """Every file a finished world needs besides ``manifest.json``: the store, then the indexes."""
    return [*STORE_FILES, *index_files(index_dir)]


def other_index_dir(index_dir: str) -> str:
    """Where an extend writes the indexes of a world whose indexes live in ``index_dir``."""
    return INDEX_DIRNAMES[1] if index_dir == INDEX_DIRNAMES[0] else INDEX_DIRNAMES[0]
