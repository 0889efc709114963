"""check_world / verify_world: a fresh world verifies at every level, damage is named."""

from __future__ import annotations

import json
import shutil

import pytest

from lite_world.errors import EmbedderMismatchError, WorldCorruptedError, WorldNotFoundError
from lite_world.index.embedder import DEFAULT_EMBEDDER
from lite_world.layout import MANIFEST_NAME, STORE_FILES, index_files
from lite_world.store.lmdb_store import PageStore
from lite_world.store.page import Page
from lite_world.verify import check_world, file_digest, verify_world
from lite_world.world import World

N = 96  # pages of the tiny world (see tests/conftest.py)
REBUILD_INDEXES = (
    r"Restore the world from a copy, or rebuild its indexes: re-run the lite-world build command"
)
REBUILD_STORE = r"Restore the world from a copy, or rebuild it from its inputs into a new directory"


def _edit_manifest(world, **changes):
    path = world / MANIFEST_NAME
    d = json.loads(path.read_text())
    d.update(changes)
    path.write_text(json.dumps(d))


def test_fresh_world_verifies(tiny_world, tiny_titles):
    check = check_world(tiny_world)
    m = check.manifest
    assert (check.level, check.digests, check.pending_pages) == ("full", "verified", 0)
    assert list(check.files) == [f.path for f in index_files("index")]
    assert m.page_count == len(tiny_titles) == N
    assert (m.embedder, m.embedding_dim, m.index_factory, m.index_dir) == (
        DEFAULT_EMBEDDER,
        384,
        "Flat",
        "index",
    )
    assert m.sources == ["tiny_musique.json"]
    assert m.bm25 == {"n_docs": N, "k1": 1.2, "b": 0.75, "text": "title + markdown"}
    assert m.build_config["last_ingest"] == {
        "seen": N,
        "added": N,
        "too_short": 0,
        "duplicate": 0,
        "empty": 0,
    }
    with PageStore(tiny_world) as store:
        assert m.store_digest == store.content_digest()
    # every digested file of the table is recorded, with its real size and digest
    digested = [f.path for f in (*STORE_FILES, *index_files("index")) if f.digested]
    assert sorted(m.files) == sorted(digested) and len(digested) == 11
    for rel, rec in m.files.items():
        assert rec == {
            "bytes": (tiny_world / rel).stat().st_size,
            "blake2b": file_digest(tiny_world / rel),
        }
    assert check_world(tiny_world, level="quick").digests == "skipped"
    assert verify_world(tiny_world, embedder=DEFAULT_EMBEDDER, deep=False) == m
    assert check.to_dict()["files"][0] == "index/dense.faiss"


def test_a_world_built_before_digests_opens_and_says_so(world_copy):
    _edit_manifest(world_copy, files={}, format_version=1)
    d = json.loads((world_copy / MANIFEST_NAME).read_text())
    del d["files"], d["index_dir"]
    (world_copy / MANIFEST_NAME).write_text(json.dumps(d))
    assert check_world(world_copy).digests == "unavailable"
    w = World(world_copy)
    assert w.search(["Publix supermarket"], k=1)[0][0].title == "Publix"
    w.close()


def test_page_added_after_build_is_an_unfinished_extend(world_copy):
    """Before: 'rebuild the world'; re-running the build resumes; the world stays usable."""
    with PageStore(world_copy, readonly=False) as w:
        assert (
            w.put_many([Page.create("https://a.org/new", "New", "A page added after the build.")])
            == 1
        )
    msg = (
        rf"Expects {N} pages \(manifest\), actual: {N + 1} in the store: a lite-world build is "
        r"extending this "
        r"world, or one was interrupted\. Re-run the same build command \(--out .*\) to finish "
        r"it; it resumes"
    )
    for level in ("quick", "full"):
        with pytest.raises(WorldCorruptedError, match=msg):
            check_world(world_copy, level=level)
    w = World(world_copy)  # opening tolerates it and serves the manifest's pages only
    assert len(w) == N
    assert w.get_page("https://a.org/new") is None
    assert w.get_page("https://en.wikipedia.org/wiki/Adolescence").title == "Adolescence"
    w.close()


def test_manifest_page_count_edited(world_copy):
    _edit_manifest(world_copy, page_count=N - 1)
    with pytest.raises(
        WorldCorruptedError,
        match=rf"actual: {N} vectors of dim 384, the manifest says {N - 1} of dim 384",
    ):
        verify_world(world_copy)


def test_store_digest_mismatch_is_a_deep_check(world_copy):
    _edit_manifest(world_copy, store_digest="0" * 40)
    with pytest.raises(
        WorldCorruptedError,
        match=rf"actual: a different digest\. The pages changed .*{REBUILD_STORE}",
    ):
        verify_world(world_copy)
    assert verify_world(world_copy, deep=False).store_digest == "0" * 40


def test_dense_params_edited(world_copy):
    meta = world_copy / "index" / "dense.json"
    d = json.loads(meta.read_text())
    meta.write_text(json.dumps({**d, "ntotal": 3}))
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects the dense index parameters at index/dense\.json to be \d+ "
        rf"bytes \(manifest\), actual: \d+\. {REBUILD_INDEXES}",
    ):
        World(world_copy)
    _edit_manifest(world_copy, files={})  # without recorded sizes the header check still sees it
    with pytest.raises(
        WorldCorruptedError,
        match=r"dense\.json to be valid, actual: 3 vectors of dim 384, the manifest "
        rf"says {N} of dim 384",
    ):
        World(world_copy)


def test_embedding_dimension_against_the_index(world_copy):
    _edit_manifest(world_copy, embedding_dim=768)
    with pytest.raises(
        WorldCorruptedError, match=r"actual: 96 vectors of dim 384, the manifest says 96 of dim 768"
    ):
        World(world_copy)


@pytest.mark.parametrize(
    "rel", ["index/dense.faiss", "index/dense.json", "index/bm25/vocab.index.json"]
)
def test_deleted_index_files(world_copy, rel):
    (world_copy / rel).unlink()
    with pytest.raises(
        WorldNotFoundError, match=rf"Expects .* at .*{rel}, actual: missing\. {REBUILD_INDEXES}"
    ):
        verify_world(world_copy, deep=False)


def test_flipped_bytes_in_vectors_are_caught_by_digests_only(world_copy):
    """Before: info said 'verified' and search silently returned other pages."""
    path = world_copy / "index" / "dense.faiss"
    data = bytearray(path.read_bytes())
    for i in range(5000, 5064):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    check_world(world_copy, level="quick")  # same size, same header: the cheap check cannot see it
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects the dense index \(FAISS\) at index/dense\.faiss to have "
        r"the blake2b digest recorded at build time, actual: a different",
    ):
        check_world(world_copy)


def test_missing_store(world_copy):
    shutil.rmtree(world_copy / "pages.lmdb")
    with pytest.raises(
        WorldNotFoundError,
        match=rf"Expects the page store \(LMDB data\) at .*data\.mdb, actual: "
        rf"missing\. {REBUILD_STORE}",
    ):
        verify_world(world_copy)
    with pytest.raises(
        WorldNotFoundError, match="Expects an LMDB page store at .*Build the world first"
    ):
        World(world_copy)


def test_embedder_mismatch(tiny_world):
    with pytest.raises(
        EmbedderMismatchError,
        match=(
            rf"Expects queries embedded with the index's embedder '{DEFAULT_EMBEDDER}' \(dim "
            r"384\), actual: 'BAAI/bge-m3'\. "
            rf"Pass --embedder {DEFAULT_EMBEDDER}"
        ),
    ):
        verify_world(tiny_world, embedder="BAAI/bge-m3")
    with pytest.raises(EmbedderMismatchError, match="actual: 'BAAI/bge-m3'"):
        World(tiny_world, embedder="BAAI/bge-m3")


def test_bad_level(tiny_world):
    with pytest.raises(
        ValueError, match=r"Expects level in \('open', 'quick', 'full'\), actual: 'deep'"
    ):
        check_world(tiny_world, level="deep")  # type: ignore[arg-type]
