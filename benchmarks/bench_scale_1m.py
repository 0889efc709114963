"""Scale benchmark: a 1M-page synthetic world (issue 4, item 3).

Generates ``--n`` clustered 384-d float32 unit vectors (cluster centres on an anisotropic
spectrum + noise, like sentence embeddings; deterministic seed) and held-out queries from the
same distribution, then for each index type built with ``DenseIndex.build``:

- ``Flat`` (exact; also the ground truth for recall@10),
- ``IVF{nlist},PQ48`` (compressed, no re-ranking),
- ``IVF{nlist},PQ48,Refine(SQ8)`` (the large-world default of ``auto_factory``, with an nlist
  suited to ``--n``),
- ``HNSW32`` (the default from 50k to 2M pages; optionally on a prefix, ``--hnsw-n``),

measures build time, RSS delta of the build, index file size, ``DenseIndex.load(mmap=True)``
time and RSS, single-query latency p50/p99 (wall and process CPU), batch-64 throughput and
recall@10 vs Flat, with **1 FAISS thread**. Optionally (``--pages N``) it writes N synthetic
~1–2 KB pages through ``PageStore.put_many`` and measures write rate, disk size and random
``get(url)`` latency.

Usage:
    HF_HUB_OFFLINE=1 nice -n 19 python -m benchmarks.bench_scale_1m [--n 1000000] [--quick]
        [--budget 1200] [--hnsw-n N] [--pages N] [--train-size N]

Scratch data goes to ``benchmarks/.cache/scale/`` and is deleted at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    CACHE_DIR,
    Deadline,
    plot_bar_panels,
    rss_mb,
    summarize,
    table,
    time_calls,
    write_result,
)

DIM = 384
K = 10


def clustered_vectors(
    n: int, *, centres: int = 4096, seed: int = 0, chunk: int = 100_000
) -> np.ndarray:
    """``n`` unit vectors: Zipf-sized clusters around anisotropic centres plus anisotropic noise.

    The per-dimension scale decays like real embedding spectra, so the intrinsic dimension is
    well below 384 and ANN recall is meaningful (isotropic random data makes it meaningless).
    """
    rng = np.random.default_rng(1234)  # the world's structure is fixed; ``seed`` picks the sample
    spectrum = (1.0 + np.arange(DIM)) ** -0.5
    spectrum = (spectrum / np.linalg.norm(spectrum) * math.sqrt(DIM)).astype(np.float32)
    basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].astype(np.float32)
    c = (rng.standard_normal((centres, DIM)).astype(np.float32) * spectrum) @ basis
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    p = 1.0 / (np.arange(centres) + 10.0) ** 0.7
    p /= p.sum()
    rs = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        lab = rs.choice(centres, size=m, p=p)
        noise = (rs.standard_normal((m, DIM), dtype=np.float32) * spectrum) @ basis
        x = c[lab] + 0.09 * noise * rs.uniform(0.6, 1.4, size=(m, 1)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s : s + m] = x
    return out


def exact_topk(queries: np.ndarray, x: np.ndarray, k: int = K) -> np.ndarray:
    """Exact inner-product top-k ids (numpy, blocked)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for s in range(0, len(x), 200_000):
        sc = queries @ x[s : s + 200_000].T
        part = np.argpartition(-sc, k, axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(sc, part, 1)], 1)
        cand_i = np.concatenate([best_i, part + s], 1)
        o = np.argsort(-cand_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, o, 1), np.take_along_axis(cand_i, o, 1)
    return best_i


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean(
            [
                len(set(f[f >= 0].tolist()) & set(t.tolist())) / len(t)
                for f, t in zip(found, truth, strict=False)
            ]
        )
    )


def dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def bench_index(
    name: str,
    factory: str,
    x: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    work: Path,
    *,
    train_size: int,
    lat_queries: int,
    deadline: Deadline,
    sweep: dict[str, list[int]] | None = None,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    import faiss

    from lite_world.index.dense import DenseIndex

    row: dict[str, Any] = {"index": name, "factory": factory, "n": len(x)}
    gc.collect()
    r0 = rss_mb()
    t = time.perf_counter()
    c = time.process_time()
    idx = DenseIndex.build(x, factory, train_size=train_size)
    row["build_s"] = round(time.perf_counter() - t, 2)
    row["build_cpu_s"] = round(time.process_time() - c, 2)
    r1 = rss_mb()
    row["build_rss_delta_mb"] = round(r1.get("rss_mb", 0) - r0.get("rss_mb", 0), 1)
    row["params"] = dict(idx.params)
    inner = faiss.downcast_index(idx.index)
    if hasattr(inner, "k_factor"):  # IndexRefine: what DenseIndex's "k_factor" param actually set
        row["effective_k_factor"] = float(inner.k_factor)
    d = work / name
    shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    idx.save(d)
    row["save_s"] = round(time.perf_counter() - t, 2)
    row["file_mb"] = round(dir_bytes(d) / 2**20, 1)
    row["bytes_per_vector"] = round(dir_bytes(d) / len(x), 1)
    idx = None
    gc.collect()
    r2 = rss_mb()
    t = time.perf_counter()
    idx = DenseIndex.load(d, mmap=True)
    row["load_mmap_s"] = round(time.perf_counter() - t, 3)
    r3 = rss_mb()
    row["load_rss_delta_mb"] = round(r3.get("rss_mb", 0) - r2.get("rss_mb", 0), 1)
    t = time.perf_counter()
    idx.search(queries[:1], K)
    row["first_query_ms"] = round((time.perf_counter() - t) * 1e3, 2)
    # recall@10 at the default parameters (all held-out queries, one batch)
    ids, _ = idx.search(queries, K)
    row["recall@10"] = round(recall_at_k(ids, truth), 4)
    # single-query latency
    n_lat = min(lat_queries, len(queries))
    wall, cpu = time_calls(
        lambda i: idx.search(queries[i : i + 1], K),
        range(n_lat),
        max_seconds=max(5.0, min(60.0, deadline.left() / 4)),
    )
    s = summarize(wall)
    row.update(
        {
            "p50_ms": s.get("p50_ms"),
            "p99_ms": s.get("p99_ms"),
            "cpu_p50_ms": summarize(cpu).get("p50_ms"),
            "lat_n": s["n"],
        }
    )
    # batch-64 throughput
    nb, t = 0, time.perf_counter()
    for b in range(0, len(queries) - 63, 64):
        idx.search(queries[b : b + 64], K)
        nb += 64
        if time.perf_counter() - t > 20:
            break
    row["batch64_qps"] = round(nb / (time.perf_counter() - t), 1) if nb else None
    r4 = rss_mb()
    row["rss_after_search_mb"] = r4.get("rss_mb")
    row["rss_file_after_search_mb"] = r4.get("file_mb")
    row["rss_anon_delta_after_search_mb"] = round(r4.get("anon_mb", 0) - r2.get("anon_mb", 0), 1)
    samples = {f"{name} {_pstr(idx.params)}": wall}
    # parameter sweep: recall and p50 (50 queries) per setting
    sweeps = []
    ps = faiss.ParameterSpace()
    for key, values in (sweep or {}).items():
        for v in values:
            if not deadline:
                break
            ps.set_index_parameter(idx.index, key, v)
            ids, _ = idx.search(queries, K)
            w, cp = time_calls(
                lambda i: idx.search(queries[i : i + 1], K), range(min(50, len(queries)))
            )
            sweeps.append(
                {
                    key: v,
                    "recall@10": round(recall_at_k(ids, truth), 4),
                    "p50_ms": summarize(w)["p50_ms"],
                    "cpu_p50_ms": summarize(cp)["p50_ms"],
                }
            )
            samples[f"{name} {key}={v}"] = w
        if key in idx.params:
            ps.set_index_parameter(idx.index, key, idx.params[key])
        elif key == "k_factor_rf" and "effective_k_factor" in row:
            ps.set_index_parameter(idx.index, key, row["effective_k_factor"])
    if sweeps:
        row["sweep"] = sweeps
    idx = None
    gc.collect()
    return row, samples


def _pstr(params: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items()) or "exact"


def bench_pages(n: int, work: Path, deadline: Deadline, reads: int = 3000) -> dict[str, Any]:
    """Write ``n`` synthetic ~1–2 KB pages through ``PageStore.put_many``; random ``get`` latency."""
    from benchmarks._synthetic import PageGenerator
    from lite_world.store.lmdb_store import PageStore
    from lite_world.store.page import Page

    d = work / "pages"
    shutil.rmtree(d, ignore_errors=True)
    gen = PageGenerator(topics=4096, seed=0)
    urls: list[str] = []
    written, gen_s, put_s = 0, 0.0, 0.0
    t_all = time.perf_counter()
    with PageStore(d, readonly=False) as w:
        it = gen.rows(n, min_chars=1000, max_chars=2000, seed=1)
        while written < n and deadline:
            t = time.perf_counter()
            batch = []
            for r in it:
                batch.append(Page.create(r["url"], r["title"], r["text"]))
                if len(batch) >= 1000:
                    break
            gen_s += time.perf_counter() - t
            if not batch:
                break
            t = time.perf_counter()
            w.put_many(batch)
            put_s += time.perf_counter() - t
            urls.extend(p.url for p in batch[::10])
            written += len(batch)
    total_s = time.perf_counter() - t_all
    disk = dir_bytes(d)
    rng = np.random.default_rng(0)
    with PageStore(d) as r:
        picks = [urls[i] for i in rng.integers(0, len(urls), size=reads)]
        wall, cpu = time_calls(r.get, picks)
    g = summarize(wall)
    return {
        "pages": written,
        "requested": n,
        "total_s": round(total_s, 1),
        "generate_and_create_s": round(gen_s, 1),
        "put_many_s": round(put_s, 1),
        "put_many_pages_per_s": round(written / put_s, 1) if put_s else None,
        "end_to_end_pages_per_s": round(written / total_s, 1),
        "disk_mb": round(disk / 2**20, 1),
        "bytes_per_page": round(disk / max(1, written), 1),
        "get_p50_us": round(g["p50_ms"] * 1e3, 1),
        "get_p99_us": round(g["p99_ms"] * 1e3, 1),
        "get_cpu_p50_us": round(summarize(cpu)["p50_ms"] * 1e3, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="vectors (pages)")
    ap.add_argument(
        "--quick", action="store_true", help="100k vectors, writes bench_scale_1m_quick.*"
    )
    ap.add_argument("--budget", type=float, default=1200, help="wall-clock budget in seconds")
    ap.add_argument(
        "--queries", type=int, default=200, help="held-out queries (ground truth with exact search)"
    )
    ap.add_argument(
        "--nlist", type=int, default=0, help="IVF lists (default 4096 at 1M, scaled as 4*sqrt(n))"
    )
    ap.add_argument(
        "--train-size",
        type=int,
        default=0,
        help="IVF training sample (default min(n, 64k): k-means is single-threaded here)",
    )
    ap.add_argument(
        "--hnsw-n", type=int, default=0, help="build HNSW32 on the first N vectors (default all)"
    )
    ap.add_argument(
        "--indexes", default="flat,ivfpqr,hnsw,ivfpq", help="comma list of flat,ivfpq,ivfpqr,hnsw"
    )
    ap.add_argument(
        "--pages", type=int, default=0, help="also write N synthetic pages to LMDB (0 = skip)"
    )
    ap.add_argument(
        "--name",
        default="",
        help="result file stem (default bench_scale_1m, or bench_scale_1m_quick)",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep scratch data under benchmarks/.cache/scale"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.n = 100_000
    import faiss

    faiss.omp_set_num_threads(1)
    deadline = Deadline(args.budget)
    n = args.n
    nlist = args.nlist or (4096 if n >= 1_000_000 else 1 << int(round(math.log2(4 * math.sqrt(n)))))
    train_size = args.train_size or min(n, 65_536)
    work = CACHE_DIR / "scale"
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    x = clustered_vectors(n, seed=0)
    queries = clustered_vectors(args.queries, seed=99)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    truth = exact_topk(queries, x)
    gt_s = time.perf_counter() - t
    print(
        f"n={n:,} vectors in {gen_s:.1f} s, ground truth for {len(queries)} queries in {gt_s:.1f} s; nlist={nlist} train={train_size}",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    samples: dict[str, list[float]] = {}
    wanted = [s.strip() for s in args.indexes.split(",") if s.strip()]
    plan = {
        "flat": ("Flat", "Flat", None, 40),
        "ivfpq": (f"IVF{nlist},PQ48", f"IVF{nlist},PQ48", {"nprobe": [16, 32, 64]}, 200),
        "ivfpqr": (
            f"IVF{nlist},PQ48,Refine(SQ8)",
            f"IVF{nlist},PQ48,Refine(SQ8)",
            {"nprobe": [16, 32, 64], "k_factor_rf": [1, 4, 8]},
            200,
        ),
        "hnsw": ("HNSW32", "HNSW32", {"efSearch": [64, 256]}, 200),
    }
    for key in wanted:
        name, factory, sweep, lat_q = plan[key]
        if not deadline:
            rows.append({"index": name, "skipped": "budget"})
            print(f"{name}: skipped (budget)", flush=True)
            continue
        xs, tr = x, truth
        if key == "hnsw" and args.hnsw_n and args.hnsw_n < n:
            xs = x[: args.hnsw_n]
            tr = exact_topk(queries, xs)
        row, samp = bench_index(
            name,
            factory,
            xs,
            queries,
            tr,
            work,
            train_size=train_size,
            lat_queries=lat_q,
            deadline=deadline,
            sweep=sweep,
        )
        rows.append(row)
        samples.update(samp)
        print(
            table(
                [row],
                [
                    "index",
                    "n",
                    "build_s",
                    "file_mb",
                    "build_rss_delta_mb",
                    "load_mmap_s",
                    "p50_ms",
                    "p99_ms",
                    "cpu_p50_ms",
                    "batch64_qps",
                    "recall@10",
                ],
            ),
            flush=True,
        )
        for s in row.get("sweep", []):
            print("   ", s, flush=True)
        shutil.rmtree(work / name, ignore_errors=True)

    pages = None
    if args.pages and deadline:
        pages = bench_pages(args.pages, work, deadline)
        print("pages:", pages, flush=True)
        shutil.rmtree(work / "pages", ignore_errors=True)

    del x
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    stem = args.name or ("bench_scale_1m_quick" if args.quick else "bench_scale_1m")
    data = {
        "config": {
            "n": n,
            "dim": DIM,
            "queries": len(queries),
            "k": K,
            "nlist": nlist,
            "train_size": train_size,
            "hnsw_n": args.hnsw_n or n,
            "faiss_threads": 1,
            "budget_s": args.budget,
            "data": "4096 Zipf-sized clusters, anisotropic spectrum (scale ~ 1/sqrt(rank)), noise 0.09 x U(0.6,1.4); queries held out (seed 99)",
            "nice": os.nice(0),
        },
        "vectors_gen_s": round(gen_s, 1),
        "ground_truth_s": round(gt_s, 1),
        "indexes": rows,
        "pages": pages,
        "elapsed_s": round(args.budget - deadline.left(), 1),
    }
    path = write_result(stem, data)
    ok = [r for r in rows if "skipped" not in r]
    if ok:
        try:
            plot_bar_panels(
                stem,
                {
                    "build s": {r["index"]: {f"n={r['n']:,}": r["build_s"]} for r in ok},
                    "index file MiB": {r["index"]: {f"n={r['n']:,}": r["file_mb"]} for r in ok},
                    "p50 ms (1 query, 1 thread)": {
                        r["index"]: {f"n={r['n']:,}": r["p50_ms"]} for r in ok
                    },
                    "recall@10 vs Flat": {
                        r["index"]: {f"n={r['n']:,}": r["recall@10"]} for r in ok
                    },
                },
                title=f"{n:,} clustered 384-d vectors, 1 FAISS thread",
                log={"p50 ms (1 query, 1 thread)": True},
            )
        except Exception as exc:  # plotting is optional
            print("plot failed:", exc)
    print(f"wrote {path} in {data['elapsed_s']} s")


if __name__ == "__main__":
    main()
