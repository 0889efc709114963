"""Does RL in the world make a policy better than its cold start? (issue 15)

SmolLM2-135M-Instruct on the demo world, on a bare CPU, end to end:

1. **Tasks.** Pattern tasks (:mod:`lite_world.synth.patterns`: birth year, death year, film
   year, film director, read off 2WikiMultihopQA / MuSiQue lead sentences). Split by page: the
   held-out tasks' pages are never the subject of a training task. Held-out tasks are never used
   in SFT or RL.
2. **Teacher.** :class:`~lite_world.agents.teacher.DiverseTeacher` (sampled query style and
   answer span), ``--samples`` episodes per SFT task, in the env's ``small`` profile
   (:mod:`lite_world.envs.profiles`). Its SFT data is NOT filtered for correctness: the cold
   start teaches the protocol and a spread of strategies, and leaves the choice between them to
   RL (filtered SFT would be rejection-sampling fine-tuning, a different baseline).
3. **SFT** (LoRA) with a held-out loss on teacher conversations of other training tasks, early
   stopping and the best weights restored.
4. **Spread before RL.** The SFT student sampled at temperature 1 on training tasks: pass@1,
   pass@8, per-token entropy (pass@8 well above pass@1 is what gives GRPO groups a signal).
5. **GRPO** (LoRA, dynamic sampling, overlong filtering) from the SFT weights on training tasks,
   for ``--rl-minutes``; held-out accuracy at checkpoints.
6. **Held-out accuracy** (greedy) of the base model, the SFT student, the RL policy and the
   teacher on the same tasks, with 95% bootstrap intervals, and the paired RL − SFT and RL −
   teacher differences with theirs.
7. **Export.** The RL policy's change from the base model as one LoRA adapter (exact: the sum of
   two rank-r LoRA updates has rank <= 2r; found by SVD, reconstruction error reported), written
   to ``--export`` with the env profile and the held-out tasks.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_rl_learning --fresh         # ~80 min on 2 cores
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_rl_learning --quick         # smoke test, minutes
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_rl_learning --export lite_world/data/models/smollm2-lite-world

Outputs: ``benchmarks/results/bench_rl_learning{_quick}.{json,png}``; runs under
``benchmarks/.cache/rl/`` (teacher episodes, SFT data and run, GRPO run, evaluation episodes
with an HTML viewer each).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import CACHE_DIR, RESULTS_DIR, pyplot, table, write_result

OUT = CACHE_DIR / "rl"


def pick_threads(limit: int) -> int:
    """Torch threads for the next stage: ``limit``, or 1 while other work loads the machine.

    On a shared 2-core machine two threads run SmolLM2 about 2x slower than one as soon as
    another process computes (measured: a 4 x 400-token forward 17.7 s vs 8.4 s).
    """
    import os

    import torch

    n = limit if os.getloadavg()[0] < limit + 0.8 else 1
    torch.set_num_threads(n)
    return n


# ----------------------------------------------------------------------------- tasks


def split_tasks(
    n_heldout_pages: int, n_sft: int, n_sft_eval: int, seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """Pattern tasks of the demo pages, split by page: held-out / SFT / SFT-eval / RL."""
    from lite_world.demo import DEMO_DATA, DEMO_SOURCES
    from lite_world.synth.patterns import pattern_tasks

    pages = [p for name in DEMO_SOURCES for p in json.loads((DEMO_DATA / name).read_text())]
    tasks = pattern_tasks(pages)
    titles = sorted({t["meta"]["title"] for t in tasks})
    random.Random(seed).shuffle(titles)
    held = set(titles[:n_heldout_pages])
    heldout = [t for t in tasks if t["meta"]["title"] in held]
    train = [t for t in tasks if t["meta"]["title"] not in held]
    random.Random(seed + 1).shuffle(train)
    return {
        "heldout": heldout,
        "sft": train[:n_sft],
        "sft_eval": train[n_sft : n_sft + n_sft_eval],
        "rl": train[n_sft + n_sft_eval :],
    }


# ----------------------------------------------------------------------------- teacher


def teacher_episodes(
    tasks: Sequence[dict[str, Any]], env: Any, samples: int, seed: int, temperature: float = 1.0
) -> list[dict[str, Any]]:
    """``samples`` DiverseTeacher episodes per task: ``{"task_id", "reward", "messages"}``."""
    from lite_world.agents.teacher import DiverseTeacher
    from lite_world.envs.factory import make_env

    world_env = make_env(env, tasks=list(tasks))
    teacher = DiverseTeacher(seed=seed, action_format=env.action_format)
    teacher.answer_temperature = temperature
    out = []
    for i, task in enumerate(tasks):
        for s in range(samples):
            obs, info = world_env.reset(seed=seed + i * samples + s, options={"task": task})
            teacher.reset(task)
            reward = 0.0
            while True:
                obs, reward, terminated, truncated, info = world_env.step(teacher.act(obs, info))
                if terminated or truncated:
                    break
            out.append(
                {
                    "task_id": task["id"],
                    "pattern": task["meta"]["pattern"],
                    "reward": float(reward),
                    "messages": info["messages"],
                }
            )
    world_env.close()
    return out


# ----------------------------------------------------------------------------- evaluation


def evaluate(
    model: Any, tokenizer: Any, tasks: Sequence[Any], env: Any, out: Path, args: Any
) -> dict[str, Any]:
    """Greedy episodes on ``tasks``; per-task rewards, protocol metrics, a viewer."""
    from lite_world.rollout.report import write_viewer
    from lite_world.rollout.summary import summarize
    from trainers.sft.evaluate import evaluate_policy, protocol_metrics

    out.mkdir(parents=True, exist_ok=True)
    path = out / "episodes.jsonl"
    if path.is_file() and not args.fresh:
        episodes = [json.loads(line) for line in path.read_text().splitlines()]
        wall = float((out / "wall_s.txt").read_text())
    else:
        model.eval()
        t0 = time.perf_counter()
        episodes = evaluate_policy(
            model,
            tokenizer,
            tasks,
            env=env,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.eval_batch,
            show_progress=True,
        )
        wall = time.perf_counter() - t0
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in episodes))
        (out / "wall_s.txt").write_text(f"{wall:.1f}")
        write_viewer(episodes, summarize(episodes, wall_s=wall), out / "viewer.html")
    metrics = protocol_metrics(episodes)
    metrics["wall_s"] = wall
    metrics["rewards"] = [float(e["reward"]) for e in episodes]
    return metrics


def bootstrap_ci(
    values: Sequence[float], baseline: Sequence[float] | None = None, n: int = 10_000
) -> dict[str, float]:
    """Mean and 95% percentile-bootstrap interval of ``values`` (or of the paired difference
    ``values - baseline``), resampling tasks.

    Example:
        >>> ci = bootstrap_ci([1, 0, 1, 1], [0, 0, 1, 0])
        >>> ci["mean"], ci["low"] <= ci["mean"] <= ci["high"]
        (0.5, True)
    """
    x = np.asarray(values, dtype=np.float64)
    if baseline is not None:
        x = x - np.asarray(baseline, dtype=np.float64)
    rng = np.random.default_rng(0)
    means = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "mean": round(float(x.mean()), 4),
        "low": round(float(low), 4),
        "high": round(float(high), 4),
    }


def by_pattern(rewards: Sequence[float], tasks: Sequence[dict[str, Any]]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for r, t in zip(rewards, tasks, strict=True):
        groups.setdefault(t["meta"]["pattern"], []).append(r)
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(groups.items())}


def spread(model: Any, tokenizer: Any, tasks: Sequence[Any], config: Any) -> dict[str, Any]:
    """pass@1, pass@k and per-token entropy of ``model`` sampled at the GRPO temperature."""
    from trainers.grpo.rollout import SamplingRNG, make_envs, rollout

    t0 = time.perf_counter()
    trajs = rollout(
        model,
        tokenizer,
        make_envs(config, tasks, len(tasks) * config.group_size),
        tasks,
        group_size=config.group_size,
        config=config,
        rng=SamplingRNG(config.seed + 999, "cpu"),
        seed=config.seed + 999,
    )
    g = config.group_size
    rewards = np.array([t.reward for t in trajs]).reshape(-1, g)
    tokens = sum(t.response_tokens for t in trajs)
    return {
        "tasks": len(tasks),
        "k": g,
        "pass@1": round(float(rewards.mean()), 4),
        f"pass@{g}": round(float((rewards.max(1) > 0).mean()), 4),
        "groups_with_signal": round(float((rewards.max(1) != rewards.min(1)).mean()), 4),
        "token_entropy": round(sum(t.entropy_sum for t in trajs) / max(tokens, 1), 4),
        "response_tokens_mean": round(tokens / len(trajs), 1),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


# ----------------------------------------------------------------------------- export


def export_model(
    result: dict[str, Any], out: Path, export: Path, rank: int, args: Any = None
) -> dict[str, Any]:
    """Write the shipped model: the RL policy's change from the base as one float16 LoRA
    adapter, its episode settings, the held-out tasks and the model card (``README.md``).

    With ``args``, the written adapter is loaded back by directory (as users load it) and
    played on the held-out tasks again: ``heldout`` in the returned info, with the number of
    tasks whose reward differs from the in-memory RL policy's.
    """
    from lite_world.agents.adapters import load_named_model
    from lite_world.envs.profiles import profile_config
    from lite_world.tasks import Task
    from trainers._lora import export_lora_delta
    from trainers.grpo.trainer import load_policy

    base, _ = load_policy("smollm2")
    tuned, _ = load_policy(str(out / "rl_model"))
    info = export_lora_delta(base, tuned, export, rank=rank)
    env = profile_config("small").to_dict()
    env = {k: v for k, v in env.items() if k not in ("world", "tasks")}
    (export / "lite_world_env.json").write_text(json.dumps(env, indent=2) + "\n")
    split = split_tasks(
        result["args"]["heldout_pages"],
        result["args"]["sft_tasks"],
        result["args"]["sft_eval_tasks"],
        result["args"]["seed"],
    )
    with open(export / "tasks_heldout.jsonl", "w", encoding="utf-8") as f:
        for t in split["heldout"]:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    if args is not None:
        shipped, tokenizer = load_named_model(export)
        heldout = [Task.from_dict(t) for t in split["heldout"]]
        env_held = profile_config("small", tasks=split["heldout"])
        ev = evaluate(shipped, tokenizer, heldout, env_held, out / "eval_exported", args)
        rewards = ev["rewards"]
        info["heldout"] = bootstrap_ci(rewards)
        lines = (out / "eval_rl" / "episodes.jsonl").read_text().splitlines()
        policy = [float(json.loads(line)["reward"]) for line in lines]
        info["heldout_tasks_changed"] = sum(a != b for a, b in zip(rewards, policy, strict=True))
        print(f"exported adapter, held-out accuracy {info['heldout']}", flush=True)
    (export / "README.md").write_text(model_card({**result, "export": info}))
    return info


def _exported_line(info: dict[str, Any]) -> str:
    """The model card's line on the shipped file's own held-out accuracy, when measured."""
    if "heldout" not in info:
        return ""
    return (
        f"- This file, loaded back by directory, scores {_ci(info['heldout'])} on the held-out "
        f"tasks ({info['heldout_tasks_changed']} tasks' rewards differ from the float32 policy's).\n"
    )


def _ci(v: dict[str, Any]) -> str:
    return f"{v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"


def model_card(result: dict[str, Any]) -> str:
    """The shipped adapter's model card, from a benchmark result."""
    h, d, a = result["heldout"], result["differences"], result["args"]
    rl = result["rl"]
    hist = rl["history"]
    rows = "\n".join(
        f"| {name} | {_ci(v)} | "
        + ", ".join(f"{k} {x:.2f}" for k, x in v.get("by_pattern", {}).items())
        + " |"
        for name, v in h.items()
    )
    cfg = rl["config"]
    return f"""# smollm2-lite-world

A LoRA adapter (rank {result["export"]["rank"]}, float16, {result["export"]["bytes"] / 1e6:.1f} MB) on
SmolLM2-135M-Instruct that answers single-hop questions by searching a lite-world world with
the Search-R1 tag protocol (`<search>`, `<information>`, `<answer>`). It was trained entirely
on a 2-core CPU by `benchmarks/bench_rl_learning.py`: cold-start SFT on teacher trajectories,
then GRPO in the bundled demo world. It is a demonstration that RL in the world changes a
policy measurably, not a capable research agent.

## Use

```python
from lite_world.agents import TransformersAgent

agent = TransformersAgent("smollm2-lite-world")  # offline; merges into the embedded SmolLM2
```

`lite-world rollout --agent hf --model smollm2-lite-world --world demo --tasks TASKS.jsonl`
plays it with the settings it was trained with (`lite_world_env.json`: the env's `small`
profile: tags protocol, search only, 3 results, 800-character observations, 3 turns, a short
system prompt), {a["max_new_tokens"]} new tokens per turn. Other settings are out of its training
distribution.

## Data

- Tasks: pattern tasks (`lite_world.synth.patterns`) read off the lead sentences of the demo
  world's 2WikiMultihopQA / MuSiQue Wikipedia pages: birth year, death year, film year, film
  director. Split by page: the {result["tasks"]["heldout"]} held-out tasks (`tasks_heldout.jsonl`) ask
  about pages no training task is about, and were used in neither SFT nor RL.
- SFT: {result["teacher"]["sft_conversations"]} episodes of `DiverseTeacher` (seeded, sampled query
  style and answer span; the answer's thought restates the question) on {a["sft_tasks"]} tasks, not filtered for correctness (teacher accuracy on
  them {result["teacher"]["sft_data_accuracy"]:.3f}); LoRA r={a["lora_r"]}, lr {a["sft_lr"]}, {result["sft"]["steps"]}
  steps of 8 conversations, held-out loss on {a["sft_eval_tasks"]} other tasks' episodes, best step
  {result["sft"].get("best_step")} restored.
- RL: GRPO, {rl["steps"]} steps of {cfg["tasks_per_step"]} tasks x {cfg["group_size"]} episodes on other
  training tasks, exact-match reward, LoRA r={cfg["lora_r"]} on the SFT weights, lr {cfg["learning_rate"]},
  dynamic sampling (max {cfg["max_resample_rounds"]} extra round), overlong filtering, clip
  {cfg["epsilon_low"]}/{cfg["epsilon_high"]}, temperature {cfg["temperature"]}, rollouts sampled
  with {cfg.get("sampler_dtype", "policy")} weights, bf16 autocast in the update; mean
  share of groups with signal {np.mean([m["groups_with_signal_share"] for m in hist]):.2f}.
- The adapter is the RL policy's change from the base model (SFT and RL LoRA updates combined
  by SVD; relative reconstruction error {result["export"]["relative_max_error"]:.1e} after the float16 cast).
{_exported_line(result["export"])}
## Held-out accuracy (greedy, exact match, n = {result["tasks"]["heldout"]}, 95% bootstrap CI)

| policy | accuracy [95% CI] | by pattern |
|---|---|---|
{rows}

Paired differences: RL - SFT {_ci(d["rl_minus_sft"])}; RL - teacher {_ci(d["rl_minus_teacher"])};
SFT - base {_ci(d["sft_minus_base"])}. "teacher" is `DiverseTeacher` sampling as in its SFT data;
"teacher_greedy" takes its best-scored span.

## Limits

Trained and evaluated on one synthetic task family of one small world; 135M parameters; one
seed. Licences: SmolLM2 (Apache-2.0); the demo pages are Wikipedia text (CC BY-SA) via
MuSiQue (CC BY 4.0) and 2WikiMultihopQA (Apache-2.0), see `lite_world/data/demo/ATTRIBUTION.md`.
"""


def run_rl(
    config: Any,
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Any],
    heldout: Sequence[Any],
    env: Any,
    ev_sft: dict[str, Any],
    out: Path,
    args: Any,
    timings: dict[str, float],
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """GRPO for ``--rl-minutes`` (or until ``--finish-by`` minus the reserve), with held-out
    evaluations between steps; ``(merged policy, step metrics, checkpoints)``."""
    import datetime

    from trainers._lora import merge_lora
    from trainers.grpo.trainer import GRPOTrainer

    budget = args.rl_minutes * 60
    if args.finish_by:
        hh, mm = (int(x) for x in args.finish_by.split(":"))
        now = datetime.datetime.now()
        end = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        budget = min(budget, (end - now).total_seconds() - args.reserve_minutes * 60)
    print(f"RL budget {budget / 60:.1f} min", flush=True)
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, tasks=list(tasks))
    trainer.output_dir.mkdir(parents=True, exist_ok=True)
    (trainer.output_dir / "metrics.jsonl").unlink(missing_ok=True)
    history: list[dict[str, Any]] = []
    checkpoints = [{"step": 0, "accuracy": ev_sft["accuracy"]}]
    t_rl, eval_s, mid_done = time.perf_counter(), 0.0, False
    while True:
        threads = pick_threads(args.threads)
        metrics, trajectories = trainer.train_step()
        metrics["threads"] = threads
        history.append(metrics)
        trainer.log_step(metrics, trajectories)  # the run directory's metrics.jsonl
        elapsed = time.perf_counter() - t_rl - eval_s
        print(
            f"rl step {trainer.step}: reward {metrics['reward_mean']:.3f} signal "
            f"{metrics['groups_with_signal_share']:.2f} entropy {metrics['entropy']:.3f} "
            f"len {metrics['response_length_mean']:.0f} ({metrics['time_step_s']:.0f} s, "
            f"{threads} threads; {elapsed / 60:.1f}/{budget / 60:.0f} min)",
            flush=True,
        )
        if elapsed + metrics["time_step_s"] >= budget:
            break
        due = (args.eval_every and trainer.step % args.eval_every == 0) or (
            not args.eval_every and not mid_done and elapsed >= budget / 2
        )
        if due:
            mid_done = True
            t0 = time.perf_counter()
            snapshot = merge_lora(trainer.model)  # a merged copy; the adapter trains on
            ev = evaluate(
                snapshot, tokenizer, heldout, env, out / f"eval_rl_step{trainer.step}", args
            )
            del snapshot
            eval_s += time.perf_counter() - t0
            checkpoints.append({"step": trainer.step, "accuracy": ev["accuracy"]})
            print(f"held-out accuracy at RL step {trainer.step}: {ev['accuracy']}", flush=True)
    timings["rl_s"] = time.perf_counter() - t_rl - eval_s
    timings["rl_eval_s"] = eval_s
    return merge_lora(trainer.model, in_place=True), history, checkpoints


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    p.add_argument("--heldout-pages", type=int, default=60, help="pages whose tasks are held out")
    p.add_argument("--sft-tasks", type=int, default=120)
    p.add_argument("--sft-eval-tasks", type=int, default=16)
    p.add_argument("--samples", type=int, default=2, help="teacher episodes per SFT task")
    p.add_argument("--sft-steps", type=int, default=60)
    p.add_argument("--sft-lr", type=float, default=8e-4)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--rl-minutes", type=float, default=42.0)
    p.add_argument(
        "--finish-by",
        default=None,
        help="HH:MM (local clock): end RL early enough to evaluate and export by then",
    )
    p.add_argument("--reserve-minutes", type=float, default=15.0, help="kept after RL")
    p.add_argument("--rl-lr", type=float, default=1e-4)
    p.add_argument("--rl-tasks-per-step", type=int, default=4)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument(
        "--eval-every", type=int, default=0, help="held-out eval every N RL steps (0: mid and end)"
    )
    p.add_argument("--spread-tasks", type=int, default=8)
    p.add_argument(
        "--max-new-tokens", type=int, default=64, help="per turn (the teacher's answers use ~40)"
    )
    p.add_argument("--eval-batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sampler-dtype",
        default="bfloat16",
        choices=("policy", "bfloat16"),
        help="GRPOConfig.sampler_dtype: rollouts by a bfloat16 copy (default) or the policy",
    )
    p.add_argument(
        "--run",
        default="full",
        help="run name: cache under benchmarks/.cache/rl/RUN, result bench_rl_learning[_RUN]; "
        "a new run reuses the stages before RL (teacher data, SFT, base/SFT evals) of 'full'",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--export", default=None, help="write the adapter, env profile and held-out tasks here"
    )
    p.add_argument("--fresh", action="store_true", help="redo every cached stage")
    p.add_argument(
        "--export-only",
        action="store_true",
        help="re-export the cached RL policy and model card from the last result (with --export)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.heldout_pages, args.sft_tasks, args.sft_eval_tasks = 6, 24, 6
        args.sft_steps, args.rl_minutes, args.spread_tasks, args.eval_batch = 6, 1.5, 2, 16
        args.rl_tasks_per_step, args.group_size = 2, 4
    logging.basicConfig(level=logging.WARNING)
    from lite_world.envs.profiles import PROFILES, profile_config
    from lite_world.tasks import Task

    run = "quick" if args.quick else args.run
    out = OUT / run
    result_name = "bench_rl_learning" if run == "full" else f"bench_rl_learning_{run}"
    if run not in ("quick", "full") and not out.exists() and (OUT / "full" / "sft").is_dir():
        out.mkdir(parents=True)
        for stage in (
            "teacher_sft.jsonl",
            "teacher_sft_eval.jsonl",
            "sft",
            "eval_base",
            "eval_sft",
        ):
            src = OUT / "full" / stage
            if src.is_dir():
                shutil.copytree(src, out / stage)
            elif src.is_file():
                shutil.copy2(src, out / stage)
    if args.export_only:
        result = json.loads((RESULTS_DIR / f"{result_name}.json").read_text())
        result["export"] = export_model(
            result, out, Path(args.export), 2 * result["args"]["lora_r"], args
        )
        print(f"adapter: {result['export']}", flush=True)
        write_result(result_name, result)
        return result
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    result: dict[str, Any] = {"args": vars(args), "profile": dict(PROFILES["small"])}

    # 1. tasks
    split = split_tasks(args.heldout_pages, args.sft_tasks, args.sft_eval_tasks, args.seed)
    result["tasks"] = {k: len(v) for k, v in split.items()}
    heldout = [Task.from_dict(t) for t in split["heldout"]]
    env = profile_config("small", tasks=split["heldout"])
    print(f"tasks: {result['tasks']}", flush=True)

    # 2. teacher
    t0 = time.perf_counter()
    teacher_sft = teacher_episodes(split["sft"], env, args.samples, args.seed)
    teacher_eval = teacher_episodes(split["sft_eval"], env, 1, args.seed + 7)
    teacher_held = teacher_episodes(split["heldout"], env, 1, args.seed + 11)
    teacher_held_greedy = teacher_episodes(split["heldout"], env, 1, args.seed + 11, 0.0)
    timings["teacher_s"] = time.perf_counter() - t0
    for name, eps in (("sft", teacher_sft), ("sft_eval", teacher_eval)):
        with open(out / f"teacher_{name}.jsonl", "w", encoding="utf-8") as f:
            for e in eps:
                f.write(json.dumps({"messages": e["messages"]}, ensure_ascii=False) + "\n")
    result["teacher"] = {
        "sft_data_accuracy": round(float(np.mean([e["reward"] for e in teacher_sft])), 4),
        "sft_conversations": len(teacher_sft),
        "heldout": bootstrap_ci([e["reward"] for e in teacher_held]),
        "heldout_greedy": bootstrap_ci([e["reward"] for e in teacher_held_greedy]),
        "heldout_by_pattern": by_pattern([e["reward"] for e in teacher_held], split["heldout"]),
    }
    print(f"teacher: {result['teacher']}", flush=True)

    # 3. base model on held-out
    from trainers.grpo.trainer import load_policy

    base, tokenizer = load_policy("smollm2")
    pick_threads(args.threads)
    t0 = time.perf_counter()
    ev_base = evaluate(base, tokenizer, heldout, env, out / "eval_base", args)
    timings["eval_base_s"] = time.perf_counter() - t0
    print(f"base held-out accuracy {ev_base['accuracy']}", flush=True)

    # 4. SFT (LoRA) with held-out loss and early stopping
    from trainers.sft.config import SFTConfig
    from trainers.sft.trainer import SFTTrainer

    t0 = time.perf_counter()
    sft_dir = out / "sft"
    sft_kwargs: dict[str, Any] = {}
    if "eval_data" in SFTConfig.__dataclass_fields__:
        sft_kwargs = {
            "eval_data": str(out / "teacher_sft_eval.jsonl"),
            "eval_every": max(2, args.sft_steps // 8),
            "early_stopping_patience": 2,
        }
    sft_config = SFTConfig(
        data=str(out / "teacher_sft.jsonl"),
        model="smollm2",
        max_length=1024,
        lora=True,
        lora_r=args.lora_r,
        lora_alpha=2.0 * args.lora_r,
        learning_rate=args.sft_lr,
        warmup_ratio=0.1,
        max_steps=args.sft_steps,
        batch_size=8,
        gradient_accumulation_steps=1,
        seed=args.seed,
        output_dir=str(sft_dir),
        mixed_precision="bf16",
        show_progress=True,
        **sft_kwargs,
    )
    if not (sft_dir / "model" / "config.json").is_file() or args.fresh:
        pick_threads(args.threads)
        sft = SFTTrainer(sft_config)
        sft_history = sft.train()
        del sft
    else:
        sft_history = [json.loads(x) for x in (sft_dir / "metrics.jsonl").read_text().splitlines()]
    state = json.loads((sft_dir / "trainer_state.json").read_text())
    timings["sft_s"] = time.perf_counter() - t0
    result["sft"] = {
        "steps": state["step"],
        "first_loss": sft_history[0]["loss"] if sft_history else None,
        "last_loss": sft_history[-1]["loss"] if sft_history else None,
        "eval_losses": [
            (m["step"], m["eval_loss"], m.get("eval_token_entropy"))
            for m in sft_history
            if "eval_loss" in m
        ],
        "best_step": state.get("best_step"),
        "stopped_early": state.get("stopped_early"),
    }
    sft_model, _ = load_policy(str(sft_dir / "model"))
    pick_threads(args.threads)
    t0 = time.perf_counter()
    ev_sft = evaluate(sft_model, tokenizer, heldout, env, out / "eval_sft", args)
    timings["eval_sft_s"] = time.perf_counter() - t0
    print(f"SFT held-out accuracy {ev_sft['accuracy']}", flush=True)

    # 5. spread of the SFT student on training tasks, then GRPO
    from trainers.grpo.config import GRPOConfig

    rl_env = profile_config("small", tasks=split["rl"])
    grpo_config = GRPOConfig(
        model=str(sft_dir / "model"),
        env=rl_env,
        lora=True,
        lora_r=args.lora_r,
        lora_alpha=2.0 * args.lora_r,
        tasks_per_step=args.rl_tasks_per_step,
        group_size=args.group_size,
        max_new_tokens=args.max_new_tokens,
        max_seq_len=1024,
        temperature=1.0,
        dynamic_sampling=True,
        max_resample_rounds=1,
        overlong_filtering=True,
        learning_rate=args.rl_lr,
        old_logprobs="sampler",
        sampler_dtype=args.sampler_dtype,
        micro_batch_size=8,
        mixed_precision="bf16",
        steps=10_000,
        seed=args.seed,
        output_dir=str(out / "grpo"),
        save_every=0,
        log_trajectories=2,
        plot=False,
    )
    rl_tasks = [Task.from_dict(t) for t in split["rl"]]
    t0 = time.perf_counter()
    result["spread_sft"] = spread(sft_model, tokenizer, rl_tasks[-args.spread_tasks :], grpo_config)
    timings["spread_s"] = time.perf_counter() - t0
    print(f"SFT spread on training tasks: {result['spread_sft']}", flush=True)

    rl_dir = out / "rl_model"
    if (rl_dir / "config.json").is_file() and not args.fresh:  # resume after a later crash
        rl_model, _ = load_policy(str(rl_dir))
        history = [json.loads(x) for x in (out / "grpo" / "metrics.jsonl").read_text().splitlines()]
        checkpoints = json.loads((out / "checkpoints.json").read_text())
        rl_steps = history[-1]["step"]
    else:
        rl_model, history, checkpoints = run_rl(
            grpo_config, sft_model, tokenizer, rl_tasks, heldout, env, ev_sft, out, args, timings
        )
        rl_steps = history[-1]["step"]
        rl_model.save_pretrained(rl_dir)
        tokenizer.save_pretrained(rl_dir)  # load_policy reads both
        (out / "checkpoints.json").write_text(json.dumps(checkpoints))
    pick_threads(args.threads)
    t0 = time.perf_counter()
    ev_rl = evaluate(rl_model, tokenizer, heldout, env, out / "eval_rl", args)
    timings["eval_rl_s"] = time.perf_counter() - t0
    if checkpoints[-1]["step"] != rl_steps:
        checkpoints.append({"step": rl_steps, "accuracy": ev_rl["accuracy"]})
    print(f"RL held-out accuracy {ev_rl['accuracy']}", flush=True)
    result["rl"] = {
        "steps": rl_steps,
        "config": grpo_config.to_dict(),
        "history": history,
        "checkpoints": checkpoints,
    }
    result["spread_rl"] = spread(rl_model, tokenizer, rl_tasks[-args.spread_tasks :], grpo_config)

    # 6. held-out figures
    held = {
        "base": ev_base["rewards"],
        "teacher": [e["reward"] for e in teacher_held],
        "sft": ev_sft["rewards"],
        "rl": ev_rl["rewards"],
    }
    result["heldout"] = {
        name: {
            **bootstrap_ci(r),
            "by_pattern": by_pattern(r, split["heldout"]),
        }
        for name, r in held.items()
    }
    result["heldout"]["teacher_greedy"] = result["teacher"]["heldout_greedy"]
    for policy, ev in (("base", ev_base), ("sft", ev_sft), ("rl", ev_rl)):
        result["heldout"][policy]["protocol"] = {k: v for k, v in ev.items() if k != "rewards"}
    result["differences"] = {
        "rl_minus_sft": bootstrap_ci(held["rl"], held["sft"]),
        "rl_minus_teacher": bootstrap_ci(held["rl"], held["teacher"]),
        "sft_minus_base": bootstrap_ci(held["sft"], held["base"]),
    }
    d = result["differences"]["rl_minus_sft"]
    result["goal"] = {
        "rl_beats_sft_by_5_points_ci_excludes_0": bool(d["mean"] >= 0.05 and d["low"] > 0),
        "rl_beats_teacher": bool(result["differences"]["rl_minus_teacher"]["low"] > 0),
    }

    # 7. export
    if args.export:
        result["export"] = export_model(result, out, Path(args.export), 2 * args.lora_r)
        print(f"adapter: {result['export']}", flush=True)

    timings["total_s"] = time.perf_counter() - t_start
    result["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    rows = [
        {
            "policy": name,
            "accuracy": v["mean"],
            "95% CI": f"[{v['low']:.3f}, {v['high']:.3f}]",
        }
        for name, v in result["heldout"].items()
    ]
    print(table(rows, ["policy", "accuracy", "95% CI"]))
    print("differences:", json.dumps(result["differences"]))
    write_result(result_name, result)
    plot(result, RESULTS_DIR / f"{result_name}.png")
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    hist = result["rl"]["history"]
    steps = [m["step"] for m in hist]
    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5))
    panels = [
        ("reward_mean", "reward (train, sampled)"),
        ("entropy", "per-token entropy"),
        ("response_length_mean", "response tokens / episode"),
        ("tool_calls_mean", "tool calls / episode"),
        ("groups_with_signal_share", "share of groups with signal"),
        ("time_step_s", "seconds / step"),
    ]
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        ax.plot(steps, [m.get(key, float("nan")) for m in hist], marker="o")
        ax.set_title(title)
        ax.set_xlabel("RL step")
    ax = axes.flat[6]
    cps = result["rl"]["checkpoints"]
    ax.plot([c["step"] for c in cps], [c["accuracy"] for c in cps], marker="o", color="C2")
    ax.set_title("held-out accuracy (greedy)")
    ax.set_xlabel("RL step")
    ax = axes.flat[7]
    names = list(result["heldout"])
    means = [result["heldout"][n]["mean"] for n in names]
    errs = [
        [m - result["heldout"][n]["low"] for n, m in zip(names, means, strict=True)],
        [result["heldout"][n]["high"] - m for n, m in zip(names, means, strict=True)],
    ]
    ax.bar(names, means, yerr=errs, capsize=4, color=["C7", "C1", "C0", "C2", "C5"][: len(names)])
    ax.set_title(f"held-out accuracy, 95% CI (n={result['tasks']['heldout']})")
    ax.tick_params(axis="x", rotation=20)
    fig.suptitle("bench_rl_learning: SmolLM2-135M, demo world, CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
