"""Run every benchmark in turn (``make bench``); ``--quick`` passes through.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.run_all            # ~20–25 min on 2 cores (first run builds worlds)
    HF_HUB_OFFLINE=1 python -m benchmarks.run_all --quick    # ~5 min
"""

from __future__ import annotations

import argparse
import time

from benchmarks import bench_retrieval_quality, bench_store_codec, bench_world

BENCHMARKS = {
    "store_codec": bench_store_codec.main,
    "retrieval_quality": bench_retrieval_quality.main,
    "world": bench_world.main,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="quick mode for every benchmark")
    ap.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only these (repeatable)"
    )
    args = ap.parse_args(argv)
    for name, fn in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"\n##### {name} #####", flush=True)
        t = time.perf_counter()
        fn(["--quick"] if args.quick else [])
        print(f"##### {name}: {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
