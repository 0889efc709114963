"""``SFTTrainer``: cold-start supervised fine-tuning on search-agent conversations.

One step:

1. take ``batch_size * gradient_accumulation_steps`` conversations (shuffled epochs, seeded);
2. forward/backward them ``batch_size`` at a time: the loss is the cross-entropy of the
   assistant tokens (see :mod:`trainers.sft.data`), summed and divided by the number of
   assistant tokens of the whole accumulated batch, so every trained token weighs the same
   whatever the micro-batching;
3. clip the gradient norm, set the learning rate (:func:`lr_at`), one AdamW step;
4. one line to ``metrics.jsonl``; every ``save_every`` steps a ``checkpoint-NNNNNN/``.

At the end (or when ``time_limit_s`` runs out) the model is written to ``output_dir/model/``: a
plain Hugging Face directory with the tokenizer and its chat template, loadable by
:func:`trainers.grpo.trainer.load_policy`, :class:`lite_world.agents.hf.TransformersAgent` and
verl. With ``lora=True`` the adapter is merged into the weights for ``model/`` and saved alone
under ``output_dir/adapter/``.

Logits are computed only at the positions that predict an assistant token (``logits_to_keep``
with the positions any row of the micro-batch needs), which keeps long tool responses cheap.

Example:
    >>> config = SFTConfig(data="runs/sft-data", max_steps=20, output_dir="runs/sft")  # doctest: +SKIP
    >>> history = SFTTrainer(config).train()                                             # doctest: +SKIP
    >>> sorted(history[0])                                                               # doctest: +SKIP
    ['assistant_tokens', 'epoch', 'grad_norm', 'loss', 'lr', 'seconds', 'step', 'tokens']
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.errors import ConfigError
from trainers._lora import apply_lora, merge_lora, save_adapter
from trainers._runs import CHECKPOINT_PREFIX, bf16_autocast, prune_checkpoints, write_dir
from trainers.grpo.trainer import load_policy
from trainers.sft.config import LR_SCHEDULERS, SFTConfig
from trainers.sft.data import IGNORE_INDEX, EncodedChat, SFTDataset, collate, load_records

torch = require("torch")

__all__ = ["CHECKPOINT_PREFIX", "SFTTrainer", "lr_at", "plot_loss"]

logger = logging.getLogger(__name__)


def lr_at(
    step: int, total: int, base_lr: float, warmup_ratio: float = 0.0, kind: str = "cosine"
) -> float:
    """The learning rate of optimizer step ``step`` (0-based) of ``total``.

    The first ``ceil(warmup_ratio * total)`` steps warm up linearly, ``base_lr * (step + 1) /
    (warmup + 1)``; then ``kind`` decays from ``base_lr`` over the remaining steps: ``"cosine"``
    (half a cosine towards 0), ``"linear"`` (towards 0) or ``"constant"``.

    Example:
        >>> [round(lr_at(s, 10, 1.0, 0.1), 4) for s in range(10)]
        [0.5, 1.0, 0.9698, 0.883, 0.75, 0.5868, 0.4132, 0.25, 0.117, 0.0302]
        >>> [round(lr_at(s, 4, 2e-5, 0.5, "linear") / 2e-5, 4) for s in range(4)]
        [0.3333, 0.6667, 1.0, 0.5]
        >>> lr_at(3, 4, 1.0, 0.0, "constant")
        1.0
    """
    if kind not in LR_SCHEDULERS:
        raise ConfigError(f"Expects lr scheduler in {LR_SCHEDULERS}, actual: {kind!r}")
    if total < 1 or step < 0:
        raise ConfigError(f"Expects 0 <= step and total >= 1, actual: step={step}, total={total}")
    warmup = math.ceil(warmup_ratio * total - 1e-9) if warmup_ratio > 0 else 0
    if step < warmup:
        return base_lr * (step + 1) / (warmup + 1)
    if kind == "constant":
        return base_lr
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "linear":
        return base_lr * (1.0 - progress)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


class SFTTrainer:
    """Fine-tunes a causal LM on conversations, with loss on assistant tokens only.

    Args:
        config: The settings.
        records: Conversation records (dicts with ``messages``); default: read from ``config.data``.
        model, tokenizer: A model to train in place (default: loaded from ``config.model``).

    Attributes:
        step: Optimizer steps done.
        total_steps: Steps of the run (``config.max_steps`` or ``config.epochs`` passes).
        dataset: The encoded conversations.
    """

    def __init__(
        self,
        config: SFTConfig,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        if not isinstance(config, SFTConfig):
            raise ConfigError(f"Expects an SFTConfig, actual: {type(config).__name__}")
        if records is None and config.data is None:
            raise ConfigError(
                "Expects SFTConfig.data (a JSONL/Parquet file or a directory) or records, actual: neither"
            )
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu")
            if config.device == "auto"
            else config.device
        )
        records = list(records) if records is not None else load_records(config.data)
        if model is None:
            model, tokenizer = load_policy(config.model, config.dtype)
        elif tokenizer is None:
            raise ConfigError("Expects a tokenizer with a model, actual: None")
        self.tokenizer = tokenizer
        self.dataset = SFTDataset.from_records(
            records, tokenizer, config.max_length, config.truncation
        )
        self.total_steps = config.total_steps(len(self.dataset))

        model = model.to(self.device)
        self._logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
            model.config.use_cache = False
        if config.lora:
            model = apply_lora(
                model,
                r=config.lora_r,
                alpha=config.lora_alpha,
                dropout=config.lora_dropout,
                modules=config.lora_target_modules,
                seed=config.seed,  # LoRA's A matrices are drawn from torch's RNG
            )
        self.model = model
        self.optimizer = torch.optim.AdamW(
            self.trainable_parameters(),
            lr=config.learning_rate,
            betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_epsilon,
            weight_decay=config.weight_decay,
        )
        self.step = 0
        self.examples_seen = 0
        self.data_rng = np.random.default_rng(config.seed)
        self._queue: list[int] = []
        self._merged = False
        trainable = sum(p.numel() for p in self.trainable_parameters())
        logger.info(
            "%d conversations (%d tokens, %d assistant tokens), %d steps of %d, %s trainable parameters",
            len(self.dataset),
            sum(c.num_tokens for c in self.dataset.chats),
            sum(c.num_assistant_tokens for c in self.dataset.chats),
            self.total_steps,
            config.examples_per_step,
            f"{trainable:,}",
        )

    def trainable_parameters(self) -> list[Any]:
        """The parameters the optimizer updates (every weight, or LoRA's with ``lora=True``)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    # -- the loop ----------------------------------------------------------------------------
    def train(self, time_limit_s: float | None = None) -> list[dict[str, Any]]:
        """Run the remaining steps, then save ``output_dir/model/``; return this call's metrics.

        ``time_limit_s``: stop after the step that ends past this many seconds (the model is
        still saved). With ``lora=True`` saving merges the adapter into the weights, after which
        the trainer cannot train on.
        """
        if self._merged:
            raise ConfigError(
                "Expects a LoRA trainer whose adapter is not merged yet, actual: train() already ended and merged "
                "it into the weights. Build a new SFTTrainer on output_dir/model to train further"
            )
        start = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "config.json").write_text(self.config.to_json())
        metrics_path = self.output_dir / "metrics.jsonl"
        if self.step == 0:
            metrics_path.unlink(missing_ok=True)
        history: list[dict[str, Any]] = []
        tqdm = require("tqdm.auto").tqdm
        with tqdm(
            total=self.total_steps,
            initial=self.step,
            desc="sft",
            unit="step",
            disable=not self.config.show_progress,
        ) as bar:
            while self.step < self.total_steps:
                metrics = self.train_step()
                history.append(metrics)
                with open(metrics_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(metrics) + "\n")
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}")
                if self.step % self.config.log_every == 0 or self.step == self.total_steps:
                    logger.info(
                        "step %d/%d loss %.4f lr %.3g grad-norm %.3f tokens %d (%.1f s)",
                        self.step,
                        self.total_steps,
                        metrics["loss"],
                        metrics["lr"],
                        metrics["grad_norm"],
                        metrics["tokens"],
                        metrics["seconds"],
                    )
                out_of_time = (
                    time_limit_s is not None and time.perf_counter() - start >= time_limit_s
                )
                if (
                    self.config.save_every
                    and self.step % self.config.save_every == 0
                    and self.step < self.total_steps
                    and not out_of_time
                ):
                    self.save_checkpoint()
                if out_of_time:
                    logger.info(
                        "time limit of %.0f s reached after step %d of %d",
                        time_limit_s,
                        self.step,
                        self.total_steps,
                    )
                    break
        self.save_model(self.output_dir, final=True)
        state = {
            "step": self.step,
            "total_steps": self.total_steps,
            "examples_seen": self.examples_seen,
            "conversations": len(self.dataset),
            "config": self.config.to_dict(),
        }
        (self.output_dir / "trainer_state.json").write_text(json.dumps(state, indent=2))
        if self.config.plot and metrics_path.is_file():
            self.plot()
        return history

    def train_step(self) -> dict[str, Any]:
        """One optimizer step on the next ``examples_per_step`` conversations; returns its metrics.

        ``loss`` is the mean cross-entropy over the step's assistant tokens, with the weights
        before the update; ``tokens`` counts every (unpadded) token, ``assistant_tokens`` the
        trained ones.
        """
        c = self.config
        t0 = time.perf_counter()
        chats = [self.dataset[i] for i in self._next_indices(c.examples_per_step)]
        batches = [
            collate(chats[i : i + c.batch_size], self.dataset.pad_token_id, self.device)
            for i in range(0, len(chats), c.batch_size)
        ]
        assistant_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
        normalizer = max(assistant_tokens, 1)
        lr = lr_at(self.step, self.total_steps, c.learning_rate, c.warmup_ratio, c.lr_scheduler)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        total = 0.0
        with self._seeded(
            _mix(c.seed, self.step)
        ):  # dropout (LoRA's, the model's) replays per step
            for batch in batches:
                with self._autocast():
                    loss_sum = self._loss_sum(self.model, batch)
                (loss_sum / normalizer).backward()
                total += float(loss_sum.detach())
        params = self.trainable_parameters()
        norm = torch.nn.utils.clip_grad_norm_(
            params, c.max_grad_norm if c.max_grad_norm > 0 else float("inf")
        )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.model.eval()
        self.step += 1
        return {
            "step": self.step,
            "loss": total / normalizer,
            "lr": lr,
            "tokens": sum(int(b["attention_mask"].sum()) for b in batches),
            "assistant_tokens": assistant_tokens,
            "grad_norm": float(norm),
            "seconds": time.perf_counter() - t0,
            "epoch": self.examples_seen / len(self.dataset),
        }

    def evaluate_loss(self, chats: Sequence[EncodedChat] | None = None) -> float:
        """Mean cross-entropy over the assistant tokens of ``chats`` (default: every training
        conversation) under the current weights; no gradient, no update."""
        chats = self.dataset.chats if chats is None else list(chats)
        total, count = 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(chats), self.config.batch_size):
                batch = collate(
                    chats[i : i + self.config.batch_size], self.dataset.pad_token_id, self.device
                )
                with self._autocast():
                    total += float(self._loss_sum(self.model, batch))
                count += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        return total / max(count, 1)

    def _loss_sum(self, model: Any, batch: Mapping[str, Any]) -> Any:
        """Summed cross-entropy of the assistant tokens of a micro-batch (float32)."""
        targets = batch["labels"][:, 1:]
        kwargs: dict[str, Any] = {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "use_cache": False,
        }
        if self._logits_to_keep:
            keep = (targets != IGNORE_INDEX).any(0).nonzero().squeeze(1)
            if keep.numel() == 0:  # nothing to train in this micro-batch
                return torch.zeros((), device=self.device, requires_grad=True)
            logits = model(**kwargs, logits_to_keep=keep).logits
            targets = targets[:, keep]
        else:
            logits = model(**kwargs).logits[:, :-1]
        return torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1),
            targets.flatten(),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )

    def _next_indices(self, n: int) -> list[int]:
        """The next ``n`` conversations: the dataset in (shuffled) epochs, without repeats within one."""
        while len(self._queue) < n:
            size = len(self.dataset)
            order = self.data_rng.permutation(size) if self.config.shuffle else np.arange(size)
            self._queue.extend(int(i) for i in order)
        picked, self._queue = self._queue[:n], self._queue[n:]
        self.examples_seen += n
        return picked

    @contextlib.contextmanager
    def _seeded(self, seed: int) -> Iterator[None]:
        """Seed torch's RNGs inside the block and restore the caller's state after it."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        return bf16_autocast(self.config.mixed_precision, self.device.type)

    # -- outputs -----------------------------------------------------------------------------
    def save_model(self, directory: str | os.PathLike[str], *, final: bool = False) -> Path:
        """Write ``directory/model/`` (a plain Hugging Face model and the tokenizer with its chat
        template) and, with LoRA, ``directory/adapter/``. Returns the ``model/`` path.

        With LoRA the adapter is merged into a copy of the model, or, when ``final``, into the
        model itself (no second copy in memory; the trainer then holds the merged model).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model = self.model
        if self.config.lora:
            write_dir(directory / "adapter", lambda tmp: self._save(model, tmp, adapter=True))
            model = merge_lora(model, in_place=final)
            if final:
                self.model, self._merged = model, True
        use_cache = model.config.use_cache
        model.config.use_cache = True  # the saved model generates with a KV cache
        try:
            write_dir(directory / "model", lambda tmp: self._save(model, tmp))
        finally:
            model.config.use_cache = use_cache
        logger.info("saved %s", directory / "model")
        return directory / "model"

    def _save(self, model: Any, directory: Path, adapter: bool = False) -> None:
        if adapter:
            save_adapter(model, directory)
        else:
            model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)  # with its chat template (chat_template.jinja)

    def save_checkpoint(self) -> Path:
        """Write ``output_dir/checkpoint-{step:06d}/`` (``model/``, ``adapter/`` with LoRA, and
        ``trainer_state.json``) and keep the last ``save_total_limit`` of them."""
        path = self.output_dir / f"{CHECKPOINT_PREFIX}{self.step:06d}"
        self.save_model(path)
        state = {
            "step": self.step,
            "total_steps": self.total_steps,
            "examples_seen": self.examples_seen,
            "config": self.config.to_dict(),
        }
        (path / "trainer_state.json").write_text(json.dumps(state, indent=2))
        prune_checkpoints(self.output_dir, self.config.save_total_limit)
        return path

    def plot(self) -> Path | None:
        """Write ``loss.png`` from ``metrics.jsonl`` (None when matplotlib is missing)."""
        try:
            return plot_loss(self.output_dir / "metrics.jsonl", self.output_dir / "loss.png")
        except ImportError:
            logger.info("matplotlib is not installed: no loss.png")
            return None


def plot_loss(metrics: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Draw the loss and the learning rate per step of a ``metrics.jsonl`` into ``out`` (PNG)."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(metrics, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    steps = [r["step"] for r in records]
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(steps, [r["loss"] for r in records], marker="o", markersize=3)
    ax_loss.set_title("loss (assistant tokens)", fontsize=10)
    ax_lr.plot(steps, [r["lr"] for r in records], marker="o", markersize=3, color="tab:orange")
    ax_lr.set_title("learning rate", fontsize=10)
    for ax in (ax_loss, ax_lr):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _mix(seed: int, step: int) -> int:
    """A 32-bit seed of ``(seed, step)``."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])
