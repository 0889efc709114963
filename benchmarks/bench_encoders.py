"""Query-encoder backends on the demo world: recall against fp32 and CPU time per query.

Every backend of :mod:`lite_world.index.encoders` encodes the 100 demo MuSiQue questions (novel
queries: no cache) with the world's own encoder configuration (all-MiniLM-L6-v2, mean pooling,
normalised, 128 tokens) and searches the demo world's dense index (page vectors built with torch
fp32). Reported per backend:

- ``overlap@10``: the share of torch fp32's top 10 pages it returns (1.0 = identical lists);
- ``gold recall@10``: the mean share of each question's supporting pages in its dense top 10;
- ``cos min / mean``: the cosine of its query vectors to fp32's;
- CPU ms per query at batch 1 (each question alone) and batch 64 (``process_time``, so the
  figure is the work done, not the wait on a shared machine), and wall ms at batch 1;
- the load time (export / conversion included the first time).

All backends run with 1 thread (``--threads``). The default is picked by these figures:
the fastest backend at batch 1 whose gold recall@10 is within 1 point of fp32's.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_encoders [--threads 1] [--backends torch onnx]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks._common import table, write_result

NAME = "bench_encoders"
BACKENDS = [
    ("torch", "float32"),
    ("torch", "bfloat16"),
    ("onnx", "float32"),
    ("onnx-int8", "float32"),
    ("openvino", "float32"),
    ("openvino", "bfloat16"),
]


def _gold_ids(world: Any, tasks: list[Any]) -> list[set[int]]:
    from lite_world.store.urls import normalize_url

    out = []
    for t in tasks:
        ids = set()
        for u in t.meta.get("supporting_urls", []):
            rec = world.store.get_dict(normalize_url(u))
            if rec is not None:
                ids.add(int(rec["id"]))
        out.append(ids)
    return out


def _cpu_ms(fn: Any, reps: int) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return (time.process_time() - c0) * 1000 / reps, (time.perf_counter() - w0) * 1000 / reps


def run(backends: list[tuple[str, str]], threads: int) -> dict[str, Any]:
    import torch

    from lite_world.demo import ensure_demo_world
    from lite_world.index.encoders import EncoderConfig, get_encoder
    from lite_world.tasks import demo_tasks
    from lite_world.world import World

    torch.set_num_threads(threads)
    world = World(ensure_demo_world())
    dense = world.searcher.dense
    tasks = demo_tasks()
    questions = [t.question for t in tasks]
    gold = _gold_ids(world, tasks)
    rows, ref_ids, ref_vecs = [], None, None
    for backend, dtype in backends:
        cfg = EncoderConfig(backend=backend, dtype=dtype)
        t0 = time.perf_counter()
        try:
            enc = get_encoder(cfg, None, threads)
            enc.encode(["warm up"])
        except Exception as exc:  # noqa: BLE001 - a backend that does not install is reported
            rows.append({"backend": cfg.key, "error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        load_s = time.perf_counter() - t0
        for q in questions[:5]:
            enc.encode([q])
        b1_cpu, b1_wall = _cpu_ms(lambda e=enc: [e.encode([q]) for q in questions], len(questions))
        vecs = enc.encode(questions, batch_size=64)
        b64_cpu, b64_wall = _cpu_ms(
            lambda e=enc: e.encode(questions, batch_size=64), len(questions)
        )
        ids, _ = dense.search(vecs, 10)
        if ref_ids is None:
            ref_ids, ref_vecs = ids, vecs
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, ref_ids, strict=True)])
        recall = np.mean(
            [len(g & set(r.tolist())) / len(g) for g, r in zip(gold, ids, strict=True) if g]
        )
        cos = (vecs * ref_vecs).sum(1)
        rows.append({
            "backend": cfg.key, "load_s": round(load_s, 1), "overlap@10": round(float(overlap), 3),
            "gold_recall@10": round(float(recall), 3), "cos_min": round(float(cos.min()), 5),
            "cos_mean": round(float(cos.mean()), 5), "b1_cpu_ms": round(b1_cpu, 2),
            "b1_wall_ms": round(b1_wall, 2), "b64_cpu_ms_per_q": round(b64_cpu, 2),
            "b64_wall_ms_per_q": round(b64_wall, 2),
        })  # fmt: skip
        print(table(rows[-1:], list(rows[-1])), flush=True)
    ok = [r for r in rows if "error" not in r]
    base = next(r for r in ok if r["backend"] == "torch")
    eligible = [r for r in ok if r["gold_recall@10"] >= base["gold_recall@10"] - 0.01]
    pick = min(eligible, key=lambda r: r["b1_cpu_ms"])["backend"]
    return {"threads": threads, "queries": len(questions), "rows": rows, "default": pick}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--backends", nargs="*", default=None, help="e.g. torch onnx-int8 openvino/bfloat16"
    )
    a = p.parse_args(argv)
    chosen = BACKENDS
    if a.backends:
        chosen = [(b.partition("/")[0], b.partition("/")[2] or "float32") for b in a.backends]
        if ("torch", "float32") not in chosen:
            chosen.insert(0, ("torch", "float32"))  # the reference
    res = run(chosen, a.threads)
    cols = ["backend", "gold_recall@10", "overlap@10", "cos_min", "b1_cpu_ms", "b1_wall_ms",
            "b64_cpu_ms_per_q", "b64_wall_ms_per_q", "load_s"]  # fmt: skip
    print(table([r for r in res["rows"] if "error" not in r], cols))
    for r in res["rows"]:
        if "error" in r:
            print(f"{r['backend']}: {r['error']}")
    print(f"default by these figures: {res['default']}")
    print(write_result(NAME + (f"_t{a.threads}" if a.threads != 1 else ""), res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
