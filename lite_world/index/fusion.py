"""Fusion of ranked lists: reciprocal rank fusion (RRF, k = 60 as in the paper) and weighted scores.

Both take ``(nq, k)`` id arrays padded with -1 and return fused ``(nq, k)`` arrays.

Example:
    >>> import numpy as np
    >>> dense = np.array([[1, 2, 3]]); sparse = np.array([[3, 1, -1]])
    >>> ids, _ = rrf(dense, sparse, k=3)
    >>> ids.tolist()
    [[1, 3, 2]]
"""

from __future__ import annotations

import numpy as np

__all__ = ["rrf", "weighted"]


def rrf(
    *rankings: np.ndarray, k: int, rrf_k: int = 60, weights: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank fusion: ``score(d) = Σ w_i / (rrf_k + rank_i(d))`` with 1-based ranks.

    Ties break by the first ranking's order, then by id, so results are deterministic.
    """
    nq = rankings[0].shape[0]
    weights = weights or [1.0] * len(rankings)
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_scores = np.zeros((nq, k), dtype=np.float32)
    for q in range(nq):
        acc: dict[int, float] = {}
        first: dict[int, int] = {}
        for r, (ranking, w) in enumerate(zip(rankings, weights, strict=True)):
            for rank, doc in enumerate(ranking[q].tolist()):
                if doc < 0:
                    continue
                acc[doc] = acc.get(doc, 0.0) + w / (rrf_k + rank + 1)
                first.setdefault(doc, r * 1_000_000 + rank)
        best = sorted(acc.items(), key=lambda kv: (-kv[1], first[kv[0]], kv[0]))[:k]
        for j, (doc, s) in enumerate(best):
            out_ids[q, j] = doc
            out_scores[q, j] = s
    return out_ids, out_scores


def weighted(
    dense: tuple[np.ndarray, np.ndarray],
    sparse: tuple[np.ndarray, np.ndarray],
    *,
    k: int,
    alpha: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """``alpha * dense + (1 - alpha) * sparse`` after per-query max normalisation of each list.

    Example:
        >>> import numpy as np
        >>> d = (np.array([[0, 1]]), np.array([[0.9, 0.8]]))
        >>> s = (np.array([[1, -1]]), np.array([[5.0, 0.0]]))
        >>> weighted(d, s, k=2, alpha=0.5)[0].tolist()
        [[1, 0]]
    """
    (dids, dsc), (sids, ssc) = dense, sparse
    nq = dids.shape[0]
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_scores = np.zeros((nq, k), dtype=np.float32)
    for q in range(nq):
        acc: dict[int, float] = {}
        for ids, sc, w in ((dids[q], dsc[q], alpha), (sids[q], ssc[q], 1.0 - alpha)):
            valid = ids >= 0
            if not valid.any():
                continue
            top = float(np.max(np.abs(sc[valid]))) or 1.0
            for doc, s in zip(ids[valid].tolist(), (sc[valid] / top).tolist(), strict=True):
                acc[doc] = acc.get(doc, 0.0) + w * s
        best = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        for j, (doc, s) in enumerate(best):
            out_ids[q, j] = doc
            out_scores[q, j] = s
    return out_ids, out_scores
