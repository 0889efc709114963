"""manifest.json and verify_world: a fresh world verifies, every kind of damage is named."""

from __future__ import annotations

import json
import shutil

import pytest

from lite_world.errors import EmbedderMismatchError, WorldCorruptedError, WorldNotFoundError
from lite_world.index.embedder import DEFAULT_EMBEDDER
from lite_world.store.lmdb_store import PageStore
from lite_world.store.manifest import MANIFEST_NAME, Manifest, read_manifest, verify_world, write_manifest
from lite_world.store.page import Page
from lite_world.world import World


N = 96  # pages of the tiny world (see tests/conftest.py)


def _edit_manifest(world, **changes):
    path = world / MANIFEST_NAME
    d = json.loads(path.read_text())
    d.update(changes)
    path.write_text(json.dumps(d))


def test_manifest_round_trip_and_atomic_write(tmp_path):
    m = Manifest(page_count=2, store_digest="ab", embedder="e", embedding_dim=8, index_factory="Flat",
                 index_params={"efSearch": 64}, sources=["x.jsonl"])
    path = write_manifest(tmp_path, m)
    assert path == tmp_path / MANIFEST_NAME
    assert not (tmp_path / "manifest.json.tmp").exists()
    assert read_manifest(tmp_path) == m
    assert Manifest.from_dict({**m.to_dict(), "unknown_future_field": 1}) == m


def test_fresh_world_verifies(tiny_world, tiny_titles):
    m = verify_world(tiny_world)
    assert m.page_count == len(tiny_titles) == N
    assert (m.embedder, m.embedding_dim, m.index_factory) == (DEFAULT_EMBEDDER, 384, "Flat")
    assert m.sources == ["tiny_musique.json"]
    assert m.bm25 == {"n_docs": N, "k1": 1.2, "b": 0.75, "text": "title + markdown"}
    assert m.build_config["last_ingest"] == {"seen": N, "added": N, "too_short": 0,
                                             "duplicate": 0, "empty": 0}
    assert m.build_config["store"]["zstd_dictionary"] is True
    with PageStore(tiny_world) as store:
        assert m.store_digest == store.content_digest()
    assert verify_world(tiny_world, embedder=DEFAULT_EMBEDDER, deep=False) == m


def test_page_added_after_build(world_copy):
    with PageStore(world_copy, readonly=False) as w:
        assert w.put_many([Page.create("https://a.org/new", "New", "A page added after the build.")]) == 1
    msg = rf"Expects {N} pages \(manifest\), actual: {N + 1} in the store\. .*rebuild the world"
    with pytest.raises(WorldCorruptedError, match=msg):
        verify_world(world_copy)
    with pytest.raises(WorldCorruptedError, match=msg):
        World(world_copy)


def test_manifest_page_count_edited(world_copy):
    _edit_manifest(world_copy, page_count=N - 1)
    with pytest.raises(WorldCorruptedError, match=rf"Expects {N - 1} pages \(manifest\), actual: {N}"):
        verify_world(world_copy)


def test_store_digest_mismatch_is_a_deep_check(world_copy):
    _edit_manifest(world_copy, store_digest="0" * 40)
    with pytest.raises(WorldCorruptedError, match="actual: a different digest. The pages changed .*rebuild the world"):
        verify_world(world_copy)
    assert verify_world(world_copy, deep=False).store_digest == "0" * 40


def test_dense_index_count_mismatch(world_copy):
    meta = world_copy / "index" / "dense.json"
    d = json.loads(meta.read_text())
    meta.write_text(json.dumps({**d, "ntotal": 3}))
    with pytest.raises(WorldCorruptedError, match=rf"Expects a dense index with {N} vectors, actual: 3\. "
                                                  r"Rebuild the index: re-run lite-world build with --out"):
        verify_world(world_copy)


@pytest.mark.parametrize("rel", ["index/dense.faiss", "index/dense.json", "index/bm25"])
def test_deleted_index_files(world_copy, rel):
    target = world_copy / rel
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(WorldNotFoundError, match=r"actual: missing\. .*lite-world build with --out"):
        verify_world(world_copy, deep=False)


def test_garbage_manifest(world_copy):
    (world_copy / MANIFEST_NAME).write_bytes(b"\x00\xffnot json{")
    with pytest.raises(WorldCorruptedError, match=r"Expects valid JSON in .*manifest\.json, actual: .*Rebuild the world"):
        verify_world(world_copy)


@pytest.mark.parametrize("content", ["{}", "[1, 2]", "null", '{"page_count": 3}'])
def test_manifest_json_without_fields(world_copy, content):
    (world_copy / MANIFEST_NAME).write_text(content)
    with pytest.raises(WorldCorruptedError, match=r"Expects valid JSON in .*manifest\.json"):
        read_manifest(world_copy)


def test_missing_manifest_means_unfinished_build(world_copy):
    (world_copy / MANIFEST_NAME).unlink()
    with pytest.raises(WorldNotFoundError, match=r"manifest\.json, actual: missing — the build did not finish\. "
                                                 r"Re-run the same lite-world build command"):
        verify_world(world_copy)


def test_missing_world_directory(tmp_path):
    with pytest.raises(WorldNotFoundError, match=r"Expects a world directory at .*nowhere, actual: it does not exist\. "
                                                 r"Build one with: lite-world build INPUT\.\.\. --out"):
        verify_world(tmp_path / "nowhere")


def test_missing_store(world_copy):
    shutil.rmtree(world_copy / "pages.lmdb")
    with pytest.raises(WorldNotFoundError, match="Expects an LMDB page store at .*Build the world first: lite-world build"):
        verify_world(world_copy)


def test_embedder_mismatch(tiny_world):
    with pytest.raises(EmbedderMismatchError, match=(
        rf"Expects queries embedded with the index's embedder '{DEFAULT_EMBEDDER}' \(dim 384\), actual: 'BAAI/bge-m3'\. "
        rf"Pass --embedder {DEFAULT_EMBEDDER}"
    )):
        verify_world(tiny_world, embedder="BAAI/bge-m3")
    with pytest.raises(EmbedderMismatchError, match="actual: 'BAAI/bge-m3'"):
        World(tiny_world, embedder="BAAI/bge-m3")
