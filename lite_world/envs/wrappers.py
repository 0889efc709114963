"""Wrappers for LiteSearch-v0, one concern each.

- :class:`ChatMessages`: observations become the OpenAI-style conversation (a tuple of
  ``{"role", "content"}`` dicts, as Gymnasium's ``Sequence`` space holds them; ``list(obs)`` for a
  chat template).
- :class:`ToolStats`: records per-episode tool statistics into ``info["tool_stats"]`` at the end
  of each episode and keeps running totals across episodes.

Example:
    >>> import gymnasium as gym, lite_world
    >>> env = ToolStats(ChatMessages(gym.make("LiteSearch-v0")))
    >>> messages, info = env.reset(seed=0)
    >>> [m["role"] for m in messages]
    ['system', 'user']
    >>> messages, reward, terminated, truncated, info = env.step("<answer>4</answer>")
    >>> [m["role"] for m in messages][-1], info["tool_stats"]["answered"], env.episodes
    ('assistant', True, 1)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from lite_world.envs.spaces import AnyText

__all__ = ["ChatMessages", "ToolStats"]


class ChatMessages(gym.Wrapper):
    """Observation = the whole conversation so far as chat messages (from ``info["messages"]``).

    After the final answer the observation is the conversation including the answer turn.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        text = AnyText(max_length=1 << 24, min_length=0)
        self.observation_space = spaces.Sequence(
            spaces.Dict({"role": text, "content": text}), stack=False
        )

    def reset(self, **kwargs: Any) -> tuple[tuple[dict[str, str], ...], dict[str, Any]]:
        _, info = self.env.reset(**kwargs)
        self._last = tuple(info["messages"])
        return self._last, info

    def step(
        self, action: str
    ) -> tuple[tuple[dict[str, str], ...], float, bool, bool, dict[str, Any]]:
        _, reward, terminated, truncated, info = self.env.step(action)
        if "messages" in info:
            self._last = tuple(info["messages"])
        return self._last, float(reward), terminated, truncated, info


class ToolStats(gym.Wrapper):
    """Tool-use statistics: per episode in ``info["tool_stats"]`` when it ends, running totals in :attr:`totals`."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.totals: Counter[str] = Counter()
        self.episodes = 0
        self._episode: Counter[str] = Counter()
        self._latency = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._episode = Counter()
        self._latency = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        ep = self._episode
        ep["turns"] += 1
        ep[f"kind:{info.get('action_kind')}"] += 1
        if info.get("tool") and not info.get("error"):
            ep[f"tool:{info['tool']}"] += 1
            ep["tool_calls"] += 1
            self._latency += float(info.get("tool_latency_s") or 0.0)
        if info.get("error"):
            ep["errors"] += 1
        if (info.get("repeat_count") or 0) > 1:
            ep["repeated_calls"] += 1
        if terminated or truncated:
            stats: dict[str, Any] = dict(ep)
            stats["tool_latency_s"] = round(self._latency, 6)
            stats["answered"] = bool(terminated)
            info = {**info, "tool_stats": stats}
            self.totals.update(ep)
            self.totals["answered"] += int(bool(terminated))
            self.episodes += 1
        return obs, float(reward), terminated, truncated, info
