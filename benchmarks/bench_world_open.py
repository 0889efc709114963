"""What the world's self-checks cost: open time, first-search time, ``info`` time, cache bytes.

Issue 11 made a world verify itself: opening one checks every index file's size and header, the
embedding dimension and the LMDB data file against LMDB's own last page; ``lite-world info``
hashes every file. This benchmark measures, for the code *before* (a commit exported with
``git archive``, default the last commit before the checks) and *after* (this checkout), in
fresh processes (the OS page cache warm, as for a rollout worker):

- ``open_ms``: ``World(path)`` (manifest + the open checks; before: manifest, page count, index
  parameters);
- ``first_search_ms``: the first ``World.search([q], k=10)`` (loads FAISS, BM25 and the MiniLM
  encoder, encodes the query);
- ``miss_search_ms``: the median of ``--misses`` further searches with new queries (cache
  misses, everything loaded): the per-step cost of the typed-error guards on the search path.

Processes of the two versions alternate, so load drift on a shared machine hits both alike.

This checkout only: :func:`lite_world.verify.check_world` at each level (``open``, ``quick``,
``full``), and the approximate bytes the caches hold per unique query (``World.cache_info()``).

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world_open --world demo --repeat 3
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world_open --world PATH --after HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import summarize, table, write_result

NAME = "bench_world_open"
_KEYS = ("open_ms", "first_search_ms", "miss_search_ms")
ROOT = Path(__file__).resolve().parents[1]
BEFORE = "35e7dfa"  # the last commit before the world checked itself (issue 11)

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import lite_world.world as lw
from lite_world.index.searcher import SearchConfig
t_import = time.perf_counter() - t0
path, queries = sys.argv[1], json.loads(sys.argv[2])
t = time.perf_counter()
w = lw.World(path)
t_open = time.perf_counter() - t
t = time.perf_counter()
hits = w.search([queries[0]], k=10)[0]
t_first = time.perf_counter() - t
misses = []
for q in queries[1:]:  # cache misses with everything loaded
    t = time.perf_counter()
    w.search([q], k=10)
    misses.append(time.perf_counter() - t)
misses.sort()
t_miss = misses[len(misses) // 2]
print(json.dumps({"module": lw.__file__, "import_ms": t_import * 1e3, "open_ms": t_open * 1e3,
                  "first_search_ms": t_first * 1e3, "miss_search_ms": t_miss * 1e3,
                  "top": [h.url for h in hits[:3]]}))
"""


def _export(commit: str, into: Path) -> Path:
    """``git archive`` of ``lite_world/`` at ``commit`` into ``into`` (checkout untouched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "lite_world"], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _child(code_root: Path, world: Path, queries: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code_root), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(world), json.dumps(queries)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out["module"].startswith(str(code_root)):
        raise RuntimeError(f"Expects lite_world from {code_root}, actual: {out['module']}")
    return out


def _checks(world: Path, repeat: int) -> dict[str, Any]:
    from lite_world.verify import check_world

    out: dict[str, Any] = {}
    for level in ("open", "quick", "full"):
        secs = []
        for _ in range(repeat):
            t = time.perf_counter()
            check_world(world, level=level)  # type: ignore[arg-type]
            secs.append(time.perf_counter() - t)
        out[level] = summarize(secs)
    out["world_bytes"] = sum(p.stat().st_size for p in world.rglob("*") if p.is_file())
    return out


def _cache_bytes(world: Path, queries: list[str]) -> dict[str, Any]:
    from lite_world.world import World

    w = World(world)
    w.search(queries[:1], k=10)
    w.clear_caches()
    for q in queries:
        w.search([q], k=10)
    info = w.cache_info()
    w.close()
    n = len(queries)
    total = sum(c["bytes"] for c in info.values())
    return {
        "unique_queries": n,
        "bytes_per_query": {name: round(c["bytes"] / n) for name, c in info.items()},
        "total_bytes_per_query": round(total / n),
        "bound_bytes_total": sum(c["max_bytes"] or 0 for c in info.values()),
        "queries_within_bound": int(
            sum(c["max_bytes"] or 0 for c in info.values()) / max(1, total / n)
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--world", default="demo", help="world directory, or 'demo' (built on first use)"
    )
    p.add_argument(
        "--before", default=BEFORE, help="commit of the code before the checks ('' to skip)"
    )
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per code version")
    p.add_argument(
        "--queries", type=int, default=200, help="unique queries for the cache-bytes figure"
    )
    p.add_argument("--after", default="", help="commit of the code after ('': this checkout)")
    p.add_argument("--misses", type=int, default=15, help="cache-miss searches per process")
    p.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/")
    a = p.parse_args(argv)

    from lite_world.demo import DEMO_DATA, ensure_demo_world

    world = ensure_demo_world(show_progress=False) if a.world == "demo" else Path(a.world)
    questions = [q["question"] for q in json.loads((DEMO_DATA / "musique_train.json").read_text())]
    result: dict[str, Any] = {"world": str(world), "repeat": a.repeat, "versions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        after = _export(a.after, Path(tmp) / "after") if a.after else ROOT
        versions = {"after": after}
        if a.before:
            versions = {"before": _export(a.before, Path(tmp) / "before"), **versions}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
        for i in range(a.repeat):  # interleaved, so load drift on a shared machine hits both alike
            qs = questions[i * (a.misses + 1) : (i + 1) * (a.misses + 1)]
            for name, code_root in versions.items():
                runs[name].append(_child(code_root, world, qs))
        for name, rs in runs.items():
            result["versions"][name] = {
                key: summarize([r[key] / 1e3 for r in rs]) for key in (*_KEYS, "import_ms")
            }
            result["versions"][name]["top_urls_run0"] = rs[0]["top"]
    result["checks"] = _checks(world, a.repeat)
    result["cache"] = _cache_bytes(world, questions[: a.queries])
    rows = [
        {
            "version": v,
            **{k: d[k]["p50_ms"] for k in _KEYS},
        }
        for v, d in result["versions"].items()
    ]
    print(table(rows, ["version", *_KEYS]))
    print(
        table(
            [
                {"level": lv, "p50_ms": result["checks"][lv]["p50_ms"]}
                for lv in ("open", "quick", "full")
            ],
            ["level", "p50_ms"],
        )
    )
    print(json.dumps(result["cache"], indent=2))
    if not a.no_write:
        print(write_result(NAME, result))
    return result


if __name__ == "__main__":
    main()
