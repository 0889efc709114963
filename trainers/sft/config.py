"""``SFTConfig``: every setting of the cold-start SFT trainer, frozen and validated.

Defaults follow LiteResearcher's cold start (arXiv 2604.17931): full-parameter fine-tuning with
learning rate 2e-5, linear warm-up over the first 10% of the steps then cosine decay, loss on
assistant tokens only. ``lora=True`` trains a LoRA adapter instead (merged into the weights
when the run is saved).

Example:
    >>> config = SFTConfig(data="runs/sft-data", max_steps=20)
    >>> config.learning_rate, config.lr_scheduler, config.examples_per_step
    (2e-05, 'cosine', 1)
    >>> SFTConfig(lora_target_modules="q_proj, v_proj").lora_target_modules
    ('q_proj', 'v_proj')
    >>> SFTConfig(warmup_ratio=1.5)
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects SFTConfig.warmup_ratio in [0, 1), actual: 1.5
    >>> SFTConfig.from_dict({"max_steps": 3, "lora": True}).lora
    True

Held-out loss and early stopping (all off by default):
    >>> c = SFTConfig(eval_fraction=0.1, eval_every=10, early_stopping_patience=3)
    >>> c.eval_fraction, c.eval_every, c.early_stopping_patience, c.restore_best
    (0.1, 10, 3, True)
    >>> SFTConfig(early_stopping_patience=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects SFTConfig.eval_every >= 1 with early_stopping_patience > 0, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lite_world.config import ConfigMixin, check_int
from lite_world.errors import ConfigError
from trainers._lora import LINEAR_PROJECTIONS, target_modules

__all__ = ["LR_SCHEDULERS", "SFTConfig", "TRUNCATIONS"]

LR_SCHEDULERS = ("cosine", "linear", "constant")
"""Decay after the warm-up: cosine to 0, linear to 0, or none (see :func:`~trainers.sft.trainer.lr_at`)."""
TRUNCATIONS = ("right", "error", "drop")
"""What happens to a conversation longer than ``max_length`` (see :func:`~trainers.sft.data.encode_chat`)."""


@dataclass(frozen=True)
class SFTConfig(ConfigMixin):
    """Settings of :class:`~trainers.sft.trainer.SFTTrainer` (and ``python -m trainers.sft``).

    Every field carries ``metadata["help"]``; the CLI turns each one into a ``--flag``.
    """

    # -- data --------------------------------------------------------------------------------
    data: str | None = field(
        default=None,
        metadata={
            "help": "Training conversations: a JSONL or Parquet file of records with 'messages', or a "
            "directory holding sft.jsonl (or sft.parquet)."
        },
    )
    max_length: int | None = field(
        default=4096,
        metadata={
            "help": "Tokens per conversation (None: no limit); longer ones follow 'truncation'."
        },
    )
    truncation: str = field(
        default="right",
        metadata={
            "help": "A conversation longer than max_length: 'right' (keep its first max_length tokens), "
            "'drop' (skip it) or 'error'."
        },
    )
    shuffle: bool = field(
        default=True, metadata={"help": "Shuffle the conversations at every epoch (seeded)."}
    )

    # -- model -------------------------------------------------------------------------------
    model: str = field(
        default="smollm2",
        metadata={
            "help": "Model to fine-tune: 'smollm2' (the embedded SmolLM2-135M-Instruct), a local model "
            "directory or a model id already in the Hugging Face cache (loaded offline)."
        },
    )
    dtype: str = field(
        default="float32",
        metadata={
            "help": "dtype of the trained weights: 'float32' (default; Adam on bf16 weights loses small "
            "updates), 'bfloat16' or 'float16'."
        },
    )
    mixed_precision: str = field(
        default="no", metadata={"help": "'bf16': run forward passes under bfloat16 autocast."}
    )
    device: str = field(
        default="auto",
        metadata={"help": "'auto' (CUDA when available, else CPU), 'cpu', 'cuda', 'cuda:1'."},
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in the backward pass (less memory, ~30% slower)."},
    )

    # -- LoRA --------------------------------------------------------------------------------
    lora: bool = field(
        default=False,
        metadata={
            "help": "Train a LoRA adapter instead of every weight (needs peft); the saved model has the "
            "adapter merged in, the adapter alone goes to adapter/."
        },
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: float = field(
        default=32.0,
        metadata={"help": "LoRA scaling numerator (the update is scaled by alpha / r)."},
    )
    lora_dropout: float = field(
        default=0.05, metadata={"help": "Dropout on the LoRA input, in [0, 1)."}
    )
    lora_target_modules: tuple[str, ...] = field(
        default=LINEAR_PROJECTIONS,
        metadata={
            "help": "Module names LoRA wraps, comma-separated (default: every linear projection of a "
            "Llama/Qwen block)."
        },
    )

    # -- optimiser ---------------------------------------------------------------------------
    learning_rate: float = field(
        default=2e-5, metadata={"help": "Peak AdamW learning rate (the paper's 2e-5)."}
    )
    lr_scheduler: str = field(
        default="cosine",
        metadata={"help": "After the warm-up: 'cosine' (to 0), 'linear' (to 0) or 'constant'."},
    )
    warmup_ratio: float = field(
        default=0.1,
        metadata={"help": "Share of the steps with a linear learning-rate warm-up, in [0, 1)."},
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2."})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    max_grad_norm: float = field(
        default=1.0, metadata={"help": "Gradient-norm clip (0: no clipping, norm still logged)."}
    )

    # -- schedule ----------------------------------------------------------------------------
    epochs: float = field(
        default=1.0,
        metadata={"help": "Passes over the data (fractions allowed); ignored with max_steps."},
    )
    max_steps: int | None = field(
        default=None,
        metadata={"help": "Optimizer steps (None: as many as 'epochs' passes over the data take)."},
    )
    batch_size: int = field(
        default=1, metadata={"help": "Conversations per forward/backward (right-padded)."}
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={
            "help": "Forward/backward passes per optimizer step; the loss is the mean over every assistant "
            "token of the accumulated batch."
        },
    )

    # -- held-out loss and early stopping -----------------------------------------------------
    eval_data: str | None = field(
        default=None,
        metadata={
            "help": "Held-out conversations (same formats as 'data'); their assistant-token loss is "
            "evaluated, never trained on."
        },
    )
    eval_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Without eval_data: hold out this share of data's conversations (seeded; at least "
            "one, rounded up), in [0, 1). 0: no held-out set."
        },
    )
    eval_every: int = field(
        default=0,
        metadata={
            "help": "Evaluate the held-out loss every N optimizer steps, and after the last step (0: only "
            "after the last step, when there is held-out data)."
        },
    )
    early_stopping_patience: int = field(
        default=0,
        metadata={
            "help": "Stop after this many evaluations in a row that do not improve the held-out loss by "
            "more than early_stopping_min_delta (0: never stop early; needs eval_every >= 1)."
        },
    )
    early_stopping_min_delta: float = field(
        default=0.0,
        metadata={"help": "Smallest held-out loss decrease that counts as an improvement, >= 0."},
    )
    restore_best: bool = field(
        default=True,
        metadata={
            "help": "With held-out data: the saved model/ holds the weights of the evaluation with the "
            "lowest held-out loss (a copy kept in memory: the trainable parameters only with LoRA)."
        },
    )

    # -- run ---------------------------------------------------------------------------------
    seed: int = field(
        default=0, metadata={"help": "Seed of the data order, LoRA initialisation and dropout."}
    )
    output_dir: str = field(
        default="runs/sft",
        metadata={
            "help": "Run directory: config.json, metrics.jsonl, loss.png, model/ (and adapter/), checkpoints."
        },
    )
    log_every: int = field(
        default=1, metadata={"help": "Log a line every N steps (metrics.jsonl gets every step)."}
    )
    save_every: int = field(
        default=0,
        metadata={
            "help": "Also write checkpoint-NNNNNN/ every N steps (0: only the final model/)."
        },
    )
    save_total_limit: int = field(
        default=2,
        metadata={"help": "Intermediate checkpoints kept (oldest removed first); 0 keeps all."},
    )
    show_progress: bool = field(default=True, metadata={"help": "Show a tqdm progress bar."})
    plot: bool = field(
        default=True, metadata={"help": "Write loss.png (needs matplotlib) at the end."}
    )

    def __post_init__(self) -> None:
        ints = {
            "lora_r": 1,
            "batch_size": 1,
            "gradient_accumulation_steps": 1,
            "seed": 0,
            "log_every": 1,
            "save_every": 0,
            "save_total_limit": 0,
            "eval_every": 0,
            "early_stopping_patience": 0,
        }
        for name, low in ints.items():
            _check_int(name, getattr(self, name), low)
        for name in ("max_length", "max_steps"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 2 if name == "max_length" else 1)
        for name in ("learning_rate", "epochs", "lora_alpha"):
            if not _is_number(getattr(self, name)) or not getattr(self, name) > 0:
                raise ConfigError(f"Expects SFTConfig.{name} > 0, actual: {getattr(self, name)!r}")
        for name in ("weight_decay", "max_grad_norm", "adam_epsilon", "early_stopping_min_delta"):
            if not _is_number(getattr(self, name)) or not getattr(self, name) >= 0:
                raise ConfigError(f"Expects SFTConfig.{name} >= 0, actual: {getattr(self, name)!r}")
        for name in ("warmup_ratio", "lora_dropout", "adam_beta1", "adam_beta2", "eval_fraction"):
            if not _is_number(getattr(self, name)) or not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"Expects SFTConfig.{name} in [0, 1), actual: {getattr(self, name)!r}"
                )
        choices = {
            "dtype": ("float32", "bfloat16", "float16"),
            "mixed_precision": ("no", "bf16"),
            "lr_scheduler": LR_SCHEDULERS,
            "truncation": TRUNCATIONS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"Expects SFTConfig.{name} in {allowed}, actual: {getattr(self, name)!r}"
                )
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu") or self.device.startswith("cuda")
        ):
            raise ConfigError(
                f"Expects SFTConfig.device 'auto', 'cpu' or 'cuda[:N]', actual: {self.device!r}"
            )
        for name in ("model", "output_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(
                    f"Expects SFTConfig.{name} to be a non-empty string, actual: {getattr(self, name)!r}"
                )
        for name in ("data", "eval_data"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(
                    f"Expects SFTConfig.{name} to be a path or None, actual: {value!r}"
                )
        if self.eval_data is not None and self.eval_fraction > 0:
            raise ConfigError(
                "Expects one held-out source, SFTConfig.eval_data or SFTConfig.eval_fraction, actual: "
                f"both (eval_data={self.eval_data!r}, eval_fraction={self.eval_fraction}). Set "
                "eval_fraction to 0 or eval_data to None"
            )
        if self.early_stopping_patience > 0 and self.eval_every == 0:
            raise ConfigError(
                "Expects SFTConfig.eval_every >= 1 with early_stopping_patience > 0, actual: "
                f"eval_every=0, early_stopping_patience={self.early_stopping_patience}. Evaluate "
                "every N steps (--eval-every N) or set the patience to 0"
            )
        object.__setattr__(
            self, "lora_target_modules", target_modules(self.lora_target_modules, "SFTConfig")
        )

    @property
    def examples_per_step(self) -> int:
        """Conversations per optimizer step: ``batch_size * gradient_accumulation_steps``."""
        return self.batch_size * self.gradient_accumulation_steps

    def total_steps(self, num_examples: int) -> int:
        """Optimizer steps of a run over ``num_examples`` conversations: ``max_steps``, or enough
        steps for ``epochs`` passes (rounded up).

        Example:
            >>> SFTConfig(epochs=2.0, batch_size=2).total_steps(5)
            5
            >>> SFTConfig(max_steps=3).total_steps(100)
            3
        """
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * num_examples / self.examples_per_step - 1e-9))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int | None) -> None:
    check_int(f"SFTConfig.{name}", value, low=low)
