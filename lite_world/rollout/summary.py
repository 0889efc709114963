"""Summaries of rollouts: accuracy, pass@k, turns, tool use and latency.

Example:
    >>> pass_at_k(n=4, c=1, k=1), pass_at_k(n=4, c=1, k=4), pass_at_k(n=4, c=0, k=2)
    (0.25, 1.0, 0.0)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["pass_at_k", "summarize", "percentile"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def percentile(values: Sequence[float], q: float) -> float | None:
    """``np.percentile`` that returns ``None`` for no values.

    Example:
        >>> percentile([1.0, 2.0, 3.0], 50), percentile([], 50)
        (2.0, None)
    """
    return float(np.percentile(values, q)) if len(values) else None


def summarize(episodes: Sequence[dict[str, Any]], *, wall_s: float | None = None) -> dict[str, Any]:
    """Aggregate episode records (as written to ``trajectories.jsonl``)."""
    n = len(episodes)
    by_task: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        by_task[e["task_id"]].append(e["reward"])
    samples = min((len(v) for v in by_task.values()), default=0)
    latencies = [
        s["tool_latency_s"]
        for e in episodes
        for s in e["steps"]
        if s.get("tool") and not s.get("error")
    ]
    judged = [e for e in episodes if (e.get("reward_info") or {}).get("judged") is not None]
    correct = lambda r: r >= 1.0 - 1e-9  # noqa: E731
    out: dict[str, Any] = {
        "episodes": n,
        "tasks": len(by_task),
        "samples_per_task": samples,
        "accuracy": float(np.mean([e["reward"] for e in episodes])) if n else 0.0,
        "answer_rate": float(np.mean([e["answered"] for e in episodes])) if n else 0.0,
        "truncated_rate": float(np.mean([e["truncated"] for e in episodes])) if n else 0.0,
        "mean_turns": float(np.mean([e["turns"] for e in episodes])) if n else 0.0,
        "mean_tool_calls": float(np.mean([e["totals"].get("tool_calls", 0) for e in episodes]))
        if n
        else 0.0,
        "tool_calls": int(sum(e["totals"].get("tool_calls", 0) for e in episodes)),
        "search_calls": int(sum(e["totals"].get("search", 0) for e in episodes)),
        "visit_calls": int(sum(e["totals"].get("visit", 0) for e in episodes)),
        "action_errors": int(sum(e["totals"].get("errors", 0) for e in episodes)),
        "tool_latency_p50_ms": _ms(percentile(latencies, 50)),
        "tool_latency_p99_ms": _ms(percentile(latencies, 99)),
        "mean_em": float(np.mean([(e.get("reward_info") or {}).get("em", 0.0) for e in episodes]))
        if n
        else 0.0,
        "mean_f1": float(np.mean([(e.get("reward_info") or {}).get("f1", 0.0) for e in episodes]))
        if n
        else 0.0,
    }
    for k in sorted({1, samples}):
        if k >= 1 and samples >= k:
            out[f"pass@{k}"] = float(
                np.mean([pass_at_k(len(v), sum(map(correct, v)), k) for v in by_task.values()])
            )
    if judged:
        agree = [bool(e["reward_info"]["judged"]) == (e["reward_info"]["em"] > 0) for e in judged]
        out["judge_em_agreement"] = float(np.mean(agree))
        out["judged_episodes"] = len(judged)
    by_diff: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        by_diff[str(e.get("difficulty"))].append(e["reward"])
    out["accuracy_by_difficulty"] = {k: float(np.mean(v)) for k, v in sorted(by_diff.items())}
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 3)
        out["episodes_per_s"] = round(n / wall_s, 4) if wall_s > 0 else None
    return out


def _ms(x: float | None) -> float | None:
    return None if x is None else round(1000 * x, 3)
