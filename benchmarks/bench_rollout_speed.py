"""GRPO rollout speed on CPU: the trainer's rollout engines side by side, in one run.

Plays the same episodes (same policy, same demo-world tasks, same env settings, same seeds)
with each engine of :class:`~trainers.grpo.config.GRPOConfig`:

* ``generate/sdpa`` -- the trainer before issue 15: one left-padded HF ``generate`` per turn
  over each whole context, transformers' stock ``sdpa`` attention (on CPU it copies every
  key/value head 3x per layer per step), float32. **The baseline.**
* ``kv_cache/fp32`` -- :mod:`trainers.grpo.generation`: each episode's KV cache kept across
  turns, a turn prefills only its new tokens, each distinct episode once (a group's shared
  prompt); grouped-query attention without copies (:mod:`lite_world.agents.attention`);
  finished rows leave the batch. Float32: the same tokens as the baseline up to float noise.
* ``kv_cache/bf16`` -- the same engine sampling with a bfloat16 copy of the policy
  (``sampler_dtype="bfloat16"``, what the RL benchmark uses): different float rounding, so
  different samples from the same distribution.

The configurations alternate within each repeat (the order reversed every other repeat), so
load from other processes hits them alike, and the world's caches are cleared before every
run, so every search is a novel (unprimed) query. Reported per configuration: episodes per
minute of wall time and of process CPU time (the fairer figure on a shared machine), generated
tokens per second, the time split generate vs tools (the env's ``step``: parsing, search,
reward), mean reward, and whether the trajectories are token for token the baseline's.

Usage:
    HF_HUB_OFFLINE=1 nice -n 19 python -m benchmarks.bench_rollout_speed
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_rollout_speed --tasks 1 --group-size 2 --repeats 1

Output: ``benchmarks/results/bench_rollout_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from benchmarks._common import table, write_result

BASELINE = "generate/sdpa"
CONFIGS = {  # name: (GRPOConfig.generation, sampler dtype, attention)
    BASELINE: ("generate", "policy", "sdpa"),
    "kv_cache/fp32": ("kv_cache", "policy", "gqa"),
    "kv_cache/bf16": ("kv_cache", "bfloat16", "gqa"),
}


def run_once(
    model: Any, tokenizer: Any, config: Any, tasks: list[Any], seed: int
) -> tuple[dict[str, Any], list[Any]]:
    """One rollout of ``tasks`` x ``config.group_size`` episodes; its figures and trajectories."""
    from trainers.grpo.rollout import SamplingRNG, make_envs, rollout

    envs = make_envs(config, tasks, len(tasks) * config.group_size)
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
    )
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    tokens = sum(t.response_tokens for t in trajs)
    tools_s = sum(t.env_seconds for t in trajs)  # env.step and the turns' batched searches
    generate_s = total - tools_s
    return {
        "seconds": round(total, 3),
        "cpu_s": round(cpu, 3),
        "generate_s": round(generate_s, 3),
        "tools_s": round(tools_s, 3),
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
    ap.add_argument(
        "--model",
        default="smollm2-lite-world",
        help="policy: a shipped model (trained: real searches and answers) or 'smollm2' (base)",
    )
    ap.add_argument("--tasks", type=int, default=4, help="held-out demo tasks per run")
    ap.add_argument("--group-size", type=int, default=8, help="episodes per task (one RL step)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
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
    from lite_world.agents.adapters import adapter_dir
    from lite_world.envs.profiles import profile_config
    from lite_world.tasks import Task
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.sampler import SamplerCopy
    from trainers.grpo.trainer import load_policy

    torch.set_num_threads(args.threads)
    model, tokenizer = load_policy(args.model)
    model.eval()
    gqa = model.config._attn_implementation
    samplers = {"policy": model, "bfloat16": SamplerCopy("bfloat16").refresh(model)}
    world = open_world("demo")
    env = profile_config("small", world=world)
    shipped = adapter_dir("smollm2-lite-world")
    assert shipped is not None
    lines = (shipped / "tasks_heldout.jsonl").read_text().splitlines()
    heldout = [Task.from_dict(json.loads(line)) for line in lines]
    tasks, warm = heldout[: args.tasks], heldout[-1:]

    def config(name: str, **kw: Any) -> GRPOConfig:
        generation, dtype, _ = CONFIGS[name]
        settings: dict[str, Any] = dict(
            env=env,
            tasks_per_step=len(tasks),
            group_size=args.group_size,
            max_new_tokens=args.max_new_tokens,
            max_seq_len=1024,
            generation=generation,
            sampler_dtype=dtype,
            seed=args.seed,
        )
        settings.update(kw)
        return GRPOConfig(**settings)

    def play(name: str, tasks: list[Any], seed: int, **kw: Any) -> tuple[dict[str, Any], list[Any]]:
        generation, dtype, attention = CONFIGS[name]
        policy = samplers[dtype]
        policy.set_attn_implementation("sdpa" if attention == "sdpa" else gqa)
        world.clear_caches()  # every search a novel query
        try:
            return run_once(policy, tokenizer, config(name, **kw), tasks, seed)
        finally:
            policy.set_attn_implementation(gqa)

    # warm-up on another task: opens the world's indexes and encoder, touches every code path
    for name in CONFIGS:
        play(name, warm, 99, max_new_tokens=8, group_size=2)

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    agreement: dict[str, list[bool]] = {name: [] for name in CONFIGS}
    names = list(CONFIGS)
    for repeat in range(args.repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        seed = args.seed + 1000 * repeat
        outputs: dict[str, list[Any]] = {}
        for name in order:
            figures, trajs = play(name, tasks, seed)
            figures["repeat"] = repeat
            runs[name].append(figures)
            outputs[name] = [(t.input_ids, t.loss_mask) for t in trajs]
            print(name, figures, flush=True)
        for name, out in outputs.items():
            agreement[name].append(out == outputs[BASELINE])

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
            "mean_reward": round(sum(f["mean_reward"] for f in figures) / len(figures), 4),
            "identical_to_baseline": agreement[name],
        }
        rows.append({"config": name, **summary[name]})
    base = summary[BASELINE]
    for s in summary.values():
        s["speedup"] = round(s["episodes_per_min"] / base["episodes_per_min"], 3)
        s["cpu_speedup"] = round(s["episodes_per_cpu_min"] / base["episodes_per_cpu_min"], 3)
    columns = ["config", "episodes_per_min", "episodes_per_cpu_min", "tokens_per_s"]
    columns += ["generate_s", "tools_s", "seconds", "cpu_s", "mean_reward"]
    print(table(rows, columns))
    print({k: (v["speedup"], v["cpu_speedup"]) for k, v in summary.items()})
    path = write_result(
        "bench_rollout_speed",
        {
            "settings": {
                "model": args.model,
                "world": "demo",
                "env": "profile_config('small') (tags, search only, k=3, 800 chars, 3 turns)",
                "tasks": len(tasks),
                "group_size": args.group_size,
                "episodes_per_run": len(tasks) * args.group_size,
                "max_new_tokens": args.max_new_tokens,
                "temperature": 1.0,
                "repeats": args.repeats,
                "threads": args.threads,
                "seed": args.seed,
                "baseline": BASELINE,
                "configs": {
                    k: dict(zip(("generation", "sampler", "attention"), v, strict=True))
                    for k, v in CONFIGS.items()
                },
            },
            "summary": summary,
            "runs": runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
