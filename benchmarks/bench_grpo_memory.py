"""Peak memory of one GRPO update: full ``(batch, time, vocab)`` logits vs policy positions only.

``trainers.grpo`` computes the LM head only where the next token is a policy token
(:func:`trainers.grpo.trainer.policy_position_logits`). The baseline, kept here and nowhere
else, is the former method: a plain forward that builds the logits of every position, then
indexes the policy positions. Each variant runs in a fresh subprocess (so one variant's
allocator state cannot hide another's peak), loads SmolLM2-135M, builds synthetic multi-turn
trajectories (a prompt, then turns of policy tokens and tool responses), allocates the
gradients and AdamW's state (a zero step, as after the first step of a run), and measures one
update of one micro-batch (behaviour log-probs, forward and backward, one AdamW step): the peak
resident set size above the RSS before it (``VmHWM`` after resetting it through
``/proc/self/clear_refs``), read when the optimizer step starts (the log-probs, forward and
backward: what the logits change touches) and after it (the whole step; AdamW's temporaries
are the same for both methods).

Gradient checkpointing is on by default (as ``trainers/verl/config`` and the README's GPU
command use it): without it the 30 layers' saved activations of SmolLM2 dwarf the logits at
the lengths a CPU can run (``--no-gradient-checkpointing`` measures that too).

The 150k-vocabulary variants (a Qwen-size vocabulary: 151,936) resize SmolLM2's tied
embedding / LM head to that many rows; the body is unchanged, so the difference is the head.
The analytic columns give the bytes of one fp32 logits tensor of each method: a full forward
holds ``B * T * V * 4`` bytes (and the log-softmax and its gradient hold as much again), the
policy-position method ``N * V * 4`` for ``N`` policy tokens.

    HF_HUB_OFFLINE=1 python -m benchmarks.bench_grpo_memory            # ~6 min on 2 busy cores
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_grpo_memory --quick    # 256-token trajectories

Writes ``benchmarks/results/bench_grpo_memory.json`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

from benchmarks._common import rss_mb, table, write_result

QWEN_VOCAB = 151_936
METHODS = ("full", "policy")


def _layout(seq_len: int) -> list[tuple[int, int]]:
    """Segments of one synthetic trajectory as ``(mask, length)``: prompt, turns, observations.

    A quarter of the tokens is the prompt; the rest alternates a policy turn (mask 1) and a tool
    response twice as long (mask 0), as in search-agent episodes where tool output dominates.
    """
    prompt = seq_len // 4
    turn = max(1, (seq_len - prompt) // 9)
    segments, used = [(0, prompt)], prompt
    while used + 3 * turn <= seq_len:
        segments += [(1, turn), (0, 2 * turn)]
        used += 3 * turn
    if used < seq_len:
        segments.append((1, seq_len - used))
    return segments


def _trajectories(n: int, seq_len: int, vocab: int, seed: int) -> list[Any]:
    import numpy as np

    from trainers.grpo.rollout import TokenTrajectory

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        traj = TokenTrajectory(
            task_id="bench", group=i // 2, input_ids=[], loss_mask=[], sampler_logprobs=[]
        )
        for mask, length in _layout(seq_len):
            ids = rng.integers(100, vocab, size=length).tolist()
            if mask:
                traj.add_policy(ids, [-1.0] * length)
            else:
                traj.add_context(ids)
        out.append(traj)
    return out


def _full_logits_logprobs(self: Any, model: Any, batch: Any, with_entropy: bool) -> tuple[Any, Any]:
    """The baseline: logits of every position (``(B, T, V)``), then the policy positions picked."""
    import torch

    from trainers.grpo.algorithm import token_logprobs

    labels_mask = batch.loss_mask.bool()
    predict = torch.zeros_like(labels_mask)
    predict[:, :-1] = labels_mask[:, 1:]
    logits = model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
    ).logits
    flat = token_logprobs(logits[predict], batch.input_ids[labels_mask], self.config.temperature)
    logp = torch.zeros(labels_mask.shape, dtype=flat.dtype).masked_scatter(labels_mask, flat)
    return logp, None


def projection(vocab: int, tokens: int, policy_fraction: float) -> dict[str, Any]:
    """Bytes (GiB) of one fp32 logits tensor for a micro-batch of ``tokens`` tokens: every position
    (a plain forward) vs the policy positions only; the log-softmax and the logits' gradient
    each hold as much again.

    Example:
        >>> p = projection(151_936, 32_768, 0.25)
        >>> p["full_logits_gib"], p["policy_logits_gib"]
        (18.55, 4.64)
    """
    full = tokens * vocab * 4
    return {
        "vocab": vocab,
        "tokens_per_micro_batch": tokens,
        "policy_fraction": round(policy_fraction, 3),
        "full_logits_gib": round(full / 2**30, 2),
        "policy_logits_gib": round(full * policy_fraction / 2**30, 2),
    }


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS (``VmHWM``) of this process; False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(
    method: str, vocab: int, batch: int, seq_len: int, checkpointing: bool
) -> dict[str, Any]:
    """One variant in this process: returns its figures (run by :func:`main` in a subprocess)."""
    import torch

    from lite_world.tasks import Task
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.trainer import GRPOTrainer, load_policy

    t0 = time.perf_counter()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, tokenizer = load_policy("smollm2")
    if vocab != model.config.vocab_size:
        model.resize_token_embeddings(vocab, mean_resizing=False)
    config = GRPOConfig(
        tasks_per_step=1,
        group_size=batch,
        micro_batch_size=batch,
        skip_zero_advantage=False,
        learning_rate=1e-6,
        gradient_checkpointing=checkpointing,
        plot=False,
        output_dir="runs/bench-grpo-memory",
    )
    task = Task.from_dict({"id": "bench", "question": "q?", "answers": ["a"]})
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, tasks=[task])
    if method == "full":
        trainer._logprobs = types.MethodType(_full_logits_logprobs, trainer)
    trajs = _trajectories(batch, seq_len, min(vocab, len(tokenizer)), seed=0)
    advantages = torch.tensor([(-1.0) ** i for i in range(batch)])
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    for p in params:  # the steady state of a run: gradients and AdamW's state exist (a zero step)
        p.grad = torch.zeros_like(p)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=False)
    load_s = time.perf_counter() - t0
    at_optimizer: dict[str, float] = {}
    optimizer_step = trainer.optimizer.step

    def step(*args: Any, **kwargs: Any) -> Any:  # the peak of the log-probs, forward and backward
        at_optimizer.update(rss_mb())
        return optimizer_step(*args, **kwargs)

    trainer.optimizer.step = step
    before = rss_mb()
    exact = _reset_peak()
    start = time.perf_counter()
    stats = trainer.update(trajs, advantages)
    seconds = time.perf_counter() - start
    after = rss_mb()
    policy_tokens = sum(t.response_tokens for t in trajs)
    return {
        "method": method,
        "vocab": vocab,
        "micro_batch": batch,
        "seq_len": seq_len,
        "gradient_checkpointing": checkpointing,
        "policy_tokens_per_micro_batch": policy_tokens,
        "rss_before_mb": before.get("rss_mb"),
        "peak_mb": after.get("peak_rss_mb"),
        "step_peak_above_before_mb": round(after["peak_rss_mb"] - before["rss_mb"], 1)
        if exact
        else None,
        "fwd_bwd_peak_above_before_mb": (
            round(at_optimizer["peak_rss_mb"] - before["rss_mb"], 1) if exact else None
        ),
        "peak_exact": exact,
        "setup_s": round(load_s, 1),
        "update_s": round(seconds, 2),
        "loss": stats["loss"],
        "logits_bytes_mb": round(
            (batch * seq_len if method == "full" else policy_tokens) * vocab * 4 / 2**20, 1
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256-token trajectories (default 512)")
    parser.add_argument("--batch", type=int, default=2, help="trajectories (one micro-batch)")
    parser.add_argument("--seq-len", type=int, default=None, help="tokens per trajectory")
    parser.add_argument(
        "--vocabs", default=f"49152,{QWEN_VOCAB}", help="comma-separated vocabulary sizes"
    )
    parser.add_argument(
        "--no-gradient-checkpointing",
        dest="checkpointing",
        action="store_false",
        help="keep every layer's activations (they then dwarf the logits at these lengths)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "VOCAB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seq_len = args.seq_len or (256 if args.quick else 512)
    if args.worker:
        method, vocab = args.worker
        print(json.dumps(worker(method, int(vocab), args.batch, seq_len, args.checkpointing)))
        return 0

    # a fixed mmap threshold: glibc then maps every block >= 64 KiB on its own and unmaps it when
    # freed, so the RSS follows the live tensors instead of a heap that keeps freed pages
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    rows = []
    for vocab in (int(v) for v in args.vocabs.split(",")):
        for method in METHODS:
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.bench_grpo_memory",
                "--worker",
                method,
                str(vocab),
                "--batch",
                str(args.batch),
                "--seq-len",
                str(seq_len),
            ]
            if not args.checkpointing:
                cmd.append("--no-gradient-checkpointing")
            done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            row = rows[-1]
            print(
                f"vocab {vocab} {method}: peak above the RSS before the step: forward/backward "
                f"{row['fwd_bwd_peak_above_before_mb']} MB, "
                f"whole step {row['step_peak_above_before_mb']} MB",
                flush=True,
            )
    columns = [
        "vocab",
        "method",
        "micro_batch",
        "seq_len",
        "policy_tokens_per_micro_batch",
        "logits_bytes_mb",
        "rss_before_mb",
        "fwd_bwd_peak_above_before_mb",
        "step_peak_above_before_mb",
        "update_s",
    ]
    print(table(rows, columns))
    saving: dict[str, dict[str, float]] = {}
    for vocab in sorted({r["vocab"] for r in rows}):
        by = {r["method"]: r for r in rows if r["vocab"] == vocab}
        if set(by) != set(METHODS) or not by["full"]["peak_exact"]:
            continue
        saving[str(vocab)] = {
            key: round(by["full"][key] - by["policy"][key], 1)
            for key in ("fwd_bwd_peak_above_before_mb", "step_peak_above_before_mb", "peak_mb")
        }
    name = (
        "bench_grpo_memory"
        + ("" if args.checkpointing else "_no_checkpointing")
        + ("_quick" if args.quick else "")
    )
    command = " ".join(
        ["python -m benchmarks.bench_grpo_memory", *(argv if argv is not None else sys.argv[1:])]
    )
    fraction = sum(n for m, n in _layout(seq_len) if m) / seq_len
    # GRPOConfig's defaults: micro_batch_size 4 x max_seq_len 8192 tokens
    projected = [projection(v, 4 * 8192, fraction) for v in (49_152, QWEN_VOCAB)]
    path = write_result(
        name,
        {
            "rows": rows,
            "step_peak_saving": saving,
            "layout": _layout(seq_len),
            "projection": projected,
            "command": command,
        },
    )
    print(f"MB saved by the policy-position LM head: {saving}\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
