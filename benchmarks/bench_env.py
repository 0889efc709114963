"""LiteSearch-v0 benchmark: env.step overhead, rollout throughput and agent accuracy on the demo world.

Measures (issue 3):
1. ``env.step`` overhead beyond tool time (target ≤ 1 ms): wall time of ``step`` minus the tool's
   own latency (``info["tool_latency_s"]``) for search / visit / answer / malformed turns, with
   warm caches and cold ones.
2. Episodes/s of the ScriptedAgent with 1 and 8 concurrent episodes (threads sharing one world).
3. Accuracy of the ScriptedAgent on the 100 demo tasks (same run), and of SmolLM2-135M
   (``--llm-tasks N``; ~20–60 s per episode on 2 CPU cores, so it is off by default).

Usage:
    python -m benchmarks.bench_env                    # overhead + scripted throughput/accuracy
    python -m benchmarks.bench_env --llm-tasks 100 --llm-max-turns 4 --llm-max-new-tokens 128
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks._common import summarize, table, write_result


def step_overhead(env, tasks, n_episodes: int) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Replay ScriptedAgent episodes and time every step."""
    from lite_world.agents.scripted import ScriptedAgent

    samples: dict[str, list[float]] = {
        "search": [],
        "visit": [],
        "answer": [],
        "error": [],
        "none": [],
    }
    tool_time: dict[str, list[float]] = {"search": [], "visit": []}
    for i, task in enumerate(tasks[:n_episodes]):
        obs, info = env.reset(seed=i, options={"task": task.to_dict()})
        agent = ScriptedAgent()
        agent.reset(info["task"])
        # a malformed and an empty turn first: pure env work, no tool
        for bad, kind in (
            ('<tool_call>{"name": "search", "arguments": {</tool_call>', "error"),
            ("hmm", "none"),
        ):
            t = time.perf_counter()
            env.step(bad)
            samples[kind].append(time.perf_counter() - t)
        done = False
        while not done:
            action = agent.act(obs, info)
            t = time.perf_counter()
            obs, _, term, trunc, info = env.step(action)
            wall = time.perf_counter() - t
            done = term or trunc
            kind = info.get("tool") or info.get("action_kind")
            if kind in tool_time:
                tool_time[kind].append(info["tool_latency_s"])
                samples[kind].append(wall - info["tool_latency_s"])
            elif kind in samples:
                samples[kind].append(wall)
    out = {f"overhead:{k}": summarize(v) for k, v in samples.items() if v}
    out.update({f"tool:{k}": summarize(v) for k, v in tool_time.items() if v})
    return out


def throughput(tasks, concurrency: int, world: str | None) -> dict:  # type: ignore[no-untyped-def]
    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout import RolloutConfig, run_rollouts
    from lite_world.worlds import open_world

    open_world(world).clear_caches()  # every configuration starts cold
    env = LiteSearchConfig(world=world, max_turns=12)
    cfg = RolloutConfig(env=env, concurrency=concurrency, show_progress=False)
    t = time.perf_counter()
    s = run_rollouts(ScriptedAgent, cfg, tasks=tasks)
    wall = time.perf_counter() - t
    return {
        "concurrency": concurrency,
        "episodes": s["episodes"],
        "wall_s": wall,
        "episodes_per_s": s["episodes"] / wall,
        "accuracy": s["accuracy"],
        "mean_turns": s["mean_turns"],
        "tool_p50_ms": s["tool_latency_p50_ms"],
        "tool_p99_ms": s["tool_latency_p99_ms"],
    }


def llm_accuracy(tasks, n: int, max_turns: int, max_new_tokens: int, out: str) -> dict:  # type: ignore[no-untyped-def]
    from lite_world.agents.base import GenerationConfig
    from lite_world.agents.hf import TransformersAgent
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout import RolloutConfig, run_rollouts

    agent = TransformersAgent("smollm2", config=GenerationConfig(max_new_tokens=max_new_tokens))
    cfg = RolloutConfig(env=LiteSearchConfig(max_turns=max_turns), show_progress=True)
    return run_rollouts(lambda: agent, cfg, tasks=tasks[:n], out_dir=out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world", default=None, help="world directory (default: the demo world)")
    p.add_argument("--overhead-episodes", type=int, default=50)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    p.add_argument("--llm-tasks", type=int, default=0)
    p.add_argument("--llm-max-turns", type=int, default=4)
    p.add_argument("--llm-max-new-tokens", type=int, default=128)
    p.add_argument("--quick", action="store_true", help="10 overhead episodes, 20 tasks")
    a = p.parse_args()

    import lite_world
    from lite_world.tasks import demo_tasks

    tasks = demo_tasks()
    if a.quick:
        tasks, a.overhead_episodes = tasks[:20], 10
    env = lite_world.make_env(
        world=a.world, max_turns=32
    ).unwrapped  # no TimeLimit: overhead episodes run long
    env.reset(seed=0)
    env.step(
        '<tool_call>{"name": "search", "arguments": {"query": ["warm up"]}}</tool_call>'
    )  # load the encoder

    result: dict = {"tasks": len(tasks)}
    cold = step_overhead(env, tasks, a.overhead_episodes)
    warm = step_overhead(env, tasks, a.overhead_episodes)  # same episodes again: tool caches warm
    result["step_overhead_cold_caches"] = cold
    result["step_overhead_warm_caches"] = warm
    rows = [
        {"what": k, "phase": ph, **v}
        for ph, d in (("first pass", cold), ("repeat", warm))
        for k, v in d.items()
    ]
    print(table(rows, ["what", "phase", "n", "p50_ms", "p99_ms", "mean_ms"]))

    result["throughput"] = [throughput(tasks, c, a.world) for c in a.concurrency]
    print(
        table(
            result["throughput"],
            [
                "concurrency",
                "episodes",
                "wall_s",
                "episodes_per_s",
                "accuracy",
                "mean_turns",
                "tool_p50_ms",
                "tool_p99_ms",
            ],
        )
    )

    if a.llm_tasks:
        s = llm_accuracy(
            tasks,
            a.llm_tasks,
            a.llm_max_turns,
            a.llm_max_new_tokens,
            "benchmarks/results/smollm2_rollout",
        )
        result["smollm2"] = {
            "max_turns": a.llm_max_turns,
            "max_new_tokens": a.llm_max_new_tokens,
            **s,
        }
        print(json.dumps(result["smollm2"], indent=1))
    path = write_result("bench_env", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
