"""Retrieval quality on the demo world: do the 100 MuSiQue questions find their supporting pages?

For each search mode (dense, BM25, hybrid RRF, hybrid weighted) every question is searched as is
(``World.search([question], k)``); its supporting pages are ``task.meta["supporting_urls"]``.
Reported at k = 10: the share of questions whose top 10 holds at least one supporting page
(any@10), all of them (all@10), the mean recall of supporting pages, MRR of the first supporting
page; recall@k for k in 1, 5, 10, 20, 50; and the same split by hop count. The raw question is a
multi-hop question, so all@10 is a hard bound an agent improves on by issuing sub-queries.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_retrieval_quality
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_retrieval_quality --quick      # first 30 questions
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks._common import RESULTS_DIR, pyplot, summarize, table, write_result

NAME = "bench_retrieval_quality"
MODES = {
    "dense": {"mode": "dense"},
    "bm25": {"mode": "sparse"},
    "hybrid (rrf)": {"mode": "hybrid", "fusion": "rrf"},
    "hybrid (weighted 0.5)": {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5},
}
KS = (1, 5, 10, 20, 50)


def evaluate(world: Any, tasks: list[Any], k_max: int = max(KS)) -> dict[str, Any]:
    """Per-question ranks of supporting pages and the aggregate metrics."""
    from lite_world.store.urls import normalize_url

    per_q, secs = [], []
    for t in tasks:
        sup = {normalize_url(u) for u in t.meta.get("supporting_urls", [])}
        t0 = time.perf_counter()
        hits = world.search([t.question], k=k_max, snippets=False)[0]
        secs.append(time.perf_counter() - t0)
        ranks = {normalize_url(h.url): h.rank for h in hits}
        found = sorted(ranks[u] for u in sup if u in ranks)
        per_q.append({"id": t.id, "hops": t.difficulty, "n_supporting": len(sup), "ranks": found})

    def agg(rows: list[dict[str, Any]], k: int) -> dict[str, float]:
        if not rows:
            return {}
        got = [sum(r <= k for r in q["ranks"]) for q in rows]
        n = [q["n_supporting"] for q in rows]
        return {
            "any": round(float(np.mean([g > 0 for g in got])), 4),
            "all": round(float(np.mean([g == m for g, m in zip(got, n, strict=False)])), 4),
            "recall": round(float(np.mean([g / m for g, m in zip(got, n, strict=False)])), 4),
        }

    out: dict[str, Any] = {
        "at10": agg(per_q, 10),
        "recall_at": {k: agg(per_q, k)["recall"] for k in KS},
    }
    out["mrr@10"] = round(
        float(
            np.mean(
                [1 / q["ranks"][0] if q["ranks"] and q["ranks"][0] <= 10 else 0.0 for q in per_q]
            )
        ),
        4,
    )
    hops = sorted({q["hops"] for q in per_q if q["hops"]})
    out["by_hops_at10"] = {
        f"{h}-hop": {
            "n": sum(q["hops"] == h for q in per_q),
            **agg([q for q in per_q if q["hops"] == h], 10),
        }
        for h in hops
    }
    out["latency"] = summarize(secs)
    out["per_question"] = per_q
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_retrieval_quality", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--tasks", type=int, default=100, help="number of MuSiQue questions (of 100)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for query encoding")
    ap.add_argument("--quick", action="store_true", help="first 30 questions")
    args = ap.parse_args(argv)
    name = NAME + ("_quick" if args.quick else "")  # quick runs never overwrite the full results
    if args.quick:
        args.tasks = min(args.tasks, 30)

    import torch

    from lite_world.demo import ensure_demo_world
    from lite_world.index.searcher import SearchConfig
    from lite_world.store.urls import normalize_url
    from lite_world.tasks import demo_tasks
    from lite_world.world import World

    torch.set_num_threads(args.threads)
    path = ensure_demo_world(show_progress=False)
    tasks = demo_tasks()[: args.tasks]
    res: dict[str, Any] = {"config": vars(args), "world": str(path), "modes": {}}

    probe = World(path, search=SearchConfig(mode="sparse"))
    sup = [normalize_url(u) for t in tasks for u in t.meta["supporting_urls"]]
    present = sum(probe.store.get_dict(u) is not None for u in sup)
    res["supporting_pages"] = {
        "total": len(sup),
        "in_world": present,
        "per_question_mean": round(len(sup) / len(tasks), 2),
    }
    res["pages"] = len(probe)
    probe.close()

    rows = []
    for label, kw in MODES.items():
        w = World(path, search=SearchConfig(**kw))
        w.search(["warm up the encoder"], k=10)
        r = evaluate(w, tasks)
        w.close()
        res["modes"][label] = r
        rows.append(
            {
                "mode": label,
                "any@10": r["at10"]["any"],
                "all@10": r["at10"]["all"],
                "recall@10": r["at10"]["recall"],
                "MRR@10": r["mrr@10"],
                **{f"R@{k}": r["recall_at"][k] for k in KS if k != 10},
                "p50 ms": r["latency"]["p50_ms"],
            }
        )
    print(
        f"demo world {res['pages']} pages; {len(tasks)} MuSiQue questions; supporting pages {res['supporting_pages']}"
    )
    print(
        table(
            rows,
            [
                "mode",
                "any@10",
                "all@10",
                "recall@10",
                "MRR@10",
                "R@1",
                "R@5",
                "R@20",
                "R@50",
                "p50 ms",
            ],
        )
    )
    hop_rows = [
        {
            "mode": m,
            "hops": h,
            "n": v["n"],
            "any@10": v["any"],
            "all@10": v["all"],
            "recall@10": v["recall"],
        }
        for m, r in res["modes"].items()
        for h, v in r["by_hops_at10"].items()
    ]
    print(table(hop_rows, ["mode", "hops", "n", "any@10", "all@10", "recall@10"]))
    path_json = write_result(name, res)
    png = _plot(res, name)
    print(f"\nwrote {path_json} and {png}")
    return res


def _plot(res: dict[str, Any], name: str = NAME) -> Any:
    plt = pyplot()
    modes = list(res["modes"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.2))
    metrics = (("any", "any@10"), ("all", "all@10"), ("recall", "recall@10"))
    x = np.arange(len(metrics))
    w = 0.8 / len(modes)
    for j, m in enumerate(modes):
        vals = [res["modes"][m]["at10"][key] for key, _ in metrics]
        bars = ax1.bar(x + (j - (len(modes) - 1) / 2) * w, vals, w, label=m)
        ax1.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        ks = sorted(res["modes"][m]["recall_at"])
        ax2.plot(ks, [res["modes"][m]["recall_at"][k] for k in ks], marker="o", label=m)
    ax1.set_xticks(x, [lbl for _, lbl in metrics])
    ax1.set_ylim(0, 1.05)
    ax1.set_title(
        f"Supporting pages in the top 10 ({res['config']['tasks']} MuSiQue questions)", fontsize=10
    )
    ax1.legend(fontsize=7)
    ax1.grid(axis="y", alpha=0.3)
    ax2.set_xscale("log")
    ax2.set_xticks(list(KS), [str(k) for k in KS])
    ax2.set_ylim(0, 1.0)
    ax2.set_xlabel("k")
    ax2.set_ylabel("mean recall of supporting pages")
    ax2.set_title("recall@k", fontsize=10)
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    p = RESULTS_DIR / f"{name}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


if __name__ == "__main__":
    main()
