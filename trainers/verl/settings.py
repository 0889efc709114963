"""The ``lite_world`` section of a verl training config: where the world is and how episodes score.

The agent loop reads it from the trainer config (``lite_world.*`` keys in
``config/lite_search_stage1.yaml``, overridable on the command line); the tools read the same
fields from their own block in ``config/tool_config.yaml``.

Example:
    >>> s = LiteWorldSettings.from_mapping({"world": "/data/world", "reward": "em", "search_k": 5})
    >>> s.world, s.search_k
    ('/data/world', 5)
    >>> env_kwargs = s.env_kwargs(max_turns=40)
    >>> env_kwargs["max_turns"], env_kwargs["reward"], "judge_url" in env_kwargs
    (40, 'em', False)
    >>> LiteWorldSettings(reward="judge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects lite_world.judge_url and lite_world.judge_model with reward='judge', ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lite_world.errors import ConfigError
from lite_world.reward import REWARD_KINDS
from lite_world.tools.search import SEARCH_STYLES

__all__ = ["LiteWorldSettings", "SEARCH_MODES"]

SEARCH_MODES = ("hybrid", "dense", "sparse")


@dataclass(frozen=True)
class LiteWorldSettings:
    """World, reward and episode limits of LiteSearch-v0 episodes run by verl."""

    world: str = field(
        default="demo",
        metadata={"help": "World directory, 'demo' (the bundled demo world), or the http:// URL of a "
                  "running `lite-world serve` (the tool service)."},
    )
    reward: str = field(default="em", metadata={"help": f"Episode reward: one of {REWARD_KINDS}."})
    judge_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible judge endpoint (…/v1), required with reward='judge'."}
    )
    judge_model: str | None = field(default=None, metadata={"help": "Judge model name, required with reward='judge'."})
    judge_api_key: str | None = field(
        default=None, repr=False, metadata={"help": "Judge bearer token (default: $LITE_WORLD_JUDGE_API_KEY)."}
    )
    judge_timeout_s: float = field(default=30.0, metadata={"help": "Judge request timeout; EM is used on failure."})
    max_turns: int | None = field(
        default=None,
        metadata={"help": "Assistant turns per episode; None: rollout.multi_turn.max_assistant_turns, else 32."},
    )
    max_turn_tokens: int | None = field(
        default=None, metadata={"help": "Tokens one assistant turn may generate; None: the remaining response budget."}
    )
    max_observation_chars: int = field(default=20_000, metadata={"help": "Characters of one tool response."})
    search_k: int = field(default=10, metadata={"help": "Search results per query."})
    search_mode: str = field(default="hybrid", metadata={"help": f"Retrieval of an in-process world: {SEARCH_MODES}."})
    search_style: str = field(default="web", metadata={"help": f"Search rendering: {SEARCH_STYLES}."})
    visit_max_chars: int = field(default=3000, metadata={"help": "Evidence characters per visited page."})
    mask_sources: bool = field(default=True, metadata={"help": "Hide each task's mask_urls from search and visit."})
    max_answer_chars: int = field(default=200, metadata={"help": "Longer answers get reward 0 (guard)."})

    def __post_init__(self) -> None:
        if not isinstance(self.world, str) or not self.world:
            raise ConfigError(
                f"Expects lite_world.world to be a directory, 'demo' or an http:// URL, actual: {self.world!r}"
            )
        if self.reward not in REWARD_KINDS:
            raise ConfigError(f"Expects lite_world.reward in {REWARD_KINDS}, actual: {self.reward!r}")
        if self.reward == "judge" and not (self.judge_url and self.judge_model):
            raise ConfigError(
                "Expects lite_world.judge_url and lite_world.judge_model with reward='judge', "
                f"actual: judge_url={self.judge_url!r}, judge_model={self.judge_model!r}. "
                "Set both, or use lite_world.reward=em."
            )
        if self.search_mode not in SEARCH_MODES:
            raise ConfigError(f"Expects lite_world.search_mode in {SEARCH_MODES}, actual: {self.search_mode!r}")
        if self.search_style not in SEARCH_STYLES:
            raise ConfigError(f"Expects lite_world.search_style in {SEARCH_STYLES}, actual: {self.search_style!r}")
        for name, low in (("max_turns", 1), ("max_turn_tokens", 1)):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise ConfigError(f"Expects lite_world.{name} to be None or an int >= {low}, actual: {value!r}")
        minimums = (("max_observation_chars", 100), ("search_k", 1), ("visit_max_chars", 100), ("max_answer_chars", 1))
        for name, low in minimums:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"Expects lite_world.{name} to be an int >= {low}, actual: {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, **overrides: Any) -> "LiteWorldSettings":
        """Build from a config section (a dict or an OmegaConf node); ``overrides`` win.

        Unknown keys raise, so a typo in ``lite_world.*`` fails at start-up, not mid-run.

        Example:
            >>> LiteWorldSettings.from_mapping({"wrold": "x"})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            lite_world.errors.ConfigError: Expects lite_world keys among (...), actual: unknown ['wrold']
        """
        merged = {**dict(values or {}), **{k: v for k, v in overrides.items() if v is not None}}
        known = tuple(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(merged) - set(known))
        if unknown:
            raise ConfigError(f"Expects lite_world keys among {known}, actual: unknown {unknown}")
        return cls(**merged)

    def env_kwargs(self, max_turns: int) -> dict[str, Any]:
        """Plain-value kwargs of :func:`lite_world.envs.search_env.make_lite_search` for one episode."""
        kwargs: dict[str, Any] = {
            "world": self.world,
            "max_turns": max_turns,
            "reward": self.reward,
            "max_observation_chars": self.max_observation_chars,
            "search_k": self.search_k,
            "search_mode": self.search_mode,
            "search_style": self.search_style,
            "visit_max_chars": self.visit_max_chars,
            "mask_sources": self.mask_sources,
            "max_answer_chars": self.max_answer_chars,
        }
        if self.reward == "judge":
            kwargs.update(judge_url=self.judge_url, judge_model=self.judge_model,
                          judge_api_key=self.judge_api_key, judge_timeout_s=self.judge_timeout_s)
        return kwargs
