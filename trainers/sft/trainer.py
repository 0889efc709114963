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

Held-out conversations (``eval_data``, ``eval_fraction`` or ``eval_records=``) are evaluated every
``eval_every`` steps and after the last one (:meth:`SFTTrainer.evaluate`: loss and mean predictive
entropy of their assistant tokens); ``early_stopping_patience`` stops the run when the held-out
loss stops improving, and ``restore_best`` saves the weights of the best evaluation.

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
from trainers.sft.heldout import EarlyStopping, split_held_out

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
        eval_records: Held-out conversation records; default: read from ``config.eval_data``,
            or ``config.eval_fraction`` of the training records, or none.

    Attributes:
        step: Optimizer steps done.
        total_steps: Steps of the run (``config.max_steps`` or ``config.epochs`` passes).
        dataset: The encoded training conversations.
        eval_dataset: The encoded held-out conversations (None without any).
        early_stopping: The held-out losses so far: best step and loss, evaluations without
            improvement.
        stopped_early: Whether the run stopped for lack of held-out improvement.
        best_state: With ``restore_best``, a CPU copy of the trainable parameters (LoRA's only
            with ``lora=True``) of the best evaluation so far; None before one, and once restored.
    """

    def __init__(
        self,
        config: SFTConfig,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        eval_records: Sequence[Mapping[str, Any]] | None = None,
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
        records, held_out = self._held_out(records, eval_records)
        if model is None:
            model, tokenizer = load_policy(config.model, config.dtype)
        elif tokenizer is None:
            raise ConfigError("Expects a tokenizer with a model, actual: None")
        self.tokenizer = tokenizer
        self.dataset = SFTDataset.from_records(
            records, tokenizer, config.max_length, config.truncation
        )
        self.eval_dataset = (
            SFTDataset.from_records(held_out, tokenizer, config.max_length, config.truncation)
            if held_out is not None
            else None
        )
        if self.eval_dataset is None and (config.eval_every or config.early_stopping_patience):
            raise ConfigError(
                "Expects held-out conversations with SFTConfig.eval_every or "
                "early_stopping_patience > 0, actual: none. Set eval_data or eval_fraction, or pass "
                "eval_records"
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
        self.early_stopping = EarlyStopping(
            config.early_stopping_patience, config.early_stopping_min_delta
        )
        self.stopped_early = False
        self.best_state: dict[str, Any] | None = None
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
        if self.eval_dataset is not None:
            logger.info(
                "%d held-out conversations (%d assistant tokens)",
                len(self.eval_dataset),
                sum(c.num_assistant_tokens for c in self.eval_dataset.chats),
            )

    def _held_out(
        self,
        records: Sequence[Mapping[str, Any]],
        eval_records: Sequence[Mapping[str, Any]] | None,
    ) -> tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]] | None]:
        """``(train, held_out)`` records from ``eval_records``, ``eval_data`` or ``eval_fraction``."""
        c = self.config
        if eval_records is not None:
            if c.eval_data is not None or c.eval_fraction > 0:
                raise ConfigError(
                    "Expects one held-out source, actual: eval_records and "
                    f"{'eval_data' if c.eval_data is not None else 'eval_fraction'} in the config. "
                    "Drop one of them"
                )
            return records, list(eval_records)
        if c.eval_data is not None:
            return records, load_records(c.eval_data)
        if c.eval_fraction > 0:
            return split_held_out(records, c.eval_fraction, c.seed)
        return records, None

    def trainable_parameters(self) -> list[Any]:
        """The parameters the optimizer updates (every weight, or LoRA's with ``lora=True``)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    # -- the loop ----------------------------------------------------------------------------
    def train(self, time_limit_s: float | None = None) -> list[dict[str, Any]]:
        """Run the remaining steps, then save ``output_dir/model/``; return this call's metrics.

        ``time_limit_s``: stop after the step that ends past this many seconds (the model is
        still saved). With ``lora=True`` saving merges the adapter into the weights, after which
        the trainer cannot train on.

        With held-out conversations, the steps that evaluate them (every ``eval_every`` and the
        last one) also carry ``eval_loss``, ``eval_token_entropy``, ``eval_tokens`` and
        ``eval_seconds``. ``early_stopping_patience`` evaluations in a row without improvement
        end the run (``stopped_early``); with ``restore_best`` the weights of the best
        evaluation are put back before saving.
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
            postfix: dict[str, str] = {}
            while self.step < self.total_steps and not self.stopped_early:
                metrics = self.train_step()
                out_of_time = (
                    time_limit_s is not None and time.perf_counter() - start >= time_limit_s
                )
                if self._evaluates_now(out_of_time):
                    metrics.update(self._evaluate_step())
                    postfix["eval_loss"] = f"{metrics['eval_loss']:.4f}"
                history.append(metrics)
                with open(metrics_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(metrics) + "\n")
                bar.update(1)
                postfix.update(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}")
                bar.set_postfix(postfix)
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
                if (
                    self.config.save_every
                    and self.step % self.config.save_every == 0
                    and self.step < self.total_steps
                    and not out_of_time
                    and not self.stopped_early
                ):
                    self.save_checkpoint()
                if self.stopped_early:
                    logger.info(
                        "early stop after step %d of %d: %d evaluations without improving on the "
                        "held-out loss %.4f of step %s",
                        self.step,
                        self.total_steps,
                        self.early_stopping.bad_evals,
                        self.early_stopping.best_loss,
                        self.early_stopping.best_step,
                    )
                    break
                if out_of_time:
                    logger.info(
                        "time limit of %.0f s reached after step %d of %d",
                        time_limit_s,
                        self.step,
                        self.total_steps,
                    )
                    break
        restored = self.restore_best() if self.config.restore_best else False
        self.save_model(self.output_dir, final=True)
        state = {
            "step": self.step,
            "total_steps": self.total_steps,
            "examples_seen": self.examples_seen,
            "conversations": len(self.dataset),
            "eval_conversations": len(self.eval_dataset) if self.eval_dataset else 0,
            **self.early_stopping.state(),
            "stopped_early": self.stopped_early,
            "restored_best": restored,  # False too when the best evaluation was the last step
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

    def evaluate(
        self, chats: Sequence[EncodedChat | Mapping[str, Any]] | None = None
    ) -> dict[str, float | int]:
        """The held-out figures of the current weights; no gradient, no update.

        Returns ``loss`` (mean cross-entropy over the assistant tokens of ``chats``),
        ``token_entropy`` (mean entropy, in nats, of the model's predictive distribution at those
        tokens: how much the student still hesitates; a copy of a deterministic teacher goes to
        ~0) and ``tokens`` (their number). ``chats``: encoded conversations or records with
        ``messages`` (encoded with the run's ``max_length`` and ``truncation``); default: the
        held-out conversations.

        Raises:
            ConfigError: no ``chats`` and no held-out conversations.
        """
        if chats is None:
            if self.eval_dataset is None:
                raise ConfigError(
                    "Expects held-out conversations (SFTConfig.eval_data or eval_fraction, or "
                    "eval_records) or chats to evaluate, actual: none"
                )
            chats = self.eval_dataset.chats
        encoded = [c for c in chats if isinstance(c, EncodedChat)]
        records = [c for c in chats if not isinstance(c, EncodedChat)]
        if records:  # encoded like the training set (skips logged), after the encoded ones
            encoded += SFTDataset.from_records(
                records, self.tokenizer, self.config.max_length, self.config.truncation
            ).chats
        total, entropy, count = 0.0, 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(encoded), self.config.batch_size):
                batch = collate(
                    encoded[i : i + self.config.batch_size], self.dataset.pad_token_id, self.device
                )
                with self._autocast():
                    loss_sum, entropy_sum = self._loss_sum(self.model, batch, entropy=True)
                total += float(loss_sum)
                entropy += float(entropy_sum)
                count += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        return {
            "loss": total / max(count, 1),
            "token_entropy": entropy / max(count, 1),
            "tokens": count,
        }

    def evaluate_loss(self, chats: Sequence[EncodedChat] | None = None) -> float:
        """Mean cross-entropy over the assistant tokens of ``chats`` (default: every training
        conversation) under the current weights; no gradient, no update (see :meth:`evaluate`)."""
        return float(self.evaluate(self.dataset.chats if chats is None else chats)["loss"])

    def _evaluates_now(self, out_of_time: bool) -> bool:
        """Whether the step just done is evaluated: every ``eval_every`` steps and the last one."""
        if self.eval_dataset is None:
            return False
        every = self.config.eval_every
        return (
            (every > 0 and self.step % every == 0) or self.step >= self.total_steps or out_of_time
        )

    def _evaluate_step(self) -> dict[str, Any]:
        """Evaluate the held-out set, follow the best loss (copy its weights), decide on stopping."""
        t0 = time.perf_counter()
        result = self.evaluate()
        if self.early_stopping.update(self.step, result["loss"]) and self.config.restore_best:
            self.best_state = {
                name: p.detach().to("cpu", copy=True)
                for name, p in self.model.named_parameters()
                if p.requires_grad
            }
        self.stopped_early = self.early_stopping.should_stop
        seconds = time.perf_counter() - t0
        logger.info(
            "step %d eval loss %.4f (best %.4f at step %s) token entropy %.4f (%.1f s)",
            self.step,
            result["loss"],
            self.early_stopping.best_loss,
            self.early_stopping.best_step,
            result["token_entropy"],
            seconds,
        )
        return {
            "eval_loss": result["loss"],
            "eval_token_entropy": result["token_entropy"],
            "eval_tokens": result["tokens"],
            "eval_seconds": seconds,
        }

    def restore_best(self) -> bool:
        """Put back the trainable weights of the best held-out evaluation when it was not the
        last step; return whether anything was restored. The optimizer state is left as is.

        ``train()`` calls it before saving when ``restore_best`` is set (the copy exists only then).
        """
        best = self.early_stopping.best_step
        if self.best_state is None or best is None or best == self.step:
            return False
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if name in self.best_state:
                    p.copy_(self.best_state[name])
        logger.info(
            "restored the weights of step %d (held-out loss %.4f) over those of step %d",
            best,
            self.early_stopping.best_loss,
            self.step,
        )
        self.best_state = None  # restored: the copy is no longer needed
        return True

    def _loss_sum(self, model: Any, batch: Mapping[str, Any], entropy: bool = False) -> Any:
        """Summed cross-entropy of the assistant tokens of a micro-batch (float32); with
        ``entropy``, ``(loss_sum, entropy_sum)``: also the summed entropy of the predictive
        distribution at those tokens, from the same logits (no gradient through it)."""
        targets = batch["labels"][:, 1:]
        kwargs: dict[str, Any] = {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "use_cache": False,
        }
        if self._logits_to_keep:
            keep = (targets != IGNORE_INDEX).any(0).nonzero().squeeze(1)
            if keep.numel() == 0:  # nothing to train in this micro-batch
                zero = torch.zeros((), device=self.device, requires_grad=True)
                return (zero, zero.detach()) if entropy else zero
            logits = model(**kwargs, logits_to_keep=keep).logits
            targets = targets[:, keep]
        else:
            logits = model(**kwargs).logits[:, :-1]
        logits = logits.float().flatten(0, 1)
        targets = targets.flatten()
        loss_sum = torch.nn.functional.cross_entropy(
            logits, targets, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        if not entropy:
            return loss_sum
        with torch.no_grad():
            mask = targets != IGNORE_INDEX
            logp = torch.log_softmax(logits[mask], dim=-1)
            entropy_sum = -(logp.exp() * logp).sum()
        return loss_sum, entropy_sum

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
    """Draw the loss (and the held-out ``eval_loss`` where logged) and the learning rate per step
    of a ``metrics.jsonl`` into ``out`` (PNG)."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(metrics, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    steps = [r["step"] for r in records]
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(steps, [r["loss"] for r in records], marker="o", markersize=3, label="train")
    evals = [r for r in records if "eval_loss" in r]
    if evals:
        ax_loss.plot(
            [r["step"] for r in evals],
            [r["eval_loss"] for r in evals],
            marker="s",
            markersize=4,
            color="tab:green",
            label="held-out",
        )
        ax_loss.legend(fontsize=8)
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
