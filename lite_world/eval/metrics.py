"""Evaluation metrics: accuracy with a Wilson interval, judge versus exact match, pass@k / avg@k,
turns, tool calls, tokens, context size, tool latency, live-tool cost, and relevant-document recall.

Example:
    >>> lo, hi = wilson_ci(5, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.237, 0.763)
    >>> eps = [{"task_id": "a", "judge": {"correct": True, "source": "judge"},
    ...         "reward_info": {"em": 0.0, "f1": 0.5}, "turns": 3, "totals": {"tool_calls": 2},
    ...         "steps": [], "answered": True, "truncated": False}]
    >>> s = summarize_eval(eps)
    >>> s["accuracy"], s["em"], s["judge_em_agreement"], s["pass@1"]
    (1.0, 0.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lite_world.store.urls import normalize_url

__all__ = ["wilson_ci", "pass_at_k", "summarize_eval", "visited_urls", "turn_bucket"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (Chen et al., 2021).

    Example:
        >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), pass_at_k(4, 0, 2)
        (0.25, 1.0, 0.0)
    """
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def wilson_ci(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for ``z=1.96``); ``(0, 0)`` for ``n=0``."""
    if n <= 0:
        return (0.0, 0.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def visited_urls(ep: Mapping[str, Any]) -> set[str]:
    """Normalised URLs of every page the episode's ``visit`` calls asked for."""
    out: set[str] = set()
    for s in ep.get("steps", []):
        if s.get("tool") != "visit":
            continue
        url = (s.get("arguments") or {}).get("url")
        for u in [url] if isinstance(url, str) else (url or []):
            if isinstance(u, str):
                out.add(normalize_url(u))
    return out


def turn_bucket(turns: int) -> str:
    """Buckets for "accuracy by turns".

    Example:
        >>> [turn_bucket(t) for t in (1, 3, 5, 9, 20)]
        ['1-2', '3-4', '5-8', '9-16', '17+']
    """
    for hi, name in ((2, "1-2"), (4, "3-4"), (8, "5-8"), (16, "9-16")):
        if turns <= hi:
            return name
    return "17+"


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if len(xs) else 0.0


def summarize_eval(
    episodes: Sequence[Mapping[str, Any]],
    *,
    relevant_urls: Mapping[str, Sequence[str]] | None = None,
    wall_s: float | None = None,
) -> dict[str, Any]:
    """Aggregate judged episodes (each has ``judge.correct``; see
    :func:`~lite_world.eval.judging.judge_episodes`).

    ``relevant_urls`` maps task ids to the URLs of their relevant documents (BrowseComp-Plus);
    when given, ``relevant_recall`` is the mean share of them the agent visited.
    """
    n = len(episodes)
    correct = [bool(e["judge"]["correct"]) for e in episodes]
    em = [float((e.get("reward_info") or {}).get("em", 0.0)) for e in episodes]
    by_task: dict[str, list[bool]] = defaultdict(list)
    for e, c in zip(episodes, correct, strict=False):
        by_task[str(e["task_id"])].append(c)
    samples = min((len(v) for v in by_task.values()), default=0)
    lo, hi = wilson_ci(sum(correct), n)
    judged = [
        (c, x > 0)
        for e, c, x in zip(episodes, correct, em, strict=False)
        if e["judge"].get("source") in ("judge", "cache")
    ]
    latencies = [
        s["tool_latency_s"]
        for e in episodes
        for s in e.get("steps", [])
        if s.get("tool") and not s.get("error")
    ]
    out: dict[str, Any] = {
        "items": len(by_task),
        "episodes": n,
        "samples_per_item": samples,
        "accuracy": _mean(correct),
        "accuracy_ci95": [lo, hi],
        "em": _mean(em),
        "f1": _mean([float((e.get("reward_info") or {}).get("f1", 0.0)) for e in episodes]),
        "judge_sources": dict(
            sorted(
                {
                    s: sum(1 for e in episodes if e["judge"].get("source") == s)
                    for s in {e["judge"].get("source") for e in episodes}
                }.items()
            )
        ),
        "judged_episodes": len(judged),
        "judge_em_agreement": _mean([a == b for a, b in judged]) if judged else None,
        "answer_rate": _mean([bool(e.get("answered")) for e in episodes]),
        "truncated_rate": _mean([bool(e.get("truncated")) for e in episodes]),
        "timed_out": int(sum(bool(e.get("timed_out")) for e in episodes)),
        "errors": int(sum(bool(e.get("error")) for e in episodes)),
        "mean_turns": _mean([e.get("turns", 0) for e in episodes]),
        "mean_tool_calls": _mean([(e.get("totals") or {}).get("tool_calls", 0) for e in episodes]),
        "mean_search_calls": _mean([(e.get("totals") or {}).get("search", 0) for e in episodes]),
        "mean_visit_calls": _mean([(e.get("totals") or {}).get("visit", 0) for e in episodes]),
        "tool_latency_p50_ms": None
        if not latencies
        else round(1000 * float(np.percentile(latencies, 50)), 3),
        "tool_latency_p99_ms": None
        if not latencies
        else round(1000 * float(np.percentile(latencies, 99)), 3),
        "mean_wall_s": _mean([e.get("wall_s", 0.0) for e in episodes]),
    }
    for k in sorted({1, samples}):
        if 1 <= k <= samples:
            out[f"pass@{k}"] = _mean([pass_at_k(len(v), sum(v), k) for v in by_task.values()])
    if samples > 1:
        out[f"avg@{samples}"] = _mean([_mean(v) for v in by_task.values()])
    tokens = [e["tokens"] for e in episodes if e.get("tokens")]
    if tokens:
        out["mean_prompt_tokens"] = _mean([t.get("prompt_tokens", 0) for t in tokens])
        out["mean_completion_tokens"] = _mean([t.get("completion_tokens", 0) for t in tokens])
    ctx = [e["context"] for e in episodes if e.get("context") and e["context"].get("raw_tokens")]
    if ctx:
        out["context"] = {
            "mode": ctx[0].get("mode"),
            "budget_tokens": ctx[0].get("budget_tokens"),
            "mean_max_raw_tokens": _mean([max(c["raw_tokens"]) for c in ctx]),
            "mean_max_context_tokens": _mean([max(c["context_tokens"]) for c in ctx]),
            "max_context_tokens": int(max(max(c["context_tokens"]) for c in ctx)),
            "forced_answers": int(sum(bool(c.get("forced")) for c in ctx)),
            "resets": int(sum(c.get("resets", 0) for c in ctx)),
            "mean_compressed_steps": _mean([c.get("compressed_steps", 0) for c in ctx]),
        }
    by_turns: dict[str, list[bool]] = defaultdict(list)
    for e, c in zip(episodes, correct, strict=False):
        by_turns[turn_bucket(int(e.get("turns", 0)))].append(c)
    out["accuracy_by_turns"] = {
        k: {"n": len(v), "accuracy": _mean(v)} for k, v in sorted(by_turns.items(), key=_order)
    }
    if relevant_urls:
        recalls = []
        for e in episodes:
            rel = {normalize_url(u) for u in relevant_urls.get(str(e["task_id"]), [])}
            if rel:
                recalls.append(len(rel & visited_urls(e)) / len(rel))
        out["relevant_recall"] = _mean(recalls) if recalls else None
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 3)
    return out


def _order(kv: tuple[str, Any]) -> int:
    return int(kv[0].split("-")[0].rstrip("+"))
