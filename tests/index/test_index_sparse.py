"""BM25 over page texts (bm25s): exact scores, -1 padding, persistence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lite_world.errors import WorldCorruptedError, WorldNotFoundError
from lite_world.index.sparse import BM25Index

DOCS = [
    "Paris is the capital of France",  # paris capital france
    "Berlin is the capital of Germany",  # berlin capital germany
    "Cats sleep a lot",  # cats sleep lot
    "France borders Germany and Spain",  # france borders germany spain
]


def _bm25(query_terms, doc_terms, corpus_terms, k1=1.2, b=0.75):
    """Lucene BM25 as bm25s computes it (no (k1 + 1) factor), written out independently."""
    n = len(corpus_terms)
    avgdl = sum(len(d) for d in corpus_terms) / n
    score = 0.0
    for t in set(query_terms):
        tf = doc_terms.count(t)
        if not tf:
            continue
        df = sum(t in d for d in corpus_terms)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        score += idf * tf / (tf + k1 * (1 - b + b * len(doc_terms) / avgdl))
    return score


CORPUS_TERMS = [
    ["paris", "capital", "france"],
    ["berlin", "capital", "germany"],
    ["cats", "sleep", "lot"],
    ["france", "borders", "germany", "spain"],
]


@pytest.fixture(scope="module")
def index():
    return BM25Index.build(DOCS)


def test_exact_ranking_scores_and_padding(index):
    ids, scores = index.search(
        ["capital of France", "Germany", "zzz unknown", "", "the of is"], k=6
    )
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids.tolist() == [
        [0, 1, 3, -1, -1, -1],
        [1, 3, -1, -1, -1, -1],
        [-1] * 6,
        [-1] * 6,
        [-1] * 6,  # stopwords only
    ]
    q = ["capital", "france"]
    expected = [_bm25(q, CORPUS_TERMS[d], CORPUS_TERMS) for d in (0, 1, 3)]
    np.testing.assert_allclose(scores[0, :3], expected, rtol=1e-5)
    np.testing.assert_allclose(
        scores[1, :2],
        [_bm25(["germany"], CORPUS_TERMS[d], CORPUS_TERMS) for d in (1, 3)],
        rtol=1e-5,
    )
    assert scores[0, 3:].tolist() == [0.0, 0.0, 0.0]
    assert scores[2].tolist() == [0.0] * 6


def test_top1_and_case_insensitive(index):
    ids, _ = index.search(["CATS", "berlin", "spain borders"], k=1)
    assert ids.tolist() == [[2], [1], [3]]


def test_empty_query_list_and_empty_index(index):
    ids, scores = index.search([], k=3)
    assert ids.shape == (0, 3) and scores.shape == (0, 3)
    empty = BM25Index(index.retriever, index.tokenizer, 0)
    assert empty.search(["paris"], k=2)[0].tolist() == [[-1, -1]]


def test_save_load_round_trip(tmp_path, index):
    queries = ["capital of France", "Germany", "cats", "nothing here"]
    before = index.search(queries, k=4)
    index.save(tmp_path)
    assert (tmp_path / "index" / "bm25" / "lite_world.json").read_text() == '{"n_docs": 4}'
    for mmap in (True, False):
        loaded = BM25Index.load(tmp_path, mmap=mmap)
        assert loaded.n_docs == 4
        after = loaded.search(queries, k=4)
        np.testing.assert_array_equal(after[0], before[0])
        np.testing.assert_allclose(after[1], before[1], rtol=1e-6)


def test_backend_choice(tmp_path, index):
    index.save(tmp_path)
    assert BM25Index.load(tmp_path).retriever.backend == "numpy"  # 4 docs: below NUMBA_MIN_PAGES
    assert BM25Index.build(DOCS, backend="numpy").retriever.backend == "numpy"


def test_load_missing(tmp_path):
    with pytest.raises(
        WorldNotFoundError,
        match=r"Expects a BM25 index at .*bm25, actual: missing\. "
        r"Re-run lite-world build with --out",
    ):
        BM25Index.load(tmp_path)


def test_build_from_a_generator_with_length():
    idx = BM25Index.build((d for d in DOCS), n_docs=len(DOCS))
    assert idx.n_docs == 4
    assert idx.search(["paris"], k=1)[0].tolist() == [[0]]


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        (
            "lite_world.json",
            b"{oops",
            r"Expects a readable BM25 index at .*bm25, actual: JSONDecodeError",
        ),
        ("lite_world.json", b'{"n_docs": "4"}', r"actual: ValueError: n_docs is '4'"),
        ("vocab.index.json", b"[1, 2", r"actual: JSONDecodeError"),
        ("params.index.json", b"", r"actual: JSONDecodeError"),
        (
            "indptr.csc.index.npy",
            b"\x93NUMPY garbage",
            r"Expects a readable BM25 index at .*, actual: ValueError",
        ),
        (
            "data.csc.index.npy",
            None,
            r"actual: ValueError: score matrix of \d+ values, \d+ indices",
        ),
    ],
)
def test_damaged_files_are_typed(tmp_path, index, name, damage, message):
    """Before: JSONDecodeError, KeyError, ValueError from numpy escaped untyped."""
    index.save(tmp_path)
    path = tmp_path / "index" / "bm25" / name
    if damage is None:  # a shorter but well-formed array: the shapes disagree
        arr = np.load(path)
        np.save(path, arr[:-1])
    else:
        path.write_bytes(damage)
    with pytest.raises(
        WorldCorruptedError, match=message + r".*Restore the world from a copy or rebuild it"
    ):
        BM25Index.load(tmp_path)


def test_deleted_array_is_not_found(tmp_path, index):
    index.save(tmp_path, index_dir="index.next")
    (tmp_path / "index.next" / "bm25" / "indices.csc.index.npy").unlink()
    with pytest.raises(
        WorldNotFoundError, match=r"Expects the BM25 index files in .*index\.next/bm25, actual: "
    ):
        BM25Index.load(tmp_path, index_dir="index.next")


def test_out_of_range_ids_from_damaged_arrays_are_typed(tmp_path, index):
    index.save(tmp_path)
    path = tmp_path / "index" / "bm25" / "indices.csc.index.npy"
    arr = np.load(path)
    np.save(path, np.full_like(arr, 10_000))  # document ids far beyond the 4 documents
    loaded = BM25Index.load(tmp_path)
    with pytest.raises(
        WorldCorruptedError, match=r"Expects consistent BM25 arrays, actual: IndexError"
    ):
        loaded.search(["capital of France"], k=2)


def test_positive_top_k_equals_bm25s_retrieve_up_to_ties(musique):
    """The numpy path selects among positive scores only: bm25s's scores, ties by page row."""
    from lite_world.index.sparse import top_positive

    paras = [p["paragraph_text"] for q in musique for p in q["paragraphs"]]
    idx = BM25Index.build(paras)
    queries = [q["question"] for q in musique] + ["", "zzzz qqq", "the of and"]
    ids = idx.tokenizer.tokenize(queries, update_vocab=False, return_as="ids", show_progress=False)
    for k in (1, 5, 50):
        want_rows, want = idx.retriever.retrieve(ids, k=k, show_progress=False, n_threads=1)
        rows, got = idx._top_k(ids, k)
        assert np.array_equal(got, np.where(want > 0, want, 0))  # the same scores, best first
        for i in range(len(queries)):
            n = int((got[i] > 0).sum())
            if not n:
                continue
            scores = idx.retriever.get_scores_from_ids(ids[i])
            assert np.array_equal(scores[rows[i][:n]], got[i][:n])
            last = got[i][n - 1]
            if (scores == last).sum() == (got[i][:n] == last).sum():  # no tie across the cut
                assert set(rows[i][:n]) == set(want_rows[i][:n])
            for a, b in zip(rows[i][: n - 1], rows[i][1:n], strict=True):  # ties: lower row first
                assert scores[a] > scores[b] or a < b
    rows, vals = top_positive(np.array([0, 3, 1, 3, 3, 0], dtype=np.float32), 2)
    assert rows.tolist() == [1, 3] and vals.tolist() == [3.0, 3.0]
