"""build_world: resumable ingest and embedding, atomic extending, index choice."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields

import numpy as np
import pytest

from lite_world.build import BuildConfig, build_world, embed_pages
from lite_world.demo import DEMO_DATA
from lite_world.errors import ConfigError, EmbedderMismatchError, IngestError, WorldNotFoundError
from lite_world.index.searcher import SearchConfig
from lite_world.store.lmdb_store import PageStore
from lite_world.store.urls import wikipedia_url
from lite_world.verify import verify_world
from lite_world.world import World

DIM = 384


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    """15 real 2WikiMultihopQA paragraphs as JSONL rows (distinct titles)."""
    items = json.loads((DEMO_DATA / "2wikimultihopqa_corpus.json").read_text())[:15]
    assert len({it["title"] for it in items}) == 15
    return [
        {"url": wikipedia_url(it["title"]), "title": it["title"], "text": it["text"]}
        for it in items
    ]


def _write(path, rows, broken_after: int | None = None):
    lines = [json.dumps(r) for r in rows]
    if broken_after is not None:
        lines.insert(broken_after, '{"url": "https://a.org/cut-off", "text": "the process was kil')
    path.write_text("\n".join(lines) + "\n")
    return path


def _cfg(**kw) -> BuildConfig:
    return BuildConfig(
        **{"min_chars": 20, "batch_size": 4, "embed_chunk": 4, "show_progress": False, **kw}
    )


def _row_urls(world) -> list[str]:
    with PageStore(world) as s:
        return s.urls_of(range(s.next_id))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_chars": -1}, "Expects min_chars >= 0, actual: -1"),
        ({"batch_size": 0}, "Expects batch_size, embed_batch_size and embed_chunk >= 1"),
        ({"embed_chunk": 0}, "Expects batch_size, embed_batch_size and embed_chunk >= 1"),
        ({"compression": "lz4"}, "Expects compression 'zstd' or 'none', actual: 'lz4'"),
    ],
)
def test_build_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BuildConfig(**kwargs)
    assert all(f.metadata.get("help") for f in fields(BuildConfig))


def test_killed_ingest_resumes_to_the_same_world(tmp_path, rows, embedder):
    clean_dir, resumed_dir = tmp_path / "clean" / "w", tmp_path / "resumed" / "w"
    (tmp_path / "clean").mkdir()
    (tmp_path / "resumed").mkdir()
    clean_in = _write(tmp_path / "clean" / "pages.jsonl", rows)
    resumed_in = _write(tmp_path / "resumed" / "pages.jsonl", rows, broken_after=12)

    clean = build_world([clean_in], clean_dir, _cfg(), embedder=embedder)
    assert clean.page_count == 15

    # the "killed" run: three batches of four pages are committed, then the input breaks off
    with pytest.raises(
        IngestError, match=r"Expects one JSON object per line in .*pages\.jsonl, actual: line 13"
    ):
        build_world([resumed_in], resumed_dir, _cfg(), embedder=embedder)
    with PageStore(resumed_dir) as s:
        assert (len(s), s.next_id) == (12, 12)
    with pytest.raises(WorldNotFoundError, match="the build did not finish"):
        World(resumed_dir)

    # the input is complete again: the same command resumes after the committed batches
    _write(resumed_in, rows)
    resumed = build_world([resumed_in], resumed_dir, _cfg(), embedder=embedder)
    assert resumed.build_config["last_ingest"] == {
        "seen": 15,
        "added": 3,
        "too_short": 0,
        "duplicate": 12,
        "empty": 0,
    }
    assert resumed.page_count == clean.page_count == 15
    assert resumed.store_digest == clean.store_digest
    assert _row_urls(resumed_dir) == _row_urls(clean_dir) == [r["url"] for r in rows]
    assert verify_world(resumed_dir) == resumed
    a = np.fromfile(clean_dir / "index" / "embeddings.f32", dtype=np.float32).reshape(15, DIM)
    b = np.fromfile(resumed_dir / "index" / "embeddings.f32", dtype=np.float32).reshape(15, DIM)
    np.testing.assert_allclose(a, b, atol=1e-5)
    w = World(resumed_dir)
    assert w.search([rows[14]["title"]], k=1)[0][0].url == rows[14]["url"]
    w.close()


def test_embeddings_resume_from_the_row_counter(tmp_path, rows, embedder):
    first = _write(tmp_path / "first.jsonl", rows[:10])
    second = _write(tmp_path / "second.jsonl", rows[10:])
    out = tmp_path / "w"
    build_world([first], out, _cfg(), embedder=embedder)
    emb_file, emb_meta = out / "index" / "embeddings.f32", out / "index" / "embeddings.json"
    assert json.loads(emb_meta.read_text()) == {"embedder": embedder.name, "dim": DIM, "rows": 10}

    # mark row 0 (a re-embedding would overwrite it) and leave half a chunk from a killed run
    vecs = np.fromfile(emb_file, dtype=np.float32).reshape(10, DIM)
    marker = np.zeros(DIM, dtype=np.float32)
    marker[0] = 1.0
    vecs[0] = marker
    emb_file.write_bytes(vecs.tobytes() + b"\x01" * (DIM * 4 // 2 + 3))

    m = build_world([first, second], out, _cfg(), embedder=embedder)
    assert m.page_count == 15
    assert m.sources == ["first.jsonl", "second.jsonl"]
    assert m.build_config["last_ingest"] == {
        "seen": 15,
        "added": 5,
        "too_short": 0,
        "duplicate": 10,
        "empty": 0,
    }
    assert json.loads(emb_meta.read_text())["rows"] == 15
    assert emb_file.stat().st_size == 15 * DIM * 4  # the partial chunk was dropped
    all_vecs = np.fromfile(emb_file, dtype=np.float32).reshape(15, DIM)
    np.testing.assert_array_equal(all_vecs[0], marker)  # not re-embedded
    with PageStore(out) as s:
        summaries = [r["summary"] for r in s.iter_records(10, 15)]
    np.testing.assert_allclose(all_vecs[10:], embedder.encode(summaries), atol=1e-5)
    verify_world(out)


def test_embedding_with_another_model_is_refused(world_copy, embedder):
    meta = world_copy / "index" / "embeddings.json"
    meta.write_text(json.dumps({"embedder": "BAAI/bge-m3", "dim": 1024, "rows": 96}))
    with PageStore(world_copy, readonly=False) as store:
        with pytest.raises(
            EmbedderMismatchError,
            match=(
                r"Expects new pages to be embedded with 'BAAI/bge-m3' \(dim 1024\) like the "
                r"existing 96 rows, actual: "
                r"'sentence-transformers/all-MiniLM-L6-v2' \(dim 384\)\. Use the same --embedder, "
                r"or delete"
            ),
        ):
            embed_pages(store, world_copy, embedder, _cfg())


def test_rebuild_with_another_index_factory(world_copy, embedder, musique):
    m = build_world([], world_copy, _cfg(index_factory="HNSW32"), embedder=embedder)
    assert (m.index_factory, m.index_params, m.page_count) == ("HNSW32", {"efSearch": 128}, 96)
    assert m.sources == ["tiny_musique.json"]  # kept from the first build
    assert m.build_config["last_ingest"]["seen"] == 0
    w = World(world_copy, search=SearchConfig(mode="dense"))
    assert w.searcher.dense.factory == "HNSW32"
    [hits] = w.search([musique[0]["question"]], k=2)
    assert hits[0].url == "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"
    w.close()


def test_uncompressed_world(tmp_path, rows, embedder):
    path = _write(tmp_path / "rows.jsonl", rows[:3])
    m = build_world([path], tmp_path / "w", _cfg(compression="none"), embedder=embedder)
    assert m.build_config["store"]["compression"] == "none"
    w = World(tmp_path / "w")
    assert w.get_page(rows[2]["url"]).markdown == rows[2]["text"]
    w.close()


def test_nothing_kept_is_a_clear_error(tmp_path, rows, embedder):
    path = _write(tmp_path / "rows.jsonl", rows[:3])
    with pytest.raises(
        IngestError,
        match=(
            r"Expects at least one page to index, actual: none kept from 3 input pages "
            r"\(3 shorter than min_chars=100000, 0 empty\)\. Lower --min-chars"
        ),
    ):
        build_world([path], tmp_path / "w", _cfg(min_chars=100_000), embedder=embedder)
    # the same directory builds once the filter is right
    assert build_world([path], tmp_path / "w", _cfg(), embedder=embedder).page_count == 3


def test_world_dir_copy_is_independent(world_copy, tiny_world):
    shutil.rmtree(world_copy / "index")
    assert verify_world(tiny_world).page_count == 96


QUERIES = [
    "Publix supermarket",
    "Bubye River tributary of the Limpopo",
    "Canon law Church of England",
]


def _results(world_dir) -> list[list[tuple[str, float]]]:
    w = World(world_dir)
    try:
        return [[(h.url, round(h.score, 6)) for h in hits] for hits in w.search(QUERIES, k=5)]
    finally:
        w.close()


def test_extending_a_world_is_atomic(world_copy, rows, embedder, tmp_path, monkeypatch):
    """Before: an interrupted extend left the world unusable and said 'rebuild the world'."""
    from lite_world.errors import WorldCorruptedError
    from lite_world.index.sparse import BM25Index
    from lite_world.verify import check_world

    before = _results(world_copy)
    broken = _write(tmp_path / "more.jsonl", rows, broken_after=8)

    # 1. killed during ingest: 8 pages committed beyond the manifest
    with pytest.raises(IngestError, match="actual: line 9"):
        build_world([broken], world_copy, _cfg(), embedder=embedder)
    assert _results(world_copy) == before  # still usable, same answers
    w = World(world_copy)
    assert w.get_page(rows[0]["url"]) is None  # pages beyond the manifest are not served yet
    w.close()
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects 96 pages \(manifest\), actual: 104 in the store: a "
        r"lite-world build is extending this world, or one was interrupted\. "
        r"Re-run the same build command",
    ):
        check_world(world_copy, level="quick")

    # 2. killed while writing the new indexes: the old ones are untouched and still in use
    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while building BM25")

    complete = _write(tmp_path / "more.jsonl", rows)
    with monkeypatch.context() as m:
        m.setattr(BM25Index, "build", crash)
        with pytest.raises(KeyboardInterrupt):
            build_world([complete], world_copy, _cfg(), embedder=embedder)
    assert (world_copy / "index.next" / "dense.faiss").is_file()  # the new generation, half written
    assert _results(world_copy) == before

    # 3. the re-run finishes and switches to the new generation; the old one is removed
    m1 = build_world([complete], world_copy, _cfg(), embedder=embedder)
    assert (m1.page_count, m1.index_dir) == (96 + 15, "index.next")
    assert not (world_copy / "index" / "dense.faiss").exists()
    assert not (world_copy / "index" / "bm25").exists()
    assert (world_copy / "index" / "embeddings.f32").stat().st_size == (96 + 15) * DIM * 4  # kept
    assert check_world(world_copy).digests == "verified"
    w = World(world_copy)
    assert w.search([rows[14]["title"]], k=1)[0][0].url == rows[14]["url"]
    w.close()

    # 4. the next extend goes back to index/
    m2 = build_world([], world_copy, _cfg(), embedder=embedder)
    assert (m2.page_count, m2.index_dir) == (96 + 15, "index")
    assert not (world_copy / "index.next").exists()
    assert sorted(m2.files) == sorted(k.replace("index.next/", "index/") for k in m1.files)
    assert check_world(world_copy).digests == "verified"


def test_page_vectors_are_encoded_in_float32_only(monkeypatch):
    """The build loads the fp32 encoder directly, not the bf16 query encoder first."""
    from lite_world.build import _embedder
    from lite_world.index import encoders

    monkeypatch.delenv("LITE_WORLD_ENCODER_BACKEND", raising=False)
    if encoders.auto_backend() == "torch":
        pytest.skip("the default embedder is sentence-transformers (fp32) without the exports")
    loaded = []
    real = encoders.Encoder.__init__

    def spy(self, config, **kw):
        loaded.append(config.dtype)
        real(self, config, **kw)

    encoders._cached.cache_clear()
    monkeypatch.setattr(encoders.Encoder, "__init__", spy)
    embedder, recorded = _embedder(BuildConfig(device="cpu"), None)
    assert recorded == {} and embedder.config.dtype == "float32"
    assert loaded == ["float32"]
    encoders._cached.cache_clear()
