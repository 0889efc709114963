"""GRPO's mathematics as pure tensor functions: advantages, log-probs, clipped loss, KL, entropy.

Shapes: a batch of ``B`` trajectories padded to ``T`` tokens. ``mask`` is 1 on policy tokens
(what the model generated) and 0 on the prompt, tool responses and padding, so only the
policy's own tokens are trained.

The objective (GRPO, arXiv 2402.03300, with DAPO's clip-higher and token-level mean, arXiv
2503.14476) for advantage ``A`` and ratio ``r = exp(logp - old_logp)`` is, per policy token,
``max(-A r, -A clip(r, 1 - eps_low, 1 + eps_high))``, averaged over the batch's policy tokens.

Example:
    >>> import torch
    >>> group_advantages(torch.tensor([1.0, 0.0, 1.0, 1.0]), group_size=2)
    tensor([ 0.7071, -0.7071,  0.0000,  0.0000])
    >>> logp = torch.log(torch.tensor([[1.5, 0.5]]))
    >>> loss, stats = policy_loss(logp, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2))
    >>> round(loss.item(), 4), stats["clipped_high"].item()  # (-1.4 - 0.5) / 2: 1.5 clipped to 1.4
    (-0.95, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lite_world._lazy import require
from lite_world.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

torch = require("torch")

__all__ = [
    "AGENT_ERRORS",
    "aggregate",
    "entropy_from_logits",
    "format_score",
    "group_advantages",
    "kl_k3",
    "masked_mean",
    "policy_loss",
    "signal_groups",
    "token_logprobs",
]

AGENT_ERRORS = ("parse_error", "no_action", "unknown_tool", "invalid_arguments")
"""The env's ``info["error"]`` codes that a malformed turn causes (the others, such as
``service_error``, are the world's fault, not the agent's)."""


def group_advantages(
    rewards: Tensor, group_size: int, scale: str = "group", eps: float = 1e-6
) -> Tensor:
    """Group-normalised advantages: ``(r - mean of its group) / (std + eps)``.

    ``rewards`` holds consecutive groups of ``group_size`` episodes of one task each. The std is
    the unbiased one (``torch.std``, as TRL and verl use) of the group (``scale="group"``), of the
    whole batch (``"batch"``), or none (``"none"``, Dr. GRPO). A group whose rewards are all
    equal gets advantage 0: it carries no learning signal.

    Args:
        rewards: ``(N,)`` episode rewards, ``N`` a multiple of ``group_size``.
        group_size: Episodes per task.
        scale: ``"group"``, ``"batch"`` or ``"none"``.
        eps: Added to the std.

    Returns:
        ``(N,)`` float advantages.

    Example:
        >>> r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
        >>> group_advantages(r, 3)  # mean 1/3, std 0.5774: (1 - 1/3) / 0.5774 = 1.1547
        tensor([ 1.1547, -0.5773, -0.5773,  0.0000,  0.0000,  0.0000])
        >>> group_advantages(r, 3, scale="none")
        tensor([ 0.6667, -0.3333, -0.3333,  0.0000,  0.0000,  0.0000])
        >>> group_advantages(r, 4)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects the number of rewards (6) to be a multiple of ...
    """
    if rewards.dim() != 1:
        raise ConfigError(f"Expects rewards of shape (N,), actual: {tuple(rewards.shape)}")
    n = rewards.numel()
    if group_size < 1 or n % group_size:
        raise ConfigError(
            f"Expects the number of rewards ({n}) to be a multiple of group_size {group_size}, "
            f"actual: remainder {n % group_size if group_size >= 1 else 'undefined'}"
        )
    rewards = rewards.float()
    groups = rewards.view(-1, group_size)
    centered = (groups - groups.mean(dim=1, keepdim=True)).view(-1)
    if scale == "none":
        return centered
    if scale == "group":
        std = (
            groups.std(dim=1, keepdim=True).expand_as(groups).reshape(-1)
            if group_size > 1
            else torch.zeros(n)
        )
    elif scale == "batch":
        std = rewards.std().expand(n) if n > 1 else torch.zeros(n)
    else:
        raise ConfigError(f"Expects scale in ('group', 'batch', 'none'), actual: {scale!r}")
    return centered / (std + eps)


def token_logprobs(logits: Tensor, labels: Tensor, temperature: float = 1.0) -> Tensor:
    """Log-probability of each label under ``softmax(logits / temperature)``.

    The sampler draws from the tempered distribution, so the trained log-probs use it too.

    Example:
        >>> logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> token_logprobs(logits, torch.tensor([1, 0])).exp()
        tensor([0.5000, 0.8808])
        >>> token_logprobs(logits, torch.tensor([1, 0]), temperature=2.0).exp()
        tensor([0.5000, 0.7311])
    """
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Entropy (nats) of ``softmax(logits / temperature)`` over the last dimension.

    Example:
        >>> entropy_from_logits(torch.zeros(1, 4))  # uniform over 4: log 4
        tensor([1.3863])
    """
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` is 1 (0 when the mask is empty).

    Example:
        >>> masked_mean(torch.tensor([1.0, 2.0, 9.0]), torch.tensor([1, 1, 0]))
        tensor(1.5000)
    """
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def aggregate(
    values: Tensor, mask: Tensor, mode: str = "token-mean", normalizer: float | None = None
) -> Tensor:
    """Reduce per-token ``values`` ``(B, T)`` to a scalar.

    * ``"token-mean"``: sum over policy tokens / number of policy tokens (every token weighs the
      same, long trajectories weigh more; DAPO, verl's default).
    * ``"seq-mean-token-mean"``: mean per trajectory, then mean over trajectories (GRPO).

    ``normalizer`` replaces the denominator (the token count, or the trajectory count): with
    gradient accumulation each micro-batch divides by the whole mini-batch's count, so the
    accumulated gradient equals the one of a single large batch.

    Example:
        >>> v = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]])
        >>> m = torch.tensor([[1, 1, 1], [1, 0, 0]])
        >>> aggregate(v, m), aggregate(v, m, "seq-mean-token-mean")  # 7 / 4 and (1 + 4) / 2
        (tensor(1.7500), tensor(2.5000))
        >>> aggregate(v, m, normalizer=8)
        tensor(0.8750)
    """
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        denominator = mask.sum().clamp(min=1) if normalizer is None else normalizer
        return (values * mask).sum() / denominator
    if mode == "seq-mean-token-mean":
        lengths = mask.sum(-1)
        per_seq = (values * mask).sum(-1) / lengths.clamp(min=1)
        denominator = (lengths > 0).sum().clamp(min=1) if normalizer is None else normalizer
        return per_seq.sum() / denominator
    raise ConfigError(f"Expects mode in ('token-mean', 'seq-mean-token-mean'), actual: {mode!r}")


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.4,
    aggregation: str = "token-mean",
    normalizer: float | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The clipped surrogate loss (to minimise) and its clipping counts.

    Per token: ``max(-A r, -A clip(r, 1 - epsilon_low, 1 + epsilon_high))`` with
    ``r = exp(logprobs - old_logprobs)``. A token is *clipped* when the clipped term wins and
    has no gradient: ``r > 1 + epsilon_high`` with ``A > 0`` (``clipped_high``) or
    ``r < 1 - epsilon_low`` with ``A < 0`` (``clipped_low``).

    Args:
        logprobs: ``(B, T)`` log-probs under the current weights (with grad).
        old_logprobs: ``(B, T)`` log-probs under the weights that sampled the tokens.
        advantages: ``(B,)`` per trajectory, or ``(B, T)`` per token.
        mask: ``(B, T)``, 1 on policy tokens.
        epsilon_low, epsilon_high: The clip range.
        aggregation, normalizer: See :func:`aggregate`.

    Returns:
        ``(loss, stats)``; ``stats`` holds sums over policy tokens (``tokens``,
        ``clipped_low``, ``clipped_high``, ``ratio``), so micro-batches add up.

    Example:
        >>> old = torch.zeros(2, 2)
        >>> logp = torch.log(torch.tensor([[1.5, 0.5], [0.5, 1.0]]))
        >>> adv, mask = torch.tensor([1.0, -1.0]), torch.tensor([[1, 1], [1, 0]])
        >>> loss, stats = policy_loss(logp, old, adv, mask)
        >>> round(loss.item(), 4)  # (-1.4 - 0.5 + 0.8) / 3
        -0.3667
        >>> {k: v.item() for k, v in stats.items()}
        {'tokens': 3.0, 'clipped_low': 1.0, 'clipped_high': 1.0, 'ratio': 2.5}
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1)
    advantages = advantages.to(logprobs.dtype)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - epsilon_low, 1.0 + epsilon_high)
    per_token = torch.maximum(unclipped, clipped)
    loss = aggregate(per_token, mask, aggregation, normalizer)
    with torch.no_grad():
        m = mask.bool()
        stats = {
            "tokens": m.sum().float(),
            "clipped_low": ((ratio < 1.0 - epsilon_low) & (advantages < 0) & m).sum().float(),
            "clipped_high": ((ratio > 1.0 + epsilon_high) & (advantages > 0) & m).sum().float(),
            "ratio": (ratio * m).sum().float(),
        }
    return loss, stats


def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Per-token KL(policy || reference) estimate ``exp(d) - d - 1`` with ``d = ref - logp`` (k3).

    Non-negative, unbiased for the KL when tokens are sampled from the policy.

    Example:
        >>> kl_k3(torch.tensor([-1.0, -2.0]), torch.tensor([-1.0, -1.0]))
        tensor([0.0000, 0.7183])
    """
    d = ref_logprobs - logprobs
    return torch.exp(d) - d - 1.0


def signal_groups(rewards: Tensor, group_size: int) -> Tensor:
    """``(G,)`` booleans: which groups' rewards are not all equal (they carry a learning signal).

    Example:
        >>> signal_groups(torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0]), 2)
        tensor([ True, False, False])
    """
    groups = rewards.reshape(-1, group_size)
    return groups.amax(dim=1) != groups.amin(dim=1)


def format_score(steps: Sequence[Mapping[str, Any]]) -> float:
    """A format / tool-use score in [0, 1] of one episode from the env's per-step ``info``.

    Half of it is the share of well-formed turns (a tool call or an answer the env could read:
    ``action_kind`` ``"tool"`` or ``"answer"`` and no :data:`AGENT_ERRORS` error), half is
    given when at least one turn is a valid tool call (``action_kind == "tool"`` without such an
    error). The trainer adds ``format_reward * format_score(steps)`` to the env's reward: a small
    term against the tool-use collapse reported by other search-RL stacks. An episode without
    steps scores 0.

    Args:
        steps: One mapping per turn with the env's ``action_kind`` and ``error``.

    Example:
        >>> ok = {"action_kind": "tool", "error": None}
        >>> bad = {"action_kind": "error", "error": "parse_error"}
        >>> answer = {"action_kind": "answer", "error": None}
        >>> format_score([ok, answer]), format_score([bad, answer]), format_score([answer])
        (1.0, 0.25, 0.5)
        >>> format_score([{"action_kind": "tool", "error": "invalid_arguments"}, answer])
        0.25
        >>> format_score([{"action_kind": "tool", "error": "service_error"}])  # the world's fault
        1.0
        >>> format_score([])
        0.0
    """
    if not steps:
        return 0.0
    readable = [
        s.get("action_kind") in ("tool", "answer") and s.get("error") not in AGENT_ERRORS
        for s in steps
    ]
    tool = any(ok and s.get("action_kind") == "tool" for ok, s in zip(readable, steps, strict=True))
    return 0.5 * sum(readable) / len(steps) + 0.5 * float(tool)
