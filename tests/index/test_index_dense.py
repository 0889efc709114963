"""The FAISS dense index: exact Flat search, factory choice, ANN recall, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite_world.errors import ConfigError, WorldCorruptedError, WorldNotFoundError
from lite_world.index.dense import DenseIndex, auto_factory, read_header


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered():
    """2000 unit vectors in 40 clusters (dim 32) and 100 queries drawn near them."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 32))
    x = _unit(centers[rng.integers(0, 40, 2000)] + 0.35 * rng.normal(size=(2000, 32)))
    q = _unit(centers[rng.integers(0, 40, 100)] + 0.35 * rng.normal(size=(100, 32)))
    return x, q


def test_flat_exact_ids_and_scores():
    x = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 0, 1]], dtype=np.float32)
    idx = DenseIndex.build(x, factory="Flat")
    assert (idx.factory, idx.dim, idx.ntotal, idx.params) == ("Flat", 4, 4, {})
    ids, scores = idx.search(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32), k=3)
    assert ids.dtype == np.int64
    assert ids.tolist() == [[0, 2, 1], [1, 2, 0]]
    np.testing.assert_allclose(scores, [[1.0, 0.6, 0.0], [1.0, 0.8, 0.0]], atol=1e-6)


def test_flat_pads_with_minus_one_when_k_exceeds_ntotal():
    x = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    ids, _ = DenseIndex.build(x).search(x[:1], k=5)
    assert ids.tolist() == [[0, 1, 2, -1, -1]]


def test_search_clamps_k_and_checks_shape():
    idx = DenseIndex.build(np.eye(4, dtype=np.float32))
    assert idx.search(np.eye(4, dtype=np.float32)[:2], k=0)[0].shape == (2, 1)
    with pytest.raises(ConfigError, match=r"Expects queries of shape \(nq, 4\), actual: \(2, 3\)"):
        idx.search(np.ones((2, 3), dtype=np.float32), k=1)
    with pytest.raises(ConfigError, match=r"Expects queries of shape \(nq, 4\), actual: \(4,\)"):
        idx.search(np.ones(4, dtype=np.float32), k=1)


@pytest.mark.parametrize(
    ("n", "dim", "expected"),
    [
        (0, 384, "Flat"),
        (49_999, 384, "Flat"),
        (50_000, 384, "HNSW32"),
        (1_999_999, 384, "HNSW32"),
        (2_000_000, 384, "IVF5656,PQ48,Refine(SQ8)"),
        (10_000_000, 384, "IVF12649,PQ48,Refine(SQ8)"),
        (2_000_000, 32, "IVF5656,PQ8,Refine(SQ8)"),
        (2_000_000, 1024, "IVF5656,PQ128,Refine(SQ8)"),
    ],
)
def test_auto_factory_thresholds(n, dim, expected):
    assert auto_factory(n, dim) == expected


def test_bad_factory_string():
    with pytest.raises(
        ConfigError, match=r"Expects a valid FAISS factory string .*actual: 'NotAnIndex42'"
    ):
        DenseIndex.build(np.eye(4, dtype=np.float32), factory="NotAnIndex42")


def _recall_at_10(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(
        np.mean(
            [
                len(set(a) & set(e)) / 10
                for a, e in zip(approx.tolist(), exact.tolist(), strict=True)
            ]
        )
    )


@pytest.mark.parametrize(
    ("factory", "params", "expected_params"),
    [
        ("HNSW32", None, {"efSearch": 128}),
        ("IVF16,Flat", None, {"nprobe": 32}),
        ("IVF16,Flat", {"nprobe": 4}, {"nprobe": 4}),
    ],
)
def test_ann_recall_vs_flat(clustered, factory, params, expected_params):
    x, q = clustered
    exact, _ = DenseIndex.build(x, "Flat").search(q, k=10)
    ann = DenseIndex.build(x, factory, params=params)
    assert ann.params == expected_params
    assert ann.ntotal == 2000
    ids, _ = ann.search(q, k=10)
    assert _recall_at_10(ids, exact) >= 0.9


def test_ivf_nprobe_is_applied():
    """On unclustered data nprobe=1 (one list of 16) misses neighbours that nprobe=16 finds."""
    rng = np.random.default_rng(1)
    x, q = _unit(rng.normal(size=(2000, 32))), _unit(rng.normal(size=(50, 32)))
    exact, _ = DenseIndex.build(x, "Flat").search(q, k=10)
    low, _ = DenseIndex.build(x, "IVF16,Flat", params={"nprobe": 1}).search(q, k=10)
    full, _ = DenseIndex.build(x, "IVF16,Flat", params={"nprobe": 16}).search(q, k=10)
    assert _recall_at_10(full, exact) == 1.0
    assert _recall_at_10(low, exact) < 0.9


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF16,Flat"])
@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_round_trip(tmp_path, clustered, factory, mmap):
    x, q = clustered
    idx = DenseIndex.build(x, factory)
    before = idx.search(q, k=10)
    idx.save(tmp_path)
    assert json.loads((tmp_path / "index" / "dense.json").read_text()) == {
        "factory": factory,
        "params": idx.params,
        "dim": 32,
        "ntotal": 2000,
    }
    assert not (tmp_path / "index" / "dense.faiss.tmp").exists()
    assert DenseIndex.peek_count(tmp_path) == 2000
    loaded = DenseIndex.load(tmp_path, mmap=mmap, use_gpu=False)
    assert (loaded.factory, loaded.params, loaded.ntotal, loaded.dim) == (
        factory,
        idx.params,
        2000,
        32,
    )
    after = loaded.search(q, k=10)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1], before[1], rtol=1e-6)


def test_load_missing_and_damaged(tmp_path):
    with pytest.raises(
        WorldNotFoundError,
        match=r"Expects a dense index at .*dense\.faiss, actual: missing\. "
        r"Re-run lite-world build with --out",
    ):
        DenseIndex.load(tmp_path)
    with pytest.raises(WorldNotFoundError, match="Expects a dense index at .*, actual: missing"):
        DenseIndex.peek_count(tmp_path)
    DenseIndex.build(np.eye(4, dtype=np.float32)).save(tmp_path)
    good = (tmp_path / "index" / "dense.faiss").read_bytes()
    (tmp_path / "index" / "dense.faiss").write_bytes(b"not a faiss index at all")
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects a FAISS index header in .*dense\.faiss, actual: fourcc b'not '",
    ):
        DenseIndex.load(tmp_path)
    (tmp_path / "index" / "dense.faiss").write_bytes(good[:100])  # truncated after a valid header
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects a readable FAISS index at .*dense\.faiss, actual: .*"
        r"Restore the world from a copy or rebuild it",
    ):
        DenseIndex.load(tmp_path)
    (tmp_path / "index" / "dense.faiss").write_bytes(good[:10])
    with pytest.raises(
        WorldCorruptedError,
        match=r"Expects a FAISS index header \(16 bytes\) in .*, actual: 10 bytes",
    ):
        DenseIndex.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"Expects valid JSON in .*dense\.json, actual: Expecting property name"),
        (
            "[1, 2]",
            r"Expects .*dense\.json to hold \['dim', 'factory', 'ntotal', 'params'\] .*actual: "
            r"\['factory', ",
        ),
        (
            '{"factory": "Flat", "params": {}, "dim": "4", "ntotal": 4}',
            r"actual: \['dim'\] missing or of another type",
        ),
    ],
)
def test_damaged_params_json_is_typed(tmp_path, content, message):
    """Before: a bad dense.json raised JSONDecodeError / KeyError / TypeError."""
    DenseIndex.build(np.eye(4, dtype=np.float32)).save(tmp_path)
    (tmp_path / "index" / "dense.json").write_text(content)
    with pytest.raises(WorldCorruptedError, match=message):
        DenseIndex.load(tmp_path)
    with pytest.raises(WorldCorruptedError, match=message):
        DenseIndex.peek_count(tmp_path)


def test_params_disagreeing_with_the_index_header(tmp_path):
    DenseIndex.build(np.eye(4, dtype=np.float32)).save(tmp_path)
    meta = json.loads((tmp_path / "index" / "dense.json").read_text())
    (tmp_path / "index" / "dense.json").write_text(json.dumps({**meta, "ntotal": 3}))
    with pytest.raises(
        WorldCorruptedError, match=r"to hold 3 vectors of dim 4 \(dense\.json\), actual: 4 of dim 4"
    ):
        DenseIndex.load(tmp_path)


@pytest.mark.parametrize("factory", ["Flat", "HNSW8", "IVF4,Flat", "IVF4,PQ4x4fs,Refine(SQ8)"])
def test_read_header_of_every_index_type(tmp_path, clustered, factory):
    x, _ = clustered
    DenseIndex.build(x, factory).save(tmp_path, index_dir="index.next")
    fourcc, dim, ntotal = read_header(tmp_path / "index.next" / "dense.faiss")
    assert (len(fourcc), dim, ntotal) == (4, 32, 2000)
    assert DenseIndex.load(tmp_path, index_dir="index.next").ntotal == 2000


def test_refine_index_really_reranks():
    """Regression: the IVF-PQ + Refine default must apply its re-ranking factor (k_factor_rf)."""
    import faiss
    import numpy as np

    from lite_world.index.dense import DenseIndex

    x = np.random.default_rng(0).standard_normal((3000, 32)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = DenseIndex.build(x, "IVF8,PQ4,Refine(SQ8)")
    assert idx.params["k_factor_rf"] == 8
    assert faiss.downcast_index(idx.index).k_factor == 8.0
