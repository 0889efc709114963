"""Env profiles for small models: tokens per episode against held-out accuracy (issue 15).

The ``small`` profile (:mod:`lite_world.envs.profiles`: the ``tags`` protocol, search only,
``search_k=3``, 800-character observations, 3 turns, a 45-token system prompt) was chosen by
measuring the teacher. This sweep measures the choice on the policies it is for: the shipped
``smollm2-lite-world`` (trained in the ``small`` profile) and the untrained SmolLM2, next to the
:class:`~lite_world.agents.teacher.DiverseTeacher`, across results per search and observation
budgets, plus the default (long) system prompt. For each profile and agent: held-out accuracy
(greedy for the models, the teacher's sampled answer span) with its 95% bootstrap interval, and
the context tokens per episode (system prompt + question + every turn + every observation, in
SmolLM2's chat template): what a rollout costs to prefill and attend over.

The student was trained in the ``small`` profile only, so its figures elsewhere measure how
well it transfers, not what training in that profile would give; the teacher's figures are the
profile's own ceiling for this task family.

Usage:
    HF_HUB_OFFLINE=1 nice -n 19 python -m benchmarks.bench_profile_sweep            # ~25 min
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_profile_sweep --tasks 8 --agents teacher

Output: ``benchmarks/results/bench_profile_sweep.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from benchmarks._common import RESULTS_DIR, pyplot, table, write_result

SWEEP: dict[str, dict[str, Any]] = {  # name: overrides of the small profile
    "small": {},
    "k1": {"search_k": 1},
    "k5": {"search_k": 5},
    "obs400": {"max_observation_chars": 400},
    "obs1600": {"max_observation_chars": 1600},
    "k5-obs1600": {"search_k": 5, "max_observation_chars": 1600},
    "long-prompt": {"system_prompt": None},  # the tags protocol's default system prompt
}


def context_tokens(tokenizer: Any, messages: list[dict[str, Any]]) -> int:
    """Tokens of an episode's whole conversation in the tokenizer's chat template."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=60, help="held-out tasks (of the shipped 120)")
    ap.add_argument(
        "--agents",
        default="teacher,smollm2-lite-world,smollm2",
        help="comma-separated: teacher, smollm2-lite-world, smollm2",
    )
    ap.add_argument("--profiles", default=",".join(SWEEP), help=f"of {', '.join(SWEEP)}")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="", help="recorded with the settings (e.g. which adapter)")
    args = ap.parse_args(argv)

    import torch

    from benchmarks.bench_rl_learning import bootstrap_ci, teacher_episodes
    from lite_world.agents.adapters import adapter_dir
    from lite_world.agents.smollm import load_smollm2
    from lite_world.envs.profiles import profile_config
    from lite_world.tasks import Task
    from trainers.grpo.trainer import load_policy
    from trainers.sft.evaluate import evaluate_policy

    torch.set_num_threads(args.threads)
    shipped = adapter_dir("smollm2-lite-world")
    assert shipped is not None
    lines = (shipped / "tasks_heldout.jsonl").read_text().splitlines()
    raw = [json.loads(line) for line in lines][: args.tasks]
    tasks = [Task.from_dict(t) for t in raw]
    _, tokenizer = load_smollm2()
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    rows: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}
    for agent in agents:
        model = None if agent == "teacher" else load_policy(agent)[0].eval()
        for name in profiles:
            # system_prompt=None: the protocol's default prompt (~450 tokens)
            env = profile_config("small", tasks=raw, **SWEEP[name])
            t0 = time.perf_counter()
            if model is None:
                episodes = teacher_episodes(raw, env, 1, args.seed + 11)
                rewards = [e["reward"] for e in episodes]
                conversations = [e["messages"] for e in episodes]
            else:
                played = evaluate_policy(
                    model,
                    tokenizer,
                    tasks,
                    env=env,
                    max_new_tokens=args.max_new_tokens,
                    batch_size=args.batch,
                    show_progress=False,
                )
                rewards = [float(e["reward"]) for e in played]
                conversations = [e["messages"] for e in played]
            seconds = time.perf_counter() - t0
            tokens = [context_tokens(tokenizer, m) for m in conversations]
            turns = [sum(m["role"] == "assistant" for m in c) for c in conversations]
            figures = {
                "agent": agent,
                "profile": name,
                "accuracy": bootstrap_ci(rewards),
                "context_tokens_mean": round(float(np.mean(tokens)), 1),
                "turns_mean": round(float(np.mean(turns)), 2),
                "seconds": round(seconds, 1),
                "overrides": SWEEP[name],
            }
            results[f"{agent}/{name}"] = figures
            acc = figures["accuracy"]
            rows.append(
                {
                    "agent": agent,
                    "profile": name,
                    "accuracy": f"{acc['mean']:.3f} [{acc['low']:.2f}, {acc['high']:.2f}]",
                    "tokens/episode": figures["context_tokens_mean"],
                    "turns": figures["turns_mean"],
                    "seconds": figures["seconds"],
                }
            )
            print(rows[-1], flush=True)
    print(table(rows, ["agent", "profile", "accuracy", "tokens/episode", "turns", "seconds"]))
    out = {
        "settings": {
            "tasks": len(tasks),
            "tasks_file": "lite_world/data/models/smollm2-lite-world/tasks_heldout.jsonl",
            "base_profile": "small",
            "max_new_tokens": args.max_new_tokens,
            "threads": args.threads,
            "seed": args.seed,
            "models_greedy": True,
            "teacher": "DiverseTeacher, sampled answer span, seed + 11",
            "policy": args.note,
        },
        "results": results,
    }
    path = write_result("bench_profile_sweep", out)
    plot(results, RESULTS_DIR / "bench_profile_sweep.png")
    print(f"wrote {path}")
    return out


def plot(results: dict[str, dict[str, Any]], path: Any) -> None:
    """Accuracy (with its interval) against context tokens per episode, one series per agent."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for agent in dict.fromkeys(r["agent"] for r in results.values()):
        points = [r for r in results.values() if r["agent"] == agent]
        x = [r["context_tokens_mean"] for r in points]
        y = [r["accuracy"]["mean"] for r in points]
        err = [
            [r["accuracy"]["mean"] - r["accuracy"]["low"] for r in points],
            [r["accuracy"]["high"] - r["accuracy"]["mean"] for r in points],
        ]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=agent)
        for r, xi, yi in zip(points, x, y, strict=True):
            ax.annotate(
                r["profile"], (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    ax.set_xlabel("context tokens per episode")
    ax.set_ylabel("held-out accuracy (95% CI)")
    ax.set_title("Env profiles: cost vs accuracy (demo world, pattern tasks)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
