"""``lite-world serve`` against a Search-R1-design retriever, both answering ``POST /retrieve``.

The peer is **our own re-implementation** of the design of Search-R1's ``retrieval_server.py``,
written from its documented behaviour (``shared/notes/search-r1-protocol.md``), not its code:
FastAPI + uvicorn with one synchronous handler; every request's queries are encoded together
by the same encoder (all-MiniLM-L6-v2 through ``transformers``, mean pooling over the attention
mask, L2 normalisation, 256 tokens, ``model.half()`` as its main turns on, or fp32), then one
search of a FAISS ``IndexFlatIP``; no batching across requests, no cache. It serves the demo
world's pages (``id`` = URL, ``contents`` = ``"Title"\\n`` + summary) with the demo world's own
page vectors, so both sides search the same corpus with the same encoder.

Each server runs in its own process, one after the other, alternating (A/B/A/B...), and each
run measures, on novel queries only (every query string is new to the server process):

- startup: spawn to the first answered ``/retrieve``;
- recall@10 of all gold pages for the 100 demo MuSiQue questions (one request per question);
- requests/s and p50/p99 latency with 64 concurrent clients, one query per request;
- queries/s with one client sending 64-query batches;
- p50 latency of single-query requests sent one at a time by one client (``--serial``);
- server CPU ms per request (``/proc``) and resident memory after the load.

``--variants 'bt1 tt1,bt2 tt1,bt2 tt2'`` runs our server with each set of thread flags
(``--batch-threads``: the batch path, ``--torch-threads``: the encoder's own threads, which a
single query uses) as sides of their own. ``--memory-steps ENCODER`` prints the resident
memory after each import / open step of a served world in a fresh process.

The clients run on the same machine as the servers. Medians and spreads over the rounds.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_vs_searchr1 [--rounds 2] [--seconds 15]
        [--peer-dtype float16|float32] [--ours-encoder default,torch] [--variants 'bt1,bt2']
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._common import table, write_result

NAME = "bench_vs_searchr1"
CLIENTS = 64
BATCH = 64


# -- the peer: a Search-R1-design server --------------------------------------------------------
def serve_peer(world_dir: str, port: int, dtype: str) -> None:  # pragma: no cover - subprocess
    """Search-R1's retriever design over the demo world (runs in its own process)."""
    import faiss
    import numpy as np
    import torch
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel
    from transformers import AutoModel, AutoTokenizer

    from lite_world.index.embedder import _resolve
    from lite_world.store.lmdb_store import PageStore

    world = Path(world_dir)
    with PageStore(world) as store:
        corpus = [{"id": r["url"], "contents": f'"{r["title"]}"\n{r["summary"]}'}
                  for r in store.iter_records()]  # fmt: skip
    vectors = np.fromfile(world / "index" / "embeddings.f32", dtype=np.float32)
    vectors = vectors.reshape(len(corpus), -1)[: len(corpus)]
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    del vectors
    path = _resolve("sentence-transformers/all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    if dtype == "float16":
        model = model.half()

    def encode(queries: list[str]) -> np.ndarray:
        enc = tokenizer(queries, max_length=256, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state.float()
        mask = enc["attention_mask"].unsqueeze(-1).float()
        emb = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(emb, dim=-1).numpy()

    class QueryRequest(BaseModel):
        queries: list[str]
        topk: int | None = None
        return_scores: bool = False

    app = FastAPI()

    def retrieve(request: QueryRequest) -> dict[str, Any]:  # sync: FastAPI's thread pool
        k = request.topk or 3
        scores, ids = index.search(encode(request.queries), k)
        out = []
        for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True):
            docs = [corpus[i] for i in row_ids]
            if request.return_scores:
                pairs = zip(docs, row_scores, strict=True)
                out.append([{"document": d, "score": s} for d, s in pairs])
            else:
                out.append(docs)
        return {"result": out}

    retrieve.__annotations__["request"] = QueryRequest  # a local class: resolve it for FastAPI
    app.post("/retrieve")(retrieve)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the clients --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Novel:
    """Query strings never sent before in this server run: a question and a page title."""

    def __init__(self, questions: list[str], titles: list[str]):
        self.pairs = itertools.product(titles, questions)
        self.lock = threading.Lock()

    def take(self, n: int) -> list[str]:
        with self.lock:
            return [f"{q} {t}" for t, q in itertools.islice(self.pairs, n)]


def _post(pool: Any, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    r = pool.request("POST", url, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})  # fmt: skip
    return r.status, json.loads(r.data) if r.status == 200 else r.data


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _recall(pool: Any, url: str, tasks: list[Any]) -> float:
    from lite_world.store.urls import normalize_url

    shares = []
    for t in tasks:
        gold = {normalize_url(u) for u in t.meta.get("supporting_urls", [])}
        if not gold:
            continue
        status, body = _post(pool, url, {"queries": [t.question], "topk": 10})
        got = {normalize_url(row["id"]) for row in body["result"][0]} if status == 200 else set()
        shares.append(len(gold & got) / len(gold))
    return statistics.fmean(shares)


def _load(url: str, novel: Novel, seconds: float) -> dict[str, Any]:
    import urllib3

    lat: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=120.0)
        while time.perf_counter() < deadline:
            q = novel.take(1)
            t0 = time.perf_counter()
            try:
                status, _ = _post(pool, url, {"queries": q, "topk": 3, "return_scores": True})
            except Exception:  # noqa: BLE001 - counted
                status = 0
            if status == 200:
                lat.append(time.perf_counter() - t0)
            else:
                errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return {"requests": len(lat), "errors": errors[0], "rps": len(lat) / wall,
            "p50_ms": pick(0.5), "p99_ms": pick(0.99)}  # fmt: skip


def _batches(pool: Any, url: str, novel: Novel, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        status, _ = _post(pool, url, {"queries": novel.take(BATCH), "topk": 3})
        assert status == 200, status
    return n * BATCH / (time.perf_counter() - t0)


def _serial(pool: Any, url: str, novel: Novel, n: int) -> dict[str, float]:
    """One client, one novel query per request, one request at a time: the single-query path."""
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = _post(pool, url, {"queries": novel.take(1), "topk": 3})
        assert status == 200, status
        lat.append(time.perf_counter() - t0)
    lat.sort()
    return {"serial_p50_ms": lat[len(lat) // 2] * 1000, "serial_qps": n / sum(lat)}


def one_run(side: str, args: argparse.Namespace, tasks: list[Any], titles: list[str],
            world: str, round_no: int) -> dict[str, Any]:  # fmt: skip
    import urllib3

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("LITE_WORLD_ENCODER_BACKEND", None)
    if side.startswith("lite-world"):
        encoder, flags = _variant(side)
        if encoder != "default":
            env["LITE_WORLD_ENCODER_BACKEND"] = encoder
        cmd = [sys.executable, "-m", "lite_world", "serve", world, "--port", str(port), *flags]
    else:
        cmd = [sys.executable, "-m", "benchmarks.bench_vs_searchr1", "--serve-peer", world,
               "--port", str(port), "--peer-dtype", args.peer_dtype]  # fmt: skip
    url = f"http://127.0.0.1:{port}/retrieve"
    t0 = time.perf_counter()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"{NAME}.{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    pool = urllib3.PoolManager(maxsize=2, retries=False, timeout=120.0)
    novel = Novel([t.question for t in tasks], titles[round_no::3])
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{side} exited with {proc.returncode}; its log: {log.name}")
            try:
                status, body = _post(pool, url, {"queries": novel.take(1), "topk": 1})
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
                continue
            if status == 200:
                break
            if status not in (502, 503):
                raise RuntimeError(f"{side} answered {status}: {body!r}"[:500])
            time.sleep(0.2)
        startup = time.perf_counter() - t0
        recall = _recall(pool, url, tasks)
        cpu0 = _cpu_s(proc.pid)
        load = _load(url, novel, args.seconds)
        cpu_ms = (_cpu_s(proc.pid) - cpu0) * 1000 / max(1, load["requests"])
        qps = _batches(pool, url, novel, args.batches)
        serial = _serial(pool, url, novel, args.serial)
        rss = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    row = {"side": side, "round": round_no, "startup_s": startup, "recall@10": recall,
           **load, "cpu_ms_per_req": cpu_ms, "batch64_qps": qps, **serial, "rss_mb": rss,
           "loadavg": os.getloadavg()}  # fmt: skip
    print(table([row], list(row)), flush=True)
    return row


def _variant(side: str) -> tuple[str, list[str]]:
    """``"lite-world onnx bt2 tt1"`` -> ``("onnx", ["--batch-threads", "2", "--torch-threads",
    "1"])``: the encoder and the server flags of one of our sides (``sw``: search workers,
    ``eb``: encoder sub-batch)."""
    parts = side.split()
    flags = {"bt": "--batch-threads", "tt": "--torch-threads", "sw": "--search-workers",
             "eb": "--encode-batch-size"}  # fmt: skip
    extra = [x for p in parts[2:] for x in (flags[p[:2]], p[2:])]
    return parts[1], extra


def memory_steps(world: str, encoder: str) -> list[dict[str, Any]]:
    """Resident memory and time after each import / open step of a served world (this process).

    Run it in a fresh interpreter (``--memory-steps``): the first call of a process is the one
    that counts, later imports are free.
    """
    import importlib

    if encoder != "default":
        os.environ["LITE_WORLD_ENCODER_BACKEND"] = encoder
    t0 = time.perf_counter()
    steps: list[dict[str, Any]] = []

    def mark(step: str) -> None:
        steps.append({"step": step, "rss_mb": _rss_mb(os.getpid()),
                      "seconds": time.perf_counter() - t0})  # fmt: skip
        print(f"{step:44s} {steps[-1]['rss_mb']:8.1f} MB {steps[-1]['seconds']:7.2f} s", flush=True)

    mark("interpreter + benchmarks._common")
    for module in (
        "numpy",
        "lite_world",
        "lite_world.serve.app",
        "faiss",
        "bm25s",
        "lmdb",
        "onnxruntime",
        "tokenizers",
        "torch",
        "transformers",
        "sentence_transformers",
    ):
        torch_stack = module in ("torch", "transformers", "sentence_transformers")
        if torch_stack and (encoder == "default" or encoder.startswith("onnx")):
            continue  # the default: whatever opening the world imports (the searcher step)
        if module in ("onnxruntime", "tokenizers") and not encoder.startswith("onnx"):
            continue
        importlib.import_module(module)
        mark(f"import {module}")
    from lite_world.serve.backend import WorldBackend
    from lite_world.serve.config import ServeConfig

    backend = WorldBackend(world, ServeConfig())
    mark("open world (manifest, store)")
    searcher = backend.searcher
    mark("searcher: FAISS + BM25 loaded, encoder loaded")
    assert searcher.embedder is not None and searcher.sparse is not None
    searcher.embedder.encode(["warm up"])
    mark("first encode")
    searcher.sparse.search(["warm up"], 1)
    mark("first BM25 search")
    backend.world.search(["who wrote hamlet"], 10)
    mark("first hybrid search (snippets)")
    from lite_world.tasks import demo_tasks

    qs = [t.question for t in demo_tasks()]
    for i in range(0, len(qs), 4):
        backend.world.search(qs[i : i + 4], 3)
    mark(f"{len(qs)} novel searches")
    for i in range(0, 256, 64):
        backend.searcher.embedder.encode([f"{q} {i}" for q in qs[:64]])
    mark("4 x 64-query encodes")
    heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
    steps.append({"step": "heavy modules imported", "modules": heavy})
    print("heavy modules imported:", heavy)
    return steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2, help="A/B pairs")
    p.add_argument("--seconds", type=float, default=15.0, help="length of the 64-client phase")
    p.add_argument("--batches", type=int, default=5, help="64-query batches per run")
    p.add_argument("--peer-dtype", default="float16", choices=["float16", "float32"])
    p.add_argument(
        "--ours-encoder",
        default="default",
        help="comma-separated LITE_WORLD_ENCODER_BACKEND values for lite-world serve, each a "
        "side of its own ('default': unset, e.g. 'default,torch,openvino/bfloat16')",
    )
    p.add_argument(
        "--variants",
        default="",
        help="comma-separated server flag sets for our sides, each a side per encoder: "
        "'bt2 tt1' = --batch-threads 2 --torch-threads 1, sw: --search-workers, eb: "
        "--encode-batch-size ('': the server's defaults)",
    )
    p.add_argument("--serial", type=int, default=60, help="single-query requests, one client")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    p.add_argument(
        "--memory-steps",
        metavar="ENCODER",
        help="print resident memory after each import / open step of a served demo world "
        "in this fresh process ('default', 'torch', 'onnx'...) and exit",
    )
    p.add_argument("--serve-peer", metavar="WORLD", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.serve_peer:
        serve_peer(a.serve_peer, a.port, a.peer_dtype)
        return 0
    from lite_world.demo import ensure_demo_world

    if a.memory_steps:
        world = str(ensure_demo_world())
        steps = memory_steps(world, a.memory_steps)
        name = f"{NAME}_memory_{a.memory_steps.replace('/', '_')}"
        print(write_result(name, {"encoder": a.memory_steps, "steps": steps,
                                  "loadavg": os.getloadavg()}))  # fmt: skip
        return 0
    from lite_world.store.lmdb_store import PageStore
    from lite_world.tasks import demo_tasks

    world = str(ensure_demo_world())
    tasks = demo_tasks()
    with PageStore(world) as store:
        titles = [r["title"] for r in store.iter_records()]
    ours = [f"lite-world {e} {v}".strip()
            for e in a.ours_encoder.split(",") for v in a.variants.split(",")]  # fmt: skip
    sides = ["search-r1 design", *ours]
    rows = []
    for r in range(a.rounds):
        for side in sides:
            rows.append(one_run(side, a, tasks, titles, world, r))
    keys = ["startup_s", "recall@10", "rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "batch64_qps",
            "serial_p50_ms", "rss_mb", "errors"]  # fmt: skip
    summary = []
    for side in sides:
        mine = [x for x in rows if x["side"] == side]
        cells = {}
        for k in keys:
            vals = [x[k] for x in mine]
            cells[k] = f"{statistics.median(vals):.3g} [{min(vals):.3g}-{max(vals):.3g}]"
        summary.append({"side": side, **cells})
    print(table(summary, ["side", *keys]))
    med = {s["side"]: {k: statistics.median(x[k] for x in rows if x["side"] == s["side"])
                       for k in keys} for s in summary}  # fmt: skip
    peer = med["search-r1 design"]
    ratio = {side: {k: med[side][k] / peer[k] for k in keys if peer[k]} for side in ours}
    for side in ours:
        print(f"{side} / peer (medians):", {k: round(v, 2) for k, v in ratio[side].items()})
    name = NAME + (f"_{a.tag}" if a.tag else "")
    print(write_result(name, {"args": vars(a), "runs": rows, "medians": med, "ratios": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
