"""Adopting a FAISS index built the Search-R1 way (position map, prefixes) gives the neighbours of
building the world ourselves, and the manifest records the encoder's configuration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite_world.build import BuildConfig, build_world
from lite_world.errors import EmbedderMismatchError, IngestError, WorldCorruptedError
from lite_world.index.adopt import PASSAGES, POSITIONS
from lite_world.index.searcher import SearchConfig
from lite_world.store.ingest.searchr1 import split_contents
from lite_world.world import World
from tests.store.test_searchr1_corpus import write_corpus

E5 = {"query_prefix": "query: ", "passage_prefix": "passage: "}


def searchr1_index(rows, path, factory="Flat"):
    """What Search-R1's index_builder.py does: encode "passage: " + contents in corpus order with
    the model's last hidden state, mean pooling over the attention mask, L2 normalisation, then
    an inner-product FAISS index written with write_index (written here from its description)."""
    import faiss
    import torch
    from transformers import AutoModel, AutoTokenizer

    from lite_world.index.embedder import _resolve

    model_dir = _resolve("sentence-transformers/all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    vecs = []
    for start in range(0, len(rows), 16):
        batch = ["passage: " + r["contents"] for r in rows[start : start + 16]]
        enc = tok(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        emb = (hidden * mask).sum(1) / mask.sum(1)
        vecs.append(torch.nn.functional.normalize(emb, dim=-1).numpy())
    x = np.concatenate(vecs).astype(np.float32)
    index = faiss.IndexFlatIP(x.shape[1]) if factory == "Flat" else faiss.IndexHNSWFlat(
        x.shape[1], 64, faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    index.add(x)
    faiss.write_index(index, str(path))
    return x


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, musique):
    d = tmp_path_factory.mktemp("adopt")
    rows = write_corpus(d / "wiki-18.jsonl", musique, n=80)
    vectors = searchr1_index(rows, d / "e5_Flat.index")
    return d, rows, vectors


@pytest.fixture(scope="module")
def worlds(corpus):
    d, _, _ = corpus
    cfg = dict(show_progress=False, encoder_config=E5)
    adopted = d / "adopted"
    build_world([d / "wiki-18.jsonl"], adopted,
                BuildConfig(adopt_index=str(d / "e5_Flat.index"), **cfg))  # fmt: skip
    ours = d / "ours"
    build_world([d / "wiki-18.jsonl"], ours, BuildConfig(**cfg))
    return adopted, ours


def test_adopted_vectors_are_the_index_rows(corpus, worlds):
    d, rows, vectors = corpus
    adopted, ours = worlds

    def read(world):
        emb = np.fromfile(world / "index" / "embeddings.f32", dtype=np.float32)
        return emb.reshape(len(rows), -1)

    emb_a, emb_o = read(adopted), read(ours)
    assert np.array_equal(emb_a, vectors)  # no re-embedding: the index's own vectors
    assert np.load(adopted / "index" / POSITIONS).tolist() == list(range(len(rows)))
    assert (emb_a * emb_o).sum(1).min() > 0.9999  # our build encodes contents the same way


def test_same_neighbours_as_building_ourselves(corpus, worlds):
    _, rows, _ = corpus
    adopted, ours = worlds
    queries = [split_contents(r["contents"])[1][:80] for r in rows[::7]] + [
        "Who was the drummer of Green Day?", "album released in 1994"]  # fmt: skip
    dense = SearchConfig(mode="dense")
    a, o = World(adopted, search=dense), World(ours, search=dense)
    try:
        hits_a = [[h.url for h in row] for row in a.search(queries, k=5, snippets=False)]
        hits_o = [[h.url for h in row] for row in o.search(queries, k=5, snippets=False)]
    finally:
        a.close()
        o.close()
    assert hits_a == hits_o
    # a passage's own text finds that passage first
    from lite_world.store.ingest.searchr1 import passage_id

    assert [passage_id(row[0]) for row in hits_a[: len(rows[::7])]] == [r["id"] for r in rows[::7]]


def test_manifest_records_and_opening_checks_the_encoder(worlds, tmp_path):
    import shutil

    adopted, _ = worlds
    m = json.loads((adopted / "manifest.json").read_text())
    cfg = m["embedder_config"]
    assert cfg["query_prefix"] == "query: " and cfg["passage_prefix"] == "passage: "
    assert cfg["pooling"] == "mean" and cfg["normalize"] is True and cfg["max_length"] == 128
    assert m["index_factory"] == "Flat"
    assert m["build_config"]["adopt_index"].endswith("e5_Flat.index")
    w = World(adopted, search=SearchConfig(mode="dense"))
    assert w.searcher.embedder.config.query_prefix == "query: "  # queries get the e5 prefix
    w.close()
    bad = tmp_path / "bad"
    shutil.copytree(adopted, bad)
    m["embedder_config"]["pooling"] = "max"
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(WorldCorruptedError, match="Expects a valid embedder_config"):
        World(bad, search=SearchConfig(mode="dense")).search(["x"], k=1)


def test_hnsw_index_and_title_grouping(corpus, tmp_path):
    d, rows, vectors = corpus
    searchr1_index(rows, tmp_path / "e5_HNSW64.index", factory="HNSW")
    out = tmp_path / "titles"
    m = build_world([d / "wiki-18.jsonl"], out, BuildConfig(
        show_progress=False, encoder_config=E5, adopt_index=str(tmp_path / "e5_HNSW64.index"),
        corpus_group="title"))  # fmt: skip
    titles = list(dict.fromkeys(split_contents(r["contents"])[0] for r in rows))
    assert m.page_count == len(titles) and m.index_factory == "HNSW64"
    positions = np.load(out / "index" / POSITIONS)
    kept = np.fromfile(out / "index" / PASSAGES, dtype=np.float32).reshape(len(rows), -1)
    assert np.array_equal(kept, vectors)  # the passage vectors are kept
    page = positions[0]
    mean = vectors[positions == page].mean(0)
    emb = np.fromfile(out / "index" / "embeddings.f32", dtype=np.float32).reshape(len(titles), -1)
    assert np.allclose(emb[page], mean / np.linalg.norm(mean), atol=1e-6)


def test_adoption_errors(corpus, tmp_path):
    import faiss

    d, rows, vectors = corpus
    short = faiss.IndexFlatIP(vectors.shape[1])
    short.add(vectors[:-1])
    faiss.write_index(short, str(tmp_path / "short.index"))
    with pytest.raises(IngestError, match="Expects one vector per corpus row"):
        build_world([d / "wiki-18.jsonl"], tmp_path / "w1", BuildConfig(
            show_progress=False, adopt_index=str(tmp_path / "short.index")))  # fmt: skip
    wide = faiss.IndexFlatIP(8)
    wide.add(np.zeros((len(rows), 8), dtype=np.float32))
    faiss.write_index(wide, str(tmp_path / "wide.index"))
    with pytest.raises(EmbedderMismatchError, match="384-dim vectors"):
        build_world([d / "wiki-18.jsonl"], tmp_path / "w2", BuildConfig(
            show_progress=False, adopt_index=str(tmp_path / "wide.index")))  # fmt: skip
