"""GRPO with LoRA vs full fine-tuning: seconds per step, memory, checkpoint, merge (issue 15, §1).

SmolLM2-135M-Instruct (the SFT checkpoint of ``bench_rl_learning`` when it is cached, else the
embedded base model) trained by :class:`~trainers.grpo.trainer.GRPOTrainer` in the demo world
with the env's ``small`` profile, on the same pattern tasks, seed and settings as
``bench_rl_learning``'s RL stage (bf16 autocast, sampler log-probs, micro-batches of 8,
clip-higher, overlong filtering, 48 new tokens per turn), except:

* ``lora`` on (rank 8, alpha 16, every linear projection, lr 1e-4: the RL stage's) or off (every
  weight trained, lr 1e-5: a full update moves all 135M weights, so it gets a tenth of the
  adapter's rate, the usual LoRA : full ratio);
* a smaller batch (``--tasks-per-step`` x ``--group-size``, default 2 x 4) for a few steps, and
  no dynamic sampling and no skipping of zero-advantage trajectories (``skip_zero_advantage``
  off), so both modes do the same work per step: every sampled episode is rolled out once and
  trained once whatever its reward (``--bench-settings`` restores both).

Two more modes show the remedies: ``lora-gc`` (gradient checkpointing: the update keeps each
layer's input instead of its activations) and ``lora-bf16s`` (``sampler_dtype="bfloat16"``:
rollouts sampled by a bfloat16 copy with the adapter merged, instead of the fp32 base plus the
adapter under autocast, which casts every frozen weight again at every decoding step).

Each mode runs in its own subprocess, so each peak RSS (``ru_maxrss``) is its own, and reports:
seconds per step from the trainer's own metrics (``time_rollout_s``: sampling and tools;
``time_update_s``: the behaviour log-probs, which ``old_logprobs="sampler"`` takes from the
sampler without a forward, plus forward, backward and the AdamW step), the RSS sampled every
50 ms and its maximum per phase, the trainable parameters, the optimizer state's bytes, the
checkpoint's size on disk (``save_checkpoint``: with LoRA the merged model and the adapter),
and the time to merge the adapter and export a plain model (LoRA) or export the model (full).
With LoRA's B matrices at 0 both modes start from the same policy, so step 1 samples the same
episodes in both (recorded: ``first_step_same``).

    HF_HUB_OFFLINE=1 python -m benchmarks.bench_lora_vs_full            # ~15 min on 2 cores
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_lora_vs_full --quick    # 2 steps of 1 x 2

Writes ``benchmarks/results/bench_lora_vs_full{_quick}.{json,png}``; runs go to
``benchmarks/.cache/lora_vs_full/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import CACHE_DIR, RESULTS_DIR, pyplot, rss_mb, table, write_result

OUT = CACHE_DIR / "lora_vs_full"
SFT_MODEL = CACHE_DIR / "rl" / "full" / "sft" / "model"
MODES = ("lora", "full", "lora-gc", "lora-bf16s")
NOTES = (
    "Means over the steps after the first (it warms up); the box's other jobs load it (loadavg "
    "per mode), so cpu_*_s (process CPU seconds) are the steadier figures. time_tools_s in the "
    "raw steps is the env.step time only: the turn's batched search (prefetch_searches) runs "
    "outside it and is counted in time_generate_s."
)


class RSSSampler:
    """Samples this process's RSS and CPU time every ``interval`` seconds in a daemon thread.

    Example:
        >>> with RSSSampler(0.01) as s:
        ...     time.sleep(0.05)
        >>> len(s.samples) > 1, s.max_between(0, float("inf")) > 0, s.cpu_between(0, 1e9) >= 0
        (True, True, True)
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now, cpu = time.perf_counter(), time.process_time()
            self.samples.append((now, rss_mb().get("rss_mb", 0.0), cpu))
            self._stop.wait(self.interval)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def max_between(self, start: float, end: float) -> float:
        """The largest RSS sample (MiB) taken in ``[start, end]`` (0 when none)."""
        return max((r for t, r, _ in list(self.samples) if start <= t <= end), default=0.0)

    def cpu_between(self, start: float, end: float) -> float:
        """Process CPU seconds (every thread) between the samples nearest ``start`` and ``end``."""
        inside = [c for t, _, c in list(self.samples) if start <= t <= end]
        return inside[-1] - inside[0] if len(inside) > 1 else 0.0


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def grpo_config(mode: str, args: Any, tasks: Sequence[dict[str, Any]]) -> Any:
    """The RL stage's ``GRPOConfig`` of ``bench_rl_learning`` with ``lora`` on or off."""
    from lite_world.envs.profiles import profile_config
    from trainers.grpo.config import GRPOConfig

    base, *flags = mode.split("-")
    lora = base == "lora"
    extra = {"sampler_dtype": "bfloat16"} if "bf16s" in flags else {}
    return GRPOConfig(
        model=args.model,
        env=profile_config("small", tasks=list(tasks)),
        lora=lora,
        lora_r=args.lora_r,
        lora_alpha=2.0 * args.lora_r,
        tasks_per_step=args.tasks_per_step,
        group_size=args.group_size,
        max_new_tokens=48,
        max_seq_len=1024,
        temperature=1.0,
        dynamic_sampling=args.bench_settings,
        max_resample_rounds=1,
        overlong_filtering=True,
        skip_zero_advantage=args.bench_settings,
        learning_rate=args.lora_lr if lora else args.full_lr,
        old_logprobs="sampler",
        micro_batch_size=8,
        mixed_precision="bf16",
        gradient_checkpointing="gc" in flags,
        steps=args.steps,
        seed=args.seed,
        output_dir=str(OUT / ("quick" if args.quick else "full") / mode),
        save_every=0,
        save_total_limit=1,
        log_trajectories=0,
        plot=False,
        **extra,
    )


def run_mode(mode: str, args: Any) -> dict[str, Any]:
    """One mode, in this process: train, checkpoint, merge/export; its figures."""
    import torch

    from benchmarks.bench_rl_learning import split_tasks
    from lite_world.tasks import Task
    from trainers._lora import merge_lora, save_adapter
    from trainers.grpo.trainer import GRPOTrainer

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    split = split_tasks(60, 120, 16, args.seed)  # bench_rl_learning's split; RL tasks only
    config = grpo_config(mode, args, split["rl"])
    run_dir = Path(config.output_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    out: dict[str, Any] = {"mode": mode, "model": args.model, "threads": args.threads}
    with RSSSampler() as sampler:
        t0 = time.perf_counter()
        trainer = GRPOTrainer(config, tasks=[Task.from_dict(t) for t in split["rl"]])
        out["setup_s"] = round(time.perf_counter() - t0, 2)
        out["rss_after_setup_mb"] = rss_mb()["rss_mb"]
        params = [p for p in trainer.model.parameters() if p.requires_grad]
        out["trainable_params"] = sum(p.numel() for p in params)
        out["total_params"] = sum(p.numel() for p in trainer.model.parameters())
        out["learning_rate"] = config.learning_rate
        steps = []
        for _ in range(config.steps):
            start = time.perf_counter()
            metrics, trajectories = trainer.train_step()
            end = time.perf_counter()
            split_at = start + metrics["time_rollout_s"]
            steps.append(
                {
                    **{
                        k: metrics[k]
                        for k in (
                            "step",
                            "time_rollout_s",
                            "time_update_s",
                            "time_step_s",
                            "generated_tokens",
                            "generated_tokens_per_s",
                            "trained_tokens",
                            "trained_trajectories",
                            "reward_mean",
                            "loss",
                            "grad_norm",
                            "sequence_length_mean",
                        )
                    },
                    **{  # the finer split, where the trainer logs it
                        k: metrics[k]
                        for k in ("time_generate_s", "time_tools_s", "time_old_logprobs_s")
                        if k in metrics
                    },
                    "cpu_rollout_s": round(sampler.cpu_between(start, split_at), 2),
                    "cpu_update_s": round(sampler.cpu_between(split_at, end), 2),
                    "rss_max_rollout_mb": sampler.max_between(start, split_at),
                    "rss_max_update_mb": sampler.max_between(split_at, end),
                    "rss_after_step_mb": rss_mb()["rss_mb"],
                    "sampled_ids_digest": hash(tuple(tuple(t.input_ids) for t in trajectories)),
                }
            )
            print(
                f"[{mode}] step {metrics['step']}: rollout {metrics['time_rollout_s']:.1f} s, "
                f"update {metrics['time_update_s']:.1f} s, RSS max "
                f"{steps[-1]['rss_max_rollout_mb']:.0f} / {steps[-1]['rss_max_update_mb']:.0f} MiB",
                flush=True,
            )
        out["steps"] = steps
        out["optimizer_state_bytes"] = sum(
            v.numel() * v.element_size()
            for state in trainer.optimizer.state.values()
            for v in state.values()
            if torch.is_tensor(v)
        )
        t0 = time.perf_counter()
        checkpoint = trainer.save_checkpoint()
        out["checkpoint_s"] = round(time.perf_counter() - t0, 2)
        out["checkpoint_bytes"] = _tree_bytes(checkpoint)
        out["checkpoint_parts_bytes"] = {
            p.name: _tree_bytes(p) if p.is_dir() else p.stat().st_size
            for p in sorted(checkpoint.iterdir())
        }
        export = run_dir / "export"
        t0 = time.perf_counter()
        if config.lora:
            merged = merge_lora(trainer.model)  # a merged copy: the adapter could train on
            out["merge_s"] = round(time.perf_counter() - t0, 2)
            merged.save_pretrained(export / "model")
            out["export_s"] = round(time.perf_counter() - t0, 2)
            t1 = time.perf_counter()
            save_adapter(trainer.model, export / "adapter")
            out["adapter_save_s"] = round(time.perf_counter() - t1, 2)
            out["adapter_bytes"] = _tree_bytes(export / "adapter")
            del merged
        else:
            out["merge_s"] = 0.0  # nothing to merge
            trainer.model.save_pretrained(export / "model")
            out["export_s"] = round(time.perf_counter() - t0, 2)
        out["export_model_bytes"] = _tree_bytes(export / "model")
    out["rss_samples"] = len(sampler.samples)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["loadavg_start"] = [round(x, 2) for x in load_start]
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def saved_activations(mode: str, args: Any) -> dict[str, Any]:
    """What one micro-batch's forward keeps for the backward pass, by tensor shape (MiB).

    ``args.saved_shape`` (``B,T``) synthetic trajectories of SmolLM2 under bf16 autocast, the
    second half of the rows right-padded by a fifth and 55 policy tokens per row, through the
    trainer's own :func:`~trainers.grpo.trainer.policy_position_logits`; every tensor autograd
    saves is counted once per storage (``torch.autograd.graph.saved_tensors_hooks``).
    """
    import collections

    import torch

    from trainers._lora import LINEAR_PROJECTIONS, apply_lora
    from trainers.grpo.algorithm import token_logprobs
    from trainers.grpo.trainer import load_policy, policy_position_logits

    torch.set_num_threads(args.threads)
    b, t = (int(x) for x in args.saved_shape.split(","))
    model, _ = load_policy(args.model)
    if mode == "lora":
        model = apply_lora(
            model,
            r=args.lora_r,
            alpha=2.0 * args.lora_r,
            dropout=0.0,
            modules=LINEAR_PROJECTIONS,
            seed=args.seed,
        )
    model.eval()
    generator = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, model.config.vocab_size, (b, t), generator=generator)
    attention = torch.ones_like(ids)
    attention[b // 2 :, t - t // 5 :] = 0
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[:, t // 2 : t // 2 + 55] = True
    storages: dict[int, int] = {}
    by_shape: collections.Counter[str] = collections.Counter()

    def pack(x: Any) -> Any:
        key = x.untyped_storage().data_ptr()
        if key not in storages:
            storages[key] = x.untyped_storage().nbytes()
            by_shape[f"{str(x.dtype).removeprefix('torch.')} {tuple(x.shape)}"] += storages[key]
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = policy_position_logits(model, ids, attention, positions)
            token_logprobs(logits, ids[positions]).sum()
    total = sum(storages.values())
    return {
        "mode": mode,
        "batch": b,
        "seq_len": t,
        "saved_mib": round(total / 2**20, 1),
        "mib_per_token": round(total / 2**20 / (b * t), 3),
        "by_shape_mib": {k: round(v / 2**20, 1) for k, v in by_shape.most_common(12)},
    }


def summarize_mode(r: dict[str, Any]) -> dict[str, Any]:
    """Means over the steps after the first (the first warms up), and over all steps."""
    later = r["steps"][1:] or r["steps"]

    def mean(key: str, rows: Sequence[dict[str, Any]] = later) -> float | None:
        if not all(key in s for s in rows):
            return None  # a metric this trainer does not log
        return round(sum(s[key] for s in rows) / len(rows), 2)

    trained = sum(s["trained_tokens"] for s in later)
    return {
        "mode": r["mode"],
        "rollout_s": mean("time_rollout_s"),  # sampling, searches, env steps (raw: the split)
        "old_logprobs_s": mean("time_old_logprobs_s"),  # "sampler": no behaviour forward
        "update_s": mean("time_update_s"),
        "step_s": mean("time_step_s"),
        "step_s_all": mean("time_step_s", r["steps"]),
        "cpu_rollout_s": mean("cpu_rollout_s"),
        "cpu_update_s": mean("cpu_update_s"),
        "update_ms_per_trained_token": round(
            1e3 * sum(s["time_update_s"] for s in later) / max(trained, 1), 2
        ),
        "generated_tokens_per_s": mean("generated_tokens_per_s"),
        "peak_rss_mb": r["peak_rss_mb"],
        "rss_after_setup_mb": r["rss_after_setup_mb"],
        "rss_max_rollout_mb": max(s["rss_max_rollout_mb"] for s in r["steps"]),
        "rss_max_update_mb": max(s["rss_max_update_mb"] for s in r["steps"]),
        "rss_after_step_mb": max(s["rss_after_step_mb"] for s in r["steps"]),
        "trainable_params": r["trainable_params"],
        "optimizer_state_mb": round(r["optimizer_state_bytes"] / 2**20, 2),
        "checkpoint_mb": round(r["checkpoint_bytes"] / 2**20, 1),
        "merge_s": r["merge_s"],
        "export_s": r["export_s"],
        "loadavg": r["loadavg_start"][0],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--tasks-per-step", type=int, default=2)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-lr", type=float, default=1e-4)
    p.add_argument("--full-lr", type=float, default=1e-5)
    p.add_argument(
        "--model",
        default=str(SFT_MODEL) if (SFT_MODEL / "config.json").is_file() else "smollm2",
        help="policy to start from (default: bench_rl_learning's cached SFT model, else smollm2)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the box is shared)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated: lora or full, each with optional suffixes -gc (gradient "
        "checkpointing) and -bf16s (sampler_dtype='bfloat16': a bf16 sampling copy)",
    )
    p.add_argument(
        "--bench-settings",
        action="store_true",
        help="dynamic sampling and zero-advantage skipping on, as bench_rl_learning (the work "
        "per step then differs between modes)",
    )
    p.add_argument("--quick", action="store_true", help="2 steps of 1 task x 2 episodes")
    p.add_argument(
        "--saved-activations",
        action="store_true",
        help="only measure what one micro-batch's forward saves for backward (lora, full) and "
        "add it to the last result JSON",
    )
    p.add_argument("--saved-shape", default="8,400", help="B,T of that micro-batch")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.tasks_per_step, args.group_size = 2, 1, 2
    if args.child:
        saved = args.child.startswith("saved:")
        run = saved_activations if saved else run_mode
        result = run(args.child.removeprefix("saved:"), args)
        Path(args.child_out).write_text(json.dumps(result, indent=2))
        return result

    name = "bench_lora_vs_full_quick" if args.quick else "bench_lora_vs_full"
    runs: dict[str, Any] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    passed = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick"]
    if args.saved_activations:  # one subprocess per mode, added to the last result
        saved = []
        for mode in ("lora", "full"):
            child_out = OUT / f"{name}_saved_{mode}.json"
            cmd = [sys.executable, "-m", "benchmarks.bench_lora_vs_full", *passed]
            cmd += ["--child", f"saved:{mode}", "--child-out", str(child_out)]
            subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parent.parent)
            saved.append(json.loads(child_out.read_text()))
            print(json.dumps(saved[-1], indent=1), flush=True)
        path = RESULTS_DIR / f"{name}.json"
        result = json.loads(path.read_text()) if path.is_file() else {}
        result["saved_activations"] = {
            "command": "python -m benchmarks.bench_lora_vs_full " + " ".join(passed),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "rows": saved,
        }
        path.write_text(json.dumps(result, indent=2) + "\n")
        return result
    for mode in args.modes.split(","):
        child_out = OUT / f"{name}_{mode}.json"
        cmd = [sys.executable, "-m", "benchmarks.bench_lora_vs_full", *passed]
        cmd += [
            *(["--quick"] if args.quick else []),
            "--child",
            mode,
            "--child-out",
            str(child_out),
        ]
        print(f"running {mode} in a subprocess", flush=True)
        subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parent.parent)
        runs[mode] = json.loads(child_out.read_text())
    rows = [summarize_mode(r) for r in runs.values()]
    result: dict[str, Any] = {
        "command": "python -m benchmarks.bench_lora_vs_full " + " ".join(passed),
        "args": {k: v for k, v in vars(args).items() if not k.startswith("child")},
        "summary": rows,
        "notes": NOTES,
        "runs": runs,
    }
    if {"lora", "full"} <= set(runs):
        a, b = (runs[m]["steps"][0]["sampled_ids_digest"] for m in ("lora", "full"))
        result["first_step_same"] = a == b
    cols = [
        "mode",
        "rollout_s",
        "update_s",
        "step_s",
        "update_ms_per_trained_token",
        "peak_rss_mb",
        "rss_max_update_mb",
        "trainable_params",
        "optimizer_state_mb",
        "checkpoint_mb",
        "merge_s",
        "export_s",
    ]
    print(table(rows, cols))
    write_result(name, result)
    plot(rows, RESULTS_DIR / f"{name}.png")
    return result


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Four panels: seconds per step (rollout + update), RSS, optimizer state, checkpoint."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    names = [r["mode"] for r in rows]
    ax = axes[0]
    roll = [r["rollout_s"] for r in rows]
    upd = [r["update_s"] for r in rows]
    ax.bar(names, roll, label="rollout")
    ax.bar(names, upd, bottom=roll, label="update")
    ax.set_title("seconds / step (steps 2+)")
    ax.legend(fontsize=8)
    panels = [
        (axes[1], ["rss_after_setup_mb", "rss_max_rollout_mb", "rss_max_update_mb"], "RSS MiB"),
        (axes[2], ["optimizer_state_mb"], "optimizer state MiB"),
        (axes[3], ["checkpoint_mb"], "checkpoint MiB"),
    ]
    for ax, keys, title in panels:
        width = 0.8 / len(keys)
        for j, key in enumerate(keys):
            xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(rows))]
            bars = ax.bar(xs, [r[key] for r in rows], width, label=key.replace("_mb", ""))
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(rows)), names)
        ax.set_title(title)
        if len(keys) > 1:
            ax.legend(fontsize=7)
    fig.suptitle("GRPO on SmolLM2-135M, CPU: LoRA (r=8) vs full fine-tuning")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
