"""What ``import lite_world`` costs: wall time (best of N fresh interpreters), RSS, heavy modules.

Usage: ``python .ci/import_cost.py [MODULE] [--runs 5] [--top 10]`` (default ``lite_world``).
Prints the best and median wall time of ``import MODULE`` in fresh interpreters, the RSS
(``VmRSS``) right after it, which heavy modules it loaded, and the slowest imports by
cumulative time from ``python -X importtime``. Compare with ``--baseline`` (the same numbers
for ``import gymnasium``, which ``lite_world`` needs anyway).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = (
    "torch",
    "faiss",
    "sentence_transformers",
    "matplotlib",
    "transformers",
    "numba",
    "pyarrow",
)

_MEASURE = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
import {module}
dt, dc = time.perf_counter() - t, time.process_time() - c
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
out = {{"s": dt, "cpu_s": dc, "rss_kib": rss, "heavy": heavy, "modules": len(sys.modules)}}
print(json.dumps(out))
"""


def measure(module: str) -> dict:
    code = _MEASURE.format(module=module, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def slowest(module: str, top: int) -> list[tuple[int, str]]:
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if len(name) - len(name.lstrip()) == 3:  # what the top-level import imports directly
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", nargs="?", default="lite_world")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--baseline", default="gymnasium", help="module to compare with")
    a = ap.parse_args(argv)
    for module in (a.module, a.baseline):
        runs = [measure(module) for _ in range(a.runs)]
        times = [r["s"] * 1e3 for r in runs]
        cpu = min(r["cpu_s"] for r in runs) * 1e3
        rss = min(r["rss_kib"] for r in runs) / 1024
        print(
            f"import {module}: wall best {min(times):.1f} ms, "
            f"median {statistics.median(times):.1f} ms, CPU best {cpu:.1f} ms ({a.runs} runs), "
            f"RSS {rss:.1f} MiB, "
            f"{runs[0]['modules']} modules, "
            f"heavy: {runs[0]['heavy'] or 'none'}"
        )
    print(f"slowest direct imports of `import {a.module}` (cumulative, -X importtime):")
    for us, name in slowest(a.module, a.top):
        print(f"  {us / 1e3:8.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
