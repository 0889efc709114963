"""GRPO rollout speed on CPU: HF ``generate`` per turn vs the KV-cached engine, side by side.

Plays the same episodes (same SmolLM2-135M, same demo-world tasks, same env settings, same
seeds) with ``GRPOConfig.generation="generate"`` (one left-padded ``generate`` per turn over
each whole context) and ``"kv_cache"`` (:mod:`trainers.grpo.generation`: each episode's KV
cache kept across turns, finished episodes dropped), each in fp32 and under bf16 autocast
(``mixed_precision="bf16"``). The four configurations alternate within each repeat (the order
reversed every other repeat), so load from other processes on the machine hits them alike.

Reported per configuration: episodes per minute, generated (policy) tokens per second of
generation time, and the time split: generation (everything but the env) vs tools (the env's
``reset`` and ``step``: search, parsing, reward). Also, per repeat, whether each engine's
trajectories are token for token those of fp32 ``generate`` with the same seed (expected for
fp32 ``kv_cache``: the same draws from the same logits up to float noise).

Usage:
    HF_HUB_OFFLINE=1 nice -n 19 python -m benchmarks.bench_rollout_speed
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_rollout_speed --tasks 2 --group-size 2 --repeats 1

Output: ``benchmarks/results/bench_rollout_speed.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks._common import table, write_result

CONFIGS = (
    ("generate", "no"),
    ("kv_cache", "no"),
    ("generate", "bf16"),
    ("kv_cache", "bf16"),
)


class _TimedEnv:
    """Forwards ``reset`` / ``step`` to an env and adds their wall time to ``seconds``."""

    def __init__(self, env: Any, clock: list[float]) -> None:
        self.env, self.clock = env, clock

    def reset(self, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.env.reset(**kwargs)
        finally:
            self.clock[0] += time.perf_counter() - start

    def step(self, action: str) -> Any:
        start = time.perf_counter()
        try:
            return self.env.step(action)
        finally:
            self.clock[0] += time.perf_counter() - start


def run_once(
    model: Any, tokenizer: Any, config: Any, tasks: list[Any], seed: int
) -> tuple[dict[str, Any], list[Any]]:
    """One rollout of ``tasks`` x ``config.group_size`` episodes; its figures and trajectories."""
    from trainers._runs import bf16_autocast
    from trainers.grpo.rollout import SamplingRNG, make_envs, rollout

    clock = [0.0]
    envs = [_TimedEnv(e, clock) for e in make_envs(config, tasks, len(tasks) * config.group_size)]
    cpu = time.process_time()
    start = time.perf_counter()
    trajs = rollout(
        model,
        tokenizer,
        envs,
        tasks,
        group_size=config.group_size,
        config=config,
        rng=SamplingRNG(seed, "cpu"),
        seed=seed,
        autocast=lambda: bf16_autocast(config.mixed_precision, "cpu"),
    )
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    tokens = sum(t.response_tokens for t in trajs)
    generate_s = total - clock[0]
    return {
        "seconds": round(total, 3),
        "cpu_s": round(cpu, 3),
        "generate_s": round(generate_s, 3),
        "tools_s": round(clock[0], 3),
        "episodes": len(trajs),
        "episodes_per_min": round(60 * len(trajs) / total, 3),
        "episodes_per_cpu_min": round(60 * len(trajs) / cpu, 3),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / generate_s, 2),
        "turns": sum(t.turns for t in trajs),
        "context_tokens": sum(len(t.input_ids) for t in trajs),
        "mean_reward": round(sum(t.reward for t in trajs) / len(trajs), 4),
    }, trajs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=8, help="demo tasks (episodes = tasks x group)")
    ap.add_argument("--group-size", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--max-turns", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: OpenMP threads on a busy 2-core machine spin while descheduled)",
    )
    args = ap.parse_args(argv)

    import torch

    from lite_world import open_world
    from lite_world.agents.smollm import load_smollm2
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.tasks import demo_tasks
    from trainers.grpo.config import GRPOConfig

    torch.set_num_threads(args.threads)
    model, tokenizer = load_smollm2()
    model.eval()
    world = open_world("demo")
    env = LiteSearchConfig(
        world=world,
        action_format="tags",
        tools=("search",),
        search_k=3,
        max_observation_chars=600,
        max_turns=args.max_turns,
    )
    tasks = demo_tasks()[: args.tasks]

    def config(generation: str, precision: str, **kw: Any) -> GRPOConfig:
        settings = dict(
            env=env,
            tasks_per_step=len(tasks),
            group_size=args.group_size,
            max_new_tokens=args.max_new_tokens,
            generation=generation,
            mixed_precision=precision,
            seed=args.seed,
        )
        settings.update(kw)
        return GRPOConfig(**settings)

    # warm-up: opens the world's indexes and encoder, and touches every code path once
    for generation, precision in CONFIGS:
        run_once(model, tokenizer, config(generation, precision, max_new_tokens=4), tasks[:1], 99)

    runs: dict[str, list[dict[str, Any]]] = {f"{g}/{p}": [] for g, p in CONFIGS}
    agreement: dict[str, list[bool]] = {f"{g}/{p}": [] for g, p in CONFIGS}
    for repeat in range(args.repeats):
        order = CONFIGS if repeat % 2 == 0 else tuple(reversed(CONFIGS))
        seed = args.seed + 1000 * repeat
        outputs: dict[str, list[Any]] = {}
        for generation, precision in order:
            name = f"{generation}/{precision}"
            figures, trajs = run_once(model, tokenizer, config(generation, precision), tasks, seed)
            figures["repeat"] = repeat
            runs[name].append(figures)
            outputs[name] = [(t.input_ids, t.loss_mask) for t in trajs]
            print(name, figures, flush=True)
        for name, out in outputs.items():
            agreement[name].append(out == outputs["generate/no"])

    rows = []
    summary: dict[str, dict[str, Any]] = {}
    for name, figures in runs.items():
        seconds = sum(f["seconds"] for f in figures)
        cpu_s = sum(f["cpu_s"] for f in figures)
        generate_s = sum(f["generate_s"] for f in figures)
        tokens = sum(f["generated_tokens"] for f in figures)
        episodes = sum(f["episodes"] for f in figures)
        summary[name] = {
            "episodes_per_min": round(60 * episodes / seconds, 3),
            "episodes_per_cpu_min": round(60 * episodes / cpu_s, 3),
            "tokens_per_s": round(tokens / generate_s, 2),
            "generate_s": round(generate_s, 2),
            "tools_s": round(sum(f["tools_s"] for f in figures), 2),
            "seconds": round(seconds, 2),
            "cpu_s": round(cpu_s, 2),
            "identical_to_generate_fp32": agreement[name],
        }
        rows.append({"config": name, **summary[name]})
    base = summary["generate/no"]
    for s in summary.values():
        s["speedup_vs_generate_fp32"] = round(s["episodes_per_min"] / base["episodes_per_min"], 3)
        s["cpu_speedup_vs_generate_fp32"] = round(
            s["episodes_per_cpu_min"] / base["episodes_per_cpu_min"], 3
        )
    print(
        table(
            rows,
            [
                "config",
                "episodes_per_min",
                "episodes_per_cpu_min",
                "tokens_per_s",
                "generate_s",
                "tools_s",
                "seconds",
                "cpu_s",
            ],
        )
    )
    print(
        {
            k: (v["speedup_vs_generate_fp32"], v["cpu_speedup_vs_generate_fp32"])
            for k, v in summary.items()
        }
    )
    path = write_result(
        "bench_rollout_speed",
        {
            "settings": {
                "model": "SmolLM2-135M-Instruct",
                "world": "demo",
                "env": "LiteSearchConfig(action_format='tags', tools=('search',), search_k=3, "
                f"max_observation_chars=600, max_turns={args.max_turns})",
                "tasks": len(tasks),
                "group_size": args.group_size,
                "episodes_per_run": len(tasks) * args.group_size,
                "max_new_tokens": args.max_new_tokens,
                "temperature": 1.0,
                "repeats": args.repeats,
                "threads": args.threads,
                "seed": args.seed,
            },
            "summary": summary,
            "runs": runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
