"""``GRPOTrainer``: the training loop, the update, metrics and checkpoints.

One step:

1. draw ``tasks_per_step`` tasks (shuffled epochs of the task list);
2. play ``group_size`` episodes per task with the current weights
   (:func:`~trainers.grpo.rollout.rollout`); with ``dynamic_sampling`` (DAPO) the groups whose
   rewards are all equal are dropped and groups of the next tasks refill the batch, for at most
   ``max_resample_rounds`` extra rounds;
3. advantages: each episode's reward (plus ``format_reward`` times its
   :func:`~trainers.grpo.algorithm.format_score`) normalised within its group
   (:func:`~trainers.grpo.algorithm.group_advantages`); with ``overlong_filtering`` the
   trajectories cut by a token limit get zero loss weight;
4. one update: the clipped surrogate on policy tokens only (tool responses and the prompt are
   masked), gradients accumulated over micro-batches, then one optimizer step (strictly
   on-policy); ``updates_per_step > 1`` splits the batch into PPO mini-batches instead;
5. metrics to ``metrics.jsonl`` (and ``metrics.png``), checkpoints every ``save_every`` steps.

**Why the ratio is 1 and when clipping acts.** The behaviour log-probs are recomputed with the
weights that sampled (``old_logprobs="recompute"``, a no-grad forward before the update; the model
stays in eval mode, so no dropout). With one optimizer step per batch the weights do not move
between micro-batches, so every ratio is exactly 1, nothing is clipped and the gradient is the
plain policy gradient ``-A * grad log p``: gradient accumulation does not change this, since
the accumulated micro-batches all see the same weights. Clipping acts when the weights move
before a token is trained (``updates_per_step > 1``: mini-batch ``j`` is trained after ``j``
updates) or when the behaviour log-probs come from the sampler (``old_logprobs="sampler"``:
batched generation and the training forward differ by rounding, and by more under bf16). The
clip ratio in the metrics shows which regime a run is in.

**Skipped trajectories.** A group whose episodes all got the same reward has advantage 0 and a
zero surrogate loss. With ``skip_zero_advantage`` (and no KL or entropy term) such trajectories
are not run through the model at all, while the loss's denominator still counts their tokens,
so the gradient is the same (up to float summation order); the optimizer still steps (AdamW
moves with its momentum), so a run with skipping follows the one without.

Example:
    >>> from lite_world.envs.config import LiteSearchConfig
    >>> config = GRPOConfig(steps=2, tasks_per_step=1, group_size=2, max_new_tokens=16,
    ...                     output_dir="runs/grpo-smoke",
    ...                     env=LiteSearchConfig(max_turns=2, action_format="tags"))
    ... # doctest: +SKIP
    >>> history = GRPOTrainer(config).train()  # doctest: +SKIP
    >>> sorted(history[0])[:3]  # doctest: +SKIP
    ['action_errors_mean', 'answered', 'clip_ratio']
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.errors import ConfigError
from lite_world.tasks import Task, load_tasks
from trainers._lora import apply_lora, load_lora, merge_lora, save_adapter
from trainers._runs import (
    CHECKPOINT_PREFIX,
    bf16_autocast,
    checkpoint_dirs,
    prune_checkpoints,
    write_dir,
)
from trainers.grpo.algorithm import (
    aggregate,
    format_score,
    group_advantages,
    kl_k3,
    policy_loss,
    signal_groups,
    token_logprobs,
)
from trainers.grpo.config import GRPOConfig
from trainers.grpo.rollout import SamplingRNG, TokenTrajectory, eos_token_ids, make_envs, rollout
from trainers.grpo.sampler import SamplerCopy

torch = require("torch")
transformers = require("transformers", extra="llm")

__all__ = [
    "Batch",
    "GRPOTrainer",
    "checkpointing_layers",
    "episode_rewards",
    "load_policy",
    "policy_position_logits",
    "step_metrics",
    "trim_heap",
]

logger = logging.getLogger(__name__)


def load_policy(name: str | os.PathLike[str], dtype: str = "float32") -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a trainable policy, loaded offline.

    ``"smollm2"`` is a private copy of the embedded SmolLM2-135M-Instruct (the process-wide
    cached one must not be trained); a shipped model (``"smollm2-lite-world"``) or a LoRA
    adapter directory is merged into such a copy (:mod:`lite_world.agents.adapters`); anything
    else is a local directory (a checkpoint's ``model/``) or a model id in the Hugging Face cache.

    Example:
        >>> model, tokenizer = load_policy("smollm2")
        >>> from lite_world.agents.smollm import load_smollm2
        >>> model is load_smollm2()[0], model.dtype
        (False, torch.float32)
    """
    torch_dtype = getattr(torch, dtype)
    if str(name) == "smollm2":
        from lite_world.agents.smollm import load_smollm2

        shared, tokenizer = load_smollm2(torch_dtype)
        model = copy.deepcopy(shared)
        # The GGUF weights were de-quantised on load: mark the copy as the plain float model it
        # is, so that save_pretrained writes it (transformers refuses "GGUF-quantised" ones).
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        return model, tokenizer
    from lite_world.agents.adapters import adapter_dir, load_named_model

    if adapter_dir(name) is not None:  # "smollm2-lite-world" or a LoRA adapter directory
        return load_named_model(name, torch_dtype)  # a private, merged, trainable copy
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            name, dtype=torch_dtype, local_files_only=True
        )
    except OSError as exc:
        raise ConfigError(
            "Expects model to be 'smollm2', a local model directory or a model id in the Hugging "
            f"Face cache (loading is offline), actual: {str(name)!r} ({exc})"
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"Expects a tokenizer with a chat template, actual: none in {str(name)!r}"
        )
    return model, tokenizer


@dataclass
class Batch:
    """Right-padded ``(B, T)`` tensors of trajectories: ``input_ids``, ``attention_mask``,
    ``loss_mask``."""

    input_ids: Any
    attention_mask: Any
    loss_mask: Any

    @classmethod
    def collate(
        cls, trajectories: Sequence[TokenTrajectory], pad_token_id: int, device: Any = "cpu"
    ) -> Batch:
        """Pad ``trajectories`` to their longest one.

        Example:
            >>> t = TokenTrajectory("q", 0, [5, 6, 7], [0, 1, 1], [0.0, -1.0, -2.0])
            >>> b = Batch.collate([t, TokenTrajectory("q", 0, [5], [0], [0.0])], pad_token_id=0)
            >>> b.input_ids.tolist(), b.loss_mask.tolist()
            ([[5, 6, 7], [5, 0, 0]], [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
        """
        width = max(len(t.input_ids) for t in trajectories)
        ids = torch.full((len(trajectories), width), pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(trajectories), width), dtype=torch.long)
        mask = torch.zeros((len(trajectories), width), dtype=torch.float32)
        for row, t in enumerate(trajectories):
            n = len(t.input_ids)
            ids[row, :n] = torch.tensor(t.input_ids, dtype=torch.long)
            attention[row, :n] = 1
            mask[row, :n] = torch.tensor(t.loss_mask, dtype=torch.float32)
        return cls(ids.to(device), attention.to(device), mask.to(device))

    def pad_values(self, values: Sequence[Sequence[float]] | Sequence[Any]) -> Any:
        """Per-trajectory token values (e.g. old log-probs) as a ``(B, T)`` tensor."""
        out = torch.zeros(self.loss_mask.shape, dtype=torch.float32)
        for row, v in enumerate(values):
            v = torch.as_tensor(v, dtype=torch.float32)
            out[row, : v.numel()] = v.cpu()
        return out.to(self.loss_mask.device)


class GRPOTrainer:
    """Trains a causal LM with GRPO on ``LiteSearch-v0`` episodes (see the module docstring).

    Args:
        config: The settings.
        model, tokenizer: A policy to train in place (default: loaded from ``config.model``,
            or from the checkpoint being resumed). With ``config.lora`` the adapter is injected
            into ``model``'s modules.
        tasks: Training tasks (default: loaded from ``config.env.tasks``).

    Attributes:
        step: Optimisation steps done (the next checkpoint is ``checkpoint-{step}``).
    """

    def __init__(
        self,
        config: GRPOConfig,
        *,
        model: Any = None,
        tokenizer: Any = None,
        tasks: Sequence[Task] | None = None,
    ) -> None:
        if not isinstance(config, GRPOConfig):
            raise ConfigError(f"Expects a GRPOConfig, actual: {type(config).__name__}")
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu")
            if config.device == "auto"
            else config.device
        )
        resume_dir = self._resume_dir(config.resume_from)
        if model is not None and resume_dir is not None:
            raise ConfigError(
                "Expects either a model or a checkpoint to resume (its weights are loaded from "
                f"{resume_dir}), actual: both. Drop the model argument"
            )
        adapter = resume_dir / "adapter" if resume_dir is not None and config.lora else None
        if model is None:
            source = resume_dir / "model" if resume_dir and adapter is None else config.model
            model, tokenizer = load_policy(source, config.dtype)
        elif tokenizer is None:
            raise ConfigError("Expects a tokenizer with a model, actual: None")
        if adapter is not None:  # the base weights with the checkpoint's adapter, trainable
            model = load_lora(model, adapter)
        elif config.lora:  # the adapter is injected into model's own modules
            model = apply_lora(
                model,
                r=config.lora_r,
                alpha=config.lora_alpha,
                dropout=config.lora_dropout,
                modules=config.lora_target_modules,
                seed=config.seed,
            )
        self.model, self.tokenizer = model.to(self.device), tokenizer
        self.model.eval()  # no dropout: the sampled and the trained log-probs agree
        if config.gradient_checkpointing:
            # transformers checkpoints a layer only while it is in training mode: the update's
            # forward switches the checkpointed layers alone (not their dropout) to it
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
        self.ref_model = None
        if config.kl_coef > 0:
            self.ref_model = (
                load_policy(config.model, config.dtype)[0]
                .to(self.device)
                .eval()
                .requires_grad_(False)
            )
        self.eos_token_ids = eos_token_ids(self.model, tokenizer)
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        )

        env_tasks = config.env.tasks
        self.tasks = (
            list(tasks)
            if tasks is not None
            else load_tasks(list(env_tasks) if isinstance(env_tasks, tuple) else env_tasks)
        )
        self.envs = make_envs(config, self.tasks, config.episodes_per_step)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=config.learning_rate,
            betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_epsilon,
            weight_decay=config.weight_decay,
        )
        self.step = 0
        self.sampling_rng = SamplingRNG(config.seed, self.device)
        self.sampler = (
            None if config.sampler_dtype == "policy" else SamplerCopy(config.sampler_dtype)
        )
        self.np_rng = np.random.default_rng(config.seed)
        self._task_queue: list[int] = []
        if resume_dir is not None:
            self.load_checkpoint(resume_dir)

    # -- the loop ----------------------------------------------------------------------------
    def train(self, time_limit_s: float | None = None) -> list[dict[str, Any]]:
        """Run steps until ``config.steps``; return this call's metrics, one dict per step.

        ``time_limit_s``: stop after the step that ends past this many seconds (a job's time
        limit); the last step is checkpointed, so ``resume_from="latest"`` goes on from it.
        """
        start = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "config.json").write_text(self.config.to_json())
        history = []
        while self.step < self.config.steps:
            metrics, trajectories = self.train_step()
            history.append(metrics)
            self.log_step(metrics, trajectories)
            out_of_time = time_limit_s is not None and time.perf_counter() - start >= time_limit_s
            last = self.step == self.config.steps or out_of_time
            if last or (self.config.save_every and self.step % self.config.save_every == 0):
                self.save_checkpoint()
                if self.config.plot:
                    self.plot()
            if out_of_time:
                logger.info("time limit of %.0f s reached after step %d", time_limit_s, self.step)
                break
        return history

    def train_step(self) -> tuple[dict[str, Any], list[TokenTrajectory]]:
        """One step: sample tasks, roll out groups, update once; ``(metrics, trajectories)``.

        With ``dynamic_sampling`` the groups without signal are dropped and refilled (see
        :meth:`sample_batch`); ``trajectories`` are the trained ones.
        """
        c = self.config
        t0 = time.perf_counter()
        self.model.eval()
        trajectories, sampling = self.sample_batch()
        trim_heap()  # the rollout's KV caches and logits are freed: give their pages back
        t1 = time.perf_counter()
        rewards = torch.tensor(episode_rewards(trajectories, c.format_reward), dtype=torch.float32)
        advantages = group_advantages(rewards, c.group_size, c.scale_rewards)
        include = [not t.overlong for t in trajectories] if c.overlong_filtering else None
        stats = self.update(trajectories, advantages, include=include)
        trim_heap()  # the update's activations (~1 MB per trained token for SmolLM2) too
        t2 = time.perf_counter()
        self.step += 1
        metrics = step_metrics(trajectories, advantages, stats, group_size=c.group_size)
        generated = sampling.pop("generated_tokens")
        metrics.update(sampling)
        metrics.update(
            step=self.step,
            lr=self._lr(self.step - 1),
            time_rollout_s=t1 - t0,
            time_generate_s=t1 - t0 - metrics["time_tools_s"],
            time_update_s=t2 - t1,
            time_step_s=t2 - t0,
            generated_tokens=generated,
            generated_tokens_per_s=generated / max(t1 - t0, 1e-9),
        )
        return metrics, trajectories

    def sample_batch(self) -> tuple[list[TokenTrajectory], dict[str, Any]]:
        """Roll out this step's groups; ``(trajectories to train, sampling metrics)``.

        Without ``dynamic_sampling``: ``tasks_per_step`` groups, as sampled. With it (DAPO): the
        groups whose rewards (with the format term) are all equal are dropped, and groups of the
        next tasks are sampled for the missing ones, for at most ``max_resample_rounds`` extra
        rounds; when the rounds run out the batch holds the groups with signal found so far
        (the last round's groups when there are none, all with advantage 0).

        The metrics count every sampled group: ``groups_sampled``, ``groups_with_signal`` and
        its share ``groups_with_signal_share``, ``groups_trained``, ``resample_rounds`` (extra
        rounds used), ``sampled_reward_mean`` (over every sampled episode) and
        ``generated_tokens``.
        """
        c = self.config
        g = c.group_size
        rounds = c.max_resample_rounds if c.dynamic_sampling else 0
        kept: list[list[TokenTrajectory]] = []
        groups: list[list[TokenTrajectory]] = []
        sampled: list[TokenTrajectory] = []
        signal = extra = 0
        sampling_model = self.model if self.sampler is None else self.sampler.refresh(self.model)
        for r in range(rounds + 1):
            tasks = self._sample_tasks(c.tasks_per_step - len(kept))
            trajs = rollout(
                sampling_model,
                self.tokenizer,
                self.envs,
                tasks,
                group_size=g,
                config=c,
                rng=self.sampling_rng,
                # round r of step s: its own range of env seeds (today's seeds without resampling)
                seed=c.seed + (self.step * (rounds + 1) + r) * c.episodes_per_step,
                eos_ids=self.eos_token_ids,
                autocast=self._autocast,
            )
            sampled.extend(trajs)
            extra = r
            groups = [trajs[i : i + g] for i in range(0, len(trajs), g)]
            has = signal_groups(torch.tensor(episode_rewards(trajs, c.format_reward)), g).tolist()
            signal += sum(has)
            kept.extend(group for group, ok in zip(groups, has, strict=True) if ok)
            if not c.dynamic_sampling or len(kept) >= c.tasks_per_step:
                break
        if not c.dynamic_sampling:
            batch = groups
        elif kept:
            batch = kept
            if len(kept) < c.tasks_per_step:
                logger.info(
                    "dynamic sampling: %d of %d groups with signal after %d extra rounds; "
                    "training on those",
                    len(kept),
                    c.tasks_per_step,
                    extra,
                )
        else:
            batch = groups
            logger.warning(
                "dynamic sampling: no group with signal in %d rounds; training on the last "
                "round's %d groups (advantage 0)",
                extra + 1,
                len(groups),
            )
        metrics = {
            "groups_sampled": len(sampled) // g,
            "groups_with_signal": signal,
            "groups_with_signal_share": signal / max(len(sampled) // g, 1),
            "groups_trained": len(batch),
            "resample_rounds": extra,
            "sampled_reward_mean": float(np.mean([t.reward for t in sampled])),
            "generated_tokens": sum(t.response_tokens for t in sampled),
            "time_tools_s": sum(t.env_seconds for t in sampled),
        }
        return [t for group in batch for t in group], metrics

    # -- the update ----------------------------------------------------------------------------
    def update(
        self,
        trajectories: Sequence[TokenTrajectory],
        advantages: Any,
        *,
        include: Sequence[bool] | None = None,
    ) -> dict[str, float]:
        """The optimisation of one step on ``trajectories`` with their ``advantages`` ``(N,)``.

        ``include``: per trajectory, whether it has loss weight (default: all). An excluded one
        (``overlong_filtering``) is neither run through the model nor counted in the loss's
        denominator: the update is the one of the batch without it.

        Returns loss and clipping statistics (sums turned into means over the trained tokens).
        """
        c = self.config
        advantages = torch.as_tensor(advantages, dtype=torch.float32)
        n = len(trajectories)
        if include is not None and len(include) != n:
            raise ConfigError(
                f"Expects one include flag per trajectory ({n}), actual: {len(include)}"
            )
        excluded = {i for i in range(n) if include is not None and not include[i]}
        lr = self._lr(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        order = self.np_rng.permutation(n).tolist() if c.updates_per_step > 1 else list(range(n))
        minis = [[int(i) for i in m] for m in np.array_split(order, c.updates_per_step)]
        skip = c.skip_zero_advantage and c.kl_coef == 0 and c.entropy_coef == 0
        trained = [
            i for i in range(n) if i not in excluded and not (skip and float(advantages[i]) == 0.0)
        ]
        start = time.perf_counter()
        old = self.behaviour_logprobs([trajectories[i] for i in trained])
        old_seconds = time.perf_counter() - start
        old_by_index = dict(zip(trained, old, strict=True))
        sampler_diff = _sampler_diff([trajectories[i] for i in trained], old)
        ref_by_index = {}
        if self.ref_model is not None:
            ref_by_index = dict(
                zip(
                    trained,
                    self.behaviour_logprobs([trajectories[i] for i in trained], self.ref_model),
                    strict=True,
                )
            )

        totals = {
            k: 0.0
            for k in (
                "loss",
                "pg_loss",
                "kl",
                "entropy",
                "tokens",
                "clipped_low",
                "clipped_high",
                "ratio",
                "approx_kl",
                "grad_norm",
            )
        }
        params = [p for p in self.model.parameters() if p.requires_grad]
        for mini in minis:
            normalizer = self._normalizer([trajectories[i] for i in mini if i not in excluded])
            self.optimizer.zero_grad(set_to_none=False)
            items = [i for i in mini if i in old_by_index]
            for micro in _chunks(items, c.micro_batch_size):
                batch = Batch.collate(
                    [trajectories[i] for i in micro], self.pad_token_id, self.device
                )
                with self._autocast(), checkpointing_layers(self.model):
                    logp, entropy = self._logprobs(
                        self.model, batch, with_entropy=c.entropy_coef > 0
                    )
                old_b = batch.pad_values([old_by_index[i] for i in micro])
                pg, st = policy_loss(
                    logp,
                    old_b,
                    advantages[micro].to(self.device),
                    batch.loss_mask,
                    epsilon_low=c.epsilon_low,
                    epsilon_high=c.epsilon_high,
                    aggregation=c.loss_aggregation,
                    normalizer=normalizer,
                )
                loss = pg
                if self.ref_model is not None:
                    ref_b = batch.pad_values([ref_by_index[i] for i in micro])
                    kl = aggregate(
                        kl_k3(logp, ref_b), batch.loss_mask, c.loss_aggregation, normalizer
                    )
                    loss = loss + c.kl_coef * kl
                    totals["kl"] += float(kl.detach())
                if entropy is not None:
                    ent = aggregate(entropy, batch.loss_mask, c.loss_aggregation, normalizer)
                    loss = loss - c.entropy_coef * ent
                    totals["entropy"] += float(ent.detach())
                loss.backward()
                totals["loss"] += float(loss.detach())
                totals["pg_loss"] += float(pg.detach())
                for k, v in st.items():
                    totals[k] += float(v)
                totals["approx_kl"] += float(((old_b - logp.detach()) * batch.loss_mask).sum())
            for p in params:  # trajectories all skipped: a zero gradient, as without skipping
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            norm = torch.nn.utils.clip_grad_norm_(
                params, c.max_grad_norm if c.max_grad_norm > 0 else float("inf")
            )
            totals["grad_norm"] += float(norm) / len(minis)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=False)
        tokens = max(totals["tokens"], 1.0)
        return {
            "loss": totals["loss"] / len(minis),
            "pg_loss": totals["pg_loss"] / len(minis),
            "kl": totals["kl"] / len(minis),
            "entropy_bonus": totals["entropy"] / len(minis),
            "grad_norm": totals["grad_norm"],
            "trained_tokens": totals["tokens"],
            "trained_trajectories": len(trained),
            "filtered_trajectories": len(excluded),
            "clip_ratio": (totals["clipped_low"] + totals["clipped_high"]) / tokens,
            "clip_ratio_low": totals["clipped_low"] / tokens,
            "clip_ratio_high": totals["clipped_high"] / tokens,
            "ratio_mean": totals["ratio"] / tokens if totals["tokens"] else 1.0,
            "approx_kl": totals["approx_kl"] / tokens,
            "sampler_logprob_diff": sampler_diff,
            "time_old_logprobs_s": old_seconds,
        }

    def behaviour_logprobs(
        self, trajectories: Sequence[TokenTrajectory], model: Any = None
    ) -> list[Any]:
        """Log-probs of each trajectory's tokens under ``model`` (default: the policy), no grad.

        With ``old_logprobs="sampler"`` (and the policy) the ones recorded while sampling are
        returned instead. Each item is a ``(len(input_ids),)`` tensor, 0 on mask-0 tokens.
        """
        if model is None and self.config.old_logprobs == "sampler":
            return [torch.tensor(t.sampler_logprobs, dtype=torch.float32) for t in trajectories]
        model = self.model if model is None else model
        out: list[Any] = []
        with torch.no_grad():
            for micro in _chunks(list(trajectories), self.config.micro_batch_size):
                batch = Batch.collate(micro, self.pad_token_id, self.device)
                with self._autocast():
                    logp, _ = self._logprobs(model, batch, with_entropy=False)
                out.extend(
                    logp[row, : len(t.input_ids)].float().cpu() for row, t in enumerate(micro)
                )
        return out

    def surrogate_loss(
        self, trajectories: Sequence[TokenTrajectory], advantages: Any, old_logprobs: Sequence[Any]
    ) -> float:
        """The clipped surrogate loss of a batch under the current weights (no grad, no update)."""
        c = self.config
        advantages = torch.as_tensor(advantages, dtype=torch.float32)
        normalizer = self._normalizer(trajectories)
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(trajectories), c.micro_batch_size):
                micro = list(range(start, min(start + c.micro_batch_size, len(trajectories))))
                batch = Batch.collate(
                    [trajectories[i] for i in micro], self.pad_token_id, self.device
                )
                with self._autocast():
                    logp, _ = self._logprobs(self.model, batch, with_entropy=False)
                loss, _ = policy_loss(
                    logp,
                    batch.pad_values([old_logprobs[i] for i in micro]),
                    advantages[micro].to(self.device),
                    batch.loss_mask,
                    epsilon_low=c.epsilon_low,
                    epsilon_high=c.epsilon_high,
                    aggregation=c.loss_aggregation,
                    normalizer=normalizer,
                )
                total += float(loss)
        return total

    def _logprobs(self, model: Any, batch: Batch, with_entropy: bool) -> tuple[Any, Any]:
        """``(B, T)`` log-probs of the policy tokens (0 elsewhere), and their entropies if asked.

        The LM head runs only where the next token is a policy token
        (:func:`policy_position_logits`): ``(N, vocab)`` logits for the ``N`` policy tokens,
        never the ``(B, T, vocab)`` of a plain forward.
        """
        labels_mask = batch.loss_mask.bool()
        predict = torch.zeros_like(labels_mask)
        predict[:, :-1] = labels_mask[:, 1:]
        logits = policy_position_logits(model, batch.input_ids, batch.attention_mask, predict)
        labels = batch.input_ids[labels_mask]
        flat = token_logprobs(logits, labels, self.config.temperature)
        logp = torch.zeros(labels_mask.shape, dtype=flat.dtype, device=flat.device).masked_scatter(
            labels_mask, flat
        )
        entropy = None
        if with_entropy:
            lp = torch.log_softmax(logits.float() / self.config.temperature, dim=-1)
            flat_entropy = -(lp.exp() * lp).sum(-1)
            entropy = torch.zeros(
                labels_mask.shape, dtype=flat.dtype, device=flat.device
            ).masked_scatter(labels_mask, flat_entropy)
        return logp, entropy

    def _normalizer(self, trajectories: Sequence[TokenTrajectory]) -> float:
        """The loss denominator of a mini-batch: its policy tokens, or its trajectories with any."""
        if self.config.loss_aggregation == "token-mean":
            return float(max(sum(t.response_tokens for t in trajectories), 1))
        return float(max(sum(1 for t in trajectories if t.response_tokens), 1))

    def _lr(self, step: int) -> float:
        warmup = self.config.warmup_steps
        return self.config.learning_rate * (min(1.0, (step + 1) / warmup) if warmup else 1.0)

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        return bf16_autocast(self.config.mixed_precision, self.device.type)

    def _sample_tasks(self, n: int | None = None) -> list[Task]:
        """The next ``n`` tasks (default ``tasks_per_step``): the list in shuffled epochs, no
        repeat within an epoch."""
        n = self.config.tasks_per_step if n is None else n
        while len(self._task_queue) < n:
            self._task_queue.extend(int(i) for i in self.np_rng.permutation(len(self.tasks)))
        picked, self._task_queue = self._task_queue[:n], self._task_queue[n:]
        return [self.tasks[i] for i in picked]

    # -- outputs -----------------------------------------------------------------------------
    def log_step(self, metrics: dict[str, Any], trajectories: Sequence[TokenTrajectory]) -> None:
        """Append a step's metrics (and its first ``log_trajectories`` trajectories) to the
        run directory, as :meth:`train` does after each :meth:`train_step`; for loops of your
        own that call :meth:`train_step` (e.g. with evaluations between steps)."""
        with open(self.output_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        if self.config.log_trajectories:
            with open(self.output_dir / "trajectories.jsonl", "a", encoding="utf-8") as f:
                for t in trajectories[: self.config.log_trajectories]:
                    record = {
                        "step": self.step,
                        "task_id": t.task_id,
                        "reward": t.reward,
                        "turns": t.turns,
                        "answer": t.answer,
                        "response_tokens": t.response_tokens,
                        "messages": [m for m in t.messages if m.get("role") != "system"],
                    }
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        logger.info(
            "step %d/%d reward %.3f response %.1f tok turns %.2f tool calls %.2f clip %.4f "
            "len-clip %.3f signal %d/%d groups loss %.4f (%.0f s)",
            self.step,
            self.config.steps,
            metrics["reward_mean"],
            metrics["response_length_mean"],
            metrics["turns_mean"],
            metrics["tool_calls_mean"],
            metrics["clip_ratio"],
            metrics["length_clip_ratio"],
            metrics["groups_with_signal"],
            metrics["groups_sampled"],
            metrics["loss"],
            metrics["time_step_s"],
        )

    def plot(self) -> Path | None:
        """Write ``metrics.png`` from ``metrics.jsonl`` (None when matplotlib is missing)."""
        from trainers.grpo.plot import plot_metrics

        try:
            return plot_metrics(self.output_dir / "metrics.jsonl", self.output_dir / "metrics.png")
        except ImportError:
            logger.info("matplotlib is not installed: no metrics.png")
            return None

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        """Write ``checkpoint-{step}``: model, tokenizer, optimizer, RNG states, step and config.

        With LoRA, ``model/`` holds a copy of the policy with the adapter merged in (a plain
        model for :func:`load_policy`) and ``adapter/`` the adapter alone (what a resume loads).
        """
        final = self.output_dir / f"{CHECKPOINT_PREFIX}{self.step:06d}"

        def write(tmp: Path) -> None:
            if self.config.lora:
                save_adapter(self.model, tmp / "adapter")
                merge_lora(self.model).save_pretrained(tmp / "model")
            else:
                self.model.save_pretrained(tmp / "model")
            self.tokenizer.save_pretrained(tmp / "model")
            torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save({"sampling": self.sampling_rng.state_dict()}, tmp / "rng.pt")
            state = {
                "step": self.step,
                "config": self.config.to_dict(),
                "numpy_rng": self.np_rng.bit_generator.state,
                "task_queue": self._task_queue,
            }
            (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2))

        write_dir(final, write)
        prune_checkpoints(self.output_dir, self.config.save_total_limit)
        logger.info("saved %s", final)
        return final

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore optimizer, RNG states, task queue and step from a checkpoint (the weights are
        loaded by the constructor); drop later lines of ``metrics.jsonl``."""
        path = Path(path)
        state = json.loads((path / "trainer_state.json").read_text())
        self.optimizer.load_state_dict(
            torch.load(path / "optimizer.pt", map_location=self.device, weights_only=True)
        )
        self.sampling_rng.load_state_dict(
            torch.load(path / "rng.pt", weights_only=True)["sampling"]
        )
        self.np_rng.bit_generator.state = state["numpy_rng"]
        self._task_queue = [int(i) for i in state["task_queue"]]
        self.step = int(state["step"])
        now = self.config.to_dict()
        changed = {
            k: (v, now[k])
            for k, v in state["config"].items()
            if k not in ("resume_from", "steps") and k in now and v != now[k]
        }
        if changed:
            logger.warning("resuming %s with changed settings (checkpoint, now): %s", path, changed)
        for name in ("metrics.jsonl", "trajectories.jsonl"):
            log = self.output_dir / name
            if log.is_file():
                kept = [
                    line
                    for line in log.read_text().splitlines()
                    if line and json.loads(line)["step"] <= self.step
                ]
                log.write_text("".join(line + "\n" for line in kept))
        logger.info("resumed from %s at step %d", path, self.step)

    def _resume_dir(self, resume_from: str | None) -> Path | None:
        if resume_from is None:
            return None
        if resume_from == "latest":
            found = checkpoint_dirs(self.output_dir)
            if not found:
                logger.info("no checkpoint in %s: starting from scratch", self.output_dir)
                return None
            return found[-1]
        path = Path(resume_from)
        if not (path / "trainer_state.json").is_file():
            raise ConfigError(
                f"Expects a checkpoint directory with trainer_state.json, actual: {str(path)!r}"
            )
        return path


def episode_rewards(trajectories: Sequence[TokenTrajectory], format_reward: float) -> list[float]:
    """The rewards GRPO compares: the env's reward plus ``format_reward`` times the episode's
    :func:`~trainers.grpo.algorithm.format_score`.

    Example:
        >>> t = TokenTrajectory("a", 0, [1], [0], [0.0], reward=1.0,
        ...                     steps=[{"action_kind": "tool", "error": None},
        ...                            {"action_kind": "answer", "error": None}])
        >>> u = TokenTrajectory("a", 0, [1], [0], [0.0],
        ...                     steps=[{"action_kind": "error", "error": "parse_error"}])
        >>> episode_rewards([t, u], 0.0), episode_rewards([t, u], 0.2)
        ([1.0, 0.0], [1.2, 0.0])
    """
    if not format_reward:
        return [float(t.reward) for t in trajectories]
    return [float(t.reward) + format_reward * format_score(t.steps) for t in trajectories]


def step_metrics(
    trajectories: Sequence[TokenTrajectory],
    advantages: Any,
    stats: dict[str, float],
    *,
    group_size: int,
) -> dict[str, Any]:
    """The per-step metrics: rollout statistics (the paper's training dynamics) and ``stats``.

    ``length_clip_ratio`` is the share of turns cut by ``max_new_tokens``; ``clip_ratio`` the
    share of trained policy tokens whose ratio was clipped; ``groups_zero_std`` the share of
    the batch's groups whose episodes all got the same env reward (no learning signal);
    ``overlong`` the share of trajectories cut by a token limit; ``format_score_mean`` the mean
    :func:`~trainers.grpo.algorithm.format_score` (whether or not ``format_reward`` uses it).

    Example:
        >>> t1 = TokenTrajectory("a", 0, [1, 2, 3], [0, 1, 1], [0.0, -0.5, -0.5], reward=1.0, turns=2,
        ...                 tool_calls=1, length_clipped_turns=1, answered=True, entropy_sum=2.0)
        >>> t2 = TokenTrajectory("a", 0, [1, 2], [0, 1], [0.0, -1.0], turns=1, truncated=True)
        >>> m = step_metrics([t1, t2], [0.7, -0.7], {"loss": 0.0}, group_size=2)
        >>> keys = ("reward_mean", "response_length_mean", "length_clip_ratio", "groups_zero_std")
        >>> tuple(m[k] for k in keys)
        (0.5, 1.5, 0.3333333333333333, 0.0)
    """
    n = len(trajectories)
    rewards = np.array([t.reward for t in trajectories], dtype=np.float64)
    lengths = np.array([t.response_tokens for t in trajectories], dtype=np.float64)
    turns = sum(t.turns for t in trajectories)
    tokens = max(lengths.sum(), 1.0)
    groups = rewards.reshape(-1, group_size)
    metrics: dict[str, Any] = {
        "reward_mean": float(rewards.mean()),
        "reward_std": float(rewards.std()),
        "reward_max": float(rewards.max()),
        "em_mean": float(np.mean([t.em for t in trajectories])),
        "f1_mean": float(np.mean([t.f1 for t in trajectories])),
        "answered": sum(t.answered for t in trajectories) / n,
        "truncated": sum(t.truncated for t in trajectories) / n,
        "context_truncated": sum(t.context_truncated for t in trajectories) / n,
        "response_length_mean": float(lengths.mean()),
        "response_length_max": float(lengths.max()),
        "sequence_length_mean": float(np.mean([len(t.input_ids) for t in trajectories])),
        "turns_mean": turns / n,
        "tool_calls_mean": sum(t.tool_calls for t in trajectories) / n,
        "action_errors_mean": sum(t.action_errors for t in trajectories) / n,
        "length_clip_ratio": sum(t.length_clipped_turns for t in trajectories) / max(turns, 1),
        "entropy": sum(t.entropy_sum for t in trajectories) / tokens,
        "advantage_abs_mean": float(np.abs(np.asarray(advantages, dtype=np.float64)).mean()),
        "groups_zero_std": float((groups.max(1) == groups.min(1)).mean()),
        "overlong": sum(t.overlong for t in trajectories) / n,
        "format_score_mean": float(np.mean([format_score(t.steps) for t in trajectories])),
        "clip_ratio": 0.0,
        "clip_ratio_low": 0.0,
        "clip_ratio_high": 0.0,
    }
    metrics.update(stats)
    return metrics


def policy_position_logits(model: Any, input_ids: Any, attention_mask: Any, positions: Any) -> Any:
    """``(N, vocab)`` logits at the ``N`` true entries of the boolean ``positions`` ``(B, T)``.

    Runs the transformer body, gathers its last hidden states at ``positions`` and applies the
    LM head to those rows only (with the final-logit soft-capping or scale of models that have
    one), so memory grows with the number of policy tokens, not ``B * T * vocab``.

    Example:
        >>> import transformers
        >>> config = transformers.LlamaConfig(
        ...     vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...     num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        >>> torch.manual_seed(0) and None
        >>> model = transformers.LlamaForCausalLM(config).eval()
        >>> ids = torch.tensor([[5, 6, 7, 8]])
        >>> positions = torch.tensor([[False, True, True, False]])
        >>> logits = policy_position_logits(model, ids, torch.ones_like(ids), positions)
        >>> logits.shape, torch.allclose(logits, model(input_ids=ids).logits[positions], atol=1e-6)
        (torch.Size([2, 64]), True)
    """
    body = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model
    hidden = body(
        input_ids=input_ids, attention_mask=attention_mask, use_cache=False
    ).last_hidden_state
    logits = model.get_output_embeddings()(hidden[positions])
    config = model.config
    scale = getattr(config, "logit_scale", None)
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        logits = logits * scale
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


@contextlib.contextmanager
def checkpointing_layers(model: Any) -> Iterator[None]:
    """Put the layers with gradient checkpointing enabled in training mode inside the block.

    transformers checkpoints a layer only while ``layer.training`` is true; the policy stays
    in eval mode (no dropout, so sampled and trained log-probs agree), so only those layers'
    own flag is set: their submodules (attention, dropout) stay in eval mode, and the
    recomputation in the backward pass sees the same modes. Without checkpointing it does nothing.
    """
    layers = [
        m
        for m in model.modules()
        if getattr(m, "gradient_checkpointing", False) is True and not m.training
    ]
    for layer in layers:
        layer.training = True
    try:
        yield
    finally:
        for layer in layers:
            layer.training = False


def _sampler_diff(trajectories: Sequence[TokenTrajectory], behaviour: Sequence[Any]) -> float:
    """Mean |sampler - behaviour log-prob| over policy tokens (sampling vs training numerics)."""
    total, count = 0.0, 0
    for t, old in zip(trajectories, behaviour, strict=True):
        mask = torch.tensor(t.loss_mask, dtype=torch.bool)
        total += float((torch.tensor(t.sampler_logprobs)[mask] - old[mask]).abs().sum())
        count += int(mask.sum())
    return total / max(count, 1)


@functools.cache
def _libc() -> Any:
    """glibc, or None on other C libraries (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Give the C heap's free pages back to the OS (glibc ``malloc_trim(0)``); False elsewhere.

    PyTorch's CPU tensors come from ``malloc``. glibc raises its mmap threshold after the first
    large frees (up to 32 MB), so later activations and KV caches are carved out of the heap,
    and freeing them leaves the pages resident: without a trim a GRPO process keeps the peak
    of its last update (about 1 MB per trained token for SmolLM2-135M under bf16 autocast)
    through the next rollout and evaluation (measured, 16 episodes a step: 6.1-6.8 GB resident
    between updates, 1.4-1.5 GB with trims; the peak is the same). The trainer trims after each
    rollout (~0.15 s) and each update (0.7-2.6 s for ~5 GB on 2 busy cores; counted in the
    step's times); the next update faults its pages in again.

    Example:
        >>> trim_heap()  # glibc Linux; False on other C libraries
        True
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
