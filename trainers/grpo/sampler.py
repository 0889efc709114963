"""A reduced-precision copy of the policy that samples the rollouts (``GRPOConfig.sampler_dtype``).

GPU stacks sample with an inference engine in bfloat16 while the trainer keeps float32 weights
(verl + vLLM). On a CPU with AVX512-BF16 the same split pays: a bfloat16 matmul of SmolLM2's
shapes runs 2.2-2.6x faster than float32 here (``benchmarks/bench_rollout_speed.py``), while
bfloat16 *autocast* gains nothing (it casts every weight at every call). :class:`SamplerCopy`
keeps the bfloat16 weights: a deep copy of the policy, cast once, whose parameters are copied
from the policy before each step's rollouts (a peft LoRA policy's copy then has its adapters
merged, so sampling pays no adapter matmuls).

The sampled tokens' log-probs are then the bfloat16 model's. With ``old_logprobs="recompute"``
the update's ratio starts at exactly 1 (the float32 policy recomputes them); with
``old_logprobs="sampler"`` the ratio carries the precision gap, and the trainer logs its size
(``sampler_logprob_diff``), as verl does for vLLM.

Example:
    >>> import torch
    >>> policy = torch.nn.Linear(4, 2)
    >>> sampler = SamplerCopy("bfloat16")
    >>> copy = sampler.refresh(policy)
    >>> copy.weight.dtype, torch.equal(copy.weight, policy.weight.to(torch.bfloat16))
    (torch.bfloat16, True)
    >>> with torch.no_grad():
    ...     _ = policy.weight.add_(1.0)
    >>> torch.equal(sampler.refresh(policy).weight, policy.weight.to(torch.bfloat16))
    True
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from lite_world._lazy import require
from lite_world.errors import ConfigError
from trainers.grpo.config import SAMPLER_DTYPES

torch = require("torch")

__all__ = ["SamplerCopy"]

logger = logging.getLogger(__name__)


class SamplerCopy:
    """The policy's weights in ``dtype``, for sampling; :meth:`refresh` before each use.

    Args:
        dtype: ``"bfloat16"`` (see :data:`SAMPLER_DTYPES`).
    """

    def __init__(self, dtype: str) -> None:
        if dtype not in SAMPLER_DTYPES[1:]:
            raise ConfigError(f"Expects a sampler dtype in {SAMPLER_DTYPES[1:]}, actual: {dtype!r}")
        self.dtype = getattr(torch, dtype)
        self.model: Any = None

    def refresh(self, policy: Any) -> Any:
        """The copy, with ``policy``'s current weights (built on the first call); eval mode."""
        with torch.no_grad():
            if self.model is None:
                self.model = copy.deepcopy(policy).to(self.dtype).eval()
                for p in self.model.parameters():
                    p.requires_grad_(False)
            elif hasattr(self.model, "unmerge_adapter"):
                self.model.unmerge_adapter()  # peft: clear "merged" before the base is rewritten
            mine = list(self.model.parameters())
            theirs = list(policy.parameters())
            if len(mine) != len(theirs):
                raise ConfigError(
                    "Expects the policy to keep its parameters between steps, actual: "
                    f"{len(theirs)} parameters, the sampler copy has {len(mine)}"
                )
            for dst, src in zip(mine, theirs, strict=True):
                dst.copy_(src)
            if hasattr(self.model, "merge_adapter"):
                self.model.merge_adapter()
        return self.model
