"""The cold-start SFT trainer: teach a model the search-agent format before RL.

LiteResearcher starts RL from a model fine-tuned on successful search trajectories (the cold
start): it then writes ``<tool_call>`` and ``<answer>`` often enough for GRPO groups to differ.

Modules, in reading order:

* :mod:`~trainers.sft.config`: :class:`SFTConfig`, every setting (the paper's lr 2e-5, warm-up and cosine);
* :mod:`~trainers.sft.data`: records, chat-template encoding with loss on assistant tokens only, padding;
* :mod:`~trainers.sft.trainer`: :class:`SFTTrainer`, the loop, the learning-rate schedule, the saved model;
* ``python -m trainers.sft`` / ``lite-world-sft``: the CLI.

Importing this package does not import torch; the trainer loads on first use.

Example:
    >>> from trainers.sft import SFTConfig
    >>> SFTConfig().learning_rate
    2e-05
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainers.sft.config import SFTConfig

if TYPE_CHECKING:  # pragma: no cover
    from trainers.sft.data import encode_chat, load_records
    from trainers.sft.trainer import SFTTrainer, lr_at

__all__ = ["SFTConfig", "SFTTrainer", "encode_chat", "load_records", "lr_at"]

_LAZY = {
    "SFTTrainer": "trainers.sft.trainer",
    "lr_at": "trainers.sft.trainer",
    "encode_chat": "trainers.sft.data",
    "load_records": "trainers.sft.data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trainers.sft' has no attribute {name!r}")
