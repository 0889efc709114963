"""Cold-start SFT on CPU (issue 6): teacher trajectories → filters → SFT of SmolLM2-135M → does
it now speak the tool protocol on held-back tasks? Then GRPO from the SFT checkpoint.

Stages (each cached under ``benchmarks/.cache/sft/``, so a rerun resumes; ``--fresh`` redoes all):

1. **Tasks.** The 100 bundled MuSiQue questions are split by question: the first 80 feed the
   teacher, the last 20 are held back. Besides each multi-hop question, its single-hop
   sub-questions become tasks too (``#1`` replaced by the first hop's answer, e.g. "Who was the
   first president of American Psychological Association?"); their evidence is in the demo world.
2. **Teacher.** The built-in ``ScriptedAgent`` (search → visit → [bridge search → visit] →
   answer) in five settings (hops 1–2, 1–3 pages visited) on the training tasks, in the paper's
   ``tool_call`` format; observations are shortened (``search_k=3``, 2,000 characters) to keep
   CPU sequences near 1.5K tokens.
3. **Data.** ``build_sft_data`` with all seven filters and four cleaning steps; report and
   histograms in the cache directory.
4. **Before / after.** Greedy episodes of SmolLM2 on the held-back tasks (never trained on), before
   and after SFT: valid tool-call rate, answer rate, accuracy (EM), format-error rate.
5. **SFT.** ``trainers.sft`` for a bounded number of steps (full-parameter, cosine with 10% warmup).
6. **GRPO** (``--grpo-minutes``, 0 to skip): ``trainers.grpo`` from the SFT checkpoint on the
   single-hop training tasks; is there reward signal now, and does it rise?

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_sft_coldstart                 # ~1 h on 2 cores
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_sft_coldstart --quick         # smoke test, minutes

Outputs: ``benchmarks/results/bench_sft_coldstart.{json,png}`` (``_quick`` with ``--quick``), and the
runs (teacher trajectories, SFT data and report, SFT checkpoint, evaluation episodes with an HTML
viewer each, GRPO metrics) under ``benchmarks/.cache/sft/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks._common import CACHE_DIR, RESULTS_DIR, pyplot, table, write_result
from lite_world.envs.config import LiteSearchConfig

OUT = CACHE_DIR / "sft"
ENV = LiteSearchConfig(search_k=3, max_observation_chars=2000)
TEACHERS = ((1, 1), (1, 2), (1, 3), (2, 2), (2, 3))  # (hops, pages visited per hop)
METRICS = ("valid_call_rate", "answer_rate", "accuracy", "format_error_rate")


def split_tasks(n_train_items: int = 80) -> tuple[list[Any], list[Any], list[Any]]:
    """``(train tasks, held-back multi-hop tasks, held-back single-hop tasks)``."""
    from lite_world.demo import DEMO_DATA
    from lite_world.tasks import Task

    items = json.loads((DEMO_DATA / "musique_train.json").read_text())

    def tasks_of(item: dict[str, Any]) -> tuple[Any, list[Any]]:
        hops = item["question_decomposition"]
        answers = [h["answer"] for h in hops]
        multi = Task.from_dict(
            {
                "id": item["id"],
                "question": item["question"],
                "answers": [item["answer"], *item.get("answer_aliases", [])],
                "difficulty": len(hops),
            }
        )
        single = []
        for k, hop in enumerate(hops):
            q = re.sub(r"#(\d+)", lambda m: answers[int(m.group(1)) - 1], hop["question"]).strip()
            if (
                ">>" in q or "#" in q or len(q) < 12
            ):  # MuSiQue's "X >> relation" hops are not questions
                continue
            single.append(
                Task.from_dict(
                    {
                        "id": f"{item['id']}-hop{k + 1}",
                        "question": q,
                        "answers": [hop["answer"]],
                        "difficulty": 1,
                    }
                )
            )
        return multi, single

    train, held_multi, held_single = [], [], []
    for i, item in enumerate(items):
        multi, single = tasks_of(item)
        if i < n_train_items:
            train += [multi, *single]
        else:
            held_multi.append(multi)
            held_single += single
    return train, held_multi, held_single


def teacher_rollouts(tasks: list[Any], out: Path) -> Path:
    """ScriptedAgent episodes in every teacher setting, appended to one ``trajectories.jsonl``."""
    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.rollout import RolloutConfig, run_rollouts

    path = out / "trajectories.jsonl"
    if path.is_file():
        return path
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for hops, visit_k in TEACHERS:
        run_dir = out / f"hops{hops}-visit{visit_k}"
        summary = run_rollouts(
            lambda visit_k=visit_k, hops=hops: ScriptedAgent(visit_k=visit_k, hops=hops),
            RolloutConfig(env=ENV, show_progress=False),
            out_dir=run_dir,
            tasks=tasks,
        )
        print(
            f"teacher hops={hops} visit_k={visit_k}: accuracy {summary['accuracy']:.3f} on {len(tasks)} tasks",
            flush=True,
        )
        for line in (run_dir / "trajectories.jsonl").read_text().splitlines():
            ep = json.loads(line)
            ep["sample"] = f"h{hops}v{visit_k}"
            lines.append(json.dumps(ep, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n")
    return path


def teacher_on(tasks: list[Any]) -> dict[str, float]:
    """The teacher's own accuracy on ``tasks`` in each setting (the student's reference point)."""
    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.rollout import RolloutConfig, run_rollouts

    return {
        f"hops{hops}-visit{visit_k}": run_rollouts(
            lambda visit_k=visit_k, hops=hops: ScriptedAgent(visit_k=visit_k, hops=hops),
            RolloutConfig(env=ENV, show_progress=False),
            tasks=tasks,
        )["accuracy"]
        for hops, visit_k in TEACHERS
    }


def evaluate(
    model_name: str, tasks: list[Any], out: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Greedy episodes of ``model_name`` on ``tasks`` (cached in ``out``); protocol metrics."""
    from trainers.grpo.trainer import load_policy
    from trainers.sft.evaluate import evaluate_policy, protocol_metrics

    path = out / "episodes.jsonl"
    cached = (
        [json.loads(line)["task_id"] for line in path.read_text().splitlines()]
        if path.is_file()
        else None
    )
    if cached != [t.id for t in tasks]:  # none yet, or for other tasks
        out.mkdir(parents=True, exist_ok=True)
        model, tokenizer = load_policy(model_name)
        model.eval()
        t0 = time.perf_counter()
        episodes = evaluate_policy(
            model,
            tokenizer,
            tasks,
            env=ENV.replace(max_turns=args.max_turns),
            max_new_tokens=args.max_new_tokens,
            batch_size=args.eval_batch,
        )
        wall = time.perf_counter() - t0
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in episodes))
        (out / "wall_s.txt").write_text(f"{wall:.1f}")
        from lite_world.rollout.report import write_viewer
        from lite_world.rollout.summary import summarize

        write_viewer(episodes, summarize(episodes, wall_s=wall), out / "viewer.html")
    episodes = [json.loads(line) for line in path.read_text().splitlines()]
    metrics = protocol_metrics(episodes)
    metrics["wall_s"] = float((out / "wall_s.txt").read_text())
    metrics["by_kind"] = {
        kind: protocol_metrics(
            [e for e in episodes if ("-hop" in e["task_id"]) == (kind == "single-hop")]
        )
        for kind in ("single-hop", "multi-hop")
    }
    metrics["example"] = next(
        (e["messages"][2]["content"] for e in episodes if len(e["messages"]) > 2), ""
    )[:400]
    return metrics


def run_grpo(checkpoint: str, tasks: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.trainer import GRPOTrainer

    out = OUT / "grpo"
    config = GRPOConfig(
        model=checkpoint,
        env=ENV.replace(action_format="tool_call", reward="f1", max_turns=args.max_turns),
        max_new_tokens=args.max_new_tokens,
        tasks_per_step=args.grpo_tasks_per_step,
        group_size=args.grpo_group_size,
        learning_rate=args.grpo_learning_rate,
        temperature=args.grpo_temperature,
        micro_batch_size=2,
        max_seq_len=4096,
        steps=100,
        save_every=0,
        save_total_limit=1,
        output_dir=str(out),
        seed=args.seed,
        log_trajectories=2,
    )
    if (out / "metrics.jsonl").is_file():  # cached: the run is its metrics
        history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    else:
        history = GRPOTrainer(config, tasks=tasks).train(time_limit_s=args.grpo_minutes * 60)
        for ckpt in out.glob("checkpoint-*"):  # 540 MB each: the curve is the result
            shutil.rmtree(ckpt, ignore_errors=True)
    keep = (
        "step",
        "reward_mean",
        "reward_max",
        "f1_mean",
        "answered",
        "tool_calls_mean",
        "action_errors_mean",
        "groups_zero_std",
        "response_length_mean",
        "time_step_s",
    )
    steps = [{k: m.get(k) for k in keep} for m in history]
    rewards = [m["reward_mean"] for m in history]
    half = max(1, len(rewards) // 2)
    return {
        "config": config.to_dict(),
        "steps": steps,
        "reward_first_half": sum(rewards[:half]) / half if rewards else 0.0,
        "reward_second_half": sum(rewards[half:]) / max(1, len(rewards) - half) if rewards else 0.0,
        "groups_with_signal": sum(1 - m["groups_zero_std"] for m in history)
        * config.tasks_per_step,
    }


def plot(
    result: dict[str, Any], sft_metrics: list[dict[str, Any]], grpo: dict[str, Any] | None
) -> Path:
    plt = pyplot()
    n = 3 if grpo else 2
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.0))
    before, after = result["before"], result["after"]
    xs = range(len(METRICS))
    axes[0].bar(
        [x - 0.2 for x in xs],
        [before[m] for m in METRICS],
        0.4,
        label="before SFT",
        color="tab:gray",
    )
    axes[0].bar(
        [x + 0.2 for x in xs], [after[m] for m in METRICS], 0.4, label="after SFT", color="tab:blue"
    )
    for x, m in zip(xs, METRICS, strict=False):
        axes[0].annotate(
            f"{after[m]:.2f}", (x + 0.2, after[m]), ha="center", va="bottom", fontsize=8
        )
        axes[0].annotate(
            f"{before[m]:.2f}", (x - 0.2, before[m]), ha="center", va="bottom", fontsize=8
        )
    teacher = max(result["teacher_on_held_back"].values())
    acc = METRICS.index("accuracy")
    axes[0].hlines(
        teacher,
        acc - 0.45,
        acc + 0.45,
        colors="tab:red",
        linestyles="--",
        label="best teacher setting",
    )
    axes[0].set_xticks(list(xs), [m.replace("_", "\n") for m in METRICS], fontsize=8)
    axes[0].set_ylim(0, 1.1)
    axes[0].set_title(f"held-back tasks ({before['episodes']} episodes, greedy)")
    axes[0].legend(fontsize=8)
    axes[1].plot(
        [m["step"] for m in sft_metrics], [m["loss"] for m in sft_metrics], color="tab:blue"
    )
    axes[1].set_xlabel("SFT step")
    axes[1].set_ylabel("assistant-token loss")
    axes[1].set_title(
        f"SFT of SmolLM2-135M: {result['sft']['conversations']} conversations, lr {result['args']['learning_rate']:g}"
    )
    if grpo:
        steps = grpo["steps"]
        axes[2].plot(
            [s["step"] for s in steps],
            [s["reward_mean"] for s in steps],
            marker="o",
            label="mean reward (F1)",
        )
        axes[2].plot(
            [s["step"] for s in steps], [s["answered"] for s in steps], marker="x", label="answered"
        )
        axes[2].set_xlabel("GRPO step")
        axes[2].set_ylim(0, 1.05)
        axes[2].legend(fontsize=8)
        axes[2].set_title("GRPO from the SFT checkpoint")
    fig.suptitle(
        "Cold-start SFT on CPU: ScriptedAgent teacher → filters → SmolLM2-135M", fontsize=11
    )
    fig.tight_layout()
    path = RESULTS_DIR / f"{result['name']}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_sft_coldstart", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--sft-steps", type=int, default=80)
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument(
        "--max-length",
        type=int,
        default=2048,
        help="SFT tokens per conversation (longer ones dropped)",
    )
    ap.add_argument(
        "--eval-single", type=int, default=10, help="held-back single-hop tasks evaluated"
    )
    ap.add_argument("--eval-multi", type=int, default=6, help="held-back multi-hop tasks evaluated")
    ap.add_argument("--eval-batch", type=int, default=16)
    ap.add_argument("--max-turns", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--grpo-minutes", type=float, default=15.0, help="0: no GRPO stage")
    ap.add_argument("--grpo-tasks-per-step", type=int, default=2)
    ap.add_argument("--grpo-group-size", type=int, default=4)
    ap.add_argument("--grpo-learning-rate", type=float, default=2e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grpo-temperature", type=float, default=1.0)
    ap.add_argument(
        "--tag",
        default="",
        help="a variant's name: runs go to .cache/sft-TAG, results to bench_sft_coldstart_TAG",
    )
    ap.add_argument("--fresh", action="store_true", help="redo every stage")
    ap.add_argument(
        "--quick", action="store_true", help="smoke test: 3 SFT steps, 2+1 eval tasks, 1 GRPO step"
    )
    args = ap.parse_args(argv)
    global OUT
    if args.tag:
        OUT = CACHE_DIR / f"sft-{args.tag}"
    if args.quick:
        OUT = CACHE_DIR / "sft-quick"
        args.sft_steps, args.eval_single, args.eval_multi, args.max_turns, args.max_new_tokens = (
            3,
            2,
            1,
            3,
            48,
        )
        args.grpo_minutes = min(args.grpo_minutes, 0.5)
    if args.fresh:
        shutil.rmtree(OUT, ignore_errors=True)

    import torch

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    from lite_world.agents.smollm import load_smollm2
    from lite_world.sft import SFTDataConfig, build_sft_data, read_trajectories, token_counter
    from trainers.sft.config import SFTConfig
    from trainers.sft.trainer import SFTTrainer

    t_start = time.perf_counter()
    train, held_multi, held_single = split_tasks()
    held = held_single[: args.eval_single] + held_multi[: args.eval_multi]
    print(f"{len(train)} training tasks; {len(held)} held-back eval tasks", flush=True)

    t0 = time.perf_counter()
    traj_path = teacher_rollouts(train, OUT / "teacher")
    teacher_s = time.perf_counter() - t0
    result = build_sft_data(
        read_trajectories(traj_path),
        SFTDataConfig(),
        OUT / "data",
        count_tokens=token_counter(load_smollm2()[1]),
    )
    data = {k: v for k, v in result.report.items() if k not in ("histograms", "config")}
    print(
        f"SFT data: kept {data['kept']} of {data['total']}; first reasons {data['first_reason']}; "
        f"mean {data['kept_stats']['tokens']['mean']} tokens, {data['kept_stats']['turns']['mean']} turns",
        flush=True,
    )

    before = evaluate("smollm2", held, OUT / "eval-before", args)
    print("before SFT:", {m: before[m] for m in METRICS}, flush=True)

    sft_dir = OUT / "sft"
    if not (sft_dir / "model" / "config.json").is_file():
        config = SFTConfig(
            data=str(OUT / "data"),
            model="smollm2",
            output_dir=str(sft_dir),
            learning_rate=args.learning_rate,
            warmup_ratio=0.1,
            lr_scheduler="cosine",
            max_steps=args.sft_steps,
            batch_size=1,
            max_length=args.max_length,
            truncation="drop",
            seed=args.seed,
            save_every=0,
        )
        t0 = time.perf_counter()
        SFTTrainer(config).train()
        (sft_dir / "wall_s.txt").write_text(f"{time.perf_counter() - t0:.1f}")
    sft_metrics = [
        json.loads(line) for line in (sft_dir / "metrics.jsonl").read_text().splitlines()
    ]
    print(
        f"SFT: {len(sft_metrics)} steps, loss {sft_metrics[0]['loss']:.3f} -> {sft_metrics[-1]['loss']:.3f}",
        flush=True,
    )

    after = evaluate(str(sft_dir / "model"), held, OUT / "eval-after", args)
    print("after SFT:", {m: after[m] for m in METRICS}, flush=True)
    teacher_held = teacher_on(held)
    print("teacher (ScriptedAgent) accuracy on the same held-back tasks:", teacher_held, flush=True)

    grpo = None
    if args.grpo_minutes > 0:
        single_train = [t for t in train if "-hop" in t.id]
        grpo = run_grpo(str(sft_dir / "model"), single_train, args)
        print(
            table(
                grpo["steps"],
                [
                    "step",
                    "reward_mean",
                    "reward_max",
                    "answered",
                    "tool_calls_mean",
                    "groups_zero_std",
                    "time_step_s",
                ],
            )
        )

    losses = [m["loss"] for m in sft_metrics]
    name = "bench_sft_coldstart" + ("_quick" if args.quick else f"_{args.tag}" if args.tag else "")
    out = {
        "name": name,
        "quick": args.quick,
        "args": vars(args),
        "env": ENV.to_dict(),
        "teachers": TEACHERS,
        "tasks": {"train": len(train), "held_back": len(held)},
        "teacher_s": round(teacher_s, 1),
        "data": data,
        "before": before,
        "after": after,
        "teacher_on_held_back": teacher_held,
        "sft": {
            "steps": len(sft_metrics),
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "min_loss": min(losses),
            "wall_s": float((sft_dir / "wall_s.txt").read_text()),
            "tokens_per_step": sum(m["tokens"] for m in sft_metrics) / len(sft_metrics),
            "conversations": json.loads((sft_dir / "trainer_state.json").read_text())[
                "conversations"
            ],
        },
        "grpo": grpo,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    print(f"wrote {write_result(name, out)}")
    print(f"wrote {plot(out, sft_metrics, grpo)}")


if __name__ == "__main__":
    main()
