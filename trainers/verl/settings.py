"""The ``lite_world`` section of a verl training config: the episodes' env options, plus verl's own.

The agent loop reads it from the trainer config (``lite_world.*`` keys in
``config/lite_search_common.yaml``, overridable on the command line). Its keys are the fields
of :class:`~lite_world.envs.config.LiteSearchConfig` (validated there, once) plus
``max_turn_tokens``; ``reward: auto`` picks the judge when a judge URL is given, else exact
match; ``max_turns: null`` follows ``rollout.multi_turn.max_assistant_turns``.

Example:
    >>> s = LiteWorldSettings.from_mapping({"world": "/data/world", "reward": "auto", "search_k": 5})
    >>> s.env.world, s.env.search_k, s.env.reward, s.turns_from_rollout
    ('/data/world', 5, 'em', True)
    >>> LiteWorldSettings.from_mapping({"reward": "judge"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects LiteSearchConfig.judge_url (an OpenAI-compatible ...
    >>> LiteWorldSettings.from_mapping({"wrold": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects LiteSearchConfig fields, actual: unknown ['wrold']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lite_world.config import ConfigMixin, check_int
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError

__all__ = ["LiteWorldSettings", "resolve_reward"]

_OWN_KEYS = ("max_turn_tokens",)


def resolve_reward(section: Mapping[str, Any]) -> dict[str, Any]:
    """The section with ``reward: auto`` resolved: ``judge`` when a judge URL is given, else ``em``.

    Example:
        >>> resolve_reward({"reward": "auto", "judge_url": None})["reward"]
        'em'
        >>> resolve_reward({"reward": "auto", "judge_url": "http://judge:8000/v1"})["reward"]
        'judge'
        >>> resolve_reward({"reward": "f1", "judge_url": "http://judge:8000/v1"})["reward"]
        'f1'
    """
    section = dict(section)
    if section.get("reward", "auto") == "auto":
        section["reward"] = "judge" if section.get("judge_url") else "em"
    return section


@dataclass(frozen=True)
class LiteWorldSettings(ConfigMixin):
    """Env options of LiteSearch-v0 episodes run by verl, and the loop's own limits."""

    env: LiteSearchConfig = field(
        default_factory=LiteSearchConfig,
        metadata={"help": "The episodes' env options (LiteSearchConfig)."},
    )
    max_turn_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Tokens one assistant turn may generate; None: the remaining response budget."
        },
    )
    turns_from_rollout: bool = field(
        default=False,
        metadata={
            "help": "Take the turn limit from rollout.multi_turn.max_assistant_turns (lite_world.max_turns: null)."
        },
    )

    def __post_init__(self) -> None:
        if not isinstance(self.env, LiteSearchConfig):
            raise ConfigError(
                f"Expects LiteWorldSettings.env to be a LiteSearchConfig, actual: {self.env!r}"
            )
        check_int("lite_world.max_turn_tokens", self.max_turn_tokens, low=1, optional=True)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, **overrides: Any) -> LiteWorldSettings:
        """Build from a flat config section (a dict or an OmegaConf node); ``overrides`` win.

        Unknown keys raise, so a typo in ``lite_world.*`` fails at start-up, not mid-run.
        """
        merged = resolve_reward(
            {**dict(values or {}), **{k: v for k, v in overrides.items() if v is not None}}
        )
        own = {k: merged.pop(k) for k in _OWN_KEYS if k in merged}
        turns_from_rollout = merged.get("max_turns") is None
        merged = {
            k: v for k, v in merged.items() if v is not None or k in ("judge_url", "judge_model")
        }
        return cls(
            env=LiteSearchConfig.from_dict(merged), turns_from_rollout=turns_from_rollout, **own
        )
