"""Fuzz ``env.step`` with N generated hostile actions (default 100,000) on the demo world.

Every action comes from :func:`lite_world.testing.actions` (broken and well-formed tool calls,
Python literals with non-string keys, huge integers, lone surrogates, NUL, deep nesting, unknown
tools, tag soup). Each is played as the first turn of a fresh episode; exceptions are counted
(target 0), every observation is checked with :func:`lite_world.testing.check_step`, and the
step time distribution is reported.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_fuzz [--n 100000] [--world demo] [--mode sparse]
"""

from __future__ import annotations

import argparse
import collections
import time
import traceback

import numpy as np

from benchmarks._common import table, write_result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--world", default="demo")
    p.add_argument("--mode", default="sparse", choices=["sparse", "hybrid", "dense"])
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    from hypothesis import HealthCheck, Phase, given, seed, settings
    from tqdm.auto import tqdm

    import lite_world
    from lite_world.testing import actions, check_step

    env = lite_world.make_env(world=a.world, search_mode=a.mode, search_k=3, max_turns=2)
    env.reset(seed=0)
    env.step('<tool_call>{"name": "search", "arguments": {"query": ["warm up"]}}</tool_call>')
    times: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    bar = tqdm(total=a.n, desc="fuzz", unit="action")

    @seed(a.seed)
    @settings(
        max_examples=a.n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(action=actions())
    def play(action: str) -> None:
        env.reset(seed=0)
        t0 = time.perf_counter()
        try:
            result = env.step(action)
            times.append(time.perf_counter() - t0)
            check_step(result)
            kinds[result[4].get("action_kind") or "?"] += 1
            errors[str(result[4].get("error"))] += 1
        except Exception:  # noqa: BLE001 - counted, the run goes on
            failures.append(f"{action!r:.300}\n{traceback.format_exc(limit=3)}")
        bar.update(1)

    t0 = time.perf_counter()
    play()
    bar.close()
    wall = time.perf_counter() - t0
    ms = np.array(times) * 1000
    result = {
        "actions": len(times) + len(failures),
        "exceptions_or_contract_failures": len(failures),
        "failures_sample": failures[:5],
        "step_ms": {
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "p999": float(np.percentile(ms, 99.9)),
            "max": float(ms.max()),
        },
        "action_kinds": dict(kinds),
        "error_codes": dict(errors),
        "world": a.world,
        "search_mode": a.mode,
        "wall_s": wall,
    }
    print(
        table(
            [
                {"what": k, "value": v}
                for k, v in [
                    ("actions", result["actions"]),
                    ("failures", len(failures)),
                    *[(f"step {k} ms", round(v, 3)) for k, v in result["step_ms"].items()],
                ]
            ],
            ["what", "value"],
        )
    )
    print("action kinds:", dict(kinds))
    print("error codes:", dict(errors))
    write_result("bench_fuzz", result)


if __name__ == "__main__":
    main()
