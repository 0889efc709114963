"""Agents that play ``LiteSearch-v0``: the :class:`Agent` protocol and LLM-backed agents.

- :class:`TransformersAgent` runs a transformers model in-process (default: the embedded
  SmolLM2-135M-Instruct).
- :class:`OpenAIAgent` calls any OpenAI-compatible chat-completions server (vLLM, SGLang, or
  ``python -m lite_world.agents.openai_server``).
- :func:`load_named_model` loads a shipped fine-tuned SmolLM2 (``"smollm2-lite-world"``, see
  :data:`SHIPPED_MODELS`) or a LoRA adapter directory, merged, offline.

Importing this package does not import torch: the model-backed names load on first use.

Example:
    >>> from lite_world.agents import GenerationConfig
    >>> GenerationConfig().temperature
    0.0
    >>> sorted(SHIPPED_MODELS)
    ['smollm2-lite-world']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lite_world.agents.adapters import SHIPPED_MODELS, load_named_model
from lite_world.agents.base import (
    DEFAULT_STOP,
    Agent,
    ChatAgent,
    Completion,
    GenerationConfig,
    Usage,
    truncate_at_stop,
)
from lite_world.agents.openai import OpenAIAgent

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.agents.hf import TransformersAgent
    from lite_world.agents.smollm import load_smollm2, smollm2_gguf_path

__all__ = [
    "DEFAULT_STOP",
    "Agent",
    "ChatAgent",
    "Completion",
    "GenerationConfig",
    "OpenAIAgent",
    "SHIPPED_MODELS",
    "TransformersAgent",
    "Usage",
    "load_named_model",
    "load_smollm2",
    "smollm2_gguf_path",
    "truncate_at_stop",
]

_LAZY = {
    "TransformersAgent": "lite_world.agents.hf",
    "load_smollm2": "lite_world.agents.smollm",
    "smollm2_gguf_path": "lite_world.agents.smollm",
}


def __getattr__(name: str) -> Any:
    """Import the torch-backed names on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
