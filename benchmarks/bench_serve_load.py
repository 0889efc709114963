"""World-service load, side-by-side and fault benchmark (all on loopback, bounded in time).

Phases (each against ``lite-world serve`` run as a separate process, the way a training job runs it):

* ``load``: 64 and 256 concurrent closed-loop clients (no think time: a stress test), a realistic
  mix of 60% search / 40% browse for a fixed duration. Queries come from the demo tasks (the
  questions, and their decomposition steps with earlier answers filled in), drawn with a
  Zipf-like repetition as GRPO groups produce it, plus a share of novel queries (an RL policy
  keeps inventing some); 1-3 queries per call; browse fetches pages drawn the same way (5%
  unknown URLs). Reports throughput, p50/p99 per operation, errors, client retries, server RSS,
  batch sizes and cache hit rate (scraped from ``/metrics``).
* ``compare``: the same search stream against our server and against the same server with
  batching and caches off (per-request encoding: the Search-R1 retriever design), plus the two
  ablations (batching only, caches only). Reports throughput ratios (target: >= 5x).
* ``fault``: load while the server is killed (SIGKILL) and restarted on the same port: clients
  retry through :class:`RemoteWorld`; reports rollout errors, server downtime and the longest
  gap without a completed call. ``--ray`` adds the same with a 2-replica Ray Serve deployment
  where one replica process is killed.

Every load and compare run is made in two regimes, reported in this order:

1. ``novel_unprimed`` (the headline): every query is new (``novel_share`` 1.0) and the server
   starts with cold caches, so every search pays for query encoding. This is what a trainer
   sees while its policy keeps rephrasing, and the only regime to compare with another server.
2. ``primed_zipf`` (labelled PRIMED): the caches are primed with the task queries and queries
   repeat with a Zipf law (``--novel-share``, default 20% new). Cache hits make these figures
   higher; they describe a long run's steady state over a fixed task set, not raw speed.

The printed report and the JSON (``rows`` with a ``regime`` field, ``regimes``, and
``side_by_side``) put the novel runs first and the primed ones beside them. The fault phases
measure recovery, not speed, and run once, in the first regime asked for.

Clients are threads in 4 worker processes, sharing the machine's 2 cores with the server:
every figure is noisy (the machine is shared with other work) and client-bound at high rates.

Usage:
    HF_HUB_OFFLINE=1 LITE_WORLD_CACHE=/tmp/lwcache python -m benchmarks.bench_serve_load            # all phases, 20 s each
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_serve_load --quick                 # compare, 5 s runs, ~2 min
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_serve_load --phases compare --duration 10 --regimes novel
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_serve_load --phases ray            # Ray Serve replica kill only
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import summarize, table, write_result

NAME = "bench_serve_load"
CLIENT_PROCS = 4


# -- workload -----------------------------------------------------------------------------
def task_queries() -> list[str]:
    """Distinct queries from the demo tasks: each question and its decomposition steps (``#n`` filled in)."""
    from lite_world.demo import DEMO_DATA

    out: dict[str, None] = {}
    for t in json.loads((DEMO_DATA / "musique_train.json").read_text()):
        out[t["question"]] = None
        answers: list[str] = []
        for step in t.get("question_decomposition", []):
            q = step["question"]
            for i, a in enumerate(answers, 1):
                q = q.replace(f"#{i}", a)
            out[q] = None
            answers.append(step.get("answer", ""))
    return list(out)


def world_urls(world: str, n: int = 3000, seed: int = 0) -> list[str]:
    from lite_world.store.lmdb_store import PageStore

    with PageStore(world) as store:
        total = len(store)
        ids = np.random.default_rng(seed).choice(total, size=min(n, total), replace=False)
        return [u for u in store.urls_of(ids.tolist()) if u]


def zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


class Workload:
    """Draws calls: ``("search", [queries])`` or ``("browse", url)``."""

    def __init__(
        self,
        queries: list[str],
        urls: list[str],
        *,
        search_share: float,
        novel_share: float,
        seed: int,
    ):
        self.rng = np.random.default_rng(seed)
        order = np.random.default_rng(1234).permutation(
            len(queries)
        )  # same popularity order in every process
        self.queries = [queries[i] for i in order]
        self.qw = zipf_weights(len(self.queries))
        self.urls, self.uw = urls, zipf_weights(len(urls))
        self.search_share, self.novel_share = search_share, novel_share
        self.words = sorted({w for q in queries for w in q.split() if len(w) > 3})

    def query(self) -> str:
        q = self.queries[self.rng.choice(len(self.queries), p=self.qw)]
        if self.rng.random() < self.novel_share:  # a reformulation nobody asked before
            q = f"{q} {self.words[self.rng.integers(len(self.words))]} {int(self.rng.integers(1 << 30))}"
        return q

    def next(self) -> tuple[str, Any]:
        if self.rng.random() < self.search_share:
            n = 1 + int(self.rng.choice(3, p=[0.6, 0.3, 0.1]))
            return "search", [self.query() for _ in range(n)]
        if self.rng.random() < 0.05:
            return (
                "browse",
                f"https://en.wikipedia.org/wiki/No_such_page_{int(self.rng.integers(1 << 30))}",
            )
        return "browse", self.urls[self.rng.choice(len(self.urls), p=self.uw)]


# -- clients (separate processes, threads inside) -------------------------------------------
def _client_proc(args: dict[str, Any], out: Any) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lite_world.serve.client import RemoteWorld

    remote = RemoteWorld(
        args["url"],
        token=args.get("token"),
        pool_size=args["threads"] + 4,
        retry_deadline_s=args["retry_deadline_s"],
        timeout_s=120.0,
    )
    t0 = args["t0"]
    while time.time() < t0:
        time.sleep(0.005)
    end, warm_end = t0 + args["duration"], t0 + args["warmup"]
    lock = threading.Lock()
    samples: list[tuple[float, str, float]] = []
    errors: list[str] = []

    def run(i: int) -> None:
        wl = Workload(
            args["queries"],
            args["urls"],
            search_share=args["search_share"],
            novel_share=args["novel_share"],
            seed=args["seed"] * 1000 + i,
        )
        mine: list[tuple[float, str, float]] = []
        while True:
            now = time.time()
            if now >= end:
                break
            op, arg = wl.next()
            try:
                if op == "search":
                    remote.search(arg, 10)
                else:
                    remote.get_page(arg)
            except Exception as exc:  # noqa: BLE001 - a rollout would crash here: count it
                with lock:
                    errors.append(f"{op}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            done = time.time()
            if now >= warm_end:
                mine.append((done - t0, op, done - now))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"samples": samples, "errors": errors, "retries": remote.retries})


def run_clients(
    url: str,
    concurrency: int,
    duration: float,
    wl_args: dict[str, Any],
    *,
    warmup: float = 2.0,
    token: str | None = None,
    retry_deadline_s: float = 120.0,
    during: Any = None,
) -> dict[str, Any]:
    """Closed-loop load from ``concurrency`` threads in :data:`CLIENT_PROCS` processes; ``during(t0)`` runs alongside."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = min(CLIENT_PROCS, concurrency)
    t0 = time.time() + 3.0  # spawned processes import first
    per = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    ps = [
        ctx.Process(
            target=_client_proc,
            args=(
                {
                    **wl_args,
                    "url": url,
                    "threads": n,
                    "duration": duration + warmup,
                    "warmup": warmup,
                    "t0": t0,
                    "seed": i + 1,
                    "token": token,
                    "retry_deadline_s": retry_deadline_s,
                },
                q,
            ),
        )
        for i, n in enumerate(per)
    ]
    for p in ps:
        p.start()
    side = None
    if during is not None:
        side = threading.Thread(target=during, args=(t0,), daemon=True)
        side.start()
    results = [q.get(timeout=duration + warmup + 300) for _ in ps]
    for p in ps:
        p.join(30)
    if side is not None:
        side.join(120)
    samples = [s for r in results for s in r["samples"]]
    errors = [e for r in results for e in r["errors"]]
    return {
        "samples": samples,
        "errors": errors,
        "retries": sum(r["retries"] for r in results),
        "t0": t0,
        "measured_s": duration,
        "warmup_s": warmup,
    }


def summarize_run(run: dict[str, Any]) -> dict[str, Any]:
    s = run["samples"]
    dur = run["measured_s"]
    row: dict[str, Any] = {
        "calls_per_s": round(len(s) / dur, 1),
        "errors": len(run["errors"]),
        "client_retries": run["retries"],
    }
    for op in ("search", "browse"):
        lat = [x[2] for x in s if x[1] == op]
        st = summarize(lat)
        row[f"{op}_per_s"] = round(len(lat) / dur, 1)
        row[f"{op}_p50_ms"], row[f"{op}_p99_ms"] = st.get("p50_ms"), st.get("p99_ms")
    if run["errors"]:
        row["first_errors"] = run["errors"][:5]
    return row


# -- the server process ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout_s: float = 180.0, proc: subprocess.Popen | None = None) -> float:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return time.time() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {url} not healthy after {timeout_s} s")


class ServerProc:
    """``lite-world serve`` in a subprocess (``extra``: more CLI flags)."""

    def __init__(
        self, world: str, port: int, extra: list[str] = (), env: dict[str, str] | None = None
    ):
        self.world, self.port, self.extra = world, port, list(extra)
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="lw-serve-", suffix=".log", delete=False)

    def start(self) -> float:
        cmd = [
            sys.executable,
            "-m",
            "lite_world.cli",
            "serve",
            self.world,
            "--port",
            str(self.port),
            *self.extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return wait_healthy(self.url, proc=self.proc)

    def rss(self) -> dict[str, float]:
        out = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        k, v = line.split(":", 1)
                        out["server_rss_mb" if k == "VmRSS" else "server_peak_rss_mb"] = round(
                            int(v.split()[0]) / 1024, 1
                        )
        except (OSError, AttributeError):
            pass
        return out

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def scrape(url: str, token: str | None = None) -> dict[str, float]:
    """Counters from ``/metrics`` (batches, batched queries, cache outcomes, 503s)."""
    req = urllib.request.Request(
        url + "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()

    def get(name: str) -> float:
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    return {
        "batches": get("lite_world_search_batch_queries_count"),
        "batched_queries": get("lite_world_search_batch_queries_sum"),
        "max_batch_queries": get("lite_world_search_batch_queries_max"),
        "hits": get('lite_world_search_pool_lookups_total{result="hit"}'),
        "misses": get('lite_world_search_pool_lookups_total{result="miss"}'),
        "cached_requests": get("lite_world_search_cached_requests_total"),
        "rejected_503": get("lite_world_rejected_total"),
    }


def server_stats(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """What the server did during the measured run (differences of its counters)."""
    d = {k: after[k] - before[k] for k in before}
    looked = d["hits"] + d["misses"]
    return {
        "batches": int(d["batches"]),
        "mean_batch_queries": round(d["batched_queries"] / d["batches"], 2)
        if d["batches"]
        else None,
        "max_batch_queries": int(after["max_batch_queries"]),
        "requests_from_cache": int(d["cached_requests"]),
        "query_cache_hit_rate": round(d["hits"] / looked, 3) if looked else None,
        "rejected_503": int(d["rejected_503"]),
    }


def prime(url: str, queries: list[str]) -> float:
    """Send every distinct task query once (a long RL run's steady state: the task set's queries were seen)."""
    from concurrent.futures import ThreadPoolExecutor

    from lite_world.serve.client import RemoteWorld

    remote, t0 = RemoteWorld(url), time.time()
    chunks = [queries[i : i + 16] for i in range(0, len(queries), 16)]
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda c: remote.search(c, 10), chunks))
    return time.time() - t0


# -- phases ----------------------------------------------------------------------------
def phase_load(
    world: str, wl: dict[str, Any], concurrencies: list[int], duration: float, primed: bool
) -> list[dict[str, Any]]:
    rows = []
    for c in concurrencies:
        srv = ServerProc(world, free_port())
        start_s = srv.start()
        try:
            if primed:
                prime(srv.url, wl["queries"])
            before = scrape(srv.url)
            run = run_clients(srv.url, c, duration, wl)
            row = {
                "phase": "load",
                "server": "ours",
                "concurrency": c,
                **summarize_run(run),
                **srv.rss(),
                **server_stats(before, scrape(srv.url)),
                "server_start_s": round(start_s, 1),
            }
        finally:
            srv.stop()
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


COMPARE = {
    "ours (batching + caches)": [],
    "batching only": ["--no-caches"],
    "caches only": ["--no-batching"],
    "unbatched, no caches (Search-R1 design)": ["--no-batching", "--no-caches"],
}


def phase_compare(
    world: str, wl: dict[str, Any], concurrency: int, duration: float, ablations: bool, primed: bool
) -> list[dict[str, Any]]:
    rows = []
    search_only = {**wl, "search_share": 1.0}
    for label, flags in COMPARE.items():
        if not ablations and label in ("batching only", "caches only"):
            continue
        srv = ServerProc(world, free_port(), flags)
        srv.start()
        try:
            if primed and "--no-caches" not in flags:
                prime(srv.url, wl["queries"])
            before = scrape(srv.url)
            run = run_clients(srv.url, concurrency, duration, search_only)
            row = {
                "phase": "compare",
                "server": label,
                "concurrency": concurrency,
                **summarize_run(run),
                **srv.rss(),
                **server_stats(before, scrape(srv.url)),
            }
        finally:
            srv.stop()
        print(json.dumps(row), flush=True)
        rows.append(row)
    base = next(r for r in rows if r["server"].startswith("unbatched"))["search_per_s"]
    for r in rows:
        r["x_vs_unbatched"] = round(r["search_per_s"] / base, 2) if base else float("nan")
    return rows


def _gap_after(samples: list[tuple[float, str, float]], t_from: float) -> float:
    ends = sorted(s[0] for s in samples)
    prev, gap = t_from, 0.0
    for e in ends:
        if e >= t_from:
            gap = max(gap, e - prev)
            prev = e
    return gap


def phase_fault(
    world: str,
    wl: dict[str, Any],
    concurrency: int,
    duration: float,
    kill_at: float,
    primed: bool = True,
) -> dict[str, Any]:
    port = free_port()
    srv = ServerProc(world, port)
    srv.start()
    if primed:  # the restarted server starts cold, as a real restart does
        prime(srv.url, wl["queries"])
    info: dict[str, Any] = {}

    def restart(t0: float) -> None:
        while time.time() < t0 + kill_at:
            time.sleep(0.01)
        info["kill_t"] = time.time() - t0
        srv.stop(signal.SIGKILL)  # a crash, not a graceful stop
        info["restart_s"] = round(srv.start(), 2)  # same port; cold start of a new process
        info["up_t"] = time.time() - t0

    try:
        run = run_clients(srv.url, concurrency, duration, wl, warmup=0.0, during=restart)
    finally:
        srv.stop()
    row = {
        "phase": "fault",
        "server": "ours, SIGKILL + restart",
        "concurrency": concurrency,
        **summarize_run(run),
        "downtime_s": round(info["up_t"] - info["kill_t"], 2),
        "longest_gap_without_answers_s": round(_gap_after(run["samples"], info["kill_t"] - 1.0), 2),
        "calls_after_restart": sum(1 for s in run["samples"] if s[0] > info["up_t"]),
    }
    print(json.dumps(row), flush=True)
    return row


def phase_ray_fault(
    world: str, wl: dict[str, Any], concurrency: int, duration: float, kill_at: float
) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="lwray", dir="/tmp")
    token = os.path.join(tmp, "auth_token")
    Path(token).write_text(secrets.token_hex(16))
    env = {
        "RAY_AUTH_TOKEN_PATH": token,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_TMPDIR": tmp,
    }
    port = free_port()
    srv = ServerProc(world, port, ["--ray", "--replicas", "2", "--replica-cpus", "0.5"], env)
    t_start = time.time()
    srv.start()
    deploy_s = time.time() - t_start
    from lite_world.serve.client import RemoteWorld

    probe = RemoteWorld(srv.url)
    pids = {probe.health()["pid"] for _ in range(40)}
    info: dict[str, Any] = {}

    def kill(t0: float) -> None:
        while time.time() < t0 + kill_at:
            time.sleep(0.01)
        victim = sorted(pids)[0]
        info["kill_t"] = time.time() - t0
        os.kill(
            victim, signal.SIGKILL
        )  # one replica process of the deployment this benchmark started
        while time.time() - t0 < kill_at + 120:
            if {probe.health()["pid"] for _ in range(8)} - pids:
                info["replaced_after_s"] = round(time.time() - t0 - info["kill_t"], 2)
                return
            time.sleep(0.25)

    try:
        run = run_clients(srv.url, concurrency, duration, wl, warmup=0.0, during=kill)
    finally:
        srv.stop(signal.SIGTERM)  # the CLI takes Serve and its Ray instance down
        shutil.rmtree(tmp, ignore_errors=True)
    row = {
        "phase": "fault",
        "server": "Ray Serve 2 replicas (cold caches), SIGKILL one",
        "concurrency": concurrency,
        **summarize_run(run),
        "deploy_s": round(deploy_s, 1),
        "replica_replaced_after_s": info.get("replaced_after_s"),
        "longest_gap_without_answers_s": round(_gap_after(run["samples"], info["kill_t"] - 1.0), 2),
    }
    print(json.dumps(row), flush=True)
    return row


# -- regimes and the report ------------------------------------------------------------------
REGIMES: dict[str, dict[str, Any]] = {
    "novel_unprimed": {
        "short": "novel",
        "label": "novel queries, unprimed: every query new, caches cold (headline)",
        "novel_share": 1.0,
        "prime": False,
    },
    "primed_zipf": {
        "short": "primed",
        "label": "PRIMED + Zipf repeats: caches primed with the task queries, {share:.0%} novel "
        "(cache hits inflate these figures)",
        "novel_share": None,  # --novel-share
        "prime": True,
    },
}
ALIASES = {"novel": "novel_unprimed", "primed": "primed_zipf"}

COLUMNS = [
    "regime",
    "phase",
    "server",
    "concurrency",
    "calls_per_s",
    "search_per_s",
    "search_p50_ms",
    "search_p99_ms",
    "browse_per_s",
    "browse_p50_ms",
    "browse_p99_ms",
    "errors",
    "client_retries",
    "mean_batch_queries",
    "query_cache_hit_rate",
    "server_rss_mb",
    "x_vs_unbatched",
    "downtime_s",
    "longest_gap_without_answers_s",
    "replica_replaced_after_s",
]
BESIDE = ["calls_per_s", "search_p50_ms", "search_p99_ms", "query_cache_hit_rate", "x_vs_unbatched"]


def parse_regimes(text: str) -> list[str]:
    """Regime names from ``--regimes``, always in report order: novel-query runs first."""
    asked = {ALIASES.get(t.strip(), t.strip()) for t in text.split(",") if t.strip()}
    unknown = asked - set(REGIMES)
    if unknown or not asked:
        raise SystemExit(
            f"Expects --regimes from {sorted(ALIASES)}, actual: {text!r}; e.g. --regimes novel"
        )
    return [r for r in REGIMES if r in asked]


def side_by_side(rows: list[dict[str, Any]], regimes: list[str]) -> list[dict[str, Any]]:
    """One row per (phase, server, concurrency): each regime's figures beside the novel ones."""
    keyed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["phase"], r["server"], r["concurrency"])
        out = keyed.setdefault(key, dict(zip(("phase", "server", "concurrency"), key, strict=True)))
        short = REGIMES[r["regime"]]["short"]
        for c in BESIDE:
            if c in r:
                out[f"{short} {c}"] = r[c]
    return list(keyed.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world", default="demo", help="world directory or 'demo'")
    p.add_argument(
        "--phases",
        default=None,
        help="comma-separated: load, compare, fault, ray (default load,compare,fault; "
        "compare with --quick)",
    )
    p.add_argument(
        "--regimes",
        default="novel,primed",
        help="comma-separated: novel (every query new, caches cold; reported first), "
        "primed (caches primed with the task queries, Zipf repeats, --novel-share new)",
    )
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    p.add_argument(
        "--concurrency", type=int, nargs="+", default=[64, 256], help="load phase client counts"
    )
    p.add_argument("--compare-concurrency", type=int, default=64)
    p.add_argument(
        "--no-ablations", action="store_true", help="compare only ours vs unbatched/no caches"
    )
    p.add_argument("--fault-concurrency", type=int, default=64)
    p.add_argument("--fault-duration", type=float, default=40.0)
    p.add_argument(
        "--ray", action="store_true", help="also kill a replica of a 2-replica Ray Serve deployment"
    )
    p.add_argument(
        "--novel-share",
        type=float,
        default=0.2,
        help="share of never-seen queries in the primed regime (the novel regime uses 1.0)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="5 s runs, 64 clients, no ablations, compare phase only (about 2 min)",
    )
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.quick:
        a.duration, a.concurrency, a.no_ablations, a.fault_duration = 5.0, [64], True, 25.0
    phases_text = a.phases or ("compare" if a.quick else "load,compare,fault")
    phases = set(phases_text.split(","))
    regimes = parse_regimes(a.regimes)
    from lite_world.worlds import resolve_world_spec

    world = resolve_world_spec(a.world)
    queries, urls = task_queries(), world_urls(world)
    out: dict[str, Any] = {
        "world": world,
        "command": "python -m benchmarks.bench_serve_load " + " ".join(argv or sys.argv[1:]),
        "duration_s": a.duration,
        "report_order": "novel-query, unprimed runs first; primed / Zipf-repeat runs beside them",
        "workload": {
            "distinct_task_queries": len(queries),
            "browse_urls": len(urls),
            "search_share": 0.6,
            "queries_per_call": "1/2/3 with p=0.6/0.3/0.1",
            "k": 10,
            "client_processes": CLIENT_PROCS,
            "think_time_s": 0,
        },
        "regimes": {},
    }
    rows: list[dict[str, Any]] = []
    for name in regimes:
        spec = REGIMES[name]
        share = a.novel_share if spec["novel_share"] is None else spec["novel_share"]
        primed = spec["prime"]
        wl = {"queries": queries, "urls": urls, "search_share": 0.6, "novel_share": share}
        out["regimes"][name] = {
            "label": spec["label"].format(share=share),
            "novel_share": share,
            "caches_primed_with_task_queries": primed,
        }
        print(f"== {name}: {out['regimes'][name]['label']}", flush=True)
        mine: list[dict[str, Any]] = []
        if "load" in phases:
            mine += phase_load(world, wl, a.concurrency, a.duration, primed)
        if "compare" in phases:
            mine += phase_compare(
                world, wl, a.compare_concurrency, a.duration, not a.no_ablations, primed
            )
        if name == regimes[0]:  # fault runs measure recovery, not speed: once, first regime
            if "fault" in phases:
                mine.append(
                    phase_fault(world, wl, a.fault_concurrency, a.fault_duration, 8.0, primed)
                )
            if "ray" in phases or a.ray:
                mine.append(
                    phase_ray_fault(world, wl, a.fault_concurrency, a.fault_duration, kill_at=8.0)
                )
        rows += [{"regime": name, **r} for r in mine]
    out["rows"] = rows
    out["side_by_side"] = side_by_side(rows, regimes)
    for name in regimes:
        mine = [r for r in rows if r["regime"] == name]
        print(f"\n{out['regimes'][name]['label']}")
        print(table(mine, [c for c in COLUMNS[1:] if any(c in r for r in mine)]))
    if len(regimes) > 1:
        beside = out["side_by_side"]
        print("\nside by side (novel first; 'primed' = primed caches + Zipf repeats)")
        print(table(beside, [c for c in beside[0] if any(c in r for r in beside)]))
    default = phases == {"load", "compare", "fault"} and not a.quick and len(regimes) == 2
    tag = "_".join(sorted(phases)) + ("" if len(regimes) == 2 else "_" + regimes[0])
    name = NAME if default else f"{NAME}_{tag}{'_quick' if a.quick else ''}"
    print(f"wrote {write_result(name, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
