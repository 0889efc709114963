"""Env profiles: named ``LiteSearchConfig`` settings for a kind of policy.

The default profile is LiteResearcher's (the ``tool_call`` protocol with search and visit, ten
results, 20,000-character observations, a ~450-token system prompt): right for 4B+ models and
GPU rollouts. A 135M model on a CPU pays for every token of context twice (prefill when it
samples, again when its log-probs are recomputed), and learns the short Search-R1 protocol
from a few dozen examples. The ``small`` profile is the measured compromise used by
``benchmarks/bench_rl_learning.py`` and the shipped ``smollm2-lite-world`` adapter: the
``tags`` protocol with search only, three results, 800-character observations, three turns
and a 45-token system prompt, about 300 tokens per episode instead of about 1,500 (the
teacher's search results still hold the answer page for most demo tasks).

Example:
    >>> config = profile_config("small", tasks=[{"question": "q?", "answers": ["a"]}])
    >>> config.action_format, config.tools, config.search_k, config.max_turns
    ('tags', ('search',), 3, 3)
    >>> profile_config("default").search_k
    10
    >>> profile_config("tiny")
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects a profile in ('default', 'small'), actual: 'tiny'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError

__all__ = ["PROFILES", "SHORT_TAGS_PROMPT", "profile_config"]

SHORT_TAGS_PROMPT = (
    "Answer the question. To search, write <search> query </search>; the results come back "
    "between <information> and </information>. Then write the short final answer between "
    "<answer> and </answer>."
)
"""The ``small`` profile's system prompt (the ``tags`` protocol in one sentence or two)."""

PROFILES: Mapping[str, Mapping[str, Any]] = {
    "default": {},
    "small": {
        "action_format": "tags",
        "tools": ("search",),
        "system_prompt": SHORT_TAGS_PROMPT,
        "search_k": 3,
        "max_observation_chars": 800,
        "max_turns": 3,
    },
}
"""Each profile's ``LiteSearchConfig`` overrides."""


def profile_config(name: str, **overrides: Any) -> LiteSearchConfig:
    """The ``LiteSearchConfig`` of profile ``name``, with ``overrides`` (world, tasks, ...) on top."""
    if name not in PROFILES:
        raise ConfigError(f"Expects a profile in {tuple(PROFILES)}, actual: {name!r}")
    return LiteSearchConfig(**{**PROFILES[name], **overrides})
