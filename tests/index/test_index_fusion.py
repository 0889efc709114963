"""Rank fusion (RRF, weighted): exact values."""

from __future__ import annotations

import numpy as np
import pytest

from lite_world.index.fusion import rrf, weighted


def test_rrf_exact_scores_and_order():
    dense = np.array([[1, 2, 3]])
    sparse = np.array([[3, 1, -1]])
    ids, scores = rrf(dense, sparse, k=3)
    assert ids.tolist() == [[1, 3, 2]]
    np.testing.assert_allclose(scores[0], [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62], rtol=1e-6)


def test_rrf_constant_weights_and_padding():
    a = np.array([[7, 8], [-1, -1]])
    b = np.array([[8, 9], [5, -1]])
    ids, scores = rrf(a, b, k=4, rrf_k=1, weights=[2.0, 1.0])
    assert ids.tolist() == [[8, 7, 9, -1], [5, -1, -1, -1]]
    np.testing.assert_allclose(scores[0], [2 / 3 + 1 / 2, 2 / 2, 1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(scores[1], [1 / 2, 0, 0, 0], rtol=1e-6)


def test_rrf_ties_break_by_first_ranking_then_id():
    ids, scores = rrf(np.array([[5, 6]]), np.array([[6, 5]]), k=2)
    assert ids.tolist() == [[5, 6]]
    assert scores[0, 0] == scores[0, 1]
    ids, _ = rrf(np.array([[-1, -1]]), np.array([[9, -1]]), np.array([[4, -1]]), k=2)
    assert ids.tolist() == [[9, 4]]


def test_rrf_truncates_to_k():
    ids, _ = rrf(np.array([[1, 2, 3, 4]]), np.array([[4, 3, 2, 1]]), k=2)
    assert ids.shape == (1, 2)
    assert ids.tolist() == [[1, 4]]  # all four tie: first ranking's order wins


def test_weighted_exact_values():
    d = (np.array([[0, 1]]), np.array([[0.9, 0.8]]))
    s = (np.array([[1, -1]]), np.array([[5.0, 0.0]]))
    ids, scores = weighted(d, s, k=3, alpha=0.5)
    assert ids.tolist() == [[1, 0, -1]]
    np.testing.assert_allclose(scores[0], [0.5 * 0.8 / 0.9 + 0.5, 0.5, 0.0], rtol=1e-6)


@pytest.mark.parametrize(("alpha", "expected"), [(1.0, [[0, 1]]), (0.0, [[1, 0]])])
def test_weighted_alpha_extremes(alpha, expected):
    d = (np.array([[0, 1]]), np.array([[0.9, 0.8]]))
    s = (np.array([[1, 0]]), np.array([[5.0, 1.0]]))
    assert weighted(d, s, k=2, alpha=alpha)[0].tolist() == expected


def test_weighted_with_an_empty_list():
    d = (np.array([[-1, -1]]), np.array([[0.0, 0.0]]))
    s = (np.array([[4, 2]]), np.array([[3.0, 1.5]]))
    ids, scores = weighted(d, s, k=2, alpha=0.25)
    assert ids.tolist() == [[4, 2]]
    np.testing.assert_allclose(scores[0], [0.75, 0.375], rtol=1e-6)
