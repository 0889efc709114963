"""The reference GRPO trainer: pure PyTorch + transformers, readable in one sitting.

Modules, in reading order:

* :mod:`~trainers.grpo.config`: :class:`GRPOConfig`, every setting (the paper's recipe by default);
* :mod:`~trainers.grpo.rollout`: batched multi-turn sampling through ``LiteSearch-v0`` into
  token trajectories (policy tokens mask 1, prompt and tool responses mask 0);
* :mod:`~trainers.grpo.algorithm`: group advantages and the clipped surrogate loss (pure tensor
  functions);
* :mod:`~trainers.grpo.trainer`: :class:`GRPOTrainer`, the loop, the update, metrics, checkpoints;
* :mod:`~trainers.grpo.plot`: the training-dynamics figure;
* ``python -m trainers.grpo`` / ``lite-world-train-grpo``: the CLI.

Importing this package does not import torch; the trainer loads on first use.

Example:
    >>> from trainers.grpo import GRPOConfig
    >>> GRPOConfig().group_size
    8
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainers.grpo.config import GRPOConfig

if TYPE_CHECKING:  # pragma: no cover
    from trainers.grpo.trainer import GRPOTrainer

__all__ = ["GRPOConfig", "GRPOTrainer"]


def __getattr__(name: str) -> Any:
    if name == "GRPOTrainer":
        return importlib.import_module("trainers.grpo.trainer").GRPOTrainer
    raise AttributeError(f"module 'trainers.grpo' has no attribute {name!r}")
