"""GRPO learning curve on CPU: SmolLM2-135M on easy one-hop tasks of the demo world (issue 5).

Runs the reference trainer (``trainers.grpo``) for a few steps within a CPU time budget and
reports, per step, the mean reward and the rollout statistics of the paper's training-dynamics
figure (response length, turns, clip ratio, length-clip ratio, tool calls), so one can see
whether the reward rises, and if not, why.

Tasks: the first hop of each bundled MuSiQue question when it is a self-contained question
(e.g. "What company published Journal of Psychotherapy Integration?" -> "American
Psychological Association"); 37 of the 100 qualify. Their evidence pages are in the demo world.
Nothing is shaped: the env's own reward (EM, or token F1 with ``--reward f1``), the env's own
prompt (Search-R1 ``tags`` format by default: its system prompt is ~150 tokens, the tool_call
format's ~690, which would make each CPU step ~4x slower).

Usage:
    HF_HUB_OFFLINE=1 LITE_WORLD_CACHE=/tmp/lwcache python -m benchmarks.bench_grpo_learning
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_grpo_learning --runs em f1 --minutes 7 7
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_grpo_learning --quick     # 2 steps, for a smoke test

Outputs: ``benchmarks/results/bench_grpo_learning.{json,png}``; run directories (metrics,
sampled trajectories) under ``benchmarks/.cache/grpo/`` (git-ignored; checkpoints deleted).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from typing import Any

from benchmarks._common import CACHE_DIR, RESULTS_DIR, table, write_result


def one_hop_tasks() -> list[Any]:
    """First hops of the demo MuSiQue questions that read as standalone questions."""
    from lite_world.demo import DEMO_DATA
    from lite_world.tasks import Task

    items = json.loads((DEMO_DATA / "musique_train.json").read_text())
    tasks = []
    for it in items:
        hop = it["question_decomposition"][0]
        if "#" not in hop["question"] and hop["question"].rstrip().endswith("?"):
            tasks.append(
                Task.from_dict(
                    {
                        "id": f"{it['id']}-hop1",
                        "question": hop["question"],
                        "answers": [hop["answer"]],
                        "capability": "1-hop",
                        "difficulty": 1,
                    }
                )
            )
    return tasks


def verdict(history: list[dict[str, Any]]) -> str:
    """One honest sentence on whether the mean reward rose, and why not when it did not."""
    if not history:
        return "no step ran"
    rewards = [m["reward_mean"] for m in history]
    half = max(1, len(rewards) // 2)
    first, second = sum(rewards[:half]) / half, sum(rewards[half:]) / max(1, len(rewards) - half)
    if all(m["groups_zero_std"] == 1.0 for m in history):
        return (
            f"no learning signal: in all {len(history)} steps every group's episodes got the same reward "
            f"(max reward {max(m['reward_max'] for m in history):g}), so every advantage was 0 and the "
            "updates had zero gradient; the policy never changed"
        )
    trend = "rose" if second > first else "did not rise"
    return f"mean reward {trend}: {first:.4f} over the first half of the steps, {second:.4f} over the second"


def run(reward: str, minutes: float, args: argparse.Namespace, tasks: list[Any]) -> dict[str, Any]:
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.trainer import GRPOTrainer

    out = CACHE_DIR / "grpo" / reward
    shutil.rmtree(out, ignore_errors=True)
    config = GRPOConfig.from_flat(
        model="smollm2",
        world=args.world,
        action_format=args.action_format,
        reward=reward,
        max_turns=args.max_turns,
        max_new_tokens=args.max_new_tokens,
        tasks_per_step=args.tasks_per_step,
        group_size=args.group_size,
        learning_rate=args.learning_rate,
        temperature=1.0,
        micro_batch_size=4,
        steps=args.steps,
        save_every=0,
        save_total_limit=1,
        output_dir=str(out),
        seed=args.seed,
        log_trajectories=4,
    )
    t0 = time.perf_counter()
    trainer = GRPOTrainer(config, tasks=tasks)
    load_s = time.perf_counter() - t0
    history = trainer.train(time_limit_s=minutes * 60)
    for ckpt in out.glob("checkpoint-*"):  # 540 MB of SmolLM2 weights each: the curve is the result
        shutil.rmtree(ckpt, ignore_errors=True)
    keep = (
        "step",
        "reward_mean",
        "reward_max",
        "f1_mean",
        "answered",
        "truncated",
        "response_length_mean",
        "turns_mean",
        "tool_calls_mean",
        "action_errors_mean",
        "length_clip_ratio",
        "clip_ratio",
        "entropy",
        "groups_zero_std",
        "trained_trajectories",
        "loss",
        "grad_norm",
        "time_rollout_s",
        "time_update_s",
        "time_step_s",
    )
    steps = [{k: m.get(k) for k in keep} for m in history]
    rewards = [m["reward_mean"] for m in history]
    half = max(1, len(rewards) // 2)
    return {
        "verdict": verdict(history),
        "reward": reward,
        "config": config.to_dict(),
        "load_s": load_s,
        "steps": steps,
        "episodes": len(history) * config.episodes_per_step,
        "reward_first_half": sum(rewards[:half]) / half,
        "reward_second_half": sum(rewards[half:]) / max(1, len(rewards) - half),
        "episodes_with_reward": sum(round(m["reward_max"] > 0) for m in history),
        "answers_given": sum(m["answered"] for m in history) * config.episodes_per_step,
        "wall_s": time.perf_counter() - t0,
        "run_dir": str(out),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_grpo_learning", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--runs",
        nargs="+",
        default=["em"],
        choices=["em", "f1"],
        help="rewards to train with, in turn",
    )
    ap.add_argument(
        "--minutes", nargs="+", type=float, default=[14.0], help="time budget of each run (minutes)"
    )
    ap.add_argument(
        "--steps", type=int, default=100, help="step cap (the time budget usually ends a run first)"
    )
    ap.add_argument("--tasks-per-step", type=int, default=2)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--max-turns", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--learning-rate", type=float, default=5e-6)
    ap.add_argument("--action-format", default="tags", choices=["tags", "tool_call"])
    ap.add_argument("--world", default=None, help="world directory (default: the demo world)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: the machine is 2 shared cores)"
    )
    ap.add_argument("--quick", action="store_true", help="2 steps of 1 task x 4 episodes")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.tasks_per_step, args.group_size, args.max_new_tokens = 2, 1, 4, 16
    minutes = args.minutes * len(args.runs) if len(args.minutes) == 1 else args.minutes
    if len(minutes) != len(args.runs):
        ap.error("give one --minutes value, or one per run")

    import logging

    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "bm25s", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    tasks = one_hop_tasks()
    print(
        f"{len(tasks)} one-hop tasks, e.g. {tasks[0].question!r} -> {tasks[0].answers[0]!r}",
        flush=True,
    )
    results = [run(reward, m, args, tasks) for reward, m in zip(args.runs, minutes, strict=False)]

    for r in results:
        print(
            f"\nreward={r['reward']}: {len(r['steps'])} steps, {r['episodes']} episodes, {r['wall_s']:.0f} s"
        )
        print(
            table(
                r["steps"],
                [
                    "step",
                    "reward_mean",
                    "answered",
                    "response_length_mean",
                    "turns_mean",
                    "tool_calls_mean",
                    "length_clip_ratio",
                    "clip_ratio",
                    "groups_zero_std",
                    "time_step_s",
                ],
            )
        )
        print(
            f"mean reward, first half of the steps: {r['reward_first_half']:.4f}; second half: "
            f"{r['reward_second_half']:.4f}; answers given: {r['answers_given']:.0f} of {r['episodes']} episodes"
        )
        print(f"verdict: {r['verdict']}")
    path = write_result(
        "bench_grpo_learning", {"quick": args.quick, "tasks": len(tasks), "runs": results}
    )
    print(f"\nwrote {path}")
    try:
        from trainers.grpo.plot import plot_metrics, read_metrics

        records = {
            f"reward={r['reward']}": read_metrics(f"{r['run_dir']}/metrics.jsonl") for r in results
        }
        first = next(iter(records))
        png = plot_metrics(
            records[first],
            RESULTS_DIR / "bench_grpo_learning.png",
            label=first,
            extra={k: v for k, v in records.items() if k != first} or None,
            title="GRPO, SmolLM2-135M, one-hop demo tasks, CPU (" + ", ".join(records) + ")",
        )
        print(f"wrote {png}")
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
